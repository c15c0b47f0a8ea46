import Foundation
import SpacesKit
import SpacesModel
import SpacesTestSupport
import Testing

@testable import SpacesWorkbench

/// A source that records what the workbench asked of it.
final class FakeSource: WorkbenchSource, @unchecked Sendable {
  let lock = LockedValue()
  var pending: [ApprovalRequest] = []
  var resolutions: [(String, ApprovalResolution)] = []
  var extensions: [(String, Int?)] = []
  var files: [String: String] = ["greet.sh": Fixture.greet]
  let stream: AsyncStream<Event>
  let continuation: AsyncStream<Event>.Continuation

  var grants = GrantsAndRules()
  var revoked: [Revocable] = []
  var seen: [String: Int] = [:]

  func markSeen(_ space: String, through seq: Int) { lock.withLock { seen[space] = seq } }

  init() { (stream, continuation) = AsyncStream.makeStream(of: Event.self) }

  func grantsAndRules(of space: String) -> GrantsAndRules { lock.withLock { grants } }
  func revoke(_ item: Revocable, in space: String) throws(SpacesError) {
    lock.withLock {
      revoked.append(item)
      grants.session.removeAll { $0 == item }
      grants.file.removeAll { $0 == item }
    }
  }

  var connection: String { "fake" }
  func spaceNames() -> [String] { ["demo"] }
  func summary(of space: String) throws(SpacesError) -> SpaceSummary { Fixture.space }
  func events(of space: String) throws(SpacesError) -> AsyncStream<Event> { stream }
  func pendingApprovals() -> [ApprovalRequest] { lock.withLock { pending } }
  func resolve(_ id: String, with resolution: ApprovalResolution) throws(SpacesError) {
    lock.withLock {
      resolutions.append((id, resolution))
      pending.removeAll { $0.id == id }
    }
  }
  func extend(_ id: String, by seconds: Int?) throws(SpacesError) -> ApprovalExtension {
    let outcome = lock.withLock { () -> Result<ApprovalExtension, SpacesError> in
      guard let index = pending.firstIndex(where: { $0.id == id }) else {
        return .failure(
          SpacesError(.approvalClosed, "the request \(id) can't be given more time: it was already resolved"))
      }
      extensions.append((id, seconds))
      let format = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
      let added = seconds ?? 300
      let old = (try? format.parse(pending[index].deadline)) ?? Date()
      pending[index].deadline = Event.timestamp(old.addingTimeInterval(Double(added)))
      let total = extensions.filter { $0.0 == id }.count * added
      return .success(ApprovalExtension(id: id, deadline: pending[index].deadline, seconds: added, totalSeconds: total))
    }
    return try outcome.get()
  }
  func submitAsPerson(_ operation: Op, to space: String) async -> OperationResult {
    OperationResult(id: "op_person", space: space, kind: operation.kind, status: .completed)
  }
  func list(_ path: String, in space: String) throws(SpacesError) -> [WorkspaceEntry] {
    path.isEmpty ? files.keys.sorted().map { Fixture.entry($0) } : []
  }
  func read(_ path: String, in space: String) throws(SpacesError) -> [UInt8] {
    guard let text = files[path] else { throw SpacesError(.notFound, "no \(path)") }
    return Array(text.utf8)
  }
}

@Suite struct ControllerTests {
  @Test func approvalsFlowToTheSourceOnce() async throws {
    let source = FakeSource()
    source.pending = [Fixture.editRequest]
    let controller = WorkbenchController(source: source, space: "demo", inbox: WorkbenchInbox())
    controller.start(now: 0)
    #expect(controller.state.currentApproval?.id == "op_ask_edit")
    let diff = try #require(controller.state.promptDetails["op_ask_edit"]?.diff)
    #expect(diff.contains { $0.kind == .added && $0.text.contains("👋") && $0.newNumber == 4 })
    #expect(controller.handle(.char("y"), now: 0.1).isEmpty)  // guarded
    #expect(controller.handle(.char("y"), now: 1).isEmpty)
    #expect(controller.handle(.char("y"), now: 1.1).isEmpty)
    #expect(source.resolutions.count == 1)
    #expect(source.resolutions.first?.1 == ApprovalResolution(choice: .once))
    controller.stop()
  }

  /// `+` gives the request on the prompt more time at once (it answers nothing, so the key
  /// guard doesn't hold it), and the countdown grows by what was added.
  @Test func plusExtendsTheDeadlineAndTheCountdownGrows() throws {
    let source = FakeSource()
    let request = Fixture.request(
      "op_more", .shell(command: "make deploy", timeoutMs: nil), reasons: ["asks"],
      deadline: Event.timestamp(Date().addingTimeInterval(120)))
    source.pending = [request]
    let controller = WorkbenchController(source: source, space: "demo", inbox: WorkbenchInbox())
    controller.start(now: 0)
    let before = try #require(controller.state.deadlines["op_more"])
    #expect(PromptView.countdown(controller.state, request: request, now: 0.05)?.0 == "2:00 left")
    _ = controller.handle(.char("+"), now: 0.05)
    #expect(source.extensions.map(\.0) == ["op_more"])
    #expect(source.extensions.first?.1 == nil)  // the time first given: the source knows it
    let after = try #require(controller.state.deadlines["op_more"])
    #expect(abs(after - before - 300) < 1, "\(before) → \(after)")
    #expect(PromptView.countdown(controller.state, request: request, now: 0.05)?.0 == "7:00 left")
    #expect(controller.state.flash?.text.contains("more time: +5m00s for op_more") == true)
    #expect(source.resolutions.isEmpty)
    // The prompt's title shows it.
    let screen = WorkbenchView.render(controller.state, width: 80, height: 24, now: 0.05).text
    #expect(screen.contains("7:00 left"), "\(screen)")
    // Once nothing waits, `+` says why it can't.
    source.lock.withLock { source.pending = [] }
    _ = controller.handle(.char("+"), now: 1)
    #expect(controller.state.flash?.text.contains("no more time for op_more") == true)
    controller.stop()
  }

  @Test func eventsArriveThroughTheInbox() async throws {
    let source = FakeSource()
    let woken = LockedValue(0)
    let inbox = WorkbenchInbox { woken.withValue { $0 += 1 } }
    let controller = WorkbenchController(source: source, space: "demo", inbox: inbox)
    controller.start(now: 0)
    source.continuation.yield(
      Fixture.event("op_1", .received(actor: .agent, op: .shell(command: "ls", timeoutMs: nil))))
    source.continuation.yield(Fixture.event("op_1", .started))
    try await eventually("op_1 running") {
      _ = controller.drain(now: 1)
      return controller.state.operations.count >= 1 && controller.state.operation("op_1")?.state == .running
    }
    #expect(controller.state.operation("op_1")?.state == .running)
    #expect(woken.withValue { $0 } >= 1)
    controller.stop()
  }

  @Test func inboxIsBounded() {
    let inbox = WorkbenchInbox()
    for _ in 0..<(WorkbenchInbox.capacity + 10) {
      inbox.push(.event(Fixture.event("op", .output(stream: .stdout, data: "x\n"))))
    }
    let (items, dropped) = inbox.drain()
    #expect(items.count == WorkbenchInbox.capacity)
    #expect(dropped == 10)
  }

  /// Taken a few at a time (the UI thread applies events for a few milliseconds per turn),
  /// items come out once each, in order, while more arrive; the bytes held are given back.
  @Test func inboxDrainsInOrderAFewAtATime() {
    let inbox = WorkbenchInbox()
    var next = 0
    var seen: [String] = []
    for round in 0..<3000 {
      for _ in 0..<(round % 3 == 0 ? 5 : 1) {
        inbox.push(.event(Fixture.event("op", .output(stream: .stdout, data: "\(next)"))))
        next += 1
      }
      for case .event(let event) in inbox.drain(limit: 2).items { seen.append(event.output?.data ?? "") }
    }
    while !inbox.isEmpty {
      for case .event(let event) in inbox.drain(limit: 3).items { seen.append(event.output?.data ?? "") }
    }
    #expect(seen == (0..<next).map { "\($0)" })
    // Everything was given back: a full inbox's worth fits again.
    for _ in 0..<WorkbenchInbox.capacity {
      inbox.push(.event(Fixture.event("op", .output(stream: .stdout, data: "x"))))
    }
    #expect(inbox.drain().dropped == 0)
  }
}

/// Issue 14's fix list.
@Suite struct FixListTests {
  @Test func savingOverANewerVersionAsks() {
    let source = FakeSource()
    let controller = WorkbenchController(source: source, space: "demo", inbox: WorkbenchInbox())
    source.files["greet.sh"] = "the agent's newer text\n"
    controller.saveEdit("greet.sh", old: Fixture.greet, new: "mine\n", now: 1)
    #expect(controller.state.overlay == .confirm(.overwrite("greet.sh", content: "mine\n")))
    #expect(controller.state.handle(.char("y"), now: 2) == [.saveFile("greet.sh", content: "mine\n")])
    let unchanged = WorkbenchController(source: FakeSource(), space: "demo", inbox: WorkbenchInbox())
    unchanged.saveEdit("greet.sh", old: Fixture.greet, new: "mine\n", now: 1)
    #expect(unchanged.state.overlay == .none)
  }

  @Test func escFromDetailsFocusesOperationsAndDetailsFollowTheSelection() {
    var state = Fixture.state()
    state.focus = .operations
    state.operationSelection = 1
    _ = state.handle(.enter, now: 100)
    guard case .details(let first) = state.detail else {
      Issue.record("no details")
      return
    }
    state.focus = .operations
    _ = state.handle(.char("j"), now: 100)
    #expect(state.detail != .details(first))
    #expect(state.detail == .details(state.visibleOperations[state.operationSelection].id))
    state.focus = .log
    _ = state.handle(.escape, now: 100)
    #expect(state.detail == .log)
    #expect(state.focus == .operations)
  }

  @Test func escClearsAFilterAndAMissSaysSo() {
    var state = Fixture.state()
    state.focus = .files
    _ = state.handle(.char("/"), now: 0)
    for character in "greet" { _ = state.handle(.char(character), now: 0) }
    _ = state.handle(.enter, now: 0)
    #expect(state.treeFilter == "greet")
    _ = state.handle(.escape, now: 0)
    #expect(state.treeFilter.isEmpty)
    state.focus = .log
    _ = state.handle(.char("/"), now: 0)
    for character in "zebra" { _ = state.handle(.char(character), now: 0) }
    #expect(state.flash?.text == "no match for “zebra” in the log")
  }

  @Test func anEditedPrefixRenamesTheRule() {
    let rules = WorkbenchState.rules(Fixture.shellRequest.suggestedRules, editedTo: "./dist/greet --name")
    #expect(rules.first?.name == "allow ./dist/greet --name")
    #expect(rules.first?.command == ["./dist/greet", "--name"])
  }

  @Test func theQuitDialogSaysWhatHappensToRunningOperations() {
    #expect(ConfirmView.quitMessage(running: 1, outlive: true).contains("go on after you quit"))
    #expect(!ConfirmView.quitMessage(running: 1, outlive: true).contains("stop"))
    #expect(ConfirmView.quitMessage(running: 0, outlive: false) == "Nothing is running any more.")
    var state = Fixture.state()
    _ = state.handle(.char("q"), now: 100)
    var result = Fixture.result("op_watch", .shell, .completed, ms: 5)
    result.exitCode = 0
    _ = state.apply(Fixture.event("op_watch", .completed(result: result)), now: 101)
    let canvas = WorkbenchView.render(state, width: 80, height: 24, now: 101)
    #expect(canvas.text.contains("Nothing is running"))
    #expect(!canvas.text.contains("still going"))
  }
}

/// Away mode: approvals that wait and runs that fail notify on the desktop, once each.
@Suite struct AwayModeTests {
  @Test func approvalsAndFailuresNotifyOnlyWhenAway() {
    var state = Fixture.state()
    let request = Fixture.shellRequest
    #expect(!state.setApprovals([request], now: 100).contains { if case .desktopNotify = $0 { true } else { false } })
    _ = state.handle(.char("A"), now: 100)
    #expect(state.away)
    let other = Fixture.request(
      "op_other", .shell(command: "make deploy", timeoutMs: nil), reasons: ["?"], space: "other")
    let intents = state.setApprovals([request, other], now: 101)
    #expect(intents.contains(.desktopNotify(title: "Approval needed in other", body: "$ make deploy")))
    #expect(
      !state.setApprovals([request, other], now: 102).contains(
        .desktopNotify(title: "Approval needed in other", body: "$ make deploy")))
    _ = state.apply(
      Fixture.event("op_f", .received(actor: .agent, op: .shell(command: "pytest", timeoutMs: nil))), now: 103)
    var result = Fixture.result("op_f", .shell, .completed, ms: 2000)
    result.exitCode = 1
    let failed = state.apply(Fixture.event("op_f", .completed(result: result)), now: 104)
    #expect(failed.contains(.desktopNotify(title: "Failed in demo", body: "$ pytest · ✘ failed · exit 1 · 2.0s")))
    let canvas = WorkbenchView.render(state, width: 120, height: 40, now: 104)
    #expect(canvas.text.contains("│ away "))
  }
}

/// The mouse: a click focuses a pane and selects a row, the wheel scrolls what is under it.
@Suite struct MouseTests {
  @Test func clicksFocusAndSelect() {
    var state = Fixture.state()
    state.screen = (120, 40)
    let layout = WorkbenchLayout.compute(width: 120, height: 40, state: state)
    guard let operations = layout.panes[.operations], let files = layout.panes[.files] else {
      Issue.record("no panes")
      return
    }
    state.followOperations = false
    state.operationSelection = 0
    _ = state.handle(.click(x: operations.x + 3, y: operations.y + 3), now: 100)
    #expect(state.focus == .operations)
    #expect(state.operationSelection == 2)
    _ = state.handle(.click(x: files.x + 3, y: files.y + 2), now: 100)
    #expect(state.focus == .files)
    #expect(state.treeSelection == 1)
  }

  @Test func theWheelScrollsWhatIsUnderIt() {
    var state = Fixture.state()
    state.screen = (120, 40)
    state.focus = .files
    state.pageRows = 3
    guard let log = WorkbenchLayout.compute(width: 120, height: 40, state: state).panes[.log] else {
      Issue.record("no log")
      return
    }
    _ = state.handle(.wheel(x: log.x + 5, y: log.y + 5, up: true), now: 100)
    #expect(!state.followLog)
    #expect(state.focus == .files)
  }

  @Test func aClickOnATabFocusesIt() {
    var state = Fixture.state()
    state.screen = (60, 20)
    _ = state.handle(.click(x: 17, y: 0), now: 100)  // " 1 Files  2 Log  3 Ops"
    #expect(state.focus == .operations)
  }
}

/// "Since you were last here" counts from where the person left a space.
@Suite struct SeenTests {
  @Test func leavingASpaceRecordsTheNewestEventShown() {
    let source = FakeSource()
    let controller = WorkbenchController(source: source, space: "demo", inbox: WorkbenchInbox())
    var event = Fixture.event("op_1", .received(actor: .agent, op: .message(text: "hi")))
    event.seq = 41
    _ = controller.state.apply(event, now: 1)
    controller.markSeen()
    #expect(source.seen["demo"] == 41)
  }
}

/// The Decisions view: answers and denials with who, when and why; grants and rules taken back
/// after a confirmation.
@Suite struct DecisionsTests {
  static let rule = PolicyRule(
    name: "allow ./dist/greet", kinds: [.shell], command: ["./dist/greet"], decision: .allow, reason: "ok")

  @Test func listsAnswersAndTakesBackAGrantAfterAsking() {
    let source = FakeSource()
    source.grants = GrantsAndRules(session: [.sessionCommand("make deploy")], file: [.fileRule(Self.rule)])
    let controller = WorkbenchController(source: source, space: "demo", inbox: WorkbenchInbox())
    controller.state = Fixture.state()
    _ = controller.state.apply(
      Fixture.event("op_rm", .approvalResolved(resolution: .timeout)) { $0.time = "2026-12-06T10:42:03.000Z" }, now: 100
    )
    _ = controller.handle(.char("D"), now: 100)
    #expect(controller.state.detail == .decisions)
    let canvas = WorkbenchView.render(controller.state, width: 120, height: 40, now: 100)
    assertSnapshot(canvas.text, named: "decisions.120x40")
    #expect(canvas.text.contains("10:42:03  ⌛ timed out"))
    #expect(
      canvas.text.contains("⊘ denied      policy   $ rm -rf / — deletes everything")
        || canvas.text.contains("deletes everything"))
    #expect(canvas.text.contains("exactly `make deploy`"))
    _ = controller.handle(.char("j"), now: 100)
    _ = controller.handle(.char("x"), now: 100)
    #expect(controller.state.overlay == .confirm(.revoke(.fileRule(Self.rule))))
    _ = controller.handle(.char("y"), now: 100)
    #expect(source.revoked == [.fileRule(Self.rule)])
    #expect(controller.state.grantsAndRules.file.isEmpty)
    _ = controller.handle(.char("x"), now: 100)
    _ = controller.handle(.char("n"), now: 100)
    #expect(source.revoked.count == 1)
  }
}
