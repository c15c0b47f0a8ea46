import SpacesModel

/// Everything the workbench shows, and the key handling that changes it.
///
/// Pure: no I/O and no clock of its own (callers pass `now`, in seconds on a monotonic clock),
/// so it is driven the same way by the terminal and by tests. Key handling returns
/// ``Intent``s for the controller to carry out.
public struct WorkbenchState: Sendable {
  /// Keys are ignored this long after a prompt appears.
  public static let promptGuard = 0.3
  /// The most log lines kept.
  public static let logCapacity = 10_000
  /// The most output lines kept per operation.
  public static let outputPerOperation = 5_000
  /// The most operations kept.
  public static let operationCapacity = 1_000

  /// What the right-hand pane shows.
  public enum Detail: Equatable, Sendable {
    case log
    case viewer(FileView)
    case details(String)
    case decisions
  }

  /// A read-only file in the viewer.
  public struct FileView: Equatable, Sendable {
    /// The path.
    public var path: String
    /// The lines (sanitized).
    public var lines: [String]
    /// The first line shown.
    public var scroll = 0
    /// Why it couldn't be shown.
    public var error: String?

    /// Creates a view of a file's text.
    public init(path: String, text: String?, error: String? = nil) {
      self.path = path
      self.lines = text.map { LineDiff.lines(OutputLines.clean($0)) } ?? []
      self.error = error
    }
  }

  /// A one-line text field and what it is for.
  public enum InputPurpose: Equatable, Sendable {
    case filter(Pane)
    case search, newFile
    case denyFeedback(String)
    case rule(String)
  }

  /// A question the person confirms with `y`.
  public enum Confirmation: Equatable, Sendable {
    case quit(running: Int)
    case delete(String, folder: Bool)
    /// Take back a grant or remove a rule.
    case revoke(Revocable)
    /// The file changed while the person edited it: save theirs over it?
    case overwrite(String, content: String)
    /// Undo an operation: its id, summary, what it changed and the first paths.
    case undo(String, summary: String, changes: String, paths: [String])
    /// Restore to before an operation: its id, summary, and how many recorded operations go.
    case restore(String, summary: String, later: Int)
  }

  /// An overlay that takes keys before the panes.
  public enum Overlay: Equatable, Sendable {
    case none
    case help(scroll: Int)
    case input(InputPurpose, text: String)
    case confirm(Confirmation)
  }

  // MARK: Facts

  /// The diffs of operations' change records loaded so far (for details and undo), by id.
  public var changeDiffs: [String: [String]] = [:]
  /// The space being watched.
  public var space: SpaceSummary
  /// The connection, for the status line.
  public var connection: String
  /// Whether the connection works.
  public var connected = true
  /// Every space, and how many approvals wait in each.
  public var spaces: [(name: String, pending: Int)] = []
  /// The tree.
  public var tree = FileTree()
  /// The shell log.
  public var log = LogBuffer(capacity: logCapacity)
  /// Operations, oldest first.
  public private(set) var operations: [OperationRecord] = []
  /// Approval requests waiting in this space, oldest first.
  public private(set) var approvals: [ApprovalRequest] = []
  /// Diffs and notes for the requests, by id.
  public var promptDetails: [String: PromptDetail] = [:]
  /// A one-line notice on the status line, and until when.
  public var flash: (text: String, until: Double)?
  /// A banner shown above the status line until dismissed (for example: `--agent` needs the server).
  public var banner: String?

  // MARK: View state

  /// The focused pane.
  public var focus: Pane = .files
  /// What the right pane shows.
  public var detail: Detail = .log
  /// The overlay.
  public var overlay: Overlay = .none
  /// The selected tree row.
  public var treeSelection = 0
  /// The tree filter.
  public var treeFilter = ""
  /// The selected operation (index in `visibleOperations`).
  public var operationSelection = 0
  /// Whether the selection follows the newest operation.
  public var followOperations = true
  /// The operations filter.
  public var operationFilter = ""
  /// Whether the log sticks to the newest line.
  public var followLog = true
  /// The first log line shown when not following (absolute, counting dropped lines).
  public var logTop = 0
  /// The log search.
  public var logSearch = ""
  /// The viewer search.
  public var viewerSearch = ""
  /// The selected space row.
  public var spaceSelection = 0
  /// The first line of the operation details shown.
  public var detailScroll = 0
  /// The prompt's diff scroll.
  public var promptScroll = 0
  /// When the current head prompt appeared, and which it is.
  public private(set) var promptShown: (id: String, at: Double)?
  /// Rows the panes had when last drawn (for paging).
  public var pageRows = 10
  /// The screen's size when last drawn (for the prompt's scrolling).
  public var screen = (width: 80, height: 24)

  // MARK: Approvals across spaces

  /// The request the prompt shows (nil: the oldest waiting here).
  public var promptID: String?
  /// Every request waiting, in every space, oldest first per space.
  public private(set) var allApprovals: [ApprovalRequest] = []
  /// When each request's deadline passes (workbench clock, seconds), by id.
  public private(set) var deadlines: [String: Double] = [:]

  private var indexByID: [String: Int] = [:]
  /// The newest journal sequence number shown from the history (live events up to it are old).
  public private(set) var caughtUpTo = 0
  /// The newest journal sequence number shown (what the person has seen).
  public private(set) var newestSeq = 0
  private var replaying = false
  private var searchClock = 0.0
  /// Whether operations run elsewhere (a `spaces serve` this workbench is attached to), so they
  /// go on after it quits.
  public var operationsOutliveQuit = false
  /// Away mode: approvals that wait and runs that fail send desktop notifications.
  public var away = false
  /// The space's shell session folder, relative to the workspace (`.` its root), as the last
  /// shell operation's result said: where the next command starts.
  public var shellFolder = "."
  /// The grants and rules the Decisions view lists (read when it opens).
  public var grantsAndRules = GrantsAndRules()
  /// The selected grant or rule in the Decisions view (session grants first).
  public var decisionSelection = 0
  /// Requests already announced (in any space), so each notifies once.
  private var announced: Set<String> = []
  private var resolvedLocally: Set<String> = []

  /// Creates the state for a space.
  public init(space: SpaceSummary, connection: String) {
    self.space = space
    self.connection = connection
  }

  // MARK: - Derived

  /// The tree rows shown.
  public var treeRows: [FileTree.Row] { tree.rows(filter: treeFilter) }

  /// The operations shown (after the filter).
  public var visibleOperations: [OperationRecord] {
    guard !operationFilter.isEmpty else { return operations }
    let needle = operationFilter.lowercased()
    return operations.filter { $0.summary.lowercased().contains(needle) || $0.id.contains(needle) }
  }

  /// How many operations have not finished.
  public var unfinished: Int { operations.filter { !$0.state.finished }.count }

  /// The request the prompt shows.
  public var currentApproval: ApprovalRequest? {
    if let promptID, let chosen = approvals.first(where: { $0.id == promptID }) { return chosen }
    return approvals.first
  }

  /// The operation with `id`.
  public func operation(_ id: String) -> OperationRecord? {
    indexByID[id].map { operations[$0] }
  }

  /// The key context for the focused pane (the prompt, when docked, takes its own keys first).
  public var context: KeyContext {
    switch focus {
    case .files: return .files
    case .operations: return .operations
    case .spaces: return .spaces
    case .log:
      switch detail {
      case .log: return .log
      case .viewer: return .viewer
      case .details: return .details
      case .decisions: return .decisions
      }
    }
  }

  // MARK: - Events

  /// Applies a runtime event; returns intents it calls for (a bell for a new approval, a tree
  /// refresh after a write).
  public mutating func apply(_ event: Event, now: Double) -> [Intent] {
    guard event.space == space.name else { return [] }
    if event.seq > 0, event.seq <= caughtUpTo { return [] }  // shown from the journal already
    newestSeq = max(newestSeq, event.seq)
    var intents: [Intent] = []
    if event.type != .received, event.type != .undone, indexByID[event.opId] == nil {
      // Joined mid-operation: make a record for it.
      insert(OperationRecord(id: event.opId, space: event.space, receivedAt: now))
    }
    switch event.payload {
    case .received(let actor, let op, let reason):
      var record = OperationRecord(id: event.opId, space: event.space, op: op, receivedAt: now)
      record.actor = actor
      record.agentReason = reason
      insert(record)
    case .decision(let decision):
      update(event.opId) { $0.policy = decision }
    case .approvalRequested(let decision):
      update(event.opId) {
        $0.state = .awaitingApproval
        if $0.policy == nil { $0.policy = decision }
      }
    case .approvalResolved(let resolution, _, let reason):
      update(event.opId) {
        $0.resolution = resolution.rawValue
        $0.decidedAt = event.time
        if $0.state == .awaitingApproval { $0.state = .queued }
        if let reason { $0.reason = reason }
      }
      if resolution == .timeout, let record = operation(event.opId) {
        let text = "approval timed out (nobody answered in time): " + record.summary
        if !replaying { flash = (text, now + 6) }
        logNotice(text)
      }
      approvals.removeAll { $0.id == event.opId }
      allApprovals.removeAll { $0.id == event.opId }
      refreshPromptClock(now: now)
    case .approvalExtended(_, _, let seconds, _):
      update(event.opId) { $0.extendedSeconds += seconds }
    case .queued(let reason):
      update(event.opId) {
        $0.state = .queued
        $0.queuedBecause = reason
      }
    case .started:
      update(event.opId) {
        $0.queuedBecause = nil
        $0.state = .running
        $0.startedAt = now
      }
    case .output(let stream, let data):
      appendOutput(opId: event.opId, stderr: stream == .stderr, chunk: data)
    case .completed(let result, _), .failed(let result, _, _), .denied(let result):
      if result.kind == .shell, let cwd = result.cwd { shellFolder = cwd }
      update(event.opId) { record in
        record.state =
          switch event.type {
          case .completed: .completed
          case .failed: .failed
          default: .denied
          }
        record.durationMs = result.durationMs
        record.exitCode = result.exitCode
        record.signal = result.signal
        if let error = result.error { record.error = "\(error.code): \(error.message)" }
        if let reason = result.reason { record.reason = reason }
        record.decidedBy = result.decidedBy?.rawValue
        record.changes = event.changes
        if event.type == .denied, record.decidedAt == nil { record.decidedAt = event.time }
        if record.output.isEmpty {
          for (text, stderr) in [(result.stdout, false), (result.stderr, true)] {
            guard let text, !text.isEmpty else { continue }
            for line in LineDiff.lines(OutputLines.clean(text)) {
              record.output.append(LogLine(kind: stderr ? .stderr : .stdout, opId: record.id, text: line))
            }
          }
        }
      }
      approvals.removeAll { $0.id == event.opId }
      refreshPromptClock(now: now)
      if let record = operation(event.opId) {
        if away, !replaying, record.state == .failed || record.exitedNonZero {
          intents.append(.bell)
          intents.append(
            .desktopNotify(title: "Failed in \(space.name)", body: record.summary + " · " + Self.outcome(record)))
        }
        closeOpenLines(event.opId)
        if log.count > 0, lastHeaderOp == event.opId {
          log.append(LogLine(kind: .footer, opId: event.opId, text: Self.outcome(record), ending: Self.ending(record)))
        } else if record.state == .denied {
          lastHeaderOp = nil
          let reason = record.reason.map { ": " + OutputLines.clean($0) } ?? ""
          log.append(
            LogLine(kind: .footer, opId: event.opId, text: "⊘ denied " + record.summary + reason, ending: .denied))
        }
        if !replaying, let path = record.op?.path, record.state == .completed, record.op?.kind.writes == true {
          tree.touch(path)
        }
        if record.op?.kind.writes == true || record.op == nil { intents.append(.refreshTree) }
      }
    case .protectedRestored(let changes, _):
      update(event.opId) { $0.restored += changes }
      closeOpenLines(event.opId)
      if lastHeaderOp != event.opId {
        log.append(LogLine(kind: .header, opId: event.opId, text: operation(event.opId)?.summary ?? event.opId))
        lastHeaderOp = event.opId
      }
      for change in changes {
        var shown = change
        shown.path = OutputLines.clean(change.path).replacingOccurrences(of: "\n", with: "^J")
        log.append(
          LogLine(kind: .notice, opId: event.opId, text: "⚠ \(shown.summary): only with your approval"))
      }
      intents.append(.refreshTree)
    case .undone(let actor, let undo, let changes):
      var record = OperationRecord(id: event.opId, space: event.space, op: nil, receivedAt: now)
      record.actor = actor
      record.state = .completed
      record.changes = changes
      record.undo = undo
      insert(record)
      lastHeaderOp = nil
      log.append(LogLine(kind: .notice, opId: event.opId, text: "↶ " + EventText.body(event)))
      intents.append(.refreshTree)
    case .message(let text):
      let text = OutputLines.clean(text)
      lastHeaderOp = nil
      for (index, line) in LineDiff.lines(text).enumerated() {
        log.append(LogLine(kind: .message, opId: event.opId, text: (index == 0 ? "agent: " : "       ") + line))
      }
    }
    return intents
  }

  /// The op whose header the log shows last.
  private var lastHeaderOp: String?

  // MARK: - Catching up

  /// Fills the panes from the end of the journal, and says in the log what happened since the
  /// person was last here.
  public mutating func catchUp(_ history: WorkbenchHistory, now: Double) {
    guard let last = history.events.last?.seq else { return }
    replaying = true
    for event in history.events { _ = apply(event, now: now) }
    replaying = false
    caughtUpTo = last
    if followOperations { operationSelection = max(0, visibleOperations.count - 1) }
    logNotice(Self.catchUpSummary(history))
  }

  /// "since you were last here: 12 operations · 2 failed · 1 denied · 1 approval timed out".
  static func catchUpSummary(_ history: WorkbenchHistory) -> String {
    let seen = history.lastSeen ?? 0
    let new = history.events.filter { $0.seq > seen }
    var operations = 0
    var failed = 0
    var denied = 0
    var timedOut = 0
    for event in new {
      switch event.payload {
      case .received: operations += 1
      case .failed: failed += 1
      case .completed(let result, _) where (result.exitCode ?? 0) != 0: failed += 1
      case .denied: denied += 1
      case .approvalResolved(.timeout, _, _): timedOut += 1
      default: break
      }
    }
    func count(_ value: Int, _ one: String, _ many: String) -> String { "\(value) \(value == 1 ? one : many)" }
    var parts = [count(operations, "operation", "operations")]
    if failed > 0 { parts.append("\(failed) failed") }
    if denied > 0 { parts.append("\(denied) denied") }
    if timedOut > 0 { parts.append(count(timedOut, "approval timed out", "approvals timed out")) }
    let shown = history.events.filter { $0.type == .received }.count
    if history.lastSeen == nil {
      return "from the journal: the last \(count(shown, "operation", "operations")) of this space · "
        + parts.dropFirst().joined(separator: " · ") + (parts.count == 1 ? "no failures" : "")
    }
    if operations == 0 {
      return "nothing new since you were last here (\(count(shown, "operation", "operations")) from the journal above)"
    }
    let partial = (history.events.first?.seq ?? 0) > seen + 1 ? " (at least)" : ""
    return "since you were last here\(partial): " + parts.joined(separator: " · ")
  }

  private mutating func appendOutput(opId: String, stderr: Bool, chunk: String) {
    let kind: LogLine.Kind = stderr ? .stderr : .stdout
    if lastHeaderOp != opId {
      let title = operation(opId)?.summary ?? opId
      log.append(LogLine(kind: .header, opId: opId, text: title))
      lastHeaderOp = opId
    }
    let pieces = OutputLines.clean(chunk).split(separator: "\n", omittingEmptySubsequences: false)
    var recordLines: [LogLine] = []
    for (index, piece) in pieces.enumerated() {
      let isLast = index == pieces.count - 1
      if isLast && piece.isEmpty { break }
      let open = isLast
      if index == 0, var last = log.last, last.open, last.opId == opId, last.kind == kind {
        last.text += piece
        last.open = open
        log.replaceLast(last)
        recordLines.append(last)
        continue
      }
      if index == 0, var last = log.last, last.open {
        last.open = false
        log.replaceLast(last)
      }
      let line = LogLine(kind: kind, opId: opId, text: String(piece), open: open)
      log.append(line)
      recordLines.append(line)
    }
    guard let index = indexByID[opId] else { return }
    // In place: a copy of the record would copy its output on every chunk.
    for line in recordLines {
      if let last = operations[index].output.last, last.open, last.kind == line.kind, line.text.hasPrefix(last.text) {
        operations[index].output[operations[index].output.count - 1] = line
      } else {
        operations[index].output.append(line)
      }
    }
    // Trim in batches so a flood doesn't shift the array on every chunk.
    if operations[index].output.count > Self.outputPerOperation + Self.outputPerOperation / 4 {
      let extra = operations[index].output.count - Self.outputPerOperation
      operations[index].output.removeFirst(extra)
      operations[index].droppedOutput += extra
    }
  }

  private mutating func closeOpenLines(_ opId: String) {
    if var last = log.last, last.open, last.opId == opId {
      last.open = false
      log.replaceLast(last)
    }
  }

  /// "exit 0 · 1.2s" and the like.
  public static func outcome(_ record: OperationRecord) -> String {
    var parts: [String] = []
    switch record.state {
    case .completed where record.exitedNonZero: parts.append("✘ failed")
    case .completed: parts.append("✔ done")
    case .failed: parts.append("✘ failed")
    case .denied: parts.append("⊘ denied")
    default: break
    }
    if let code = record.exitCode { parts.append("exit \(code)") }
    if let signal = record.signal { parts.append("signal \(signal)") }
    if let ms = record.durationMs { parts.append(duration(ms)) }
    if !record.restored.isEmpty {
      parts.append("⚠ \(record.restored.count) protected path\(record.restored.count == 1 ? "" : "s") put back")
    }
    return parts.joined(separator: " · ")
  }

  /// How `record` ended, for its footer's look: ok only when it succeeded and nothing was put
  /// back (what ``outcome(_:)`` says with `✔` and no `⚠`).
  static func ending(_ record: OperationRecord) -> LogLine.Ending {
    switch record.state {
    case .denied: .denied
    case .completed where !record.exitedNonZero && record.restored.isEmpty: .ok
    default: .failed
    }
  }

  /// A duration for people: "340ms", "1.2s", "2m05s".
  public static func duration(_ milliseconds: Int) -> String {
    if milliseconds < 1000 { return "\(milliseconds)ms" }
    if milliseconds < 60_000 {
      let tenths = milliseconds / 100
      return "\(tenths / 10).\(tenths % 10)s"
    }
    let seconds = milliseconds / 1000
    let rest = seconds % 60
    return "\(seconds / 60)m\(rest < 10 ? "0" : "")\(rest)s"
  }

  private mutating func insert(_ record: OperationRecord) {
    if let index = indexByID[record.id] {
      operations[index].op = record.op ?? operations[index].op
      operations[index].actor = record.actor
      return
    }
    operations.append(record)
    if operations.count > Self.operationCapacity {
      if let oldest = operations.firstIndex(where: { $0.state.finished }) {
        operations.remove(at: oldest)
      } else {
        operations.removeFirst()
      }
      indexByID = Dictionary(uniqueKeysWithValues: operations.enumerated().map { ($1.id, $0) })
    } else {
      indexByID[record.id] = operations.count - 1
    }
    if followOperations { operationSelection = max(0, visibleOperations.count - 1) }
  }

  private mutating func update(_ id: String, _ change: (inout OperationRecord) -> Void) {
    guard let index = indexByID[id] else { return }
    change(&operations[index])
  }

  // MARK: - Approvals

  /// Takes the requests waiting (in every space); keeps this space's, minus those answered
  /// here and not yet gone. Returns a bell when a new one arrived.
  public mutating func setApprovals(_ all: [ApprovalRequest], now: Double, deadlines: [String: Double] = [:])
    -> [Intent]
  {
    allApprovals = all.filter { !resolvedLocally.contains($0.id) }
    self.deadlines = deadlines
    var counts: [String: Int] = [:]
    for request in all where !resolvedLocally.contains(request.id) { counts[request.space, default: 0] += 1 }
    spaces = spaces.map { ($0.name, counts[$0.name] ?? 0) }
    let mine = all.filter { $0.space == space.name }
    resolvedLocally = resolvedLocally.intersection(mine.map(\.id))
    let fresh = mine.filter { !resolvedLocally.contains($0.id) }
    let known = Set(approvals.map(\.id))
    approvals = fresh
    var notices: [Intent] = []
    for request in allApprovals where !announced.contains(request.id) {
      announced.insert(request.id)
      guard away else { continue }
      let what = OperationRecord(id: request.id, space: request.space, op: request.op, receivedAt: now).summary
      notices.append(.desktopNotify(title: "Approval needed in \(request.space)", body: what))
    }
    announced.formIntersection(all.map(\.id))
    promptDetails = promptDetails.filter { id, _ in fresh.contains { $0.id == id } }
    refreshPromptClock(now: now)
    return (fresh.contains { !known.contains($0.id) } ? [.bell] : []) + notices
  }

  /// Sets the list of spaces (keeping pending counts).
  public mutating func setSpaces(_ names: [String]) {
    let counts = Dictionary(spaces.map { ($0.name, $0.pending) }, uniquingKeysWith: { a, _ in a })
    spaces = names.map { ($0, counts[$0] ?? 0) }
    spaceSelection = min(spaceSelection, max(0, spaces.count - 1))
  }

  private mutating func refreshPromptClock(now: Double) {
    guard let head = currentApproval else {
      promptShown = nil
      if case .input(.denyFeedback, _) = overlay { overlay = .none }
      if case .input(.rule, _) = overlay { overlay = .none }
      return
    }
    if promptShown?.id != head.id {
      promptShown = (head.id, now)
      promptScroll = 0
      if case .input(.denyFeedback, _) = overlay { overlay = .none }
      if case .input(.rule, _) = overlay { overlay = .none }
    }
  }

  private mutating func resolved(_ id: String, now: Double) {
    resolvedLocally.insert(id)
    approvals.removeAll { $0.id == id }
    allApprovals.removeAll { $0.id == id }
    refreshPromptClock(now: now)
    overlay = .none
  }

  /// The rule text the person can edit for an `always` answer: the command prefix, or the
  /// path globs joined with ", ".
  public static func editableRuleText(_ rules: [PolicyRule]) -> String {
    guard let rule = rules.first else { return "" }
    if let command = rule.command { return command.joined(separator: " ") }
    return rule.paths.joined(separator: ", ")
  }

  /// The rules to save after the person edited the text.
  public static func rules(_ rules: [PolicyRule], editedTo text: String) -> [PolicyRule] {
    guard var first = rules.first else { return rules }
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard !trimmed.isEmpty else { return rules }
    if first.command != nil {
      first.command = trimmed.split(separator: " ").map(String.init)
      first.name = "allow " + (first.command ?? []).joined(separator: " ")
    } else {
      first.paths = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
        !$0.isEmpty
      }
      first.name =
        "allow " + (first.kinds.map(\.rawValue) + [first.paths.joined(separator: ", ")]).joined(separator: " ")
    }
    return [first] + rules.dropFirst()
  }

  // MARK: - Keys

  /// Handles a key press at time `now`; returns what to do outside.
  public mutating func handle(_ key: Key, now: Double) -> [Intent] {
    searchClock = now
    if let flash, flash.until < now { self.flash = nil }
    switch overlay {
    case .input(let purpose, let text):
      guard let action = Keymap.action(for: key, in: .input) else { return [] }
      return handleInput(action, key: key, purpose: purpose, text: text, now: now)
    case .confirm(let confirmation):
      guard let action = Keymap.action(for: key, in: .confirm) else { return [] }
      overlay = .none
      guard action == .confirm else { return [] }
      switch confirmation {
      case .quit: return [.quit]
      case .delete(let path, let folder): return [.deleteFile(path, recursive: folder)]
      case .overwrite(let path, let content): return [.saveFile(path, content: content)]
      case .revoke(let item): return [.revoke(item)]
      case .undo(let id, _, _, _): return [.undo(id)]
      case .restore(let id, _, _): return [.restore(before: id)]
      }
    case .help:
      guard let action = Keymap.action(for: key, in: .help) else { return [] }
      if action == .close { overlay = .none } else { move(action, context: .help) }
      return []
    case .none:
      break
    }
    if case .click(let x, let y) = key { return mouse(x: x, y: y, wheel: nil, now: now) }
    if case .wheel(let x, let y, let up) = key { return mouse(x: x, y: y, wheel: up, now: now) }
    if banner != nil, Keymap.action(for: key, in: .banner) == .close {
      banner = nil
      return []
    }
    // A docked prompt is not modal: its own keys answer it, every other key works as usual.
    if currentApproval != nil, let action = Keymap.action(for: key, in: .prompt) {
      if Self.answers(action), let shown = promptShown, now - shown.at < Self.promptGuard {
        flash = ("\(key.name) held: the prompt had just appeared; press it again to answer", now + 3)
        return []
      }
      return perform(action, context: .prompt, now: now)
    }
    let context = self.context
    guard let action = Keymap.action(for: key, in: context) else {
      if currentApproval == nil, Keymap.action(for: key, in: .prompt).map(Self.answers) == true,
        operations.contains(where: { $0.state == .awaitingApproval })
      {
        flash = ("\(key.name) held: the request is still on its way; press it again when the prompt shows", now + 3)
      }
      return []
    }
    return perform(action, context: context, now: now)
  }

  /// A click focuses the pane under it and selects the row; the wheel scrolls the pane (or the
  /// prompt) under it by three rows without moving the focus. Overlays ignore the mouse.
  private mutating func mouse(x: Int, y: Int, wheel up: Bool?, now: Double) -> [Intent] {
    guard overlay == .none else { return [] }
    let layout = WorkbenchLayout.compute(width: screen.width, height: screen.height, state: self)
    if let prompt = layout.prompt, prompt.contains(column: x, row: y) {
      if let up { for _ in 0..<3 { move(up ? .up : .down, context: .prompt) } }
      return []
    }
    if let tabs = layout.tabs, tabs.contains(column: x, row: y) {
      var start = tabs.x
      for pane in Pane.allCases {
        let end = start + TabsView.label(pane, self).count
        if x < end {
          focus = pane
          return []
        }
        start = end
      }
      return []
    }
    guard let (pane, rect) = layout.panes.first(where: { $0.value.contains(column: x, row: y) }) else { return [] }
    if let up {
      let saved = focus
      focus = pane
      for _ in 0..<3 { move(up ? .up : .down, context: context) }
      focus = saved
      return []
    }
    focus = pane
    let inner = rect.inset(1)
    guard inner.contains(column: x, row: y) else { return [] }
    let offset = y - inner.y
    switch pane {
    case .files:
      let count = treeRows.count
      let row = PaneDrawing.scrollTop(selection: treeSelection, count: count, rows: inner.height) + offset
      if row < count { treeSelection = row }
    case .operations:
      let count = visibleOperations.count
      let row = PaneDrawing.scrollTop(selection: operationSelection, count: count, rows: inner.height) + offset
      if row < count, row != operationSelection {
        operationSelection = row
        followOperations = row == count - 1
        if case .details = detail { detail = .details(visibleOperations[row].id) }
      }
    case .spaces:
      let row = PaneDrawing.scrollTop(selection: spaceSelection, count: spaces.count, rows: inner.height) + offset
      if row < spaces.count { spaceSelection = row }
    case .log:
      break
    }
    return []
  }

  /// Whether `action` answers the prompt (and so waits out the key guard).
  static func answers(_ action: Action) -> Bool {
    [.approveOnce, .approveSession, .approveAlways, .deny].contains(action)
  }

  /// Every waiting request in the order `]` visits them: by space (as the Spaces pane lists
  /// them), oldest first within a space.
  public var orderedApprovals: [ApprovalRequest] {
    let order = Dictionary(spaces.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    return allApprovals.enumerated().sorted { a, b in
      let (left, right) = (order[a.element.space] ?? .max, order[b.element.space] ?? .max)
      return left != right ? left < right : a.offset < b.offset
    }.map(\.element)
  }

  private mutating func showRequest(_ step: Int, now: Double) -> [Intent] {
    let ordered = orderedApprovals
    guard !ordered.isEmpty else {
      flash = ("nothing waits for an answer", now + 2)
      return []
    }
    let current = currentApproval.flatMap { request in ordered.firstIndex { $0.id == request.id } }
    let index = current.map { ($0 + step + ordered.count) % ordered.count } ?? (step > 0 ? 0 : ordered.count - 1)
    let target = ordered[index]
    guard target.space == space.name else { return [.showApproval(space: target.space, id: target.id)] }
    if target.id == currentApproval?.id { flash = ("the only request waiting", now + 2) }
    promptID = target.id
    refreshPromptClock(now: now)
    return []
  }

  private mutating func handleInput(_ action: Action, key: Key, purpose: InputPurpose, text: String, now: Double)
    -> [Intent]
  {
    switch action {
    case .cancel:
      overlay = .none
      if case .filter(let pane) = purpose { setFilter(pane, "") }
      return []
    case .accept:
      overlay = .none
      switch purpose {
      case .filter(let pane):
        setFilter(pane, text)
        return []
      case .search:
        return []
      case .newFile:
        let path = text.trimmingCharacters(in: .whitespaces)
        return path.isEmpty ? [] : [.createFile(path)]
      case .denyFeedback(let id):
        guard approvals.contains(where: { $0.id == id }) else { return [] }
        resolved(id, now: now)
        let feedback = text.trimmingCharacters(in: .whitespaces)
        return [.resolve(id: id, ApprovalResolution(choice: .deny, feedback: feedback.isEmpty ? nil : feedback))]
      case .rule(let id):
        guard let request = approvals.first(where: { $0.id == id }) else { return [] }
        resolved(id, now: now)
        return [
          .resolve(
            id: id, ApprovalResolution(choice: .always, rules: Self.rules(request.suggestedRules, editedTo: text)))
        ]
      }
    case .deleteBackward, .type, .clearField:
      var edited = action == .clearField ? "" : String(text.dropLast())
      if action == .type {
        guard case .char(let character) = key else { return [] }
        edited = text + String(character)
      }
      overlay = .input(purpose, text: edited)
      // A filter or search follows the field as it is edited.
      if case .filter(let pane) = purpose { setFilter(pane, edited) }
      if case .search = purpose { search(edited, forward: true, from: nil) }
    default:
      break
    }
    return []
  }

  private mutating func setFilter(_ pane: Pane, _ text: String) {
    switch pane {
    case .files:
      treeFilter = text
      treeSelection = 0
    case .operations:
      operationFilter = text
      operationSelection = max(0, visibleOperations.count - 1)
    case .log, .spaces:
      break
    }
  }

  private mutating func perform(_ action: Action, context: KeyContext, now: Double) -> [Intent] {
    switch action {
    case .focusNext:
      focus = Pane(rawValue: focus.rawValue % Pane.allCases.count + 1) ?? .files
    case .focusPrevious:
      focus = Pane(rawValue: (focus.rawValue + Pane.allCases.count - 2) % Pane.allCases.count + 1) ?? .files
    case .focus(let pane):
      focus = pane
    case .help:
      overlay = .help(
        scroll: context == .prompt
          ? Keymap.helpLines().firstIndex { $0.heading && $0.text == KeyContext.prompt.title } ?? 0 : 0)
    case .decisions:
      return [.loadDecisions]
    case .revoke:
      let items = grantsAndRules.session + grantsAndRules.file
      guard items.indices.contains(decisionSelection) else {
        flash = ("nothing to take back here", now + 2)
        return []
      }
      overlay = .confirm(.revoke(items[decisionSelection]))
    case .away:
      away.toggle()
      flash = (away ? "away mode: approvals and failures notify on the desktop (A ends it)" : "away mode off", now + 3)
    case .extendDeadline:
      guard let request = currentApproval else { return [] }
      return [.extendApproval(id: request.id)]
    case .nextRequest:
      return showRequest(1, now: now)
    case .previousRequest:
      return showRequest(-1, now: now)
    case .quit:
      let running = unfinished
      if running > 0 {
        overlay = .confirm(.quit(running: running))
        return []
      }
      return [.quit]
    case .down, .up, .pageDown, .pageUp, .top, .bottom:
      move(action, context: context)
    case .filter:
      switch context {
      case .files: overlay = .input(.filter(.files), text: treeFilter)
      case .operations: overlay = .input(.filter(.operations), text: operationFilter)
      case .log, .viewer, .details: overlay = .input(.search, text: "")
      case .spaces, .global, .prompt, .decisions, .confirm, .input, .help, .banner: break
      }
    case .nextMatch, .previousMatch:
      let query = context == .viewer ? viewerSearch : logSearch
      guard !query.isEmpty else {
        flash = ("no search yet: press / to search", now + 2)
        return []
      }
      search(query, forward: action == .nextMatch, from: current(context))
    case .follow:
      if context == .operations {
        followOperations.toggle()
        if followOperations { operationSelection = max(0, visibleOperations.count - 1) }
      } else {
        followLog.toggle()
        if !followLog { logTop = max(log.dropped, log.dropped + log.count - pageRows) }
      }
    case .open:
      if context == .operations {
        let visible = visibleOperations
        guard visible.indices.contains(operationSelection) else { return [] }
        let record = visible[operationSelection]
        detail = .details(record.id)
        detailScroll = 0
        focus = .log
        return record.changes != nil && changeDiffs[record.id] == nil ? [.loadChanges(record.id)] : []
      }
      let rows = treeRows
      guard rows.indices.contains(treeSelection) else { return [] }
      let row = rows[treeSelection]
      if row.isFolder {
        if tree.expanded.contains(row.path) {
          tree.expanded.remove(row.path)
          return []
        }
        tree.expanded.insert(row.path)
        return [.loadFolder(row.path)]
      }
      if row.marker == .deleted { return [] }
      return [.openFile(row.path)]
    case .collapse:
      let rows = treeRows
      guard rows.indices.contains(treeSelection) else { return [] }
      let row = rows[treeSelection]
      if row.isFolder, tree.expanded.contains(row.path) {
        tree.expanded.remove(row.path)
      } else {
        let parent = FileTree.parent(of: row.path)
        if !parent.isEmpty, let index = rows.firstIndex(where: { $0.path == parent }) {
          treeSelection = index
          tree.expanded.remove(parent)
        }
      }
    case .expand:
      break
    case .close:
      if case .details = detail { focus = .operations }
      if case .viewer = detail { focus = .files }
      detail = .log
    case .clearFilter:
      switch context {
      case .files where !treeFilter.isEmpty: setFilter(.files, "")
      case .operations where !operationFilter.isEmpty: setFilter(.operations, "")
      default: break
      }
    case .edit:
      if case .viewer(let view) = detail { return [.editFile(view.path)] }
      let rows = treeRows
      guard rows.indices.contains(treeSelection), !rows[treeSelection].isFolder,
        rows[treeSelection].marker != .deleted
      else { return [] }
      return [.editFile(rows[treeSelection].path)]
    case .newFile:
      let rows = treeRows
      var folder = ""
      if rows.indices.contains(treeSelection) {
        let row = rows[treeSelection]
        folder = row.isFolder ? row.path : FileTree.parent(of: row.path)
      }
      overlay = .input(.newFile, text: folder.isEmpty ? "" : folder + "/")
    case .deleteFile:
      let rows = treeRows
      guard rows.indices.contains(treeSelection), rows[treeSelection].marker != .deleted else { return [] }
      overlay = .confirm(.delete(rows[treeSelection].path, folder: rows[treeSelection].isFolder))
    case .refresh:
      return [.refreshTree]
    case .switchSpace:
      guard spaces.indices.contains(spaceSelection) else { return [] }
      let name = spaces[spaceSelection].name
      return name == space.name ? [] : [.switchSpace(name)]
    case .approveOnce, .approveSession:
      guard let request = currentApproval else { return [] }
      resolved(request.id, now: now)
      return [.resolve(id: request.id, ApprovalResolution(choice: action == .approveOnce ? .once : .session))]
    case .approveAlways:
      guard let request = currentApproval else { return [] }
      guard !request.suggestedRules.isEmpty else {
        flash = ("no narrow rule can cover this one: choose y, a or n", now + 3)
        return []
      }
      overlay = .input(.rule(request.id), text: Self.editableRuleText(request.suggestedRules))
      promptScroll = 0  // the rule's preview is at the top
    case .deny:
      guard let request = currentApproval else { return [] }
      overlay = .input(.denyFeedback(request.id), text: "")
    case .undo, .restore:
      return askUndo(restore: action == .restore, now: now)
    case .confirm, .decline, .accept, .cancel, .type, .deleteBackward, .clearField:
      break  // a question's and a field's own, handled with their overlay in handle(_:now:)
    }
    return []
  }

  /// The operation `u` and `R` act on: the one whose details are open, else the selected one.
  private var undoTarget: OperationRecord? {
    if case .details(let id) = detail { return operation(id) }
    let visible = visibleOperations
    return visible.indices.contains(operationSelection) ? visible[operationSelection] : nil
  }

  /// Shows what an undo or restore will do and asks; it runs on `y`.
  private mutating func askUndo(restore: Bool, now: Double) -> [Intent] {
    guard let record = undoTarget else { return [] }
    guard let changes = record.changes, changes.total > 0 else {
      flash = (
        "nothing to \(restore ? "restore" : "undo"): \(record.summary) changed nothing in the workspace", now + 4
      )
      return []
    }
    if restore {
      let later = operations.drop { $0.id != record.id }.filter { $0.changes.map { $0.total > 0 } ?? false }.count
      overlay = .confirm(.restore(record.id, summary: record.summary, later: later))
      return []
    }
    let paths = (changeDiffs[record.id] ?? []).filter { !$0.hasPrefix(" ") && !$0.hasPrefix("+") && !$0.hasPrefix("-") }
    overlay = .confirm(
      .undo(
        record.id, summary: record.summary, changes: changes.text,
        paths: Array(paths.prefix(4)) + (paths.count > 4 ? ["…"] : [])))
    return changeDiffs[record.id] == nil ? [.loadChanges(record.id)] : []
  }

  private func current(_ context: KeyContext) -> Int {
    if context == .viewer, case .viewer(let view) = detail { return view.scroll }
    return followLog ? log.dropped + log.count - 1 : logTop
  }

  private mutating func search(_ query: String, forward: Bool, from: Int?) {
    if case .viewer(var view) = detail, focus == .log {
      viewerSearch = query
      guard !query.isEmpty, !view.lines.isEmpty else { return }
      let needle = query.lowercased()
      let start = from ?? (view.scroll - 1)
      for step in 1...view.lines.count {
        let index = ((start + (forward ? step : -step)) % view.lines.count + view.lines.count) % view.lines.count
        if view.lines[index].lowercased().contains(needle) {
          view.scroll = index
          detail = .viewer(view)
          return
        }
      }
      flash = ("no match for “\(query)” in \(view.path)", searchClock + 3)
      return
    }
    logSearch = query
    guard !query.isEmpty, log.count > 0 else { return }
    let needle = query.lowercased()
    let start = (from ?? (log.dropped + log.count)) - log.dropped
    for step in 1...log.count {
      let index = ((start + (forward ? step : -step)) % log.count + log.count) % log.count
      if log[index].text.lowercased().contains(needle) {
        followLog = false
        logTop = log.dropped + index
        return
      }
    }
    flash = ("no match for “\(query)” in the log", searchClock + 3)
  }

  private mutating func move(_ action: Action, context: KeyContext) {
    let page = max(1, pageRows - 1)
    func moved(_ value: Int, count: Int) -> Int {
      guard count > 0 else { return 0 }
      let next: Int
      switch action {
      case .down: next = value + 1
      case .up: next = value - 1
      case .pageDown: next = value + page
      case .pageUp: next = value - page
      case .top: next = 0
      default: next = count - 1
      }
      return min(max(0, next), count - 1)
    }
    switch context {
    case .files:
      treeSelection = moved(treeSelection, count: treeRows.count)
    case .operations:
      let visible = visibleOperations
      operationSelection = moved(operationSelection, count: visible.count)
      followOperations = operationSelection == visible.count - 1
      // Open details follow the selection.
      if case .details(let id) = detail, visible.indices.contains(operationSelection),
        visible[operationSelection].id != id
      {
        detail = .details(visible[operationSelection].id)
        detailScroll = 0
      }
    case .spaces:
      spaceSelection = moved(spaceSelection, count: spaces.count)
    case .log:
      let first = log.dropped
      let lastTop = max(first, log.dropped + log.count - pageRows)
      var top = followLog ? lastTop : min(max(logTop, first), lastTop)
      top = first + moved(top - first, count: lastTop - first + 1)
      logTop = top
      followLog = top >= lastTop && action != .up && action != .pageUp && action != .top
    case .viewer:
      if case .viewer(var view) = detail {
        view.scroll = moved(view.scroll, count: max(1, view.lines.count - pageRows + 1))
        detail = .viewer(view)
      }
    case .details:
      detailScroll = moved(detailScroll, count: 100_000)
    case .decisions:
      decisionSelection = moved(decisionSelection, count: grantsAndRules.session.count + grantsAndRules.file.count)
    case .prompt:
      guard let request = currentApproval,
        let rect = WorkbenchLayout.compute(width: screen.width, height: screen.height, state: self).prompt
      else { return }
      let limit = PromptView.maxScroll(self, request: request, rect: rect)
      promptScroll = moved(min(promptScroll, limit), count: limit + 1)
    case .help:
      if case .help(let scroll) = overlay {
        overlay = .help(scroll: moved(scroll, count: HelpView.maxScroll(height: screen.height) + 1))
      }
    case .global, .confirm, .input, .banner:
      break
    }
  }

  // MARK: - From the controller

  /// Shows a file in the viewer.
  public mutating func showFile(_ view: FileView) {
    detail = .viewer(view)
    focus = .log
  }

  /// Shows a notice on the status line for a few seconds.
  public mutating func notify(_ text: String, now: Double, seconds: Double = 4) {
    flash = (text, now + seconds)
  }

  /// Adds a notice line to the log.
  public mutating func logNotice(_ text: String) {
    lastHeaderOp = nil
    log.append(LogLine(kind: .notice, opId: "", text: OutputLines.clean(text)))
  }
}
