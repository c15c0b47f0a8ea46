import Foundation
import NIOCore

/// One client connection: its role, its subscriptions, and the methods it calls.
///
/// Lines are parsed in order on the connection's task; `hello` runs there too, so a request
/// sent right after it already sees the role. Every other request runs in its own task, so
/// many can be in flight; cancelling them (on disconnect) stops their operations.
final class ServerConnection: Sendable {
  private struct Session {
    var greeted = false
    var role = ConnectionRole.agent
    var boundSpace: String?
    var usedSpaces: Set<String> = []
    var cursors: [String: [EventCursor]] = [:]
    var nextSubscription = 0
    var inFlight = 0
    var inFlightBytes = 0
  }

  private let server: SpacesServer
  private let outbox: Outbox
  private let tcp: Bool
  private let number: Int
  private let session = LockedValue(Session())
  /// The requests running now, by id, for `request.cancel`.
  private let running = LockedValue<[RPCID: Task<Void, Never>]>([:])
  private var runtime: SpacesRuntime { server.runtime }

  init(server: SpacesServer, outbox: Outbox, tcp: Bool, number: Int) {
    self.server = server
    self.outbox = outbox
    self.tcp = tcp
    self.number = number
  }

  /// Handles one inbound line; returns the work to run concurrently, if any.
  func receive(_ message: InboundLine) -> (@Sendable () async -> Void)? {
    guard case .line(let buffer) = message else {
      reply(
        nil,
        .failure(
          RPCError(
            RPCErrorCode.invalidRequest,
            "the message is over the \(server.options.maxMessageBytes)-byte limit; it was skipped")))
      return nil
    }
    let data = Data(buffer.readableBytesView)
    let request: Request
    let respond: Bool
    switch InboundMessage(line: data) {
    case .ignored:
      return nil
    case .rejected(let error, let id, let answered):
      if answered { reply(id, .failure(error)) }
      return nil
    case .request(let inbound, let isRequest):
      (request, respond) = (inbound, isRequest)
    }
    let id = request.id
    if let method = RPCMethod(rawValue: request.method), method.answeredInOrder {
      let outcome = answerInOrder(request)
      if respond { reply(id, outcome) }
      return nil
    }
    if tcp, !session.withValue({ $0.greeted }) {
      if respond {
        reply(id, .failure(RPCError(RPCErrorCode.forbidden, "over TCP, send hello with the supervisor token first")))
      }
      return nil
    }
    // Requests in flight hold their text: bound both their number and their bytes.
    let size = data.count
    let byteLimit = 4 * server.options.maxMessageBytes
    let admitted = session.withValue { session -> Bool in
      guard session.inFlight < server.options.maxInFlight,
        session.inFlight == 0 || session.inFlightBytes + size <= byteLimit
      else { return false }
      session.inFlight += 1
      session.inFlightBytes += size
      return true
    }
    guard admitted else {
      if respond {
        reply(
          id,
          .failure(
            RPCError(
              RPCErrorCode.failed,
              "too many requests in flight on this connection (at most \(server.options.maxInFlight), "
                + "and \(byteLimit) bytes of them); wait for some to finish",
              data: .init(code: "busy"))))
      }
      return nil
    }
    // Its own task, registered before the next line is read, so `request.cancel` finds it.
    let task = Task {
      let outcome = await self.dispatch(request)
      self.session.withValue {
        $0.inFlight -= 1
        $0.inFlightBytes -= size
      }
      if respond { self.reply(id, outcome) }
    }
    if respond, let id { running.withValue { $0[id] = task } }
    return {
      await withTaskCancellationHandler {
        await task.value
      } onCancel: {
        task.cancel()
      }
      // Only now: the task may end before it was registered above.
      if respond, let id {
        self.running.withValue { if $0[id] == task { $0[id] = nil } }
      }
    }
  }

  /// `request.cancel {id}`: stops a request of this connection that is still running (an
  /// operation is stopped as if its connection had closed: a command is killed, an approval
  /// wait ends). It answers with whether one was found, when it has an id itself.
  private func cancel(_ params: CancelParams, _ request: Request) -> Outcome {
    let task = running.withValue { $0[params.id] }
    task?.cancel()
    return ok(CancelResult(cancelled: task != nil), request)
  }

  /// Ends the connection's subscriptions and output (its requests are cancelled by the caller).
  func disconnected() {
    let cursors = session.withValue { session in
      defer { session.cursors = [:] }
      return session.cursors.values.flatMap { $0 }
    }
    for cursor in cursors { cursor.cancel() }
    outbox.close()
  }

  // MARK: - Dispatch

  struct Request: Sendable {
    var id: RPCID?
    var method: String
    var data: Data?

    /// Decodes the params; a missing `params` reads as `{}`.
    func params<P: Decodable>(_ type: P.Type) throws(RPCError) -> P {
      do {
        guard let data else { return try SpacesJSON.decoder.decode(P.self, from: Data("{}".utf8)) }
        return try SpacesJSON.decoder.decode(ParamsBox<P>.self, from: data).params
      } catch {
        throw RPCError(RPCErrorCode.invalidParams, "invalid params for \(method): \(SpacesJSON.describe(error))")
      }
    }
  }

  typealias Outcome = Result<ByteBuffer, RPCError>

  /// Runs a method that is answered in line order (`hello`, `request.cancel`).
  private func answerInOrder(_ request: Request) -> Outcome {
    do throws(RPCError) {
      switch try RPCParams(request) {
      case .hello(let params): return hello(params, request)
      case .cancel(let params): return cancel(params, request)
      default: throw RPCError(RPCErrorCode.internalError, "\(request.method) is not answered in line order")
      }
    } catch {
      return .failure(error)
    }
  }

  private func dispatch(_ request: Request) async -> Outcome {
    do throws(RPCError) {
      let method = try RPCMethod(named: request.method)
      // The role first: an agent learns nothing about the params of what it may not call.
      if let action = method.supervisorAction { try requireSupervisor(action) }
      switch try RPCParams(request) {
      case .hello, .cancel: return answerInOrder(request)
      case .spaceCreate(let params): return try spaceCreate(params, request)
      case .spaceList: return spaceList(request)
      case .spaceGet(let params): return try spaceGet(params, request)
      case .spaceDelete(let params): return try spaceDelete(params, request)
      case .submit(let params): return try await submit(params, request)
      case .subscribe(let params): return try subscribe(params, request)
      case .unsubscribe(let params): return try unsubscribe(params, request)
      case .approvalList(let params): return approvalList(params, request)
      case .approvalResolve(let params): return try approvalResolve(params, request)
      case .policyCheck(let params): return try policyCheck(params, request)
      case .fileList(let params): return try fileList(params, request)
      case .fileRead(let params): return await fileOp(params.space, .readFile(path: params.path), request)
      case .fileWrite(let params):
        let op = Op.createFile(path: params.path, content: params.content, encoding: params.encoding ?? .utf8)
        return await fileOp(params.space, op, request)
      case .fileDelete(let params):
        return await fileOp(params.space, .deleteFile(path: params.path, recursive: params.recursive ?? false), request)
      }
    } catch {
      return .failure(error)
    }
  }

  private func reply(_ id: RPCID?, _ outcome: Outcome) {
    switch outcome {
    case .success(let line): if line.readableBytes > 0 { outbox.send(line, .response) }
    case .failure(let error): outbox.send(Wire.error(error, id: id), .response)
    }
  }

  private func ok<R: Encodable>(_ result: R, _ request: Request) -> Outcome {
    .success(Wire.result(result, id: request.id))
  }

  private func failing<T>(_ body: () throws(SpacesError) -> T) throws(RPCError) -> T {
    do {
      return try body()
    } catch {
      throw RPCError(error)
    }
  }

  // MARK: - Roles

  private func hello(_ params: HelloParams, _ request: Request) -> Outcome {
    let tokenValid = params.token.map { SupervisorToken.matches($0, server.token) } ?? false
    if params.token != nil, !tokenValid {
      return .failure(
        RPCError(RPCErrorCode.forbidden, "the token is wrong; read it from \(SupervisorToken.path(in: runtime.home))"))
    }
    let role = params.role ?? .agent
    if role == .supervisor, !tokenValid {
      return .failure(
        RPCError(
          RPCErrorCode.forbidden, "a supervisor must send the token from \(SupervisorToken.path(in: runtime.home))"))
    }
    if tcp, !tokenValid {
      return .failure(
        RPCError(
          RPCErrorCode.forbidden, "over TCP, hello needs the token from \(SupervisorToken.path(in: runtime.home))"))
    }
    if let space = params.space {
      do {
        try SpacesHome.validate(name: space)
      } catch {
        return .failure(RPCError(RPCErrorCode.invalidParams, "invalid params for hello: \"space\": \(error.message)"))
      }
    }
    session.withValue { session in
      session.greeted = true
      session.role = role
      session.boundSpace = role == .agent ? params.space : nil
    }
    let result = HelloResult(
      version: server.options.version, protocolVersion: SpacesProtocol.version, role: role,
      space: role == .agent ? params.space : nil)
    return ok(result, request)
  }

  private func requireSupervisor(_ what: String) throws(RPCError) {
    guard session.withValue({ $0.role }) == .supervisor else {
      throw RPCError(
        RPCErrorCode.forbidden, "an agent can't \(what); only a supervisor (hello with the supervisor token) can")
    }
  }

  /// Checks that this connection may act in `space`, and remembers that it did.
  private func requireAccess(to space: String, submitting: Bool) throws(RPCError) {
    let allowed = session.withValue { session -> Bool in
      if session.role == .supervisor { return true }
      if let bound = session.boundSpace { return bound == space }
      if submitting { session.usedSpaces.insert(space) }
      return submitting || session.usedSpaces.contains(space)
    }
    guard allowed else {
      throw RPCError(
        RPCErrorCode.forbidden,
        "an agent can only see the events of its own space: say hello with {\"space\":\"\(space)\"} or submit to it first"
      )
    }
  }

  private func boundSpaceMismatch(_ space: String) throws(RPCError) {
    if let bound = session.withValue({ $0.boundSpace }), bound != space {
      throw RPCError(RPCErrorCode.forbidden, "this agent is bound to the space \"\(bound)\" (hello), not \"\(space)\"")
    }
  }

  // MARK: - Spaces

  private func spaceCreate(_ params: SpaceCreateParams, _ request: Request) throws(RPCError) -> Outcome {
    let config = try failing { () throws(SpacesError) in
      try runtime.home.create(
        name: params.name, policy: params.policy ?? .standard, backend: params.backend ?? .bubblewrap,
        workspace: params.workspace, network: params.network ?? false, image: params.image)
    }
    return ok(config, request)
  }

  private func spaceList(_ request: Request) -> Outcome {
    let home = runtime.home
    return ok(SpaceListResult(spaces: home.names().compactMap { try? home.load($0) }), request)
  }

  private func spaceGet(_ params: SpaceNameParams, _ request: Request) throws(RPCError) -> Outcome {
    return ok(try failing { () throws(SpacesError) in try runtime.home.load(params.name) }, request)
  }

  private func spaceDelete(_ params: SpaceNameParams, _ request: Request) throws(RPCError) -> Outcome {
    try failing { () throws(SpacesError) in try runtime.home.delete(params.name) }
    runtime.close(params.name)
    return ok(SpaceDeleteResult(deleted: params.name), request)
  }

  // MARK: - Operations

  private func submit(_ params: SubmitParams, _ request: Request) async throws(RPCError) -> Outcome {
    try boundSpaceMismatch(params.space)
    try requireAccess(to: params.space, submitting: true)
    let id = Space.newOperationID()
    let space = try? runtime.space(params.space)
    let requestId = request.id
    let outbox = outbox
    let token =
      params.events == false
      ? nil
      : space?.hub.observe { event in
        guard event.opId == id else { return }
        outbox.send(Wire.request("event", EventNotification(event: event, requestId: requestId), id: nil), .event)
      }
    let result = await runtime.submit(params.op, to: params.space, id: id)
    if let token { space?.hub.removeObserver(token) }
    return ok(result, request)
  }

  private func policyCheck(_ params: SubmitParams, _ request: Request) throws(RPCError) -> Outcome {
    try boundSpaceMismatch(params.space)
    let decision = try failing { () throws(SpacesError) in
      let space = try runtime.space(params.space)
      return try space.policy.current().evaluate(params.op, grants: space.policy.grants)
    }
    return ok(decision, request)
  }

  // MARK: - Events

  private func subscribe(_ params: SubscribeParams, _ request: Request) throws(RPCError) -> Outcome {
    if let fromSeq = params.fromSeq, fromSeq < 1 {
      throw RPCError(RPCErrorCode.invalidParams, "invalid params for events.subscribe: \"fromSeq\" must be 1 or more")
    }
    let names: [String]
    if let name = params.space {
      try requireAccess(to: name, submitting: false)
      names = [name]
    } else {
      if params.fromSeq != nil {
        throw RPCError(RPCErrorCode.invalidParams, "invalid params for events.subscribe: \"fromSeq\" needs \"space\"")
      }
      try requireSupervisor("watch every space (pass \"space\")")
      names = runtime.home.names()
    }
    var spaces: [Space] = []
    for name in names {
      spaces.append(try failing { () throws(SpacesError) in try runtime.space(name) })
    }
    let subscription = session.withValue { session in
      session.nextSubscription += 1
      return "sub-\(session.nextSubscription)"
    }
    // The response goes out before the first event, so the client knows the subscription.
    reply(request.id, ok(SubscribeResult(subscription: subscription, spaces: names), request))
    let cursors = spaces.map {
      EventCursor(space: $0, subscription: subscription, outbox: outbox, fromSeq: params.fromSeq)
    }
    session.withValue { $0.cursors[subscription] = cursors }
    return .success(ByteBuffer())
  }

  private func unsubscribe(_ params: UnsubscribeParams, _ request: Request) throws(RPCError) -> Outcome {
    let cursors = session.withValue { $0.cursors.removeValue(forKey: params.subscription) }
    guard let cursors else {
      throw RPCError(SpacesError(.notFound, "no subscription \(params.subscription) on this connection"))
    }
    for cursor in cursors { cursor.cancel() }
    return ok(EmptyObject(), request)
  }

  // MARK: - Approvals

  private func approvalList(_ params: ApprovalListParams, _ request: Request) -> Outcome {
    let (role, bound, used) = session.withValue { ($0.role, $0.boundSpace, $0.usedSpaces) }
    var approvals = runtime.pendingApprovals(space: params.space)
    if role == .agent {
      let visible = bound.map { Set([$0]) } ?? used
      approvals = approvals.filter { visible.contains($0.space) }
    }
    return ok(ApprovalListResult(approvals: approvals), request)
  }

  private func approvalResolve(_ params: ApprovalResolveParams, _ request: Request) throws(RPCError) -> Outcome {
    let resolution = ApprovalResolution(choice: params.decision, feedback: params.feedback, rules: params.rules ?? [])
    try failing { () throws(SpacesError) in try runtime.resolveApproval(params.id, with: resolution) }
    return ok(ApprovalResolveResult(id: params.id, decision: params.decision), request)
  }

  // MARK: - Files

  private func fileList(_ params: FileListParams, _ request: Request) throws(RPCError) -> Outcome {
    let entries = try failing { () throws(SpacesError) in
      let space = try runtime.space(params.space)
      do {
        return try space.workspace.list(params.path ?? "")
      } catch let error as SpacesError {
        throw error
      } catch {
        throw SpacesError(.ioError, "\(error)")
      }
    }
    return ok(FileListResult(entries: entries), request)
  }

  private func fileOp(_ space: String, _ op: Op, _ request: Request) async -> Outcome {
    ok(await runtime.submit(op, to: space, actor: .person), request)
  }
}
