import SpacesModel

/// What the status line says about a space.
public struct SpaceSummary: Equatable, Sendable {
  /// The space's name.
  public var name: String
  /// Its backend's name (`bubblewrap`, `container`, `host`).
  public var backend: String
  /// Whether commands run isolated; a host backend is not.
  public var isolated: Bool
  /// Its policy preset.
  public var policy: String

  /// Creates a summary.
  public init(name: String, backend: String, isolated: Bool, policy: String) {
    self.name = name
    self.backend = backend
    self.isolated = isolated
    self.policy = policy
  }
}

/// How the workbench reaches a runtime: the runtime embedded in its own process
/// (`EmbeddedSource`), or a running `spaces serve` through its socket (`ServerSource`).
///
/// Every method may be called from any thread; the workbench calls the synchronous ones on its
/// UI thread, so they should be quick.
public protocol WorkbenchSource: Sendable {
  /// How the workbench is connected, for the status line (`embedded`, `socket …`).
  var connection: String { get }
  /// Whether operations run in another process (a `spaces serve`) and go on after the
  /// workbench quits.
  var operationsOutliveQuit: Bool { get }
  /// The spaces there are.
  func spaceNames() -> [String]
  /// The status-line facts of a space.
  func summary(of space: String) throws(SpacesError) -> SpaceSummary
  /// The live events of a space, from now on.
  func events(of space: String) throws(SpacesError) -> AsyncStream<Event>
  /// The approval requests waiting in every space the source knows, oldest first per space.
  func pendingApprovals() -> [ApprovalRequest]
  /// Answers an approval request.
  func resolve(_ id: String, with resolution: ApprovalResolution) throws(SpacesError)
  /// Gives an approval request more time: `seconds`, or the time it was first given when nil
  /// (``ApprovalQueue/extend(_:by:)``).
  func extend(_ id: String, by seconds: Int?) throws(SpacesError) -> ApprovalExtension
  /// Runs an operation in a space as the person at the workbench.
  func submitAsPerson(_ operation: Op, to space: String) async -> OperationResult
  /// Lists a workspace folder ("" is the root).
  func list(_ path: String, in space: String) throws(SpacesError) -> [WorkspaceEntry]
  /// Reads a workspace file.
  func read(_ path: String, in space: String) throws(SpacesError) -> [UInt8]
  /// The last `events` events of a space's journal, to catch up on when the workbench opens it.
  func history(of space: String, events: Int) -> WorkbenchHistory
  /// Records that the person has seen a space's journal up to `seq` (for the next catch-up's
  /// "since you were last here").
  func markSeen(_ space: String, through seq: Int)
  /// This session's grants and the policy file's rules in a space.
  func grantsAndRules(of space: String) -> GrantsAndRules
  /// Takes back a grant or removes a rule.
  func revoke(_ item: Revocable, in space: String) throws(SpacesError)
  /// What an operation changed (its change record and diff).
  func changes(of op: String, in space: String) async -> ChangesAnswer
  /// Undoes an operation, or with `restore` everything from it on, as the person.
  func undo(_ op: String, in space: String, restore: Bool) async throws(SpacesError) -> UndoOutcome
}

/// A session grant or a policy-file rule the person can take back.
public enum Revocable: Equatable, Sendable {
  /// An exact command allowed for the session (`a`).
  case sessionCommand(String)
  /// A rule granted for the session.
  case sessionRule(PolicyRule)
  /// A rule in the space's `policy.yaml`.
  case fileRule(PolicyRule)
}

/// What allows operations in a space beyond its preset.
public struct GrantsAndRules: Equatable, Sendable {
  /// This session's grants, revocable.
  public var session: [Revocable]
  /// The policy file's rules.
  public var file: [Revocable]
  /// Why something isn't shown (attached: the server keeps the session's grants).
  public var note: String?

  /// Creates the list.
  public init(session: [Revocable] = [], file: [Revocable] = [], note: String? = nil) {
    self.session = session
    self.file = file
    self.note = note
  }
}

extension WorkbenchSource {
  /// Nowhere to keep it.
  public func markSeen(_ space: String, through seq: Int) {}

  /// Nothing known.
  public func grantsAndRules(of space: String) -> GrantsAndRules {
    GrantsAndRules(note: "this connection can't list grants and rules")
  }

  /// No more time can be given.
  public func extend(_ id: String, by seconds: Int?) throws(SpacesError) -> ApprovalExtension {
    throw SpacesError(.invalidRequest, "this connection can't give approval requests more time")
  }

  /// Nothing can be taken back.
  public func revoke(_ item: Revocable, in space: String) throws(SpacesError) {
    throw SpacesError(.invalidRequest, "this connection can't take back grants or rules")
  }

  /// Operations run in the workbench's process: quitting stops them.
  public var operationsOutliveQuit: Bool { false }

  /// No history: a source without a journal starts empty.
  public func history(of space: String, events: Int) -> WorkbenchHistory {
    WorkbenchHistory(events: [], lastSeen: nil)
  }
}

/// The end of a space's journal, for catching up.
public struct WorkbenchHistory: Sendable {
  /// The events, oldest first.
  public var events: [Event]
  /// The newest sequence number the person had seen here before (nil: never opened).
  public var lastSeen: Int?

  /// Creates a history.
  public init(events: [Event], lastSeen: Int?) {
    self.events = events
    self.lastSeen = lastSeen
  }
}

extension WorkbenchSource {
  /// A source without change records.
  public func changes(of op: String, in space: String) async -> ChangesAnswer {
    ChangesAnswer(op: op, status: "none", message: "this connection has no change records")
  }

  /// A source without undo.
  public func undo(_ op: String, in space: String, restore: Bool) async throws(SpacesError) -> UndoOutcome {
    throw SpacesError(.undoRefused, "this connection can't undo")
  }
}
