import Foundation

/// The wire vocabulary of the `spaces serve` protocol, shared by the server and ``SpacesClient``.
///
/// JSON-RPC 2.0, one JSON object per line. The README's protocol section describes every method.
public enum SpacesProtocol {
  /// The protocol's version, reported by `hello`.
  public static let version = 1
  /// The socket's file name inside `SPACES_HOME`.
  public static let socketName = "spaces.sock"
  /// The supervisor token's file name inside `SPACES_HOME`.
  public static let tokenName = "supervisor.token"
  /// The default limit on one message, in bytes.
  public static let defaultMaxMessageBytes = 16 << 20
}

/// The JSON-RPC error codes the server answers with.
public enum RPCErrorCode {
  /// The codes by name: the schema's `rpcErrors` (SchemaTests check the two match).
  public enum Name: String, CaseIterable, Sendable {
    /// The line is not JSON.
    case parseError
    /// The JSON is not a valid request (or is over the size limit).
    case invalidRequest
    /// No such method.
    case methodNotFound
    /// The params are missing a field or have a wrong one; the message names it.
    case invalidParams
    /// The method ran and failed; `data.code` is a stable ``SpacesError/Code``.
    case failed
    /// The connection's role may not do this (or, over TCP, `hello` with the token is missing).
    case forbidden

    /// The name of the JSON-RPC number `code`; nil for a number the protocol doesn't use.
    public init?(code: Int) {
      guard let name = Self.allCases.first(where: { $0.code == code }) else { return nil }
      self = name
    }

    /// The JSON-RPC number.
    public var code: Int {
      switch self {
      case .parseError: -32700
      case .invalidRequest: -32600
      case .methodNotFound: -32601
      case .invalidParams: -32602
      case .failed: -32000
      case .forbidden: -32003
      }
    }
  }

  /// The line is not JSON.
  public static let parseError = Name.parseError.code
  /// The JSON is not a valid request (or is over the size limit).
  public static let invalidRequest = Name.invalidRequest.code
  /// No such method.
  public static let methodNotFound = Name.methodNotFound.code
  /// The params are missing a field or have a wrong one; the message names it.
  public static let invalidParams = Name.invalidParams.code
  /// The method ran and failed; `data.code` is a stable ``SpacesError/Code``.
  public static let failed = Name.failed.code
  /// The connection's role may not do this (or, over TCP, `hello` with the token is missing).
  public static let forbidden = Name.forbidden.code
}

/// A request id: a number or a string.
public enum RPCID: Codable, Hashable, Sendable, CustomStringConvertible {
  /// A numeric id.
  case number(Int)
  /// A string id.
  case string(String)

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let number = try? container.decode(Int.self) {
      self = .number(number)
    } else {
      self = .string(try container.decode(String.self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .number(let number): try container.encode(number)
    case .string(let string): try container.encode(string)
    }
  }

  /// The id as text.
  public var description: String {
    switch self {
    case .number(let number): "\(number)"
    case .string(let string): string
    }
  }
}

/// An error response: a JSON-RPC code, a sentence, and for failures a stable code.
public struct RPCError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
  /// The extra data of an error.
  public struct Details: Codable, Sendable, Equatable {
    /// The stable ``SpacesError/Code`` of a failure.
    public var code: String

    /// Creates the value from its fields.
    package init(code: String) {
      self.code = code
    }
  }

  /// The JSON-RPC code (see ``RPCErrorCode``).
  public var code: Int
  /// What went wrong, for a person.
  public var message: String
  /// The stable error code, when the method failed.
  public var data: Details?

  /// Creates an error.
  public init(_ code: Int, _ message: String, data: Details? = nil) {
    self.code = code
    self.message = message
    self.data = data
  }

  /// The error for a failed method; an error a server answered with (``SpacesError/rpcCode``)
  /// goes back as it came (the inverse of ``SpacesError/init(_:)``).
  public init(_ error: SpacesError) {
    let code = error.rpcCode ?? RPCErrorCode.failed
    self.init(code, error.message, data: code == RPCErrorCode.failed ? Details(code: error.code.rawValue) : nil)
  }

  /// The message and the code.
  public var description: String { "\(message) (\(code))" }
}

/// What a connection may do.
public enum ConnectionRole: String, Codable, Sendable, CaseIterable {
  /// Submits operations; can't approve, delete spaces, touch files directly or watch others.
  case agent
  /// The person's side: everything.
  case supervisor
}

/// `hello` params.
public struct HelloParams: Codable, Sendable {
  /// The role asked for (default agent).
  public var role: ConnectionRole?
  /// The supervisor token.
  public var token: String?
  /// Binds an agent to this one space.
  public var space: String?
  /// A name for logs.
  public var client: String?

  /// Creates hello params.
  public init(role: ConnectionRole? = nil, token: String? = nil, space: String? = nil, client: String? = nil) {
    self.role = role
    self.token = token
    self.space = space
    self.client = client
  }
}

/// `hello` result.
public struct HelloResult: Codable, Sendable {
  /// The server's version.
  public var version: String
  /// The protocol's version.
  public var protocolVersion: Int
  /// The role asked for (default agent).
  public var role: ConnectionRole
  /// The space.
  public var space: String?

  /// Creates the value from its fields.
  package init(version: String, protocolVersion: Int, role: ConnectionRole, space: String? = nil) {
    self.version = version
    self.protocolVersion = protocolVersion
    self.role = role
    self.space = space
  }
}

/// `space.create` params (the same options as `spaces space create`).
public struct SpaceCreateParams: Codable, Sendable {
  /// The space's name.
  public var name: String
  /// The policy preset (default standard).
  public var policy: PolicyPreset?
  /// Where commands run (default bubblewrap).
  public var backend: BackendKind?
  /// An existing folder to use as the workspace.
  public var workspace: String?
  /// Whether commands may reach the network.
  public var network: Bool?
  /// The container image.
  public var image: String?

  /// Creates the params.
  public init(
    name: String, policy: PolicyPreset? = nil, backend: BackendKind? = nil, workspace: String? = nil,
    network: Bool? = nil, image: String? = nil
  ) {
    self.name = name
    self.policy = policy
    self.backend = backend
    self.workspace = workspace
    self.network = network
    self.image = image
  }
}

/// Params naming one space.
public struct SpaceNameParams: Codable, Sendable {
  /// The space's name.
  public var name: String

  /// Creates the value from its fields.
  package init(name: String) {
    self.name = name
  }
}

/// `space.list` result.
public struct SpaceListResult: Codable, Sendable {
  /// The spaces.
  public var spaces: [SpaceConfig]

  /// Creates the value from its fields.
  package init(spaces: [SpaceConfig]) {
    self.spaces = spaces
  }
}

/// `space.delete` result.
public struct SpaceDeleteResult: Codable, Sendable {
  /// The deleted space.
  public var deleted: String

  /// Creates the value from its fields.
  package init(deleted: String) {
    self.deleted = deleted
  }
}

/// `op.submit` and `policy.check` params.
public struct SubmitParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// The operation.
  public var op: Op
  /// Whether to stream the operation's events while it runs (default true).
  public var events: Bool?
  /// Whether the client keeps the operation's `output` events and puts the output back
  /// together from them (default false). When it does and every `output` event reached it, the
  /// answer refers to them (``OperationResult/streamed``) instead of repeating the output.
  public var streamsOutput: Bool?
  /// The agent's own short reason for the operation (``StatedReason``): beside `op`, not in it,
  /// since it says why the operation is asked for, not what it does. `policy.check` ignores it.
  public var reason: String?

  /// Creates the params.
  public init(space: String, op: Op, events: Bool? = nil, streamsOutput: Bool? = nil, reason: String? = nil) {
    self.space = space
    self.op = op
    self.events = events
    self.streamsOutput = streamsOutput
    self.reason = reason
  }
}

extension SubmitParams {
  private enum CodingKeys: String, CodingKey { case space, op, events, streamsOutput, reason }

  /// Decodes the params; a `reason` that is not a string or is too long is an error naming it.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    space = try container.decode(String.self, forKey: .space)
    op = try container.decode(Op.self, forKey: .op)
    events = try container.decodeIfPresent(Bool.self, forKey: .events)
    streamsOutput = try container.decodeIfPresent(Bool.self, forKey: .streamsOutput)
    let text: String?
    do {
      text = try container.decodeIfPresent(String.self, forKey: .reason)
    } catch {
      throw DecodingError.dataCorruptedError(
        forKey: .reason, in: container, debugDescription: "\"reason\" must be a string (why the agent needs this)")
    }
    do {
      reason = try StatedReason.validate(text)
    } catch {
      throw DecodingError.dataCorruptedError(forKey: .reason, in: container, debugDescription: error.message)
    }
  }
}

/// `request.cancel` params: the id of a request of the same connection.
public struct CancelParams: Codable, Sendable {
  /// The request's id.
  public var id: RPCID

  /// Creates the value from its fields.
  package init(id: RPCID) {
    self.id = id
  }
}

/// `request.cancel` result.
public struct CancelResult: Codable, Sendable {
  /// Whether a running request had that id.
  public var cancelled: Bool

  /// Creates the value from its fields.
  package init(cancelled: Bool) {
    self.cancelled = cancelled
  }
}

/// `events.subscribe` params.
public struct SubscribeParams: Codable, Sendable {
  /// The space.
  public var space: String?
  /// Replay from this seq (inclusive).
  public var fromSeq: Int?

  /// Creates the value from its fields.
  package init(space: String? = nil, fromSeq: Int? = nil) {
    self.space = space
    self.fromSeq = fromSeq
  }
}

extension SubscribeParams {
  private enum CodingKeys: String, CodingKey { case space, fromSeq }

  /// Decodes the params; a `fromSeq` that is no whole number or doesn't fit an `Int` is an error
  /// naming it (Foundation's own error for such a number names neither the field nor the cause).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    space = try container.decodeIfPresent(String.self, forKey: .space)
    do {
      fromSeq = try container.decodeIfPresent(Int.self, forKey: .fromSeq)
    } catch {
      throw DecodingError.dataCorruptedError(
        forKey: .fromSeq, in: container, debugDescription: "\"fromSeq\" must be a whole number, 1 or more")
    }
  }
}

/// `events.subscribe` result.
public struct SubscribeResult: Codable, Sendable {
  /// The subscription id.
  public var subscription: String
  /// The spaces.
  public var spaces: [String]

  /// Creates the value from its fields.
  package init(subscription: String, spaces: [String]) {
    self.subscription = subscription
    self.spaces = spaces
  }
}

/// `events.unsubscribe` params.
public struct UnsubscribeParams: Codable, Sendable {
  /// The subscription id.
  public var subscription: String

  /// Creates the value from its fields.
  package init(subscription: String) {
    self.subscription = subscription
  }
}

/// The params of an `event` notification.
public struct EventNotification: Codable, Sendable {
  /// The event.
  public var event: Event
  /// Set for events of an `events.subscribe` subscription.
  public var subscription: String?
  /// Set for the events of an operation submitted with this request id.
  public var requestId: RPCID?

  package init(event: Event, subscription: String? = nil, requestId: RPCID? = nil) {
    self.event = event
    self.subscription = subscription
    self.requestId = requestId
  }
}

/// `approval.list` params.
public struct ApprovalListParams: Codable, Sendable {
  /// The space.
  public var space: String?

  /// Creates the value from its fields.
  package init(space: String? = nil) {
    self.space = space
  }
}

/// `approval.list` result.
public struct ApprovalListResult: Codable, Sendable {
  /// The waiting requests, oldest first per space.
  public var approvals: [ApprovalRequest]

  /// Creates the value from its fields.
  package init(approvals: [ApprovalRequest]) {
    self.approvals = approvals
  }
}

/// `approval.resolve` params.
public struct ApprovalResolveParams: Codable, Sendable {
  /// The approval request (operation) id.
  public var id: String
  /// The answer.
  public var decision: ApprovalChoice
  /// Feedback for the agent (with deny).
  public var feedback: String?
  /// The rules to save (with always); default the suggested ones.
  public var rules: [PolicyRule]?

  /// Creates the params.
  public init(id: String, decision: ApprovalChoice, feedback: String? = nil, rules: [PolicyRule]? = nil) {
    self.id = id
    self.decision = decision
    self.feedback = feedback
    self.rules = rules
  }
}

/// `approval.extend` params: more time for a request (supervisors only); the answer is an
/// ``ApprovalExtension``.
public struct ApprovalExtendParams: Codable, Sendable {
  /// The approval request (operation) id.
  public var id: String
  /// Seconds to add, 1 to ``ApprovalExtension/maxSeconds``; default the time the request
  /// was given first (the policy's `approvalTimeoutSeconds`).
  public var seconds: Int?

  /// Creates the params.
  public init(id: String, seconds: Int? = nil) {
    self.id = id
    self.seconds = seconds
  }
}

extension ApprovalExtendParams {
  private enum CodingKeys: String, CodingKey { case id, seconds }

  /// Decodes the params; `seconds` that is no whole number, or out of range, is an error naming it.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    id = try container.decode(String.self, forKey: .id)
    let range = 1...ApprovalExtension.maxSeconds
    let expected = "\"seconds\" must be a whole number from 1 to \(range.upperBound) (an hour)"
    do {
      seconds = try container.decodeIfPresent(Int.self, forKey: .seconds)
    } catch {
      throw DecodingError.dataCorruptedError(forKey: .seconds, in: container, debugDescription: expected)
    }
    if let seconds, !range.contains(seconds) {
      throw DecodingError.dataCorruptedError(
        forKey: .seconds, in: container, debugDescription: expected + ", not \(seconds)")
    }
  }
}

/// `approval.resolve` result.
public struct ApprovalResolveResult: Codable, Sendable {
  /// The approval request (operation) id.
  public var id: String
  /// The answer.
  public var decision: ApprovalChoice

  /// Creates the value from its fields.
  package init(id: String, decision: ApprovalChoice) {
    self.id = id
    self.decision = decision
  }
}

/// `file.list` params.
public struct FileListParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// The path in the workspace.
  public var path: String?

  /// Creates the value from its fields.
  package init(space: String, path: String? = nil) {
    self.space = space
    self.path = path
  }
}

/// `file.list` result.
public struct FileListResult: Codable, Sendable {
  /// The folder's entries.
  public var entries: [WorkspaceEntry]

  /// Creates the value from its fields.
  package init(entries: [WorkspaceEntry]) {
    self.entries = entries
  }
}

/// `file.read` params.
public struct FileReadParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// The path in the workspace.
  public var path: String

  /// Creates the value from its fields.
  package init(space: String, path: String) {
    self.space = space
    self.path = path
  }
}

/// `file.write` params.
public struct FileWriteParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// The path in the workspace.
  public var path: String
  /// The content.
  public var content: String
  /// utf8 (default) or base64.
  public var encoding: ContentEncoding?

  /// Creates the value from its fields.
  package init(space: String, path: String, content: String, encoding: ContentEncoding? = nil) {
    self.space = space
    self.path = path
    self.content = content
    self.encoding = encoding
  }
}

/// `file.delete` params.
public struct FileDeleteParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// The path in the workspace.
  public var path: String
  /// Whether a folder may be deleted with its content.
  public var recursive: Bool?

  /// Creates the value from its fields.
  package init(space: String, path: String, recursive: Bool? = nil) {
    self.space = space
    self.path = path
    self.recursive = recursive
  }
}

/// `op.changes` params: one operation's record, or (without `op`) the newest records.
public struct ChangesParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// The operation (nil: list the newest records, newest first).
  public var op: String?
  /// Whether to include a readable diff (default true for one operation).
  public var diff: Bool?
  /// At most this many records in a list (default 50, at most 1000).
  public var limit: Int?
  /// Creates params.
  public init(space: String, op: String? = nil, diff: Bool? = nil, limit: Int? = nil) {
    self.space = space
    self.op = op
    self.diff = diff
    self.limit = limit
  }
}

/// `op.changes` without `op`: the newest records, newest first.
public struct ChangesList: Codable, Sendable, Equatable {
  /// One line per record.
  public struct Item: Codable, Sendable, Equatable {
    /// The operation.
    public var op: String
    /// When it ended.
    public var time: String
    /// Who ran it.
    public var actor: Event.Actor
    /// What it was.
    public var what: String
    /// What it changed.
    public var changes: ChangeSummary
    /// For an undo or restore: what it took back.
    public var undid: [String]?

    /// Creates the value from its fields.
    package init(
      op: String, time: String, actor: Event.Actor, what: String, changes: ChangeSummary, undid: [String]? = nil
    ) {
      self.op = op
      self.time = time
      self.actor = actor
      self.what = what
      self.changes = changes
      self.undid = undid
    }
  }
  /// The records.
  public var records: [Item]
  /// How many records are kept in all.
  public var kept: Int

  /// Creates the value from its fields.
  package init(records: [Item], kept: Int) {
    self.records = records
    self.kept = kept
  }
}

/// `op.undo` params.
public struct UndoParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// The operation to undo.
  public var op: String
  /// Creates params.
  public init(space: String, op: String) {
    self.space = space
    self.op = op
  }
}

/// `space.restore` params.
public struct RestoreParams: Codable, Sendable {
  /// The space.
  public var space: String
  /// Everything from this operation on is taken back, newest first.
  public var before: String
  /// Creates params.
  public init(space: String, before: String) {
    self.space = space
    self.before = before
  }
}

/// An empty params or result object.
public struct EmptyObject: Codable, Sendable {
  /// Creates it.
  public init() {}
}

/// The params of the `disconnected` notification: why the server is closing the connection.
public struct DisconnectedNotice: Codable, Sendable {
  /// What the client did and what to do instead.
  public var reason: String

  /// Creates the value from its fields.
  package init(reason: String) {
    self.reason = reason
  }
}

extension SpacesError {
  /// The error an error response stands for: the one way a client reads the wire's errors.
  ///
  /// A failed method (-32000) keeps its stable code (`data.code`); a refused request keeps the
  /// JSON-RPC error's name as its code (`forbidden`, `invalidParams`, …, as the schema's
  /// `rpcErrors` and the SDKs name them; `requestError` for a number the protocol doesn't use).
  /// ``rpcCode`` keeps the number, so ``RPCError/init(_:)`` gives the response back.
  public init(_ rpc: RPCError) {
    let code: String
    if rpc.code == RPCErrorCode.failed {
      code = rpc.data?.code ?? RPCErrorCode.Name.failed.rawValue
    } else {
      code = RPCErrorCode.Name(code: rpc.code)?.rawValue ?? "requestError"
    }
    self.init(Code(rawValue: code), rpc.message)
    rpcCode = rpc.code
  }
}
