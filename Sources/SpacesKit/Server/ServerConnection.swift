import Foundation
import NIOCore
import SpacesModel

/// One client connection: its role, its subscriptions, and the methods it calls.
///
/// Lines are parsed in order on the event loop that read them; `hello` runs there too, so a
/// request sent right after it already sees the role. A request answered without waiting (a small
/// `readFile` or a `message` the policy decides at once, see ``Space/submitNow(_:actor:id:reason:readingAtMost:)``)
/// is answered there as well; every other request runs in its own task, so many can be in
/// flight; cancelling them (on disconnect) stops their operations.
final class ServerConnection: Sendable {
  private struct Session {
    var greeted = false
    var role = ConnectionRole.agent
    /// An agent's one space: named by `hello`, or the first space it uses; fixed for the
    /// connection's life.
    var boundSpace: String?
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
  /// The requests running now: each by a number of its own (a disconnect cancels them all and
  /// waits for them), and by id for `request.cancel`.
  private struct Running {
    var next = 0
    var all: [Int: Task<Void, Never>] = [:]
    var byID: [RPCID: Int] = [:]
  }
  private let requests = LockedValue(Running())
  /// The connection's places for running commands (`maxRunningPerConnection`).
  private let running: Slots
  /// The connection's large contents take their turn in the runtime's budget one at a time.
  let largeTurn = Slots(limit: 1)
  /// What the connection's lines take of the server's inbound budget as they are read.
  private let inbound: InboundAccount?
  private var runtime: SpacesRuntime { server.runtime }

  init(server: SpacesServer, outbox: Outbox, tcp: Bool, number: Int, inbound: InboundAccount? = nil) {
    self.server = server
    self.outbox = outbox
    self.tcp = tcp
    self.number = number
    self.inbound = inbound
    running = Slots(limit: server.options.maxRunningPerConnection)
  }

  /// Handles one inbound line: answers it at once, or starts a task of its own that answers it.
  /// `hold` keeps the bytes a large line took from the runtime's budget until its request is
  /// answered.
  func receive(_ message: InboundLine, hold: ContentHold? = nil) {
    handle(Self.parse(message), hold: hold)
  }

  /// A line as ``handle(_:hold:)`` takes it.
  enum Parsed: Sendable {
    /// A line over the message limit (skipped).
    case tooLong
    /// A line of `bytes` bytes, read.
    case message(InboundMessage, bytes: Int)
  }

  /// Reads one line: the pure step of ``receive(_:hold:)``, which the server runs off the event
  /// loop for a large line.
  static func parse(_ message: InboundLine) -> Parsed {
    guard case .line(let buffer, _) = message else { return .tooLong }
    let data = Data(buffer.readableBytesView)
    return .message(InboundMessage(line: data), bytes: data.count)
  }

  /// Handles one parsed line, as ``receive(_:hold:)``.
  func handle(_ parsed: Parsed, hold: ContentHold? = nil) {
    guard case .message(let message, let size) = parsed else {
      reply(
        nil,
        .failure(
          RPCError(
            RPCErrorCode.invalidRequest,
            "the message is over the \(server.options.maxMessageBytes)-byte limit; it was skipped")))
      return
    }
    let request: Request
    let respond: Bool
    switch message {
    case .ignored:
      return
    case .rejected(let error, let id, let answered):
      if answered { reply(id, .failure(error)) }
      return
    case .request(var inbound, let isRequest):
      inbound.hold = hold
      (request, respond) = (inbound, isRequest)
    }
    let id = request.id
    if let method = RPCMethod(rawValue: request.method), case .inOrder(let answer) = Self.route(method).handler {
      let outcome: Outcome
      do {
        outcome = try answer(self, request)
      } catch {
        outcome = .failure(error)
      }
      if respond { reply(id, outcome) }
      return
    }
    if tcp, !session.withValue({ $0.greeted }) {
      if respond {
        reply(id, .failure(RPCError(RPCErrorCode.forbidden, "over TCP, send hello with the supervisor token first")))
      }
      return
    }
    // Answered here, without a task, when it needs no waiting; else its decoded params go on.
    var decoded: SubmitParams?
    if request.method == RPCMethod.opSubmit.rawValue, hold == nil, size <= Self.answerNowBytes {
      // The journal's flusher, which the read's record asks for, is woken once the answer is
      // written.
      let now = JournalFlusher.shared.wakingAfter { () -> SubmitNow in
        let now = submitNow(request)
        if case .answered(let outcome) = now, respond { reply(id, outcome) }
        return now
      }
      switch now {
      case .answered: return
      case .later(let params): decoded = params
      }
    }
    // Requests in flight hold their text: bound both their number and their bytes.
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
              SpacesError(
                .busy,
                "too many requests in flight on this connection (at most \(server.options.maxInFlight), "
                  + "and \(byteLimit) bytes of them); wait for some to finish"))))
      }
      return
    }
    // Its own task, registered before the next line is read, so `request.cancel` finds it (and
    // before the task can end: it takes the same lock to leave). Nothing else waits for it: a
    // disconnect cancels it and waits for it through ``cancelRequests()``.
    requests.withValue { running in
      running.next += 1
      let number = running.next
      running.all[number] = Task { [decoded] in
        let outcome =
          if let decoded {
            await Self.outcome { () async throws(RPCError) in try await self.submit(decoded, request) }
          } else {
            await self.dispatch(request)
          }
        self.session.withValue {
          $0.inFlight -= 1
          $0.inFlightBytes -= size
        }
        if respond { self.reply(id, outcome) }
        hold?.release()
        self.requests.withValue { running in
          running.all[number] = nil
          if let id, running.byID[id] == number { running.byID[id] = nil }
        }
      }
      if respond, let id { running.byID[id] = number }
    }
  }

  /// `request.cancel {id}`: stops a request of this connection that is still running (an
  /// operation is stopped as if its connection had closed: a command is killed, an approval
  /// wait ends). It answers with whether one was found, when it has an id itself.
  private func cancel(_ params: CancelParams, _ request: Request) -> Outcome {
    let task = requests.withValue { running in running.byID[params.id].flatMap { running.all[$0] } }
    task?.cancel()
    return ok(CancelResult(cancelled: task != nil), request)
  }

  /// Cancels the connection's requests that still run, and waits until they have ended.
  func cancelRequests() async {
    let tasks = requests.withValue { Array($0.all.values) }
    for task in tasks { task.cancel() }
    for task in tasks { await task.value }
  }

  /// Ends the connection's subscriptions and output (its requests are cancelled by
  /// ``cancelRequests()``).
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
    /// Where the params object lies in `data`, when ``HeaderScan`` found it.
    var paramsRange: Range<Int>?
    /// The budget a large line took, kept until the request is answered.
    var hold: ContentHold?
    /// Whether it is answered (false for a notification, which has no `id`).
    var respond = true

    /// Decodes the params; a missing `params` reads as `{}`.
    ///
    /// Only the params object is decoded when its place is known — `op.submit`'s and
    /// `policy.check`'s in one pass (`SubmitParams.scan`), others and whatever that
    /// leaves by Foundation; when that fails, the whole line is, so the error names the field
    /// as it always did (`params.op.kind`).
    func params<P: Decodable>(_ type: P.Type) throws(RPCError) -> P {
      do {
        guard let data else { return try SpacesJSON.decoder.decode(P.self, from: Data("{}".utf8)) }
        if let paramsRange {
          if P.self == SubmitParams.self, let params = SubmitParams.scan(data[paramsRange]) as? P { return params }
          if let params = try? SpacesJSON.decoder.decode(P.self, from: data[paramsRange]) { return params }
        }
        return try SpacesJSON.decoder.decode(ParamsBox<P>.self, from: data).params
      } catch {
        throw RPCError(RPCErrorCode.invalidParams, "invalid params for \(method): \(SpacesJSON.describe(error))")
      }
    }
  }

  typealias Outcome = Result<ByteBuffer, RPCError>

  private func dispatch(_ request: Request) async -> Outcome {
    await Self.outcome { () async throws(RPCError) in
      let method = try RPCMethod(named: request.method)
      // The role first: an agent learns nothing about the params of what it may not call.
      if let action = method.supervisorAction { try requireSupervisor(action) }
      switch Self.route(method).handler {
      case .inOrder(let answer): return try answer(self, request)
      case .concurrent(let answer): return try await answer(self, request)
      }
    }
  }

  /// What `body` answers, or its error.
  private static func outcome(_ body: () async throws(RPCError) -> Outcome) async -> Outcome {
    do {
      return try await body()
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
    // An agent stays in its space: a later hello may prove the token, never move the agent.
    let refusal = session.withValue { session -> String? in
      if role == .agent, let bound = session.boundSpace, let asked = params.space, asked != bound {
        return "this connection is bound to the space \"\(bound)\" for its life; "
          + "open a new connection to work in \"\(asked)\""
      }
      session.greeted = true
      session.role = role
      if role == .agent {
        session.boundSpace = session.boundSpace ?? params.space
      } else {
        session.boundSpace = nil
      }
      return nil
    }
    if let refusal { return .failure(RPCError(RPCErrorCode.forbidden, refusal)) }
    // Over TCP, large lines are read only from a client that proved the token.
    if tokenValid { inbound?.trust() }
    let bound = session.withValue { $0.boundSpace }
    let result = HelloResult(
      version: server.options.version, protocolVersion: SpacesProtocol.version, role: role,
      space: role == .agent ? bound : nil)
    return ok(result, request)
  }

  private func requireSupervisor(_ what: String) throws(RPCError) {
    guard session.withValue({ $0.role }) == .supervisor else {
      throw RPCError(
        RPCErrorCode.forbidden, "an agent can't \(what); only a supervisor (hello with the supervisor token) can")
    }
  }

  /// Checks that this connection may act in `space`; an agent that has no space yet is bound
  /// to it from now on (when it exists: a typo doesn't bind).
  private func requireAccess(to space: String) throws(RPCError) {
    // Whether the space exists matters only to an agent not bound yet (one look per request
    // was a system call on every operation's path).
    let binding = session.withValue { $0.role != .supervisor && $0.boundSpace == nil }
    let exists = binding && access(runtime.home.configPath(space), F_OK) == 0
    let bound = session.withValue { session -> String? in
      if session.role == .supervisor { return nil }
      if session.boundSpace == nil, exists { session.boundSpace = space }
      if session.boundSpace == nil { return nil }
      return session.boundSpace == space ? nil : session.boundSpace
    }
    if let bound {
      throw RPCError(
        RPCErrorCode.forbidden,
        "this agent is bound to the space \"\(bound)\" for the life of its connection, not \"\(space)\"; "
          + "open a new connection to work in another space")
    }
  }

  /// Refuses a bound agent a space other than its own (without binding an agent that has none).
  private func boundSpaceMismatch(_ space: String) throws(RPCError) {
    let (role, bound) = session.withValue { ($0.role, $0.boundSpace) }
    if role == .agent, let bound, bound != space {
      throw RPCError(RPCErrorCode.forbidden, "this agent is bound to the space \"\(bound)\", not \"\(space)\"")
    }
  }

  // MARK: - Spaces

  private func spaceCreate(_ params: SpaceCreateParams, _ request: Request) throws(RPCError) -> Outcome {
    let (role, bound) = session.withValue { ($0.role, $0.boundSpace) }
    if role == .agent {
      try checkAgentCreate(params, bound: bound)
    }
    let config = try failing { () throws(SpacesError) in
      try runtime.home.create(
        name: params.name, policy: params.policy ?? .standard, backend: params.backend ?? .bubblewrap,
        workspace: params.workspace, network: params.network ?? false, image: params.image)
    }
    return ok(config, request)
  }

  /// What an agent may create, when `--allow-agent-spaces` lets it create spaces at all: a
  /// sandboxed space of its own folder, without network, whose preset is no wider than its own
  /// space's (standard for an agent without one).
  private func checkAgentCreate(_ params: SpaceCreateParams, bound: String?) throws(RPCError) {
    guard server.options.allowAgentSpaces else {
      throw RPCError(
        RPCErrorCode.forbidden,
        "an agent can't create spaces; only a supervisor can (or start `spaces serve --allow-agent-spaces`)")
    }
    let ceiling = bound.flatMap { try? runtime.home.load($0).policy } ?? .standard
    let order: [PolicyPreset] = [.restrictive, .standard, .permissive]
    let preset = params.policy ?? .standard
    var refusals: [String] = []
    if !(params.backend ?? .bubblewrap).isolated { refusals.append("the host backend (no sandbox)") }
    if params.workspace != nil { refusals.append("a workspace folder of its choosing") }
    if params.network == true { refusals.append("the network") }
    if params.image != nil { refusals.append("a container image of its choosing") }
    if (order.firstIndex(of: preset) ?? 2) > (order.firstIndex(of: ceiling) ?? 0) {
      refusals.append("a policy wider than \(ceiling.rawValue)")
    }
    if !refusals.isEmpty {
      throw RPCError(
        RPCErrorCode.forbidden,
        "an agent can't create a space with " + refusals.joined(separator: ", ")
          + "; leave those out, or ask the person supervising to create it")
    }
  }

  private func spaceList(_ request: Request) -> Outcome {
    let home = runtime.home
    let (role, bound) = session.withValue { ($0.role, $0.boundSpace) }
    var names = home.names()
    if role == .agent, let bound { names = names.filter { $0 == bound } }
    return ok(SpaceListResult(spaces: names.compactMap { try? home.load($0) }), request)
  }

  private func spaceGet(_ params: SpaceNameParams, _ request: Request) throws(RPCError) -> Outcome {
    try boundSpaceMismatch(params.name)
    return ok(try failing { () throws(SpacesError) in try runtime.home.load(params.name) }, request)
  }

  private func spaceDelete(_ params: SpaceNameParams, _ request: Request) throws(RPCError) -> Outcome {
    try failing { () throws(SpacesError) in try runtime.home.delete(params.name) }
    runtime.close(params.name)
    return ok(SpaceDeleteResult(deleted: params.name), request)
  }

  // MARK: - Operations

  /// The largest `op.submit` line tried on the event loop (a small read or message is far
  /// smaller; a larger line is decoded in its own task, off the loop).
  static let answerNowBytes = 64 << 10

  /// How ``submitNow(_:)`` left a request.
  private enum SubmitNow {
    /// Answered (or refused) without waiting.
    case answered(Outcome)
    /// It waits for something: the params, decoded, go to ``submit(_:_:)`` in a task.
    case later(SubmitParams)
  }

  /// `op.submit` answered on the event loop that read it, when it needs no waiting: a small
  /// `readFile` or a `message` in a space that is open already (opening one reads its journal),
  /// decided at once by the policy (``Space/submitNow(_:actor:id:reason:readingAtMost:)``). Each step here
  /// only decodes, checks a file's presence, or runs the space's non-waiting pipeline.
  private func submitNow(_ request: Request) -> SubmitNow {
    let params: SubmitParams
    do {
      params = try request.params(SubmitParams.self)
    } catch {
      return .answered(.failure(error))
    }
    switch params.op {
    case .readFile, .message: break
    default: return .later(params)
    }
    do {
      try requireAccess(to: params.space)
    } catch {
      return .answered(.failure(error))
    }
    guard let space = runtime.openSpace(params.space) else { return .later(params) }
    let id = Space.newOperationID()
    let delivery = Delivery(space: space, id: id, request: request, outbox: outbox, events: params.events)
    guard
      let result = space.submitNow(
        params.op, id: id, reason: params.reason, readingAtMost: server.options.readNowBytes)
    else {
      delivery.stop()
      return .later(params)
    }
    return .answered(ok(delivery.end(result, streamsOutput: params.streamsOutput), request))
  }

  private func submit(_ params: SubmitParams, _ request: Request) async throws(RPCError) -> Outcome {
    try requireAccess(to: params.space)
    let id = Space.newOperationID()
    let delivery = Delivery(
      space: try? runtime.space(params.space), id: id, request: request, outbox: outbox, events: params.events)
    let hold = request.hold ?? ContentHold(turn: largeTurn)
    // A change is answered from the thread that flushed it (``Space/submit``'s `answer`), not
    // after this task resumes: one wake-up less between the disk and the client.
    let answered = LockedValue(false)
    let (outbox, streamsOutput, requestID) = (outbox, params.streamsOutput, request.id)
    @Sendable func answerNow(_ result: OperationResult) {
      answered.withValue { $0 = true }
      let line: ByteBuffer = Wire.result(delivery.end(result, streamsOutput: streamsOutput), id: requestID)
      outbox.send(line, .response)
    }
    let answer: (@Sendable (OperationResult) -> Void)? = request.respond ? answerNow : nil
    let result = await runtime.submit(
      params.op, to: params.space, id: id, admission: running, reason: params.reason, hold: hold, answer: answer)
    // A large content's share of the budget is given back once its answer is encoded (the
    // answer is then counted by the reply budget); an answer sent already leaves nothing to send.
    let outcome =
      answered.withValue { $0 }
      ? .success(ByteBuffer()) : ok(delivery.end(result, streamsOutput: params.streamsOutput), request)
    if request.hold == nil { hold.release() }
    return outcome
  }

  /// How one submitted operation's events reach the client that submitted it (unless it asked
  /// for none), and what its answer then repeats of them.
  private final class Delivery: Sendable {
    private let space: Space?
    private let token: UUID?
    /// Whether every `output` event reached this client, and the result its final event carried.
    private let sent = LockedValue<(allOutputSent: Bool, final: OperationResult?)>((true, nil))

    /// Sends `space`'s events of the operation `id` to `outbox`, as notifications of `request`.
    init(space: Space?, id: String, request: Request, outbox: Outbox, events: Bool?) {
      self.space = space
      guard events != false, let space else {
        token = nil
        return
      }
      let (requestId, sent) = (request.id, sent)
      token = space.hub.observe { event in
        guard event.opId == id else { return }
        let delivered = outbox.send(Wire.event(event, requestId: requestId), .event)
        switch event.type {
        case .output where !delivered: sent.withValue { $0.allOutputSent = false }
        case .completed, .failed, .denied: sent.withValue { $0.final = delivered ? event.result : nil }
        default: break
        }
      }
    }

    /// Stops sending events.
    func stop() {
      if let token { space?.hub.removeObserver(token) }
    }

    /// Stops sending events and returns the answer's result. Output once: a client that streams
    /// output and got every output event gets a result that refers to them; any other client
    /// gets the whole output in the answer.
    func end(_ result: OperationResult, streamsOutput: Bool?) -> OperationResult {
      stop()
      var result = result
      if streamsOutput == true, token != nil {
        let (allSent, final) = sent.withValue { $0 }
        if allSent, let final, let streamed = final.streamed {
          result.stdout = final.stdout
          result.stderr = final.stderr
          result.streamed = streamed
        }
      }
      return result
    }
  }

  private func policyCheck(_ params: SubmitParams, _ request: Request) async throws(RPCError) -> Outcome {
    try requireAccess(to: params.space)
    let (engine, grants, session) = try failing { () throws(SpacesError) in
      let space = try runtime.space(params.space)
      let fresh = if case .shell(_, _, let fresh) = params.op { fresh } else { true }
      return (try space.policy.current(), space.policy.grants, space.startSession(fresh: fresh).session)
    }
    return ok(await Space.judge(params.op, engine: engine, grants: grants, session: session), request)
  }

  // MARK: - Events

  private func subscribe(_ params: SubscribeParams, _ request: Request) throws(RPCError) -> Outcome {
    if let fromSeq = params.fromSeq, fromSeq < 1 {
      throw RPCError(RPCErrorCode.invalidParams, "invalid params for events.subscribe: \"fromSeq\" must be 1 or more")
    }
    let names: [String]
    if let name = params.space {
      try requireAccess(to: name)
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
    // "From now on" is fixed before the response goes out: an event journaled between the
    // response and the cursor's start is still sent (the cursor catches up from there).
    let starts = spaces.map { space in params.fromSeq ?? space.quiesced { space.journal.lastSeq + 1 } }
    // The response goes out before the first event, so the client knows the subscription.
    reply(request.id, ok(SubscribeResult(subscription: subscription, spaces: names), request))
    let cursors = zip(spaces, starts).map { space, start in
      EventCursor(space: space, subscription: subscription, outbox: outbox, fromSeq: start, turn: largeTurn)
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
    let (role, bound) = session.withValue { ($0.role, $0.boundSpace) }
    var approvals = runtime.pendingApprovals(space: params.space)
    if role == .agent {
      approvals = approvals.filter { $0.space == bound }
    }
    return ok(ApprovalListResult(approvals: approvals), request)
  }

  private func approvalResolve(_ params: ApprovalResolveParams, _ request: Request) throws(RPCError) -> Outcome {
    let resolution = ApprovalResolution(choice: params.decision, feedback: params.feedback, rules: params.rules ?? [])
    try failing { () throws(SpacesError) in try runtime.resolveApproval(params.id, with: resolution) }
    return ok(ApprovalResolveResult(id: params.id, decision: params.decision), request)
  }

  private func approvalExtend(_ params: ApprovalExtendParams, _ request: Request) throws(RPCError) -> Outcome {
    ok(try failing { () throws(SpacesError) in try runtime.extendApproval(params.id, by: params.seconds) }, request)
  }

  // MARK: - Changes

  private func opChanges(_ params: ChangesParams, _ request: Request) throws(RPCError) -> Outcome {
    try requireAccess(to: params.space)
    let space = try failing { () throws(SpacesError) in try runtime.space(params.space) }
    if let op = params.op { return ok(space.changes(of: op, diff: params.diff ?? true), request) }
    return ok(space.changeList(limit: params.limit ?? 50), request)
  }

  /// `op.undo` (one operation) and `space.restore` (everything from `op` on).
  private func undo(_ name: String, _ op: String, restore: Bool, _ request: Request) async throws(RPCError) -> Outcome {
    let space = try failing { () throws(SpacesError) in try runtime.space(name) }
    do {
      return ok(try await space.undo(op, restore: restore), request)
    } catch {
      throw RPCError(error)
    }
  }

  // MARK: - Files

  private func fileList(_ params: FileListParams, _ request: Request) throws(RPCError) -> Outcome {
    let entries = try failing { () throws(SpacesError) in
      try runtime.space(params.space).workspace.list(params.path ?? "")
    }
    return ok(FileListResult(entries: entries), request)
  }

  private func fileOp(_ space: String, _ op: Op, _ request: Request) async -> Outcome {
    let hold = request.hold ?? ContentHold(turn: largeTurn)
    let outcome = ok(await runtime.submit(op, to: space, actor: .person, hold: hold), request)
    if request.hold == nil { hold.release() }
    return outcome
  }
}

// MARK: - Routes

/// How one method is answered: the params it reads and its handler.
struct Route: Sendable {
  /// Runs a request (its params are decoded inside), on the connection's task or its own.
  enum Handler: Sendable {
    /// Answered on the connection's task before the next line is read (so a request sent right
    /// after `hello` already sees the role).
    case inOrder(@Sendable (ServerConnection, ServerConnection.Request) throws(RPCError) -> ServerConnection.Outcome)
    /// Answered in its own task, so many can be in flight.
    case concurrent(
      @Sendable (ServerConnection, ServerConnection.Request) async throws(RPCError) -> ServerConnection.Outcome)
  }

  /// Decodes a request's params for the method (-32602 naming the field); the fuzzer's way in.
  let decode: @Sendable (ServerConnection.Request) throws(RPCError) -> any Sendable
  /// Runs it.
  let handler: Handler

  /// A method answered in line order, reading params of type `P`.
  static func inOrder<P: Decodable & Sendable>(
    _ type: P.Type,
    _ body: @escaping @Sendable (ServerConnection, P, ServerConnection.Request) -> ServerConnection.Outcome
  ) -> Route {
    Route(
      decode: { request throws(RPCError) in try request.params(P.self) },
      handler: .inOrder { connection, request throws(RPCError) in body(connection, try request.params(P.self), request)
      })
  }

  /// A method answered in its own task, reading params of type `P`.
  static func concurrent<P: Decodable & Sendable>(
    _ type: P.Type,
    _ body:
      @escaping @Sendable (ServerConnection, P, ServerConnection.Request) async throws(RPCError) ->
      ServerConnection.Outcome
  ) -> Route {
    Route(
      decode: { request throws(RPCError) in try request.params(P.self) },
      handler: .concurrent { connection, request throws(RPCError) in
        try await body(connection, try request.params(P.self), request)
      })
  }

  /// A method answered in its own task that reads no params.
  static func concurrent(
    _ body:
      @escaping @Sendable (ServerConnection, ServerConnection.Request) throws(RPCError) ->
      ServerConnection.Outcome
  ) -> Route {
    Route(
      decode: { _ throws(RPCError) in EmptyObject() },
      handler: .concurrent { connection, request throws(RPCError) in try body(connection, request) })
  }
}

extension ServerConnection {
  /// The route table: for each method, the params it reads and the handler that answers it
  /// (`c` the connection, `p` the decoded params, `r` the request).
  static func route(_ method: RPCMethod) -> Route {
    switch method {
    case .hello: .inOrder(HelloParams.self) { $0.hello($1, $2) }
    case .requestCancel: .inOrder(CancelParams.self) { $0.cancel($1, $2) }
    case .spaceCreate: .concurrent(SpaceCreateParams.self) { c, p, r throws(RPCError) in try c.spaceCreate(p, r) }
    case .spaceList: .concurrent { c, r throws(RPCError) in c.spaceList(r) }
    case .spaceGet: .concurrent(SpaceNameParams.self) { c, p, r throws(RPCError) in try c.spaceGet(p, r) }
    case .spaceDelete: .concurrent(SpaceNameParams.self) { c, p, r throws(RPCError) in try c.spaceDelete(p, r) }
    case .opSubmit: .concurrent(SubmitParams.self) { c, p, r throws(RPCError) in try await c.submit(p, r) }
    case .eventsSubscribe: .concurrent(SubscribeParams.self) { c, p, r throws(RPCError) in try c.subscribe(p, r) }
    case .eventsUnsubscribe: .concurrent(UnsubscribeParams.self) { c, p, r throws(RPCError) in try c.unsubscribe(p, r) }
    case .approvalList: .concurrent(ApprovalListParams.self) { c, p, r throws(RPCError) in c.approvalList(p, r) }
    case .approvalResolve:
      .concurrent(ApprovalResolveParams.self) { c, p, r throws(RPCError) in try c.approvalResolve(p, r) }
    case .approvalExtend:
      .concurrent(ApprovalExtendParams.self) { c, p, r throws(RPCError) in try c.approvalExtend(p, r) }
    case .policyCheck: .concurrent(SubmitParams.self) { c, p, r throws(RPCError) in try await c.policyCheck(p, r) }
    case .fileList: .concurrent(FileListParams.self) { c, p, r throws(RPCError) in try c.fileList(p, r) }
    case .fileRead:
      .concurrent(FileReadParams.self) { c, p, r throws(RPCError) in await c.fileOp(p.space, .readFile(path: p.path), r)
      }
    case .fileWrite:
      .concurrent(FileWriteParams.self) { c, p, r throws(RPCError) in
        await c.fileOp(p.space, .createFile(path: p.path, content: p.content, encoding: p.encoding ?? .utf8), r)
      }
    case .fileDelete:
      .concurrent(FileDeleteParams.self) { c, p, r throws(RPCError) in
        await c.fileOp(p.space, .deleteFile(path: p.path, recursive: p.recursive ?? false), r)
      }
    case .opChanges: .concurrent(ChangesParams.self) { c, p, r throws(RPCError) in try c.opChanges(p, r) }
    case .opUndo:
      .concurrent(UndoParams.self) { c, p, r throws(RPCError) in try await c.undo(p.space, p.op, restore: false, r) }
    case .spaceRestore:
      .concurrent(RestoreParams.self) { c, p, r throws(RPCError) in
        try await c.undo(p.space, p.before, restore: true, r)
      }
    }
  }
}
