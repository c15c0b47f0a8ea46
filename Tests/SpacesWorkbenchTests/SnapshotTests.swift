import SpacesKit
import Testing

@testable import SpacesWorkbench

/// Every view rendered as text at three sizes, compared with stored snapshots.
@Suite struct SnapshotTests {
  static let sizes = [(80, 24), (120, 40), (40, 12)]
  static let now = 100.0

  func each(_ name: String, _ render: (Int, Int) -> Canvas) {
    for (width, height) in Self.sizes {
      let canvas = render(width, height)
      #expect(canvas.width == width && canvas.height == height)
      assertSnapshot(canvas.text, named: "\(name).\(width)x\(height)")
    }
  }

  func pane(_ state: WorkbenchState, _ draw: @escaping (inout Canvas, Rect) -> Void) -> (Int, Int) -> Canvas {
    { width, height in
      var canvas = Canvas(width: width, height: height)
      draw(&canvas, canvas.bounds)
      return canvas
    }
  }

  @Test func workbench() {
    var state = Fixture.state()
    state.focus = .log
    each("workbench") { WorkbenchView.render(state, width: $0, height: $1, now: Self.now) }
  }

  @Test func workbenchPromptShell() {
    let state = Fixture.prompting([Fixture.shellRequest, Fixture.editRequest])
    each("workbench-prompt-shell") { WorkbenchView.render(state, width: $0, height: $1, now: Self.now) }
  }

  @Test func workbenchPromptDiff() {
    let state = Fixture.prompting([Fixture.editRequest])
    each("workbench-prompt-diff") { WorkbenchView.render(state, width: $0, height: $1, now: Self.now) }
  }

  @Test func promptDenyField() {
    var state = Fixture.prompting([Fixture.shellRequest])
    _ = state.handle(.char("n"), now: Self.now)
    for character in "use the tests instead" { _ = state.handle(.char(character), now: Self.now) }
    each("prompt-deny") { width, height in
      var canvas = Canvas(width: width, height: height)
      PromptView.draw(state, into: &canvas, rect: canvas.bounds, now: Self.now)
      return canvas
    }
  }

  @Test func promptRuleField() {
    var state = Fixture.prompting([Fixture.shellRequest])
    _ = state.handle(.char("p"), now: Self.now)
    each("prompt-rule") { width, height in
      var canvas = Canvas(width: width, height: height)
      PromptView.draw(state, into: &canvas, rect: canvas.bounds, now: Self.now)
      return canvas
    }
  }

  @Test func files() {
    var state = Fixture.state()
    state.treeSelection = 1
    each("files", pane(state) { FilesView.draw(state, into: &$0, rect: $1) })
  }

  @Test func log() {
    let state = Fixture.state()
    each("log", pane(state) { LogView.draw(state, into: &$0, rect: $1) })
  }

  @Test func logSearch() {
    var state = Fixture.state()
    state.focus = .log
    _ = state.handle(.char("/"), now: Self.now)
    for character in "ok" { _ = state.handle(.char(character), now: Self.now) }
    _ = state.handle(.enter, now: Self.now)
    each("log-search", pane(state) { LogView.draw(state, into: &$0, rect: $1) })
  }

  @Test func operations() {
    var state = Fixture.state()
    state.focus = .operations
    each("operations", pane(state) { OperationsView.draw(state, into: &$0, rect: $1, now: Self.now) })
  }

  @Test func spaces() {
    let state = Fixture.prompting([Fixture.shellRequest])
    each("spaces", pane(state) { SpacesView.draw(state, into: &$0, rect: $1) })
  }

  @Test func viewer() {
    var state = Fixture.state()
    state.showFile(WorkbenchState.FileView(path: "greet.sh", text: Fixture.greet + "# 世界 👋 done\n"))
    state.viewerSearch = "name"
    guard case .viewer(let view) = state.detail else { return }
    each("viewer", pane(state) { ViewerView.draw(view, state: state, into: &$0, rect: $1) })
  }

  @Test func details() {
    let state = Fixture.state()
    each(
      "details",
      pane(state) { DetailsView.draw(state.operation("op_build"), state: state, into: &$0, rect: $1, now: Self.now) })
  }

  @Test func help() {
    each("help") { width, height in
      var canvas = Canvas(width: width, height: height)
      HelpView.draw(into: &canvas, scroll: 0)
      return canvas
    }
  }

  /// Help's last page: the questions', the fields', help's own and the banner's keys.
  @Test func helpEnd() {
    each("help-end") { width, height in
      var canvas = Canvas(width: width, height: height)
      HelpView.draw(into: &canvas, scroll: HelpView.maxScroll(height: height))
      return canvas
    }
  }

  @Test func confirmQuit() {
    var state = Fixture.state()
    _ = state.handle(.char("q"), now: Self.now)
    #expect(state.overlay == .confirm(.quit(running: 1)))
    each("confirm-quit") { WorkbenchView.render(state, width: $0, height: $1, now: Self.now) }
  }

  @Test func status() {
    var unisolated = Fixture.state()
    unisolated.space = SpaceSummary(name: "demo", backend: "host", isolated: false, policy: "permissive")
    for (width, _) in Self.sizes {
      for (name, state) in [("status", Fixture.state()), ("status-unisolated", unisolated)] {
        var canvas = Canvas(width: width, height: 1)
        StatusView.draw(state, into: &canvas, rect: canvas.bounds, now: Self.now)
        assertSnapshot(canvas.text, named: "\(name).\(width)x1")
      }
    }
  }

  @Test func tooSmall() {
    let canvas = WorkbenchView.render(Fixture.state(), width: 28, height: 7, now: Self.now)
    assertSnapshot(canvas.text, named: "too-small.28x7")
    #expect(canvas.text.contains("too small"))
  }

  @Test func rendersAtManySizesWithoutTrapping() {
    let state = Fixture.prompting([Fixture.shellRequest, Fixture.editRequest])
    for width in stride(from: 1, through: 130, by: 7) {
      for height in stride(from: 1, through: 45, by: 4) {
        _ = WorkbenchView.render(state, width: width, height: height, now: Self.now)
      }
    }
  }
}
