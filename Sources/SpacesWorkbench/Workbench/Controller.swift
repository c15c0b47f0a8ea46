import Foundation
import SpacesModel

/// A thread-safe queue from the runtime's threads to the UI thread.
///
/// Producers push events and notes; the first push into an empty queue calls `wake` (the UI
/// loop's wake-up pipe), so a flood of events costs one wake-up per drain.
public final class WorkbenchInbox: Sendable {
  /// Something for the UI thread.
  public enum Item: Sendable {
    /// A runtime event.
    case event(Event)
    /// A line for the log (a notice).
    case notice(String)
    /// A one-line notice on the status line.
    case flash(String)
    /// Something changed that calls for re-reading approvals and the tree.
    case refresh
    /// An operation's diff arrived.
    case changes(String, [String])
  }

  /// The most items held; past it, output events are dropped (and counted).
  public static let capacity = 50_000
  /// The most output bytes held; past it, output events are dropped (and counted).
  public static let byteCapacity = 4 << 20
  /// What waits: `items[head...]` (taken items are dropped in batches, not one shift per take).
  private struct Queue {
    var items: [Item] = []
    var head = 0
    var dropped = 0
    var count: Int { items.count - head }
  }

  private let queue = LockedValue(Queue())
  private let bytes = LockedValue(0)
  private let wake: @Sendable () -> Void

  /// Creates an inbox that calls `wake` when it stops being empty.
  public init(wake: @escaping @Sendable () -> Void = {}) {
    self.wake = wake
  }

  /// Adds an item.
  public func push(_ item: Item) {
    let wasEmpty = queue.withValue { state -> Bool in
      let empty = state.count == 0
      if case .event(let event) = item, let output = event.output {
        let size = output.data.utf8.count
        let full = bytes.withValue { total -> Bool in
          if total + size > Self.byteCapacity || state.count >= Self.capacity { return true }
          total += size
          return false
        }
        if full {
          state.dropped += 1
          return false
        }
      }
      state.items.append(item)
      return empty
    }
    if wasEmpty { wake() }
  }

  /// Takes what is queued (at most `limit` items, oldest first), and how many output events
  /// were dropped.
  public func drain(limit: Int = .max) -> (items: [Item], dropped: Int) {
    queue.withValue { state in
      let end = state.head + min(limit, state.count)
      let taken = Array(state.items[state.head..<end])
      let dropped = state.dropped
      state.dropped = 0
      state.head = end
      if state.head == state.items.count {
        state.items.removeAll(keepingCapacity: state.items.count < 4096)
        state.head = 0
      } else if state.head >= 1024 && state.head * 2 >= state.items.count {
        state.items.removeFirst(state.head)
        state.head = 0
      }
      let size = taken.reduce(0) { total, item in
        if case .event(let event) = item, let output = event.output { return total + output.data.utf8.count }
        return total
      }
      bytes.withValue { $0 = max(0, $0 - size) }
      return (taken, dropped)
    }
  }

  /// Whether items are waiting.
  public var isEmpty: Bool { queue.withValue { $0.count == 0 } }
}

/// Connects a ``WorkbenchState`` to a ``WorkbenchSource``: subscribes to events, keeps the
/// tree and approvals fresh, and carries out intents. Use it on the UI thread only.
public final class WorkbenchController {
  /// What is shown.
  public var state: WorkbenchState
  /// Whether runtime events are still waiting in the inbox.
  public var backlog: Bool { !inbox.isEmpty }

  /// Whether something changed since the last draw.
  public var dirty = true
  /// The source.
  public let source: any WorkbenchSource
  private let inbox: WorkbenchInbox
  private var subscription: Task<Void, Never>?
  private var lastTreeRefresh = -1.0
  private var treeRefreshPending = false
  private var lastApprovalPoll = -1.0
  /// Each request's deadline as the source gave it, and on the workbench clock.
  private var knownDeadlines: [String: (given: String, at: Double)] = [:]

  /// How many journal events the panes are filled from when a space opens.
  public static let historyEvents = 3000

  /// Creates a controller watching `space`.
  public init(source: any WorkbenchSource, space: String, inbox: WorkbenchInbox) {
    self.source = source
    self.inbox = inbox
    let summary =
      (try? source.summary(of: space)) ?? SpaceSummary(name: space, backend: "?", isolated: true, policy: "?")
    state = WorkbenchState(space: summary, connection: source.connection)
    state.operationsOutliveQuit = source.operationsOutliveQuit
  }

  deinit { subscription?.cancel() }

  /// Subscribes to the space and reads the tree, spaces and approvals.
  public func start(now: Double) {
    subscription?.cancel()
    do {
      let events = try source.events(of: state.space.name)
      let inbox = inbox
      subscription = Task.detached {
        for await event in events { inbox.push(.event(event)) }
      }
      state.connected = true
      state.catchUp(source.history(of: state.space.name, events: Self.historyEvents), now: now)
    } catch {
      state.connected = false
      state.logNotice("can't watch \(state.space.name): \(error.message)")
    }
    state.setSpaces(source.spaceNames())
    refreshTree(now: now, force: true)
    pollApprovals(now: now)
    dirty = true
  }

  /// Records how far the person has seen the space (the next catch-up counts from there).
  public func markSeen() {
    if state.newestSeq > 0 { source.markSeen(state.space.name, through: state.newestSeq) }
  }

  /// Stops the subscription.
  public func stop() {
    subscription?.cancel()
    subscription = nil
  }

  /// Applies what the inbox holds (at most `limit` items, so keys stay responsive under a
  /// flood); returns intents for the terminal (bell).
  public func drain(now: Double, limit: Int = .max) -> [Intent] {
    let (items, dropped) = inbox.drain(limit: limit)
    guard !items.isEmpty || dropped > 0 else { return [] }
    var intents: [Intent] = []
    var approvalsChanged = false
    for item in items {
      switch item {
      case .event(let event):
        intents += state.apply(event, now: now)
        switch event.payload {
        case .approvalRequested, .approvalResolved, .approvalExtended, .completed, .failed, .denied:
          approvalsChanged = true
        case .protectedRestored(let restored, _):
          let count = restored.count
          state.notify(
            "⚠ a command changed \(count) protected path\(count == 1 ? "" : "s") without your approval: put back",
            now: now)
        default: break
        }
      case .notice(let text):
        state.logNotice(text)
      case .flash(let text):
        state.notify(text, now: now)
      case .changes(let id, let lines):
        state.changeDiffs[id] = lines
      case .refresh:
        approvalsChanged = true
        treeRefreshPending = true
      }
    }
    if dropped > 0 { state.logNotice("\(dropped) output chunks skipped to keep up (the journal has them all)") }
    if approvalsChanged { intents += pollApprovals(now: now) }
    var external: [Intent] = []
    for intent in intents {
      if intent == .refreshTree {
        treeRefreshPending = true
      } else {
        external.append(intent)
      }
    }
    if treeRefreshPending { refreshTree(now: now, force: false) }
    dirty = true
    return external
  }

  /// Periodic work: approvals in other spaces, a deferred tree refresh. Returns intents for
  /// the terminal.
  public func tick(now: Double) -> [Intent] {
    var intents: [Intent] = []
    if now - lastApprovalPoll >= 0.5 { intents += pollApprovals(now: now) }
    if treeRefreshPending { refreshTree(now: now, force: false) }
    if let flash = state.flash, flash.until < now {
      state.flash = nil
      dirty = true
    }
    return intents
  }

  /// Whether the screen shows something that changes by itself (a running timer, a prompt
  /// whose guard is about to end, a flash); the loop wakes up to redraw it.
  public func animating(now: Double) -> Bool {
    if state.operations.contains(where: { $0.state == .running }) { return true }
    if let request = state.currentApproval, state.deadlines[request.id] != nil { return true }  // the countdown
    if let shown = state.promptShown, now - shown.at < WorkbenchState.promptGuard + 0.05 { return true }
    return state.flash != nil
  }

  /// Handles a key; carries out runtime intents and returns the ones for the terminal
  /// (`editFile`, `bell`, `quit`).
  public func handle(_ key: Key, now: Double) -> [Intent] {
    let intents = state.handle(key, now: now)
    dirty = true
    return perform(intents, now: now)
  }

  /// Carries out intents; returns those only the terminal can (edit, bell, quit).
  public func perform(_ intents: [Intent], now: Double) -> [Intent] {
    var external: [Intent] = []
    let space = state.space.name
    for intent in intents {
      switch intent {
      case .resolve(let id, let resolution):
        do {
          try source.resolve(id, with: resolution)
          let verb =
            switch resolution.choice {
            case .once: "approved once"
            case .session: "approved for this session"
            case .always: "approved and saved to the policy"
            case .deny: "denied"
            case nil: "answered"
            }
          state.notify("\(verb): \(id)", now: now, seconds: 2)
        } catch {
          state.notify("could not answer \(id): \(error.message)", now: now)
        }
        pollApprovals(now: now)
      case .extendApproval(let id):
        do {
          let extended = try source.extend(id, by: nil)
          let added = WorkbenchState.duration(extended.seconds * 1000)
          let limit = ApprovalExtension.maxSeconds
          let note = extended.totalSeconds >= limit ? " (that is all: \(limit / 60) min more at most)" : ""
          state.notify("more time: +\(added) for \(id)\(note)", now: now, seconds: 3)
        } catch {
          state.notify("no more time for \(id): \(error.message)", now: now)
        }
        pollApprovals(now: now)
      case .openFile(let path):
        do throws(SpacesError) {
          let bytes = try source.read(path, in: space)
          if let text = String(validating: bytes, as: UTF8.self) {
            state.showFile(WorkbenchState.FileView(path: path, text: text))
          } else {
            state.showFile(
              WorkbenchState.FileView(path: path, text: nil, error: "binary file (\(bytes.count) bytes): not shown"))
          }
        } catch {
          state.showFile(
            WorkbenchState.FileView(path: path, text: nil, error: "can't read it: \(error.message)"))
        }
      case .saveFile(let path, let content):
        submit(.createFile(path: path, content: content, encoding: .utf8), what: "saved \(path)")
      case .createFile(let path):
        submit(.createFile(path: path, content: "", encoding: .utf8), what: "created \(path)")
      case .deleteFile(let path, let recursive):
        submit(.deleteFile(path: path, recursive: recursive), what: "deleted \(path)")
      case .loadFolder(let path):
        load(path)
      case .refreshTree:
        refreshTree(now: now, force: true)
      case .switchSpace(let name):
        switchTo(name, now: now)
      case .loadDecisions:
        state.grantsAndRules = source.grantsAndRules(of: space)
        state.decisionSelection = 0
        state.detail = .decisions
        state.focus = .log
      case .loadChanges(let id):
        let (source, inbox) = (source, inbox)
        Task.detached {
          let answer = await source.changes(of: id, in: space)
          let lines =
            answer.diff.map { LineDiff.lines($0) } ?? [answer.message ?? "no change record"]
          inbox.push(.changes(id, Array(lines.prefix(2000))))
        }
      case .undo(let id), .restore(before: let id):
        var restore = false
        if case .restore = intent { restore = true }
        let (source, inbox) = (source, inbox)
        state.notify(restore ? "restoring to before \(id)…" : "undoing \(id)…", now: now, seconds: 2)
        Task.detached {
          do throws(SpacesError) {
            let outcome = try await source.undo(id, in: space, restore: restore)
            let what = restore ? "restored to before \(id)" : "undid \(id)"
            inbox.push(.flash("\(what): \(outcome.changes.text) (u on it takes it back)"))
          } catch {
            inbox.push(.flash("\(restore ? "restore" : "undo") refused: \(error.message)"))
          }
          inbox.push(.refresh)
        }
      case .revoke(let item):
        do {
          try source.revoke(item, in: space)
          state.notify("taken back: " + DecisionsView.describe(item), now: now)
        } catch {
          state.notify("could not take it back: \(error.message)", now: now)
        }
        state.grantsAndRules = source.grantsAndRules(of: space)
        let count = state.grantsAndRules.session.count + state.grantsAndRules.file.count
        state.decisionSelection = min(state.decisionSelection, max(0, count - 1))
      case .showApproval(let name, let id):
        switchTo(name, now: now, promptID: id)
      case .editFile, .bell, .quit, .desktopNotify:
        external.append(intent)
      }
    }
    dirty = true
    return external
  }

  /// The text of a file to edit, or why it can't be edited.
  public func textForEditing(_ path: String) -> Result<String, SpacesError> {
    do throws(SpacesError) {
      let bytes = try source.read(path, in: state.space.name)
      guard let text = String(validating: bytes, as: UTF8.self) else {
        return .failure(SpacesError(.invalidEncoding, "\(path) is not UTF-8 text"))
      }
      return .success(text)
    } catch {
      return .failure(error)
    }
  }

  /// Saves an edit made in `$EDITOR`, journaled as the person's createFile; when the file
  /// changed while it was edited (the agent wrote it), asks before saving over it.
  public func saveEdit(_ path: String, old: String, new: String, now: Double) {
    guard old != new else {
      state.notify("\(path): no changes", now: now)
      return
    }
    if case .success(let current) = textForEditing(path), current != old, current != new {
      state.overlay = .confirm(.overwrite(path, content: new))
      dirty = true
      return
    }
    submit(.createFile(path: path, content: new, encoding: .utf8), what: "saved \(path)")
  }

  private func submit(_ operation: Op, what: String) {
    let source = source
    let space = state.space.name
    let inbox = inbox
    Task.detached {
      let result = await source.submitAsPerson(operation, to: space)
      switch result.status {
      case .completed: inbox.push(.flash(what))
      case .failed: inbox.push(.flash("failed: \(result.error?.message ?? "?")"))
      case .denied: inbox.push(.flash("denied: \(result.reason ?? "?")"))
      }
      inbox.push(.refresh)
    }
  }

  private func switchTo(_ name: String, now: Double, promptID: String? = nil) {
    do {
      let summary = try source.summary(of: name)
      markSeen()
      stop()
      var fresh = WorkbenchState(space: summary, connection: source.connection)
      fresh.focus = state.focus
      fresh.screen = state.screen
      fresh.pageRows = state.pageRows
      fresh.promptID = promptID
      fresh.operationsOutliveQuit = source.operationsOutliveQuit
      state = fresh
      start(now: now)
      state.notify("watching \(name)", now: now)
    } catch {
      state.notify("can't open \(name): \(error.message)", now: now)
    }
  }

  private func load(_ folder: String) {
    do {
      state.tree.setListing(folder, try source.list(folder, in: state.space.name))
    } catch {
      state.tree.setListing(folder, [])
      state.tree.expanded.remove(folder)
    }
  }

  private func refreshTree(now: Double, force: Bool) {
    guard force || now - lastTreeRefresh >= 0.15 else {
      treeRefreshPending = true
      return
    }
    lastTreeRefresh = now
    treeRefreshPending = false
    load("")
    for folder in state.tree.expanded.sorted() where !folder.isEmpty {
      load(folder)
    }
    dirty = true
  }

  @discardableResult
  private func pollApprovals(now: Double) -> [Intent] {
    lastApprovalPoll = now
    let all = source.pendingApprovals()
    for request in all where request.space == state.space.name && state.promptDetails[request.id] == nil {
      var current: String?
      if let path = request.op.path, let bytes = try? source.read(path, in: request.space) {
        current = String(decoding: bytes, as: UTF8.self)
      }
      state.promptDetails[request.id] = PromptDetail.make(for: request.op, current: current)
    }
    let intents = state.setApprovals(all, now: now, deadlines: deadlines(of: all, now: now))
    dirty = true
    return intents
  }

  /// Each request's deadline on the workbench clock (`now` is this moment on it).
  private func deadlines(of requests: [ApprovalRequest], now: Double) -> [String: Double] {
    let wall = Date().timeIntervalSince1970
    var known: [String: (given: String, at: Double)] = [:]
    for request in requests {
      // Converted once per deadline (so the countdown doesn't jitter with the wall clock), and
      // again when the deadline moves (a person gave it more time).
      if let seen = knownDeadlines[request.id], seen.given == request.deadline {
        known[request.id] = seen
      } else if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(request.deadline) {
        known[request.id] = (request.deadline, now + date.timeIntervalSince1970 - wall)
      }
    }
    knownDeadlines = known
    return known.mapValues(\.at)
  }
}
