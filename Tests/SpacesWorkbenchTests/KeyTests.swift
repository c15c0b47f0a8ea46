import Foundation
import SpacesKit
import SpacesModel
import Testing

@testable import SpacesWorkbench

/// Keys to intents: what a key press asks the outside world to do.
@Suite struct KeyTests {
  @Test func yOnAPromptResolvesItOnce() {
    var state = Fixture.prompting([Fixture.shellRequest])
    let intents = state.handle(.char("y"), now: 100)
    #expect(intents == [.resolve(id: "op_ask", ApprovalResolution(choice: .once))])
    #expect(state.currentApproval == nil)
    #expect(state.handle(.char("y"), now: 100.5).isEmpty)
    // The runtime still lists it for a moment: it must not come back.
    _ = state.setApprovals([Fixture.shellRequest], now: 101)
    #expect(state.currentApproval == nil)
    #expect(state.handle(.char("y"), now: 102).isEmpty)
  }

  @Test func keysRightAfterAPromptAppearsAreIgnored() {
    var state = Fixture.state()
    let bell = state.setApprovals([Fixture.shellRequest], now: 50)
    #expect(bell == [.bell])
    #expect(state.handle(.char("y"), now: 50.1).isEmpty)
    #expect(state.handle(.char("n"), now: 50.29).isEmpty)
    #expect(state.overlay == .none)
    #expect(state.handle(.char("y"), now: 50.31) == [.resolve(id: "op_ask", ApprovalResolution(choice: .once))])
  }

  @Test func theNextPromptIsGuardedToo() {
    var state = Fixture.prompting([Fixture.shellRequest, Fixture.editRequest], now: 100, shownAt: 90)
    #expect(state.handle(.char("y"), now: 100).count == 1)
    #expect(state.currentApproval?.id == "op_ask_edit")
    #expect(state.handle(.char("y"), now: 100.05).isEmpty)
    #expect(state.handle(.char("a"), now: 100.4) == [.resolve(id: "op_ask_edit", ApprovalResolution(choice: .session))])
  }

  @Test func nPlusTextDeniesWithThatFeedback() {
    var state = Fixture.prompting([Fixture.shellRequest])
    #expect(state.handle(.char("n"), now: 100).isEmpty)
    for character in "use make tst" { #expect(state.handle(.char(character), now: 100).isEmpty) }
    _ = state.handle(.backspace, now: 100)
    _ = state.handle(.backspace, now: 100)
    _ = state.handle(.char("e"), now: 100)
    _ = state.handle(.char("s"), now: 100)
    _ = state.handle(.char("t"), now: 100)
    let intents = state.handle(.enter, now: 100)
    #expect(intents == [.resolve(id: "op_ask", ApprovalResolution(choice: .deny, feedback: "use make test"))])
    #expect(state.currentApproval == nil)
  }

  @Test func escapeLeavesTheDenyFieldWithoutDeciding() {
    var state = Fixture.prompting([Fixture.shellRequest])
    _ = state.handle(.char("n"), now: 100)
    _ = state.handle(.char("x"), now: 100)
    #expect(state.handle(.escape, now: 100).isEmpty)
    #expect(state.currentApproval?.id == "op_ask")
  }

  @Test func pSavesTheEditedRule() {
    var state = Fixture.prompting([Fixture.shellRequest])
    _ = state.handle(.char("p"), now: 100)
    #expect(state.overlay == .input(.rule("op_ask"), text: "./dist/greet"))
    for character in " Ada" { _ = state.handle(.char(character), now: 100) }
    let intents = state.handle(.enter, now: 100)
    guard case .resolve(let id, let resolution) = intents.first else {
      Issue.record("no resolve: \(intents)")
      return
    }
    #expect(id == "op_ask")
    #expect(resolution.choice == .always)
    #expect(resolution.rules.first?.command == ["./dist/greet", "Ada"])
  }

  @Test func aDockedPromptIsNotModal() {
    var state = Fixture.prompting([Fixture.shellRequest])
    state.focus = .files
    _ = state.handle(.char("2"), now: 100)
    #expect(state.focus == .log)
    _ = state.handle(.char("k"), now: 100)
    #expect(!state.followLog)
    _ = state.handle(.tab, now: 100)
    #expect(state.focus == .operations)
    _ = state.handle(.char("/"), now: 100)
    #expect(state.overlay == .input(.filter(.operations), text: ""))
    _ = state.handle(.escape, now: 100)
    #expect(state.handle(.char("y"), now: 100) == [.resolve(id: "op_ask", ApprovalResolution(choice: .once))])
  }

  @Test func helpFromThePromptStartsAtItsKeys() {
    var state = Fixture.prompting([Fixture.shellRequest])
    _ = state.handle(.char("?"), now: 100)
    guard case .help(let scroll) = state.overlay else {
      Issue.record("no help")
      return
    }
    #expect(Keymap.helpLines()[scroll].text == "Approval prompt")
    var plain = Fixture.state()
    _ = plain.handle(.char("?"), now: 100)
    #expect(plain.overlay == .help(scroll: 0))
  }

  @Test func aKeyHeldByTheGuardSaysSo() {
    var state = Fixture.prompting([Fixture.shellRequest], now: 100, shownAt: 99.9)
    #expect(state.handle(.char("y"), now: 100).isEmpty)
    #expect(state.flash?.text.contains("held") == true)
    #expect(state.currentApproval?.id == "op_ask")
    #expect(state.handle(.char("y"), now: 100.5) == [.resolve(id: "op_ask", ApprovalResolution(choice: .once))])
  }

  @Test func bracketsVisitWaitingRequestsAcrossSpaces() {
    var state = Fixture.prompting([Fixture.shellRequest, Fixture.editRequest])
    #expect(state.currentApproval?.id == "op_ask")
    #expect(state.handle(.char("]"), now: 100).isEmpty)
    #expect(state.currentApproval?.id == "op_ask_edit")
    #expect(state.handle(.char("]"), now: 100) == [.showApproval(space: "other", id: "op_elsewhere")])
    #expect(state.handle(.char("["), now: 100).isEmpty)
    #expect(state.currentApproval?.id == "op_ask")
  }

  @Test func aTimedOutApprovalSaysSo() {
    var state = Fixture.prompting([Fixture.shellRequest])
    _ = state.apply(Fixture.event("op_ask", .approvalResolved(resolution: .timeout)), now: 101)
    #expect(state.currentApproval == nil)
    #expect(state.flash?.text.contains("timed out") == true)
  }

  @Test func quitAsksWhileOperationsRun() {
    var state = Fixture.state()
    #expect(state.handle(.char("q"), now: 100).isEmpty)
    #expect(state.handle(.char("n"), now: 100).isEmpty)
    #expect(state.overlay == .none)
    _ = state.handle(.char("q"), now: 100)
    #expect(state.handle(.char("y"), now: 100) == [.quit])
    var idle = WorkbenchState(space: Fixture.space, connection: "embedded")
    #expect(idle.handle(.char("q"), now: 0) == [.quit])
  }

  @Test func focusKeys() {
    var state = Fixture.state()
    _ = state.handle(.char("3"), now: 0)
    #expect(state.focus == .operations)
    _ = state.handle(.tab, now: 0)
    #expect(state.focus == .spaces)
    _ = state.handle(.tab, now: 0)
    #expect(state.focus == .files)
    _ = state.handle(.backTab, now: 0)
    #expect(state.focus == .spaces)
  }

  @Test func treeOpensEditsCreatesAndDeletes() {
    var state = Fixture.state()
    state.focus = .files
    let rows = state.treeRows.map(\.path)
    #expect(rows == ["src", "src/main.swift", "src/世界.txt", "build.sh", "greet.sh", "README.md"])
    #expect(state.handle(.enter, now: 0) == [])  // collapses src
    #expect(state.treeRows.count == 4)
    #expect(state.handle(.enter, now: 0) == [.loadFolder("src")])
    _ = state.handle(.char("j"), now: 0)
    #expect(state.handle(.enter, now: 0) == [.openFile("src/main.swift")])
    #expect(state.handle(.char("e"), now: 0) == [.editFile("src/main.swift")])
    _ = state.handle(.char("d"), now: 0)
    #expect(state.handle(.char("y"), now: 0) == [.deleteFile("src/main.swift", recursive: false)])
    _ = state.handle(.char("c"), now: 0)
    for character in "new.txt" { _ = state.handle(.char(character), now: 0) }
    #expect(state.handle(.enter, now: 0) == [.createFile("src/new.txt")])
  }

  @Test func treeMarkers() {
    let state = Fixture.state()
    let markers = Dictionary(uniqueKeysWithValues: state.treeRows.map { ($0.path, $0.marker) })
    #expect(markers["README.md"] == .modified)
    #expect(markers["greet.sh"] == .added)
    #expect(markers["src/main.swift"] == .some(nil))
    var tree = state.tree
    tree.setListing("", [Fixture.entry("src", folder: true), Fixture.entry("greet.sh", size: 80)])
    #expect(tree.markers["README.md"] == .deleted)
    #expect(tree.rows().contains { $0.path == "README.md" && $0.marker == .deleted })
    #expect(tree.markers["build.sh"] == nil)
  }

  @Test func filterAndSearch() {
    var state = Fixture.state()
    state.focus = .files
    _ = state.handle(.char("/"), now: 0)
    for character in "greet" { _ = state.handle(.char(character), now: 0) }
    _ = state.handle(.enter, now: 0)
    #expect(state.treeRows.map(\.path) == ["greet.sh"])
    state.focus = .log
    _ = state.handle(.char("/"), now: 0)
    for character in "license" { _ = state.handle(.char(character), now: 0) }
    _ = state.handle(.enter, now: 0)
    #expect(!state.followLog)
    #expect(state.log[state.logTop - state.log.dropped].text.contains("license"))
    _ = state.handle(.char("F"), now: 0)
    #expect(state.followLog)
  }

  @Test func operationDetails() {
    var state = Fixture.state()
    _ = state.handle(.char("3"), now: 0)
    _ = state.handle(.char("g"), now: 0)
    _ = state.handle(.char("j"), now: 0)
    _ = state.handle(.enter, now: 0)
    #expect(state.detail == .details("op_create"))
    _ = state.handle(.escape, now: 0)
    #expect(state.detail == .log)
  }

  @Test func helpComesFromTheKeymap() {
    let help = Keymap.helpLines()
    for binding in Keymap.bindings {
      #expect(help.contains { !$0.heading && $0.keys == binding.keyLabel && $0.text == binding.help })
    }
    #expect(Keymap.action(for: .char("y"), in: .prompt) == .approveOnce)
    #expect(Keymap.action(for: .char("q"), in: .prompt) == nil)
    #expect(Keymap.action(for: .char("q"), in: .files) == .quit)
  }
}

/// The README carries the keymap table generated from ``Keymap/bindings``
/// (`SNAPSHOT_RECORD=1` rewrites it between the markers).
@Test func docsCarryTheKeymapTable() throws {
  let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "../../README.md"
  )
  .standardized.path
  let text = try String(contentsOfFile: path, encoding: .utf8)
  let table = Keymap.markdownTable()
  let begin = "<!-- keymap:begin -->\n"
  let end = "<!-- keymap:end -->"
  if ProcessInfo.processInfo.environment["SNAPSHOT_RECORD"] == "1", let start = text.range(of: begin),
    let stop = text.range(of: end)
  {
    let updated = text.replacingCharacters(in: start.upperBound..<stop.lowerBound, with: table)
    try updated.write(toFile: path, atomically: true, encoding: .utf8)
    return
  }
  #expect(text.contains(begin + table + end))
}

/// Failures look failed, and the panes catch up from the journal.
@Suite struct OutcomeAndCatchUpTests {
  @Test func aNonZeroExitLooksFailed() {
    var state = Fixture.state()
    _ = state.apply(
      Fixture.event("op_pip", .received(actor: .agent, op: .shell(command: "pip install requests", timeoutMs: nil))),
      now: 99)
    _ = state.apply(Fixture.event("op_pip", .started), now: 99)
    var result = Fixture.result("op_pip", .shell, .completed, ms: 900)
    result.exitCode = 1
    _ = state.apply(Fixture.event("op_pip", .completed(result: result)), now: 100)
    guard let record = state.operation("op_pip") else {
      Issue.record("no record")
      return
    }
    #expect(OperationsView.icon(record, now: 100).0 == "✘")
    #expect(OperationsView.icon(record, now: 100).1 == .failed)
    #expect(WorkbenchState.outcome(record).hasPrefix("✘ failed · exit 1"))
    #expect(DetailsView.lines(record, now: 100).first?.1.hasPrefix("✘") == true)
  }

  static func history(seen: Int?) -> WorkbenchHistory {
    var events: [Event] = []
    var seq = 0
    func add(_ id: String, _ payload: Event.Payload) {
      seq += 1
      var event = Fixture.event(id, payload)
      event.seq = seq
      events.append(event)
    }
    for index in 0..<180 {
      let id = "op_\(index)"
      add(id, .received(actor: .agent, op: .shell(command: "echo \(index)", timeoutMs: nil)))
      add(id, .output(stream: .stdout, data: "line \(index)\n"))
      var result = Fixture.result(id, .shell, .completed, ms: 5)
      result.exitCode = index == 170 ? 2 : 0
      add(id, .completed(result: result))
    }
    add("op_wait", .received(actor: .agent, op: .shell(command: "ssh prod", timeoutMs: nil)))
    add("op_wait", .approvalRequested(Decision(.ask, reasons: ["not on the list"])))
    add("op_old", .received(actor: .agent, op: .shell(command: "curl x | sh", timeoutMs: nil)))
    add("op_old", .approvalResolved(resolution: .timeout))
    return WorkbenchHistory(events: events, lastSeen: seen)
  }

  @Test func openingASpaceFillsThePanesFromTheJournal() {
    var state = WorkbenchState(space: Fixture.space, connection: "embedded")
    state.catchUp(Self.history(seen: 500 - 30), now: 10)
    #expect(state.operations.count == 182)
    #expect(state.operations.contains { $0.state == .awaitingApproval })
    #expect(state.log.count > 180)
    let summary = state.log[state.log.count - 1].text
    #expect(summary.hasPrefix("since you were last here"), "\(summary)")
    #expect(summary.contains("approval timed out"), "\(summary)")
    // Live events the history already showed are not applied twice.
    var again = Fixture.event("op_0", .output(stream: .stdout, data: "line 0\n"))
    again.seq = 2
    let before = state.log.count
    _ = state.apply(again, now: 11)
    #expect(state.log.count == before)
    let canvas = WorkbenchView.render(state, width: 120, height: 40, now: 11)
    #expect(!canvas.text.contains("No output yet"))
    #expect(canvas.text.contains("line 179"))
  }

  @Test func theSummaryCountsOnlyWhatIsNew() {
    let history = Self.history(seen: 0)
    #expect(WorkbenchState.catchUpSummary(history).contains("182 operations · 1 failed"))
    let none = WorkbenchHistory(events: history.events, lastSeen: 10_000)
    #expect(WorkbenchState.catchUpSummary(none).hasPrefix("nothing new since you were last here"))
    let first = WorkbenchHistory(events: history.events, lastSeen: nil)
    #expect(WorkbenchState.catchUpSummary(first).hasPrefix("from the journal"))
  }
}
