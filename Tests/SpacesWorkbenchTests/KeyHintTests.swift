import Foundation
import SpacesModel
import Testing

@testable import SpacesWorkbench

/// Key hints, pane numbers and log footers come from data (the keymap, the line), not from
/// strings written beside it.
@Suite struct KeyHintTests {
  @Test func everyHintNamesAKeyThatDoesItsAction() {
    // The status line's context is the focused pane's, never the prompt's or an overlay's
    // (their hints are checked in KeymapCoverageTests).
    for context in KeyContext.allCases where context.fallsBackToGlobal {
      for hint in StatusView.hints(for: context) {
        for action in hint.actions {
          let keys = Keymap.keys(for: action, in: context)
          #expect(!keys.isEmpty, "no key for \(hint.label) in \(context)")
          for key in keys { #expect(Keymap.action(for: key, in: context) == action) }
        }
        #expect(!hint.keys(in: context).isEmpty)
      }
    }
  }

  @Test func aKeyTheContextRebindsIsNotOfferedForTheGlobalAction() {
    // In the viewer `q` closes; quitting is still ctrl-c there.
    #expect(Keymap.keys(for: .quit, in: .viewer) == [.ctrl("c")])
    #expect(Keymap.keys(for: .quit, in: .files) == [.char("q"), .ctrl("c")])
    // The prompt doesn't fall back to the global keys: `J`/`K` scroll it, not `j`/`k`.
    #expect(Keymap.keys(for: .down, in: .prompt) == [.char("J")])
    #expect(KeyHint("scroll", .down, .up).keys(in: .global) == "j/k")
    #expect(KeyHint.key(.open, in: .files) == "⏎")
  }

  @Test func paneNumbersAreTheKeysThatFocusThem() {
    for pane in Pane.allCases {
      guard let key = Keymap.focusKey(pane) else {
        Issue.record("no key focuses \(pane)")
        continue
      }
      #expect(Keymap.action(for: key, in: .global) == .focus(pane))
      #expect(PaneDrawing.title(pane, "x") == "[\(key.name)] x")
    }
    #expect(PaneDrawing.title(.log, "Decisions") == "[2] Decisions")
  }

  @Test func aFootersLookIsCarriedWithIt() {
    var state = WorkbenchState(space: Fixture.space, connection: "embedded")
    for (id, status, code) in [("op_1", OperationResult.Status.completed, Int32(0)), ("op_2", .completed, 3)] {
      _ = state.apply(Fixture.event(id, .received(actor: .agent, op: .shell(command: "make", timeoutMs: nil))), now: 1)
      _ = state.apply(Fixture.event(id, .started), now: 1)
      _ = state.apply(Fixture.event(id, .output(stream: .stdout, data: "out\n")), now: 1)
      var result = Fixture.result(id, .shell, status, ms: 5)
      result.exitCode = code
      _ = state.apply(Fixture.event(id, .completed(result: result)), now: 2)
    }
    let footers = (0..<state.log.count).map { state.log[$0] }.filter { $0.kind == .footer }
    #expect(footers.map(\.ending) == [.ok, .failed])

    // The look follows the data, whatever the text says.
    state.log = LogBuffer(capacity: 10)
    state.log.append(LogLine(kind: .footer, opId: "op_1", text: "✔ done", ending: .failed))
    var canvas = Canvas(width: 40, height: 5)
    LogView.draw(state, into: &canvas, rect: canvas.bounds)
    let row = (0..<canvas.height).first { y in (0..<canvas.width).contains { canvas[$0, y].text == "✔" } }
    let cell = row.flatMap { y in (0..<canvas.width).map { canvas[$0, y] }.first { $0.text == "✔" } }
    #expect(cell?.style.role == .failed)
  }
}
