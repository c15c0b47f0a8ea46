import Foundation
import SpacesKit
import SpacesModel
import Testing

@testable import SpacesWorkbench

@Suite struct RenderTests {
  @Test func graphemeWidths() {
    #expect(TextWidth.width("a") == 1)
    #expect(TextWidth.width("世") == 2)
    #expect(TextWidth.width("👋") == 2)
    #expect(TextWidth.width("👨‍👩‍👧") == 2)
    #expect(TextWidth.width("e\u{301}") == 1)
    #expect(TextWidth.width("🇫🇷") == 2)
    #expect(TextWidth.width("☺︎") == 1)
    #expect(TextWidth.width("❤️") == 2)
    #expect(TextWidth.width("Hello, 世界! 👋") == 15)
    #expect(TextWidth.truncate("世界世界", to: 5) == "世界…")
    #expect(TextWidth.pad("世", to: 3) == "世 ")
  }

  @Test func canvasKeepsWideCharactersAligned() {
    var canvas = Canvas(width: 6, height: 2)
    canvas.put("a世b", x: 0, y: 0)
    canvas.put("世世世世", x: 0, y: 1)
    #expect(canvas.text == "a世b\n世世世")
    canvas.put("x", x: 2, y: 0)  // over the right half of 世
    #expect(canvas.text.split(separator: "\n").first == "a xb")
    var clip = Canvas(width: 3, height: 1)
    clip.put("a世", x: 0, y: 0, limit: 2)
    #expect(clip.text == "a")
  }

  @Test func controlCharactersNeverReachTheScreen() {
    var state = WorkbenchState(space: Fixture.space, connection: "embedded")
    _ = state.apply(Fixture.event("op", .received(actor: .agent, op: .shell(command: "x", timeoutMs: nil))), now: 0)
    _ = state.apply(
      Fixture.event("op", .output(stream: .stdout, data: "\u{1B}]0;title\u{07}\u{1B}[2Jok\r\n")), now: 0)
    let text = WorkbenchView.render(state, width: 80, height: 24, now: 0).text
    #expect(!text.contains("\u{1B}"))
    #expect(text.contains("^[[2Jok"))
  }

  @Test func logIsBounded() {
    var state = WorkbenchState(space: Fixture.space, connection: "embedded")
    _ = state.apply(Fixture.event("op", .received(actor: .agent, op: .shell(command: "yes", timeoutMs: nil))), now: 0)
    let chunk = String(repeating: "y\n", count: 1000)
    for _ in 0..<30 {
      _ = state.apply(
        Fixture.event("op", .output(stream: .stdout, data: chunk)), now: 0)
    }
    #expect(state.log.count == WorkbenchState.logCapacity)
    #expect(state.log.dropped == 30_001 - WorkbenchState.logCapacity)
    let kept = state.operation("op")?.output.count ?? 0
    #expect(kept >= WorkbenchState.outputPerOperation && kept <= WorkbenchState.outputPerOperation * 5 / 4)
  }

  @Test func partialLinesJoin() {
    let state = Fixture.state()
    let texts = (0..<state.log.count).map { state.log[$0].text }
    #expect(texts.contains("  [test] ok"))
  }

  @Test func diffWithLineNumbers() {
    let diff = LineDiff.diff(old: "a\nb\nc\nd\n", new: "a\nB\nc\nd\ne\n", context: 1)
    let rendered = diff.map {
      "\($0.oldNumber.map(String.init) ?? "-") \($0.newNumber.map(String.init) ?? "-") \($0.kind) \($0.text)"
    }
    #expect(
      rendered == ["1 1 context a", "2 - removed b", "- 2 added B", "3 3 context c", "4 4 context d", "- 5 added e"])
    #expect(LineDiff.diff(old: "same\n", new: "same\n").isEmpty)
  }

  @Test func bundledThemesParse() throws {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../themes")
      .standardized.path
    for name in ["default", "light", "high-contrast", "mono"] {
      let theme = try Theme.load(name: name, searchPaths: [folder])
      #expect(theme.name == name)
      for role in Role.allCases { #expect(theme.looks[role] != nil, "\(name) lacks \(role.rawValue)") }
    }
    #expect(try Theme.load(name: "default", searchPaths: [folder]) == Theme.builtIn)
    #expect(Theme.available(searchPaths: [folder]).contains("high-contrast"))
  }

  @Test func themeErrorsSayWhere() {
    #expect(throws: ThemeError.self) { try Theme.parse("text = chartreuse-ish", name: "x") }
    do {
      _ = try Theme.parse("# ok\nbogus = red\n", name: "x")
    } catch {
      #expect(error.line == 2)
      #expect(error.message.contains("unknown role"))
    }
    let look = try? Theme.parse("selection = black on #5fafff bold", name: "x").look(.selection)
    #expect(look?.background == .rgb(0x5F, 0xAF, 0xFF))
    #expect(look?.bold == true)
    #expect(ThemeColor.rgb(0x5F, 0xAF, 0xFF).index256 == 75)
    #expect(ThemeColor.indexed(196).index16 == 9)
  }

  @Test func layoutsReflow() {
    let state = Fixture.prompting([Fixture.shellRequest])
    let wide = WorkbenchLayout.compute(width: 120, height: 40, state: state)
    #expect(!wide.compact && wide.panes.count == 4 && wide.prompt != nil)
    let narrow = WorkbenchLayout.compute(width: 40, height: 12, state: state)
    #expect(narrow.compact && narrow.panes.count == 1)
    #expect(WorkbenchLayout.compute(width: 20, height: 5, state: state).tooSmall)
  }
}

/// On an 8-colour terminal nothing is drawn in the colour beneath it.
@Suite struct EightColourTests {
  @Test func noRoleMapsToTheBackgroundBeneathIt() throws {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("themes").path
    var themes = [Theme.builtIn]
    for name in ["default", "light", "high-contrast", "mono"] {
      themes.append(try Theme.load(name: name, searchPaths: [folder]))
    }
    for theme in themes {
      for role in Role.allCases {
        let (foreground, background, _) = theme.ansi8(role)
        let beneath = background >= 0 ? background : (theme.forLightBackground ? 7 : 0)
        #expect(foreground != beneath, "\(theme.name): \(role) is drawn in the colour beneath it")
        #expect((-1...7).contains(foreground) && (-1...7).contains(background))
      }
    }
    // The case that was black on black: bright-black (grey) text, dim, on the dark default.
    let grey = try Theme.parse("text = default\ndim = bright-black\n", name: "t")
    #expect(grey.ansi8(.dim).foreground == 7)
    #expect(grey.ansi8(.dim).dim)
  }
}
