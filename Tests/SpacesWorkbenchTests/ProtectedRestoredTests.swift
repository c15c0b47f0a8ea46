import Foundation
import SpacesKit
import SpacesModel
import Testing

@testable import SpacesWorkbench

/// What the person sees when a command's change to a protected path was put back.
@Suite struct ProtectedRestoredTests {
  @Test func theLogTheFooterAndTheDetailsSayWhatWasPutBack() {
    var state = WorkbenchState(space: Fixture.space, connection: "embedded")
    let id = "op_1"
    _ = state.apply(
      Fixture.event(id, .received(actor: .agent, op: .shell(command: "sh attack.sh", timeoutMs: nil))), now: 1)
    _ = state.apply(Fixture.event(id, .started), now: 1)
    let changes = [
      ProtectedChange(path: ".git/hooks/pre-commit", change: .modified, action: .restored, rule: "git-hooks"),
      ProtectedChange(path: "evil\nname", change: .created, action: .removed, rule: "env-files"),
    ]
    let intents = state.apply(
      Fixture.event(
        id, .protectedRestored(restored: changes, reason: "protected paths change only with a person's approval")),
      now: 2)
    #expect(intents.contains(.refreshTree))
    var result = Fixture.result(id, .shell, .completed, ms: 12)
    result.exitCode = 0
    result.restored = changes.map(\.path)
    _ = state.apply(Fixture.event(id, .completed(result: result)), now: 3)
    let lines = (0..<state.log.count).map { state.log[$0] }
    #expect(lines.first?.kind == .header)
    let notices = lines.filter { $0.kind == .notice }.map(\.text)
    #expect(notices.first == "⚠ put back .git/hooks/pre-commit (modified by the command): only with your approval")
    #expect(notices.count == 2)
    #expect(notices.allSatisfy { !$0.contains("\n") })
    #expect(lines.last?.kind == .footer)
    #expect(lines.last?.text.contains("⚠ 2 protected paths put back") == true)

    let rows = state.operation(id).map { DetailsView.lines($0, now: 3) } ?? []
    #expect(!rows.isEmpty)
    #expect(rows.contains { $0.0 == "protected" && $0.1.hasPrefix("put back .git/hooks/pre-commit") })
    #expect(rows.contains { $0.1 == "removed evil^Jname (created by the command)" })
  }

  @Test func theJournalLineNamesThePaths() {
    let event = Event(
      space: "s", opId: "op_1",
      .protectedRestored(
        restored: [ProtectedChange(path: ".envrc", change: .deleted, action: .restored, rule: "envrc")], reason: "r"))
    #expect(EventText.body(event) == "protected paths put back: put back .envrc (deleted by the command)")
  }
}
