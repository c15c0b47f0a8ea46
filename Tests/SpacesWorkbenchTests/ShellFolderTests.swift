import SpacesKit
import Testing

@testable import SpacesWorkbench

/// The status line shows the shell session's folder that the last shell result reported.
@Suite struct ShellFolderTests {
  func statusLine(_ state: WorkbenchState, width: Int) -> String {
    let canvas = WorkbenchView.render(state, width: width, height: 24, now: 100)
    return canvas.text.split(separator: "\n", omittingEmptySubsequences: false).last { !$0.isEmpty }.map(String.init)
      ?? ""
  }

  @Test func theStatusLineShowsTheFolderOnceItLeavesTheRoot() {
    var state = Fixture.state()
    #expect(!statusLine(state, width: 120).contains("./"))
    var result = Fixture.result("op_cd", .shell, .completed, ms: 3)
    result.cwd = "src/lib"
    _ = state.apply(Fixture.event("op_cd", .completed(result: result)), now: 100)
    #expect(state.shellFolder == "src/lib")
    #expect(statusLine(state, width: 120).contains("│ ./src/lib "))
    #expect(statusLine(state, width: 60).contains("./src/lib"))
    // A file operation's result says nothing about the shell.
    _ = state.apply(
      Fixture.event("op_read", .completed(result: Fixture.result("op_read", .readFile, .completed, ms: 1))),
      now: 100)
    #expect(state.shellFolder == "src/lib")
    result.cwd = "."
    _ = state.apply(Fixture.event("op_back", .completed(result: result)), now: 100)
    #expect(!statusLine(state, width: 120).contains("./src"))
  }
}
