import Foundation
import NIOCore
import NIOPosix
import SpacesModel

/// An async client for `spaces serve`: one connection, many requests in flight.
///
/// When the connection drops, every waiting call throws a ``SpacesError`` with code
/// ``SpacesError/Code/disconnected`` and every event stream ends.
public final class SpacesClient: Sendable {
  private let router: ClientRouter
  private let channel: Channel

  /// Connects to the server of the spaces home at `home` (its `spaces.sock`).
  public static func connect(home: String) async throws(SpacesError) -> SpacesClient {
    try await connect(unixPath: home + "/" + SpacesProtocol.socketName)
  }

  /// Connects to a Unix socket.
  public static func connect(unixPath: String) async throws(SpacesError) -> SpacesClient {
    try await connect { try await $0.connect(unixDomainSocketPath: unixPath).get() }
  }

  /// Connects over TCP (the server listens on loopback only; say hello with the token first).
  public static func connect(host: String, port: Int) async throws(SpacesError) -> SpacesClient {
    try await connect { try await $0.connect(host: host, port: port).get() }
  }

  private static func connect(_ open: (ClientBootstrap) async throws -> Channel) async throws(SpacesError)
    -> SpacesClient
  {
    let router = ClientRouter()
    let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).channelInitializer { channel in
      channel.eventLoop.makeCompletedFuture {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder(maxLength: 1 << 30)))
        try channel.pipeline.syncOperations.addHandler(ClientLineHandler(router: router))
      }
    }
    do {
      return SpacesClient(channel: try await open(bootstrap), router: router)
    } catch {
      throw SpacesError(.disconnected, "can't connect to the spaces server: \(error)")
    }
  }

  private init(channel: Channel, router: ClientRouter) {
    self.channel = channel
    self.router = router
  }

  deinit { channel.close(promise: nil) }

  /// Closes the connection (the server cancels this connection's running operations).
  public func close() async {
    try? await channel.close()
    router.closeAll()
  }

  // MARK: - Methods

  /// Says who this connection is; with the supervisor token it may act as a supervisor.
  @discardableResult
  public func hello(
    role: ConnectionRole = .agent, token: String? = nil, space: String? = nil, client: String? = nil
  ) async throws(SpacesError) -> HelloResult {
    try await call(.hello, HelloParams(role: role, token: token, space: space, client: client))
  }

  /// Runs one operation; `onEvent` receives its events (output, approval, decision) as they happen.
  ///
  /// `reason` is the agent's own short reason for it (at most ``StatedReason/maxLength``
  /// characters), journaled with it and shown to the person who approves it.
  /// The result is whole either way: with `onEvent`, the client asks for the output once (the
  /// `streamsOutput` flag), keeps the text of the `output` events and puts `stdout` and
  /// `stderr` back together from them and the answer.
  public func submit(
    _ op: Op, to space: String, reason: String? = nil, onEvent: (@Sendable (Event) -> Void)? = nil
  ) async throws(SpacesError) -> OperationResult {
    guard let onEvent else {
      return try await call(.opSubmit, SubmitParams(space: space, op: op, events: false, reason: reason))
    }
    let output = LockedValue<(stdout: String, stderr: String)>(("", ""))
    let result: OperationResult = try await call(
      .opSubmit, SubmitParams(space: space, op: op, streamsOutput: true, reason: reason),
      onEvent: { event in
        if let (stream, data) = event.output {
          output.withValue { text in
            if stream == .stderr { text.stderr += data } else { text.stdout += data }
          }
        }
        onEvent(event)
      })
    let text = output.withValue { $0 }
    return result.reassembled(streamedStdout: text.stdout, streamedStderr: text.stderr)
  }

  /// Follows a space's events (every space for a supervisor when `space` is nil), replaying
  /// from `fromSeq` (inclusive) when given.
  ///
  /// The stream buffers what arrives without limit: keep reading it, or let it go to stop.
  public func subscribe(space: String?, fromSeq: Int? = nil) async throws(SpacesError) -> AsyncStream<Event> {
    let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
    let _: SubscribeResult = try await call(
      .eventsSubscribe, SubscribeParams(space: space, fromSeq: fromSeq), stream: continuation)
    return stream
  }

  /// The approval requests waiting (in one space, or all this connection may see).
  public func approvals(space: String? = nil) async throws(SpacesError) -> [ApprovalRequest] {
    let result: ApprovalListResult = try await call(.approvalList, ApprovalListParams(space: space))
    return result.approvals
  }

  /// Answers an approval request (supervisors only).
  public func resolveApproval(
    _ id: String, _ decision: ApprovalChoice, feedback: String? = nil, rules: [PolicyRule]? = nil
  ) async throws(SpacesError) {
    let _: ApprovalResolveResult = try await call(
      .approvalResolve, ApprovalResolveParams(id: id, decision: decision, feedback: feedback, rules: rules))
  }

  /// Gives an approval request more time (supervisors only): `seconds` (1 to
  /// ``ApprovalQueue/maxExtensionSeconds``), or the time it was given first when `nil`.
  @discardableResult
  public func extendApproval(_ id: String, seconds: Int? = nil) async throws(SpacesError) -> ApprovalExtension {
    try await call(.approvalExtend, ApprovalExtendParams(id: id, seconds: seconds))
  }

  /// What the space's policy says about an operation, without running it.
  public func checkPolicy(_ op: Op, in space: String) async throws(SpacesError) -> Decision {
    try await call(.policyCheck, SubmitParams(space: space, op: op, events: nil))
  }

  /// Creates a space.
  public func createSpace(_ params: SpaceCreateParams) async throws(SpacesError) -> SpaceConfig {
    try await call(.spaceCreate, params)
  }

  /// Lists the spaces.
  public func spaces() async throws(SpacesError) -> [SpaceConfig] {
    let result: SpaceListResult = try await call(.spaceList, EmptyObject())
    return result.spaces
  }

  /// One space's config.
  public func space(_ name: String) async throws(SpacesError) -> SpaceConfig {
    try await call(.spaceGet, SpaceNameParams(name: name))
  }

  /// Deletes a space (supervisors only).
  public func deleteSpace(_ name: String) async throws(SpacesError) {
    let _: SpaceDeleteResult = try await call(.spaceDelete, SpaceNameParams(name: name))
  }

  /// Lists a workspace folder (supervisors only).
  public func listFiles(in space: String, path: String = "") async throws(SpacesError) -> [WorkspaceEntry] {
    let result: FileListResult = try await call(.fileList, FileListParams(space: space, path: path))
    return result.entries
  }

  /// Reads a file as the person (supervisors only).
  public func readFile(_ path: String, in space: String) async throws(SpacesError) -> OperationResult {
    try await call(.fileRead, FileReadParams(space: space, path: path))
  }

  /// Writes a file as the person (supervisors only).
  public func writeFile(
    _ path: String, content: String, encoding: ContentEncoding = .utf8, in space: String
  ) async throws(SpacesError) -> OperationResult {
    try await call(.fileWrite, FileWriteParams(space: space, path: path, content: content, encoding: encoding))
  }

  /// Deletes a file as the person (supervisors only).
  public func deleteFile(_ path: String, recursive: Bool = false, in space: String) async throws(SpacesError)
    -> OperationResult
  {
    try await call(.fileDelete, FileDeleteParams(space: space, path: path, recursive: recursive))
  }

  /// What an operation changed (`op.changes`): its record, or why there is none.
  public func changes(of op: String, in space: String, diff: Bool = true) async throws(SpacesError) -> ChangesAnswer {
    try await call(.opChanges, ChangesParams(space: space, op: op, diff: diff))
  }

  /// The newest change records of a space, newest first (`op.changes` without `op`).
  public func changeList(in space: String, limit: Int = 50) async throws(SpacesError) -> ChangesList {
    try await call(.opChanges, ChangesParams(space: space, limit: limit))
  }

  /// Undoes one operation as the person (`op.undo`, supervisors only).
  public func undo(_ op: String, in space: String) async throws(SpacesError) -> UndoOutcome {
    try await call(.opUndo, UndoParams(space: space, op: op))
  }

  /// Restores a workspace to before an operation (`space.restore`, supervisors only).
  public func restore(_ space: String, before op: String) async throws(SpacesError) -> UndoOutcome {
    try await call(.spaceRestore, RestoreParams(space: space, before: op))
  }

  /// Calls any method and decodes its result; throws the ``SpacesError`` an error response
  /// stands for (``SpacesError/init(_:)``).
  public func call<P: Encodable & Sendable, R: Decodable>(
    _ method: RPCMethod, _ params: P, onEvent: (@Sendable (Event) -> Void)? = nil
  ) async throws(SpacesError) -> R {
    try await call(method, params, onEvent: onEvent, stream: nil)
  }

  private func call<P: Encodable & Sendable, R: Decodable>(
    _ method: RPCMethod, _ params: P, onEvent: (@Sendable (Event) -> Void)? = nil,
    stream: AsyncStream<Event>.Continuation?
  ) async throws(SpacesError) -> R {
    let id = router.nextID()
    let channel = channel
    let router = router
    let answer = await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        guard router.register(id, continuation, onEvent: onEvent, stream: stream) else {
          continuation.resume(returning: .failure(ClientRouter.disconnected))
          return
        }
        // Cancelled before it was registered: nothing was sent, nothing to wait for.
        if Task.isCancelled {
          router.finish(id, with: .failure(ClientRouter.cancelled))
          return
        }
        channel.writeAndFlush(Wire.request(method.rawValue, params, id: .number(id))).whenFailure { _ in
          router.finish(id, with: .failure(ClientRouter.disconnected))
        }
      }
    } onCancel: {
      // The caller stops waiting at once; the server stops the request (a running command is
      // killed) when the notification arrives.
      if router.finish(id, with: .failure(ClientRouter.cancelled)) {
        channel.writeAndFlush(
          Wire.request(RPCMethod.requestCancel.rawValue, CancelParams(id: .number(id)), id: nil), promise: nil)
      }
    }
    // The router has read the header already: an error response is the failure here.
    let line = try answer.get()
    do {
      return try SpacesJSON.decoder.decode(ResultBox<R>.self, from: line).result
    } catch {
      throw SpacesError(
        .invalidRequest, "the server's answer to \(method.rawValue) can't be read: \(SpacesJSON.describe(error))")
    }
  }
}

/// Routes a client connection's inbound lines: answers to their waiting calls, events to their
/// handlers and streams.
final class ClientRouter: Sendable {
  private struct Pending {
    var continuation: CheckedContinuation<Result<Data, SpacesError>, Never>
    var onEvent: (@Sendable (Event) -> Void)?
    var stream: AsyncStream<Event>.Continuation?
  }

  private struct State {
    var pending: [Int: Pending] = [:]
    var streams: [String: AsyncStream<Event>.Continuation] = [:]
    var nextID = 0
    var closed = false
  }

  private let state = LockedValue(State())

  static var disconnected: SpacesError {
    SpacesError(.disconnected, "the connection to the spaces server closed; reconnect when it is running again")
  }

  /// A call whose task was cancelled: it stops waiting, and the server is asked to stop it.
  static var cancelled: SpacesError {
    SpacesError(.cancelled, "the call was cancelled; the server was asked to stop it")
  }

  func nextID() -> Int {
    state.withValue {
      $0.nextID += 1
      return $0.nextID
    }
  }

  /// Registers a call; false when the connection is already closed.
  func register(
    _ id: Int, _ continuation: CheckedContinuation<Result<Data, SpacesError>, Never>,
    onEvent: (@Sendable (Event) -> Void)?,
    stream: AsyncStream<Event>.Continuation?
  ) -> Bool {
    state.withValue { state in
      guard !state.closed else { return false }
      state.pending[id] = Pending(continuation: continuation, onEvent: onEvent, stream: stream)
      return true
    }
  }

  /// Fails every waiting call and ends every stream; `reason` is the server's, when it said why.
  func closeAll(reason: String? = nil) {
    let (pending, streams) = state.withValue { state in
      state.closed = true
      defer {
        state.pending = [:]
        state.streams = [:]
      }
      return (state.pending, state.streams)
    }
    let error =
      reason.map { SpacesError(.disconnected, "the spaces server closed the connection: \($0)") } ?? Self.disconnected
    for entry in pending.values { entry.continuation.resume(returning: .failure(error)) }
    for stream in streams.values { stream.finish() }
  }

  /// How the server begins an `event` notification (its encoder writes keys in order).
  private static let eventPrefix = Data(#"{"jsonrpc":"2.0","method":"event","params":"#.utf8)

  func handle(_ line: Data) {
    // Events are most lines (a command's output): read them in one pass, not a header first.
    if line.starts(with: Self.eventPrefix) {
      deliver(line)
      return
    }
    guard let header = try? SpacesJSON.decoder.decode(MessageHeader.self, from: line) else { return }
    if header.method == "disconnected" {
      let notice = try? SpacesJSON.decoder.decode(ParamsBox<DisconnectedNotice>.self, from: line).params
      closeAll(reason: notice?.reason ?? "no reason given")
      return
    }
    if header.method == "event" {
      deliver(line)
      return
    }
    guard case .number(let id) = header.id else { return }
    finish(id, with: header.error.map { .failure(SpacesError($0)) } ?? .success(line))
  }

  /// Hands an `event` notification to its subscription's stream or its call's handler.
  private func deliver(_ line: Data) {
    guard
      let note = OutputEventDecoder.decode(line)
        ?? (try? SpacesJSON.decoder.decode(ParamsBox<EventNotification>.self, from: line).params)
    else { return }
    if let subscription = note.subscription {
      _ = state.withValue { $0.streams[subscription] }?.yield(note.event)
    } else if case .number(let id) = note.requestId {
      state.withValue { $0.pending[id]?.onEvent }?(note.event)
    }
  }

  /// Ends the call `id` with `outcome`; false when it had ended already.
  @discardableResult
  func finish(_ id: Int, with outcome: Result<Data, SpacesError>) -> Bool {
    let entry = state.withValue { state -> Pending? in
      guard let entry = state.pending.removeValue(forKey: id) else { return nil }
      // A subscription's stream is registered before its first event is read.
      if let stream = entry.stream, case .success(let line) = outcome,
        let result = try? SpacesJSON.decoder.decode(ResultBox<SubscribeResult>.self, from: line).result
      {
        state.streams[result.subscription] = stream
        stream.onTermination = { [weak self] _ in
          _ = self?.state.withValue { $0.streams.removeValue(forKey: result.subscription) }
        }
      }
      return entry
    }
    guard let entry else { return false }
    if case .failure = outcome { entry.stream?.finish() }
    entry.continuation.resume(returning: outcome)
    return true
  }
}

/// Hands a client channel's lines to its router, on the event loop.
final class ClientLineHandler: ChannelInboundHandler {
  typealias InboundIn = InboundLine

  private let router: ClientRouter

  init(router: ClientRouter) {
    self.router = router
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .line(let buffer, _) = unwrapInboundIn(data) {
      router.handle(Data(buffer.readableBytesView))
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    router.closeAll()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}

extension OperationResult {
  /// A failed result for an operation whose call itself failed (the server refused it, or the
  /// connection was lost), carrying the stable code and the message.
  public static func callFailed(_ operation: Op, in space: String, error: SpacesError) -> OperationResult {
    var result = OperationResult(id: "", space: space, kind: operation.kind, status: .failed)
    result.error = ErrorInfo(error)
    return result
  }
}
