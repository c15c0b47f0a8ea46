import Foundation
import Logging
import SpacesModel
import SpacesPolicy
import SpacesSandbox

/// One open space: its config, workspace, journal, policy and backend, and the pipeline
/// every operation goes through.
///
/// decode → policy → execute in the backend → result, with every step journaled and published
/// to subscribers. The result is returned only after the journal holds it on disk.
public final class Space: Sendable {
  /// The space's configuration.
  public let config: SpaceConfig
  /// The journal.
  public let journal: Journal
  /// The workspace, confined.
  public let workspace: ConfinedWorkspace
  /// Live events.
  public let hub: EventHub
  /// The policy file and this session's grants.
  public let policy: PolicyStore
  /// Operations waiting for a person.
  public let approvals: ApprovalQueue
  /// Where shell commands run.
  public let backend: any IsolationBackend
  /// Keeps the protected paths as they were unless a person approved a change.
  public let protection: ProtectedGuard
  /// What each operation changed, and undo (nil when `undo.enabled` is false or the records
  /// can't be opened; the log says why).
  public let changes: ChangeTracker?
  private let logger: Logger
  private let supervised: Bool
  /// Serializes read-modify-write edits so two concurrent edits can't lose one another.
  private let edits = SerialGate()
  /// The places for shell commands running at once (`limits.maxRunning`).
  private let running: Slots
  /// The bytes large file contents may take in memory at once, shared by every space of a
  /// runtime (nil: unbounded).
  let contents: ByteGate?
  /// Held while events are appended and published, so observers see them in `seq` order.
  private let ordering = LockedValue()
  /// The shell session (folder and carried variables) shell operations continue from.
  public let sessions: ShellSessionStore
  /// Where each shell operation's state file is made (private to the runtime; bound into the
  /// sandbox one file at a time).
  private let sessionFolder: String
  /// Whether this runtime has looked for state files left behind (once, at its first command).
  private let stateFilesSwept = LockedValue(false)
  /// Held while an extension or the end of an approval wait is journaled, so an
  /// `approvalExtended` event never follows its request's `approvalResolved`.
  private let approvalRecords = LockedValue()

  /// The space's name.
  public var name: String { config.name }

  /// Opens a space from its config.
  public init(
    config: SpaceConfig, journalPath: String, policyPath: String, backend: any IsolationBackend,
    supervised: Bool = true, guardedFiles: [String] = [], contents: ByteGate? = nil, sessionPath: String? = nil,
    logger: Logger
  ) throws(SpacesError) {
    self.contents = contents
    let spaceFolder = (journalPath as NSString).deletingLastPathComponent
    sessions = ShellSessionStore(path: sessionPath ?? spaceFolder + "/session.json")
    sessionFolder = (sessions.path as NSString).deletingLastPathComponent + "/shell"
    self.config = config
    self.supervised = supervised
    self.backend = backend
    self.logger = logger
    do {
      workspace = try ConfinedWorkspace(
        root: config.workspace, maxFileSize: config.limits.maxFileSizeBytes, guarded: guardedFiles)
    } catch {
      throw SpacesError(
        error.code,
        "the workspace of \"\(config.name)\" can't be opened: \(error.message)", errno: error.errno)
    }
    guard let protection = ProtectedGuard(root: config.workspace) else {
      throw SpacesError(.ioError, "the workspace of \"\(config.name)\" can't be opened for its protected paths")
    }
    self.protection = protection
    // Writes interrupted by a crash or kill -9 leave their temporary files behind. They are
    // hidden from every operation already, so they are removed in the background: opening a
    // space never waits for a walk of a large workspace.
    let (opened, name) = (workspace, config.name)
    DispatchQueue.global(qos: .utility).async { [logger] in
      let leftovers = opened.removeInterruptedWrites()
      if leftovers > 0 {
        logger.notice("\(name): removed \(leftovers) temporary file(s) left by interrupted writes")
      }
    }
    journal = try Journal(path: journalPath)
    for issue in journal.issues {
      logger.warning("\(config.name): \(issue)")
    }
    var tracker: ChangeTracker?
    if config.undo.enabled {
      do {
        tracker = try ChangeTracker(
          root: config.workspace, folder: (journalPath as NSString).deletingLastPathComponent + "/changes",
          config: config.undo)
      } catch {
        logger.warning("\(config.name): operations are not recorded for undo: \(error.message)")
      }
    }
    if let issue = tracker?.indexIssue { logger.warning("\(config.name): \(issue)") }
    changes = tracker
    hub = EventHub()
    policy = try PolicyStore(
      path: policyPath, fallback: config.policy, profile: Self.profile(config: config, backend: backend))
    approvals = ApprovalQueue()
    running = Slots(limit: config.limits.maxRunning)
    recoverUndo()
    recoverInterrupted()
  }

  /// Closes the commands the runtime was running when it died (their markers are in
  /// `changes/running`): each gets the change record of what it changed (the workspace compared
  /// with the index saved before it) and a `failed` event (`cancelled`, "interrupted") that
  /// names it, so it can be undone like any other. One whose end is journaled already is left as
  /// it is.
  private func recoverInterrupted() {
    guard let changes else { return }
    for (marker, held) in changes.interrupted() {
      defer { changes.settle(marker, held) }
      if Self.journalTail(journal.path, has: marker.op, types: [.completed, .failed, .denied]) { continue }
      var result = OperationResult(id: marker.op, space: name, kind: .shell, status: .failed)
      var summary: ChangeSummary?
      let recorded: String
      do {
        summary = try changes.recordInterrupted(marker)
        recorded =
          summary.map {
            "what it changed is recorded (\($0.text)) and can be undone (`spaces undo \(name) \(marker.op)`)"
          }
          ?? "it changed nothing (or what it changed is in the record of a command interrupted with it)"
      } catch {
        recorded = "what it changed could not be recorded: \(error.message); it is taken as the workspace's state"
      }
      result.error = OperationResult.ErrorInfo(
        SpacesError(
          .cancelled, "interrupted: the runtime stopped (a crash or kill -9) while the command ran; " + recorded))
      let closed = event(marker.op, .failed(result: result, changes: summary, actor: marker.actor))
      do {
        try record([closed], sync: true)
        logger.notice("\(name): closed \(marker.op), interrupted by the runtime's end: \(recorded)")
      } catch {
        logger.error("\(name): \(marker.op), interrupted by the runtime's end, could not be journaled: \(error)")
      }
    }
  }

  /// Finishes an undo a crash interrupted (its intent log is in `changes/intent.json`) and
  /// journals it.
  private func recoverUndo() {
    guard let changes else { return }
    do {
      guard let (intent, recorded) = try changes.recover() else { return }
      let outcome = UndoOutcome(
        action: intent.action, target: intent.target, id: intent.id, undid: intent.undid, changes: recorded.summary,
        recovered: true)
      // Killed between journaling it and removing the intent: journaled already.
      if !Self.journalTail(journal.path, has: intent.id, types: [.undone]) {
        let done = event(intent.id, .undone(actor: .person, undo: outcome, changes: recorded.summary))
        try record([done], sync: true)
      }
      changes.finish(intent)
      logger.notice("\(name): finished an undo a crash had interrupted (\(intent.what))")
    } catch {
      logger.error("\(name): an undo a crash interrupted could not be finished: \(error)")
    }
  }

  /// Whether the last 256 KiB of the journal at `path` hold an event of `opId` of one of `types`.
  static func journalTail(_ path: String, has opId: String, types: Set<Event.Kind>) -> Bool {
    guard let handle = FileHandle(forReadingAtPath: path) else { return false }
    defer { try? handle.close() }
    let size = (try? handle.seekToEnd()) ?? 0
    try? handle.seek(toOffset: size > 262_144 ? size - 262_144 : 0)
    guard let data = try? handle.readToEnd() else { return false }
    let needle = Data(opId.utf8)
    for line in data.split(separator: UInt8(ascii: "\n")) where line.range(of: needle) != nil {
      if let event = try? JSONDecoder().decode(Event.self, from: Data(line)), types.contains(event.type),
        event.opId == opId
      {
        return true
      }
    }
    return false
  }

  /// Undoes the operation `target` — or, with `restore`, everything from it on, newest first —
  /// as the person's action: journaled (`undone`) and itself undoable.
  ///
  /// Refused (``SpacesError/Code/undoRefused``, nothing changed) when a later operation changed
  /// the same paths (for a single undo), a record is gone, a file's earlier content was not
  /// kept, or the workspace no longer holds what the operations left.
  public func undo(_ target: String, restore: Bool = false) async throws(SpacesError) -> UndoOutcome {
    guard let changes else {
      throw SpacesError(
        .undoRefused, "\(name) keeps no change records (undo.enabled is false in space.json, or see the log)")
    }
    let id = Self.newOperationID()
    let (intent, record) = try await Sys.offloaded {
      Result { () throws(SpacesError) in try changes.undo(target: target, restore: restore, id: id) }
    }.get()
    for step in intent.steps { protection.accept(step.path) }
    let outcome = UndoOutcome(
      action: intent.action, target: target, id: id, undid: intent.undid, changes: record.summary)
    let done = event(id, .undone(actor: .person, undo: outcome, changes: record.summary))
    try self.record([done], sync: false)
    try await flush()
    changes.finish(intent)
    return outcome
  }

  /// The newest change records, newest first (at most `limit`, 1 to 1000).
  public func changeList(limit: Int = 50) -> ChangesList {
    guard let changes else { return ChangesList(records: [], kept: 0) }
    changes.settleRetention()
    let names = changes.recordNames()
    let newest = names.suffix(min(max(limit, 1), 1000)).reversed()
    let items = newest.compactMap(changes.readRecord).map {
      ChangesList.Item(
        op: $0.opId, time: $0.time, actor: $0.actor, what: $0.what, changes: $0.summary, undid: $0.undid)
    }
    return ChangesList(records: items, kept: names.count)
  }

  /// What the operation `op` changed: its record and, with `diff`, a readable diff.
  public func changes(of op: String, diff: Bool = true) -> ChangesAnswer {
    guard let changes else {
      return ChangesAnswer(
        op: op, status: "none", message: "\(name) keeps no change records (undo.enabled is false in space.json)")
    }
    guard ChangeTracker.validID(op) else {
      return ChangesAnswer(op: op, status: "none", message: "\(EventText.quoted(op)) is not an operation id")
    }
    changes.settleRetention()
    if let record = changes.record(of: op) {
      return ChangesAnswer(
        op: op, status: "recorded", record: record, diff: diff ? ChangeDiff.render(record, store: changes.store) : nil)
    }
    if changes.wasDropped(op) {
      return ChangesAnswer(
        op: op, status: "gone",
        message:
          "the change record of \(op) is gone: only the newest \(changes.config.keepOperations) operations' "
          + "records (and at most undo.maxBytes of content) are kept")
    }
    return ChangesAnswer(
      op: op, status: "none", message: "\(op) changed nothing in the workspace (or is not an operation of \(name))")
  }

  /// Runs one operation through the whole pipeline and returns its result.
  ///
  /// `id` names the operation (a caller that wants to follow its events picks it first). An
  /// operation by the person supervising skips the policy: the person is who it would ask.
  /// Cancelling the task stops the operation (a running command is killed).
  ///
  /// A shell command runs only while it holds a place among the space's running operations
  /// (`limits.maxRunning`) and, when given, one of `admission`'s (its connection's); until then
  /// it is journaled as `queued`. A large file's content takes its turn in the runtime's
  /// ``ByteGate``; with `hold`, the bytes it took stay held until the caller releases `hold`
  /// (once the answer is encoded).
  ///
  /// `reason` is the agent's own reason for it (``StatedReason``): journaled with the operation
  /// and shown with its approval request, never read by the policy. One that is too long fails
  /// the operation with `invalidRequest` before anything is journaled.
  ///
  /// `answer`, when given, gets the result of an operation that ran and waited for the disk (a
  /// change), on the thread that flushed it, as soon as it is on disk and before `submit`
  /// returns the same result: a server answers from there instead of waiting for its task to
  /// resume. It is not called otherwise (a read, a denial, a failure before it ran).
  public func submit(
    _ operation: Op, actor: Event.Actor = .agent, id: String = Space.newOperationID(), admission: Slots? = nil,
    reason: String? = nil, hold: ContentHold? = nil, answer: (@Sendable (OperationResult) -> Void)? = nil
  ) async -> OperationResult {
    var watch = Stopwatch()
    func elapsed() -> Int { watch.milliseconds }
    let (opened, receivedEvent, statedReason) = opening(operation, actor: actor, id: id, reason: reason)
    guard let received = receivedEvent else { return opened }
    var result = opened
    // What a shell command's `output` events carried, so its `completed` refers to them.
    let streamed = StreamedText()

    do {
      let engine: PolicyEngine
      do {
        engine = try policy.current()
      } catch {
        try record([received], sync: false)
        return try await finish(result: failed(result, error), elapsed: elapsed())
      }
      // A shell command continues the space's shell session (unless it asks for a fresh one):
      // it is judged in the folder it will run in.
      let session: SessionStart? =
        if case .shell(_, _, let fresh) = operation { startSession(fresh: fresh) } else { nil }
      let verdict: Decision
      if let now = verdictNow(operation, actor: actor, engine: engine, session: session?.session) {
        verdict = now
      } else {
        verdict = await Self.judge(operation, engine: engine, grants: policy.grants, session: session?.session)
      }
      let decided = event(id, .decision(verdict))

      let places: [Slots]?
      // A person who approves an operation asked about because of the network grants the
      // network to that one operation.
      var networkGranted = false
      // A command a person ran, or approved when asked, may change the protected paths.
      var protectedWritable = actor == .person
      switch verdict.decision {
      case .allow:
        // One write for the three records of an operation that may run at once.
        places = try await admit(operation, id: id, admission: admission, recordingFirst: [received, decided])
      case .deny:
        return try await settle(refuse(result, verdict, recording: [received, decided], elapsed: elapsed()))
      case .ask:
        try record([received, decided], sync: false)
        switch try await askPerson(
          id: id, operation: operation, verdict: verdict, engine: engine, folder: session?.session.folder ?? "",
          reason: statedReason)
        {
        case .run:
          networkGranted = engine.approvalGrantsNetwork(verdict)
          protectedWritable = true
        case .denied(let reason, let by):
          return try await finish(result: denied(result, reason, by: by), elapsed: elapsed())
        case .cancelled(let why):
          return try await finish(result: failed(result, SpacesError(.cancelled, why)), elapsed: elapsed())
        }
        places = try await admit(operation, id: id, admission: admission, recordingFirst: [])
      }
      guard let places else {
        let cancelled = SpacesError(.cancelled, "the operation was cancelled while it waited for its turn to run")
        return try await finish(result: failed(result, cancelled), elapsed: elapsed())
      }

      // A large file's content is held until its result is journaled and returned, and the
      // answer is encoded from it: a read or an edit first takes `ByteGate.fileCopies` times
      // its size from the runtime's budget for contents, so many such operations at once wait
      // their turn instead of all being held together. A caller that passes `hold` keeps the
      // bytes until it has encoded the answer; a request whose own line was large already
      // holds its share, and takes nothing more (taking twice could leave two requests each
      // waiting for what the other holds).
      var held = 0
      let largeSize = Self.largeContent(operation, workspace)
      if let contents, hold?.bytes ?? 0 == 0, let size = largeSize {
        let granted: Bool
        if let hold {
          granted = await hold.take(ByteGate.fileCopies * size, from: contents)
        } else {
          held = await contents.acquire(ByteGate.fileCopies * size) ?? 0
          granted = held > 0
        }
        guard granted else {
          let cancelled = SpacesError(.cancelled, "the operation was cancelled while it waited for its turn to run")
          return try await finish(result: failed(result, cancelled), elapsed: elapsed())
        }
      }
      defer { contents?.release(held) }

      watch.restart()
      let beginning = beginChanges(operation, id: id, actor: actor)
      if let write = writeAtOnce(operation) {
        // A file written or deleted: the write, its change scan, its end record and their flush
        // on one dispatch thread (no hop between them, and no flush on the threads tasks share).
        let pending = await beginning.value
        let stopwatch = watch
        return try await conclude(
          result, pending: pending, operation: operation, actor: actor, elapsed: 0, streamed: streamed,
          answer: answer
        ) { [self] result, folders in
          var result = result
          do throws(SpacesError) { try write(&result, folders) } catch { result = failed(result, error) }
          return (result, stopwatch.milliseconds)
        }
      }
      // An edit's folder is flushed with its journal record, as a create's is.
      let flushes = PendingFlushes()
      do throws(SpacesError) {
        defer { for place in places { place.release() } }
        try await execute(
          operation, id: id, network: networkGranted, protectedWritable: protectedWritable,
          large: largeSize != nil, session: session, streamed: streamed, changesBegun: beginning, flushes: flushes,
          into: &result)
      } catch {
        result = failed(result, error)
      }
      let pending = await beginning.value
      return try await conclude(
        result, pending: pending, operation: operation, actor: actor, elapsed: elapsed(), streamed: streamed,
        answer: answer, flushes: flushes)
    } catch {
      return journalFailed(result, error, elapsed: elapsed())
    }
  }

  /// The largest file a read answered on the caller's thread takes by default
  /// (``submitNow(_:actor:id:reason:readingAtMost:)``): small enough that the event loop running
  /// it, shared by many connections, is never held long.
  public static let readNowLimit = 64 << 10

  /// Runs `operation` at once, on the caller's thread, when it can be answered without waiting
  /// for anything: a `readFile` of at most `limit` bytes (under ``ByteGate/largeFile``) or a
  /// `message`, that the policy allows or denies (a person's always runs). Returns nil, before
  /// anything is journaled, when it doesn't qualify, or when the file has grown past `limit` by
  /// the time it is read (the caller then uses ``submit(_:actor:id:admission:reason:hold:answer:)``).
  ///
  /// It takes the same steps as `submit` (the same functions judge, journal, execute and finish)
  /// and none of them waits: the policy is a cached engine (re-read only when its file's stamp
  /// changed) evaluated in memory; the journal's records are written, never flushed here (the
  /// group commit flushes them, as for every read and message); the file is small and
  /// read through an open file descriptor, and no lock taken is held across a flush. The server
  /// calls it on the event loop that read the request.
  public func submitNow(
    _ operation: Op, actor: Event.Actor = .agent, id: String = Space.newOperationID(), reason: String? = nil,
    readingAtMost requested: Int = Space.readNowLimit
  ) -> OperationResult? {
    let limit = min(requested, ByteGate.largeFile - 1)
    // A larger file is read (hashed, encoded) off the caller's thread: the read below stops one
    // byte past `limit` and hands it to `submit` (one open per read, no stat before it).
    switch operation {
    case .message, .readFile: break
    default: return nil
    }
    guard let engine = try? policy.current(),
      let verdict = verdictNow(operation, actor: actor, engine: engine, session: nil), verdict.decision != .ask
    else { return nil }
    var watch = Stopwatch()
    let (opened, receivedEvent, _) = opening(operation, actor: actor, id: id, reason: reason)
    guard let received = receivedEvent else { return opened }
    var result = opened
    do throws(SpacesError) {
      let decided = event(id, .decision(verdict))
      guard verdict.decision == .allow else {
        return try refuse(result, verdict, recording: [received, decided], elapsed: watch.milliseconds).result
      }
      // A read's four records go to the journal in one write, at its end (nothing can come
      // between them); a message's own record follows its `started`.
      var first = [received, decided, event(id, .started)]
      if case .message = operation {
        try record(first, sync: false)
        first = []
      }
      watch.restart()
      do throws(SpacesError) {
        // The caller's thread reads no more than a small file, even one that grew since it was
        // judged small: one past it goes to `submit` (nothing of a read is journaled yet).
        try executeNow(operation, id: id, atMost: limit, into: &result)
      } catch  where error.code == .tooLarge && operation.kind == .readFile {
        return nil
      } catch {
        result = failed(result, error)
      }
      return try finishNow(result: result, elapsed: watch.milliseconds, recordingFirst: first).result
    } catch {
      return journalFailed(result, error, elapsed: watch.milliseconds)
    }
  }

  /// An operation's result to be, its `received` record and the agent's reason, checked; no
  /// record, and a failed result, when the reason is refused (before anything is journaled).
  private func opening(_ operation: Op, actor: Event.Actor, id: String, reason: String?) -> (
    result: OperationResult, received: Event?, reason: String?
  ) {
    let result = OperationResult(id: id, space: name, kind: operation.kind, status: .completed)
    do {
      let statedReason = try StatedReason.validate(reason)
      return (result, event(id, .received(actor: actor, op: operation, reason: statedReason)), statedReason)
    } catch {
      return (failed(result, error), nil, nil)
    }
  }

  /// How long an operation ran, once it starts (a wait for a person is not part of it; the
  /// journal's times show that); until then, how long it took to be decided.
  private struct Stopwatch {
    private let clock = ContinuousClock()
    private var start: ContinuousClock.Instant

    init() { start = clock.now }

    /// Counts from now on.
    mutating func restart() { start = clock.now }

    /// Whole milliseconds since the start.
    var milliseconds: Int {
      let duration = clock.now - start
      return Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
  }

  /// The policy's decision when it is known without waiting (a person's operation is allowed:
  /// the person is who the policy would ask); nil for a long command, analysed off the caller's
  /// thread (``judge(_:engine:grants:session:)``).
  private func verdictNow(_ operation: Op, actor: Event.Actor, engine: PolicyEngine, session: ShellSession?)
    -> Decision?
  {
    if actor == .person { return Decision.allow("done by the person supervising the space", rule: "person") }
    return Self.judgeNow(operation, engine: engine, grants: policy.grants, session: session)
  }

  /// Journals `recording` and the operation's denial by the policy.
  private func refuse(_ result: OperationResult, _ verdict: Decision, recording: [Event], elapsed: Int)
    throws(SpacesError) -> (result: OperationResult, flush: Bool)
  {
    try finishNow(
      result: denied(result, verdict.reasons.joined(separator: "; "), by: .policy), elapsed: elapsed,
      recordingFirst: recording)
  }

  /// The result of an operation whose records could not be journaled.
  private func journalFailed(_ result: OperationResult, _ error: SpacesError, elapsed: Int) -> OperationResult {
    logger.error("\(name): journal write failed: \(error)")
    var result = failed(result, error)
    result.content = nil
    result.durationMs = elapsed
    return result
  }

  /// What `backend` guarantees for a space with `config`: the profile every decision about the
  /// space is made with (the runtime, `policy.check` and `spaces policy check` alike).
  public static func profile(config: SpaceConfig, backend: any IsolationBackend) -> IsolationProfile {
    var profile = backend.isolationProfile(network: config.capabilities.network)
    // Without a sandbox the command sees the workspace at its real path.
    if !profile.sandboxed { profile.workspacePaths.append(config.workspace) }
    return profile
  }

  /// The size of the file `operation` reads or edits, when it is large (see ``ByteGate``).
  static func largeContent(_ operation: Op, _ workspace: ConfinedWorkspace) -> Int? {
    switch operation {
    case .readFile(let path), .editFile(let path, _, _):
      guard let size = try? workspace.size(path), size >= ByteGate.largeFile else { return nil }
      return size
    default:
      return nil
    }
  }

  /// The policy's decision; a long command is analysed off the threads that answer requests.
  static func judge(
    _ operation: Op, engine: PolicyEngine, grants: SessionGrants, session: ShellSession? = nil
  ) async -> Decision {
    if let now = judgeNow(operation, engine: engine, grants: grants, session: session) { return now }
    return await Sys.offloaded { engine.evaluate(operation, grants: grants, session: session) }
  }

  /// The policy's decision, evaluated in memory; nil for a command over 16 KiB, whose analysis
  /// is not done on a thread that answers requests.
  static func judgeNow(_ operation: Op, engine: PolicyEngine, grants: SessionGrants, session: ShellSession?)
    -> Decision?
  {
    if case .shell(let command, _, _) = operation, command.utf8.count > 16 << 10 { return nil }
    return engine.evaluate(operation, grants: grants, session: session)
  }

  /// Writes `first` and `started` once the operation holds its places (a shell command needs
  /// one of the space's and one of `admission`'s); when it has to wait, `first` goes out with a
  /// `queued` record at once. Returns the places to give back after it ran, or nil when the
  /// task was cancelled while it waited.
  private func admit(_ operation: Op, id: String, admission: Slots?, recordingFirst first: [Event])
    async throws(SpacesError) -> [Slots]?
  {
    guard operation.kind == .shell else {
      try recordStarted(id, after: first)
      return []
    }
    let gates = [admission, running].compactMap { $0 }
    var held: [Slots] = []
    var waitingFor: [Slots] = []
    for gate in gates {
      if gate.tryAcquire() { held.append(gate) } else { waitingFor.append(gate) }
    }
    if waitingFor.isEmpty {
      try recordStarted(id, after: first)
      return held
    }
    let queued = event(
      id,
      .queued(
        reason: waitingFor.contains { $0 === running }
          ? "\(running.limit) commands already run in this space (limits.maxRunning); it starts when one ends"
          : "its connection already runs \(admission?.limit ?? 0) commands; it starts when one of them ends"))
    do {
      try record(first + [queued], sync: false)
    } catch {
      for place in held { place.release() }
      throw error
    }
    for gate in waitingFor {
      guard await gate.acquire() else {
        for place in held { place.release() }
        return nil
      }
      held.append(gate)
    }
    do {
      try record([event(id, .started)], sync: false)
    } catch {
      for place in held { place.release() }
      throw error
    }
    return held
  }

  /// Journals `first` and the operation's `started`, in one write.
  private func recordStarted(_ id: String, after first: [Event]) throws(SpacesError) {
    try record(first + [event(id, .started)], sync: false)
  }

  /// How the wait for a person ended.
  private enum Answer {
    /// It may run.
    case run
    /// It was denied: why, and by whom.
    case denied(reason: String, by: OperationResult.DecidedBy)
    /// The agent went away (or cancelled its request) before anyone decided: why.
    case cancelled(String)
  }

  /// Puts an operation the policy asks about before a person and says how that ended.
  private func askPerson(
    id: String, operation: Op, verdict: Decision, engine: PolicyEngine, folder: String, reason: String?
  )
    async throws(SpacesError) -> Answer
  {
    let timeout = engine.file.approvalTimeoutSeconds
    let now = Date()
    let request = ApprovalRequest(
      id: id, space: name, op: operation, decision: verdict, requested: Event.timestamp(now),
      deadline: Event.timestamp(now.addingTimeInterval(Double(timeout))),
      suggestedRules: engine.suggestedRules(for: operation, decision: verdict), cwd: folder.isEmpty ? nil : folder,
      reason: reason)
    let asked = event(id, .approvalRequested(verdict))
    try record([asked], sync: true)

    let resolution: ApprovalResolution
    if timeout == 0 || !supervised {
      resolution = .timedOut
    } else {
      resolution = await approvals.wait(for: request, timeout: .seconds(timeout))
    }
    // What the person (or nobody) answered, journaled as `approvalResolved` once `reason` is known.
    let resolved = resolution.choice.map(Event.Resolution.init) ?? (resolution.cancelled ? .cancelled : .timeout)
    let decidedBy: OperationResult.DecidedBy? =
      resolution.choice != nil ? .person : resolution.cancelled ? nil : .timeout
    var resolvedReason: String?
    defer {
      let note = event(id, .approvalResolved(resolution: resolved, decidedBy: decidedBy, reason: resolvedReason))
      approvalRecords.withLock { _ = try? record([note], sync: true) }
    }

    switch resolution.choice {
    case nil where resolution.cancelled:
      let reason =
        "cancelled before anyone decided: the agent disconnected or cancelled the request, so it was not run"
      resolvedReason = reason
      return .cancelled(reason)
    case nil:
      let reason =
        if !supervised {
          "the policy asks a person to approve this, and no supervisor is connected; "
            + "run it from the workbench or under `spaces serve`, or add a rule to the space's policy.yaml"
        } else if timeout == 0 {
          "the policy asks for approval and approvalTimeoutSeconds is 0, so it was denied at once"
        } else if resolution.extendedSeconds > 0 {
          "nobody approved it within \(timeout + resolution.extendedSeconds) s "
            + "(\(timeout) s, and \(resolution.extendedSeconds) s more a person gave it)"
        } else {
          "nobody approved it within \(timeout) s"
        }
      resolvedReason = reason
      return .denied(reason: reason, by: .timeout)
    case .deny:
      let feedback = resolution.feedback.flatMap { $0.isEmpty ? nil : $0 } ?? "denied by the person supervising"
      resolvedReason = feedback
      return .denied(reason: feedback, by: .person)
    case .once:
      return .run
    case .session:
      if resolution.rules.isEmpty, case .shell(let command, _, _) = operation {
        policy.grant(command: PolicyEngine.sessionKey(command: command, folder: folder))
      } else {
        policy.grant(rules: resolution.rules.isEmpty ? request.suggestedRules : resolution.rules)
      }
      return .run
    case .always:
      let rules = resolution.rules.isEmpty ? request.suggestedRules : resolution.rules
      do {
        try policy.append(rules)
        resolvedReason = "saved to the policy: " + rules.map(\.name).joined(separator: ", ")
      } catch {
        // The person approved it: run it, grant it for the session, and say why nothing was saved.
        policy.grant(rules: rules)
        resolvedReason = "approved, but not saved: \(error.message)"
      }
      return .run
    }
  }

  /// Gives the approval request `id` more time (``ApprovalQueue/extend(_:by:)``: `seconds`, or
  /// the time it was given first) and journals it as `approvalExtended` by the person.
  public func extendApproval(_ id: String, by seconds: Int? = nil) throws(SpacesError) -> ApprovalExtension {
    try approvalRecords.withLock { () throws(SpacesError) -> ApprovalExtension in
      let extended = try approvals.extend(id, by: seconds)
      let note = event(
        id,
        .approvalExtended(
          actor: .person, deadline: extended.deadline, seconds: extended.seconds,
          reason: "the person supervising gave it \(extended.seconds) s more (\(extended.totalSeconds) s in all, "
            + "\(ApprovalQueue.maxExtensionSeconds) s at most)"))
      try record([note], sync: false)
      return extended
    }
  }

  /// Starts recording what `operation` changes (nil: it changes nothing, or nothing is
  /// recorded). A look at the whole workspace (a command's) is started on a dispatch thread and
  /// goes on beside the command's preparation; the command waits for it before it is launched
  /// (``ShellRequest/beforeLaunch``).
  private func beginChanges(_ operation: Op, id: String, actor: Event.Actor) -> Started<ChangeTracker.Pending?> {
    guard let changes, operation.kind.writes else { return Started(value: nil) }
    let what = Self.recordedWhat(operation)
    let scope: ChangeScope =
      switch operation {
      case .shell: .workspace
      default: operation.path.map { .path($0) } ?? .workspace
      }
    let (space, logger) = (name, logger)
    let begin = { @Sendable () -> ChangeTracker.Pending? in
      do throws(SpacesError) {
        return try changes.begin(scope, opId: id, actor: actor, what: what)
      } catch {
        logger.error("\(space): the operation's changes can't be recorded: \(error.message)")
        return nil
      }
    }
    return scope == .workspace ? Started(making: begin) : Started(value: begin())
  }

  /// What a change record says of `operation`.
  private static func recordedWhat(_ operation: Op) -> String {
    String(EventText.summary(operation).prefix(200))
  }

  /// Ends recording: writes the change record when anything changed and returns its summary.
  /// A command's looks at the whole workspace: call it off the threads that answer requests
  /// (``conclude(_:pending:operation:actor:elapsed:streamed:answer:flushes:writingFirst:)`` does).
  private func endChanges(
    _ pending: ChangeTracker.Pending?, id: String, actor: Event.Actor, operation: Op, folders: PendingFlushes? = nil
  ) -> ChangeSummary? {
    guard let changes, let pending else { return nil }
    let what = Self.recordedWhat(operation)
    let ended = Result { () throws(SpacesError) in
      try changes.end(pending, opId: id, actor: actor, what: what, folders: folders)
    }
    switch ended {
    case .success(let summary): return summary
    case .failure(let error):
      logger.error("\(name): the operation's changes could not be recorded: \(error.message)")
      return nil
    }
  }

  /// Ends an operation that ran: records what it changed, journals its end and, for a change,
  /// waits until that is on disk. When any of it waits (a command's changes are found by
  /// looking at the workspace; a change waits for the disk) it all runs on one dispatch thread,
  /// so the task leaves and comes back once, and `answer` gets the result there as soon as it
  /// is on disk.
  private func conclude(
    _ result: OperationResult, pending: ChangeTracker.Pending?, operation: Op, actor: Event.Actor, elapsed: Int,
    streamed: StreamedText, answer: (@Sendable (OperationResult) -> Void)?,
    flushes: PendingFlushes? = nil,
    writingFirst write: (@Sendable (OperationResult, PendingFlushes) -> (result: OperationResult, elapsed: Int))? = nil
  ) async throws(SpacesError) -> OperationResult {
    let end = { @Sendable [self] () throws(SpacesError) -> OperationResult in
      // The folders the change added entries to (the workspace's, the records' and the store's)
      // are flushed with its journal record: one flush for all when the machine is quiet.
      let folders = flushes ?? PendingFlushes()
      // The operation's own write, when it is done here (``writeAtOnce(_:)``), with its time.
      let (result, elapsed) = write?(result, folders) ?? (result, elapsed)
      let changed = endChanges(pending, id: result.id, actor: actor, operation: operation, folders: folders)
      // Its end is journaled (or can't be): its marker for a crash goes.
      defer { if let pending { changes?.settle(pending) } }
      let finished = try finishNow(result: result, elapsed: elapsed, streamed: streamed, changes: changed)
      guard finished.flush else { return finished.result }
      try journal.sync(alongWith: folders)
      answer?(finished.result)
      changes?.settleRetentionLater()
      return finished.result
    }
    guard operation.kind.writes else { return try end() }
    return try await Sys.offloaded { Result { () throws(SpacesError) in try end() } }.get()
  }

  private func finish(
    result: OperationResult, elapsed: Int, streamed: StreamedText? = nil, changes: ChangeSummary? = nil
  ) async throws(SpacesError) -> OperationResult {
    try await settle(finishNow(result: result, elapsed: elapsed, streamed: streamed, changes: changes))
  }

  /// Waits for the flush a finished operation needs (a change's), and returns its result.
  private func settle(_ finished: (result: OperationResult, flush: Bool)) async throws(SpacesError)
    -> OperationResult
  {
    if finished.flush { try await flush() }
    return finished.result
  }

  /// Journals an operation's end without waiting (after `first`, in the same write): returns its
  /// result, and whether it must wait for a flush before it is answered (a change must; a read
  /// or a message is flushed by the next group commit).
  private func finishNow(
    result: OperationResult, elapsed: Int, streamed: StreamedText? = nil, changes: ChangeSummary? = nil,
    recordingFirst first: [Event] = []
  ) throws(SpacesError) -> (result: OperationResult, flush: Bool) {
    var result = result
    result.durationMs = elapsed
    var journaled = result.forEvents
    if let streamed {
      // The journal keeps a command's output once: in its `output` events.
      let text = streamed.text
      journaled = journaled.referencingOutput(
        fromSeq: text.fromSeq, stdoutChunks: text.stdout, stderrChunks: text.stderr)
    }
    let finished =
      switch result.status {
      case .completed: event(result.id, .completed(result: journaled, changes: changes))
      case .failed: event(result.id, .failed(result: journaled, changes: changes))
      case .denied: event(result.id, .denied(result: journaled))
      }
    try record(first + [finished], sync: false)
    if result.kind.writes { return (result, true) }
    // A read or a message changed nothing: its record is written (it survives the runtime
    // being killed) and the next group commit flushes it, within milliseconds.
    journal.flushSoon()
    return (result, false)
  }

  /// Flushes the journal on a dispatch thread: a task waiting for the disk holds none of the
  /// threads every task shares, and operations of many clients waiting at once share a flush.
  private func flush() async throws(SpacesError) {
    let journal = journal
    try await Sys.offloaded { Result { () throws(SpacesError) in try journal.sync() } }.get()
  }

  private func failed(_ result: OperationResult, _ error: SpacesError) -> OperationResult {
    var result = result
    result.status = .failed
    result.error = OperationResult.ErrorInfo(error)
    return result
  }

  private func denied(_ result: OperationResult, _ reason: String, by: OperationResult.DecidedBy) -> OperationResult {
    var result = result
    result.status = .denied
    result.reason = reason
    result.decidedBy = by
    return result
  }

  // MARK: - Execution

  private func execute(
    _ operation: Op, id: String, network: Bool, protectedWritable: Bool, large: Bool = false,
    session: SessionStart? = nil, streamed: StreamedText, changesBegun: Started<ChangeTracker.Pending?>,
    flushes: PendingFlushes? = nil, into result: inout OperationResult
  )
    async throws(SpacesError)
  {
    // A file operation was judged by its path: a command running meanwhile keeps what it did.
    defer { if operation.kind.writes, operation.kind != .shell, let path = operation.path { protection.accept(path) } }
    switch operation {
    case .createFile, .deleteFile:
      // `submit` runs these with their end (see `writeAtOnce`); here for completeness.
      try writeAtOnce(operation)?(&result, nil)

    case .readFile(let path) where large:
      let workspace = workspace
      // A large file is read and decoded off the threads that answer requests, and off
      // dispatch's few shared threads, where the journals' flushes run.
      let file = try await Sys.onOwnThread {
        Result { () throws(SpacesError) in try Self.readContent(workspace, path) }
      }.get()
      Self.fill(&result, with: file)

    case .readFile, .message:
      try executeNow(operation, id: id, into: &result)

    case .editFile(let path, let oldText, let newText):
      let (workspace, changes) = (workspace, changes)
      // Reading, searching and writing a large file is off the threads that answer requests.
      result.size = try await edits.run { () async throws(SpacesError) -> Int in
        try await Sys.offloaded {
          Result { () throws(SpacesError) in
            try Self.edit(
              workspace, path: path, oldText: oldText, newText: newText, changes: changes, folders: flushes)
          }
        }.get()
      }

    case .shell(let command, let timeoutMs, let fresh):
      try await runShell(
        command, timeoutMs: timeoutMs, id: id, networkGranted: network, protectedWritable: protectedWritable,
        session: session ?? startSession(fresh: fresh), streamed: streamed, changesBegun: changesBegun,
        into: &result)
    }
  }

  /// The write of a `createFile` or a `deleteFile`, which `submit` runs on the thread that then
  /// journals its end and flushes
  /// (``conclude(_:pending:operation:actor:elapsed:streamed:answer:flushes:writingFirst:)``); nil for
  /// other operations.
  ///
  /// The folders that got new entries are flushed with the journal's record when `folders` are
  /// given (``PendingFlushes``), at once otherwise.
  private func writeAtOnce(_ operation: Op) -> (
    @Sendable (inout OperationResult, PendingFlushes?) throws(SpacesError) -> Void
  )? {
    let (workspace, protection, changes) = (workspace, protection, changes)
    switch operation {
    case .createFile(let path, let content, let encoding):
      return { result, folders throws(SpacesError) in
        // A file operation was judged by its path: a command running meanwhile keeps what it did.
        defer { protection.accept(path) }
        let bytes: [UInt8]
        switch encoding {
        case .utf8: bytes = Array(content.utf8)
        case .base64:
          guard let data = Data(base64Encoded: content) else {
            throw SpacesError(.invalidEncoding, "the content of \(path) is not valid base64")
          }
          bytes = Array(data)
        }
        // The copy kept for undo is flushed with the file, the rest with the journal.
        try Space.write(workspace, path, bytes, changes: changes, folders: folders)
        result.size = bytes.count
      }
    case .deleteFile(let path, let recursive):
      return { _, folders throws(SpacesError) in
        defer { protection.accept(path) }
        try workspace.delete(path, recursive: recursive, folders: folders)
      }
    default:
      return nil
    }
  }

  /// Runs an operation that never waits: a `readFile` (its content is read through an open
  /// descriptor, at most `limit` bytes even if it grows meanwhile, and never over `maxFileSize`)
  /// or a `message` (a record written, not flushed).
  private func executeNow(_ operation: Op, id: String, atMost limit: Int = .max, into result: inout OperationResult)
    throws(SpacesError)
  {
    switch operation {
    case .readFile(let path): Self.fill(&result, with: try Self.readContent(workspace, path, atMost: limit))
    case .message(let text): try record([event(id, .message(text: text))], sync: false)
    default: throw SpacesError(.invalidRequest, "\(operation.kind.rawValue) can't be run without waiting")
    }
  }

  /// A file's content as a read's result carries it: UTF-8 text, or base64 for other bytes.
  private typealias FileContent = (content: String, encoding: ContentEncoding, size: Int, sha256: String)

  /// Reads the file at `path` as a `readFile` answers it.
  private static func readContent(_ workspace: ConfinedWorkspace, _ path: String, atMost limit: Int = .max)
    throws(SpacesError) -> FileContent
  {
    let bytes = try workspace.read(path, atMost: limit)
    let hash = ContentHash.sha256(bytes)
    if let text = String(validating: bytes, as: UTF8.self) { return (text, .utf8, bytes.count, hash) }
    return (Data(bytes).base64EncodedString(), .base64, bytes.count, hash)
  }

  private static func fill(_ result: inout OperationResult, with file: FileContent) {
    result.content = file.content
    result.encoding = file.encoding
    result.size = file.size
    result.sha256 = file.sha256
  }

  private func runShell(
    _ command: String, timeoutMs: Int?, id: String, networkGranted: Bool, protectedWritable: Bool,
    session start: SessionStart, streamed: StreamedText, changesBegun: Started<ChangeTracker.Pending?>,
    into result: inout OperationResult
  ) async throws(SpacesError) {
    let engine = try policy.current()
    var limits = engine.effectiveShellLimits(config.limits.shell)
    // The engine's profile holds the network the space and its policy give; a person's
    // approval of a network ask adds it for this one operation.
    let network = engine.profile.network || networkGranted
    // An operation's own timeout can shorten the space's and the policy's limit, never extend it.
    if let timeoutMs, Op.timeoutRange.contains(timeoutMs) {
      limits.timeoutMs = limits.timeoutMs > 0 ? min(limits.timeoutMs, timeoutMs) : timeoutMs
    }
    let protectedPaths = engine.protected
    let stateFile = stateFilePath(id)
    defer { Self.removeStateFile(stateFile) }
    let root = backend.isolated ? "/workspace" : Sys.realPath(config.workspace)
    var request = ShellRequest(
      command: command, workspace: config.workspace, limits: limits, network: network,
      environment: config.environment, protectedPaths: protectedPaths, protectedWritable: protectedWritable,
      session: ShellSessionRun(
        root: root, cwd: start.session.folder, environment: start.session.environment, stateFile: stateFile))
    // What the command changes is recorded from before it starts.
    request.beforeLaunch = { _ = await changesBegun.value }
    guard await protection.begin(protectedPaths, writable: protectedWritable) else { throw SpacesError.runCancelled }
    let space = name
    let journal = journal
    let hub = hub
    let logger = logger
    let ordering = ordering
    let ran: Result<ShellOutcome, SpacesError>
    do throws(SpacesError) {
      ran = .success(
        try await backend.run(request) { stream, chunk in
          let output = Event(space: space, opId: id, .output(stream: stream, data: chunk))
          ordering.withLock {
            do {
              let written = try journal.append([output], sync: false)
              streamed.add(stream, chunk, seq: written.first?.seq)
              hub.publish(written)
            } catch {
              logger.error("\(space): journal write failed: \(error)")
            }
          }
          // Output reaches the disk while the command runs, so the flush its answer waits for
          // has only the last of it to write (a megabyte of output took milliseconds at the end).
          journal.flushSoon()
        })
    } catch {
      ran = .failure(error)
    }
    // Whatever became of the command, what it changed among the protected paths is put back.
    let restored = protection.end(writable: protectedWritable)
    if !restored.isEmpty {
      let notice = event(id, .protectedRestored(restored: restored, reason: Self.protectedNote))
      try record([notice], sync: false)
      result.restored = restored.map(\.path)
    }
    // Where the session goes next: what the command's shell recorded, checked.
    let recorded: [UInt8]? = if case .success(let outcome) = ran { outcome.sessionRecord } else { nil }
    let (next, sessionNotes) = endSession(
      start, record: recorded ?? ShellSessionScript.read(stateFile), root: root, request: request)
    result.cwd = next.cwd
    let outcome = try ran.get()
    result.exitCode = outcome.exitCode
    result.signal = outcome.signal
    result.stdout = outcome.stdout
    let protectedText = outcome.stderr + Self.protectedLines(restored, after: outcome.stderr)
    result.stderr = protectedText + Self.noteLines(sessionNotes, after: protectedText)
    result.truncated = outcome.truncated
    if let error = outcome.limitError(timeoutMs: limits.timeoutMs) { throw error }
  }

  // MARK: - The shell session

  /// The session a shell operation starts in, and what the agent is told about it.
  public struct SessionStart: Sendable {
    /// The session, checked.
    public var session: ShellSession
    /// `[spaces] …` notes for the agent (the folder was gone), if any.
    public var notes: [String]
  }

  /// The session a shell command starts in: the saved one, its folder checked to be a real
  /// folder of the workspace still (else the root, with a note); a fresh one when asked.
  public func startSession(fresh: Bool) -> SessionStart {
    guard !fresh else { return SessionStart(session: .fresh, notes: []) }
    var session = sessions.load()
    var notes: [String] = []
    if !workspace.isRealFolder(session.folder) {
      notes.append(
        "the session's folder \(EventText.quoted(session.cwd)) is no longer a folder of the workspace; "
          + "the command runs in the workspace root")
      session.cwd = "."
    }
    // session.json may have been edited: the same filter as for what a command leaves.
    session.environment = ShellSession.carried(from: session.environment, base: [:]).environment
    return SessionStart(session: session, notes: notes)
  }

  /// The private file an operation's shell records its session state in, in the space's
  /// `shell` folder (made here). The file itself is made by the backend that needs one
  /// (``ShellSessionRun/makeStateFile()``): a warm shell of a persistent sandbox hands its
  /// record back in memory, and no file is made for it.
  private func stateFilePath(_ id: String) -> String {
    if !Sys.isDirectory(sessionFolder) {
      mkdir(sessionFolder, 0o700)
    } else if stateFilesSwept.withValue({ swept in
      defer { swept = true }
      return !swept
    }) {
      let folder = sessionFolder
      Self.stateFileRemoval.async { Self.sweepStateFiles(folder) }
    }
    return sessionFolder + "/" + id
  }

  /// Removes an operation's state file once its answer is on its way: the unlink of a file the
  /// sandbox just wrote took a quarter of a millisecond, on the path of every command.
  private static func removeStateFile(_ path: String) {
    stateFileRemoval.async { unlink(path) }
  }

  private static let stateFileRemoval = DispatchQueue(label: "spaces-state-files", qos: .utility)

  /// Removes the state files a process left behind when it ended before removing them (a
  /// one-shot `spaces op`, a crash): those older than any command may run (`timeoutMs` is at
  /// most a day), so none that another runtime's command still uses. Runs beside the removals,
  /// off the command's path.
  private static func sweepStateFiles(_ folder: String) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
    let oldest = Date().timeIntervalSince1970 - 25 * 3600
    for name in names where name.hasPrefix("op_") {
      var info = stat()
      let path = folder + "/" + name
      guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Double(info.st_mtim.tv_sec) < oldest
      else { continue }
      unlink(path)
    }
  }

  /// Takes what the command's shell recorded (its state file, or the record the backend had in
  /// hand), checks it, saves the session that follows and
  /// returns it with notes for the agent. A command that recorded nothing (it was killed, or
  /// replaced the shell) leaves the session as it started.
  private func endSession(_ start: SessionStart, record: [UInt8]?, root: String, request: ShellRequest) -> (
    ShellSession, [String]
  ) {
    var notes = start.notes
    var next = start.session
    if let bytes = record, bytes.count <= ShellSession.maxStateBytes, let state = ShellSessionScript.parse(bytes) {
      if let folder = ShellSessionScript.relative(state.folder, root: root), workspace.isRealFolder(folder) {
        next.cwd = folder.isEmpty ? "." : folder
      } else {
        let shown = String(decoding: state.folder.prefix(200), as: UTF8.self)
        notes.append(
          (shown.isEmpty
            ? "the command's folder was gone when it ended"
            : "the command ended in \(EventText.quoted(shown)), outside the workspace")
            + "; the next command starts in the workspace root")
        next.cwd = "."
      }
      let base = ShellRunner.cleanEnvironment(home: root, extra: request.environment)
      let carried = ShellSession.carried(from: state.exported, base: base)
      next.environment = carried.environment
      if carried.dropped > 0 {
        notes.append(
          "\(carried.dropped) exported variable(s) were not carried to the next command: the session keeps at most "
            + "\(ShellSession.maxVariables) variables and \(ShellSession.maxEnvironmentBytes >> 10) KiB")
      }
    }
    if next != sessions.load() || !start.notes.isEmpty {
      do {
        try sessions.save(next)
      } catch {
        logger.error("\(name): \(error)")
      }
    }
    return (next, notes)
  }

  /// `[spaces] …` lines for the end of the agent's stderr.
  static func noteLines(_ notes: [String], after output: String) -> String {
    guard !notes.isEmpty else { return "" }
    return (output.isEmpty || output.hasSuffix("\n") ? "" : "\n") + notes.map { "[spaces] \($0)\n" }.joined()
  }

  /// Why protected paths were put back, for the journal and the agent.
  static let protectedNote = "protected paths change only with a person's approval"

  /// The `[spaces] …` lines for the agent's stderr, one per path put back.
  static func protectedLines(_ changes: [ProtectedChange], after output: String) -> String {
    guard !changes.isEmpty else { return "" }
    let lines = changes.map { change in
      var shown = change
      shown.path = String(EventText.quoted(change.path).dropFirst().dropLast())
      return "[spaces] \(shown.summary): \(protectedNote)\n"
    }
    return (output.isEmpty || output.hasSuffix("\n") ? "" : "\n") + lines.joined()
  }

  // MARK: - Helpers

  private func event(_ id: String, _ payload: Event.Payload) -> Event {
    Event(space: name, opId: id, payload)
  }

  /// Appends and publishes `events`; with `sync`, returns once they are on disk.
  ///
  /// The flush happens outside the ordering lock, so operations of other clients can append
  /// meanwhile and share it (the journal's group commit).
  private func record(_ events: [Event], sync: Bool) throws(SpacesError) {
    try ordering.withLock { () throws(SpacesError) in hub.publish(try journal.append(events, sync: false)) }
    if sync { try journal.sync() }
  }

  /// Replaces the one occurrence of `oldText` in the file at `path` (``EditPlan``); returns
  /// the new size.
  static func edit(
    _ workspace: ConfinedWorkspace, path: String, oldText: String, newText: String, changes: ChangeTracker? = nil,
    folders: PendingFlushes? = nil
  ) throws(SpacesError) -> Int {
    let edited = try EditPlan.apply(oldText: oldText, newText: newText, to: try workspace.read(path), path: path)
    try write(workspace, path, edited, changes: changes, folders: folders)
    return edited.count
  }

  /// Writes a file operation's new content: with `folders` (flushed later with the journal's
  /// record) and a change tracker, the copy kept for undo is written beside the file and
  /// flushed with it, one flush for both before the rename (``ChangeTracker/stage(_:)``). The
  /// copy is made once the write got that far (the path checked, the file written), so a write
  /// that fails leaves nothing in the store.
  static func write(
    _ workspace: ConfinedWorkspace, _ path: String, _ bytes: [UInt8], changes: ChangeTracker?,
    folders: PendingFlushes?
  ) throws(SpacesError) {
    guard let changes, let folders else {
      try workspace.write(path, bytes, folders: folders)
      return
    }
    try workspace.write(path, bytes, folders: folders) { fd throws(SpacesError) in
      changes.stage(bytes)
      try changes.flushStaged(with: fd)
    }
  }

  /// Runs `body` while no event is between the journal and the hub: every event the journal
  /// holds (`journal.lastSeq`) has been published, and none is published until `body` returns.
  public func quiesced<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    try ordering.withLock { () throws(E) -> T in try body() }
  }

  /// The text of one operation's `output` events, as they are journaled.
  final class StreamedText: Sendable {
    // The chunks as they came (each already a string of its own): joining them grew a copy of
    // the whole output, megabytes of it, a page fault at a time.
    private let state = LockedValue<(fromSeq: Int?, stdout: [String], stderr: [String])>((nil, [], []))

    /// Adds the chunk of an `output` event journaled with `seq`.
    func add(_ stream: OutputStreamKind, _ chunk: String, seq: Int?) {
      state.withValue { state in
        if state.fromSeq == nil { state.fromSeq = seq }
        switch stream {
        case .stdout: state.stdout.append(chunk)
        case .stderr: state.stderr.append(chunk)
        }
      }
    }

    /// The first `output` event's `seq` and the text of the events on each stream, by chunk.
    var text: (fromSeq: Int?, stdout: [String], stderr: [String]) { state.withValue { $0 } }
  }

  /// A new, unique operation id.
  public static func newOperationID() -> String {
    "op_" + randomHex16()
  }
}
