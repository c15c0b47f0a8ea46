import SpacesKit
import Testing

@testable import SpacesWorkbench

/// Nothing that is approved is ever clipped: the prompt wraps a 300-column command, long
/// reasons and a 200-line diff, and scrolls to every row of them.
@Suite struct PromptWrapTests {
  static let sizes = [(40, 12), (60, 20), (80, 24), (120, 40)]
  static let now = 100.0

  static let command =
    "cat > /srv/app/releases/2026-01-01/.env <<'EOF' && tar czf build.tgz dist/ assets/ migrations/ "
    + "&& scp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null build.tgz deploy@prod:/srv/app/releases/ "
    + "&& ssh deploy@prod \"cd /srv/app && tar xzf releases/build.tgz -C current && ./bin/migrate --all "
    + "&& sudo systemctl restart app\""

  static let reasons = [
    "`ssh` reaches another machine: the standard policy asks before any command that connects to a host, "
      + "because what runs there is outside the space and can't be undone by deleting the workspace",
    "`scp` copies files out of the workspace to deploy@prod (network access is off in this space's config, "
      + "so the command may fail anyway)",
  ]

  static var longShell: ApprovalRequest {
    Fixture.request("op_long", .shell(command: command, timeoutMs: 30_000), reasons: reasons)
  }

  static var bigEdit: ApprovalRequest {
    Fixture.request(
      "op_big", .createFile(path: "notes.txt", content: "", encoding: .utf8), reasons: ["writes a lot"])
  }

  static func state(_ request: ApprovalRequest, width: Int, height: Int) -> WorkbenchState {
    var state = Fixture.prompting([request])
    state.screen = (width, height)
    if request.id == "op_big" {
      let text = (1...200).map {
        "line \($0) of the new notes: " + String(repeating: "words ", count: $0 % 30) + "#\($0)"
      }
      .joined(separator: "\n")
      state.promptDetails[request.id] = PromptDetail(diff: LineDiff.diff(old: "", new: text), note: "new file")
    }
    return state
  }

  /// The text of row `y` between columns `x0` and `x1`, trailing spaces removed.
  static func row(_ canvas: Canvas, _ y: Int, from x0: Int, to x1: Int) -> String {
    var text = ""
    for x in x0..<x1 { text += canvas[x, y].text }
    while text.hasSuffix(" ") { text.removeLast() }
    return text
  }

  /// Every body row of the prompt, by index, gathered by scrolling with `J` to the end.
  static func scrollThrough(_ start: WorkbenchState, width: Int, height: Int) -> (rows: [Int: String], steps: Int) {
    var state = start
    var rows: [Int: String] = [:]
    var steps = 0
    while true {
      let canvas = WorkbenchView.render(state, width: width, height: height, now: now)
      guard let rect = WorkbenchLayout.compute(width: width, height: height, state: state).prompt,
        let request = state.currentApproval
      else { return (rows, steps) }
      let content = rect.inset(1)
      let body = PromptView.bodyLines(state: state, request: request, width: content.width - 2)
      let (scroll, shown, up, _) = PromptView.window(
        count: body.count, rows: content.height - 1, scroll: state.promptScroll)
      let firstRow = content.y + (up ? 1 : 0)
      for offset in 0..<shown {
        rows[scroll + offset] = row(canvas, firstRow + offset, from: content.x + 1, to: content.maxX - 1)
      }
      if scroll + shown >= body.count { return (rows, steps) }
      #expect(row(canvas, firstRow + shown, from: content.x + 1, to: content.maxX - 1).hasPrefix("↓ "))
      // A page at a time (the rows between are shown by the page before or after); `J`
      // itself is tested in the snapshots.
      state.promptScroll = scroll + max(1, shown)
      steps += 1
      if steps > 2000 { return (rows, steps) }
    }
  }

  @Test func wrappingKeepsEveryCharacter() {
    for width in [1, 7, 38, 56, 76, 116] {
      let pieces = TextWidth.wrap(Self.command, width: width).pieces
      #expect(pieces.joined() == Self.command)
      #expect(pieces.allSatisfy { TextWidth.width($0) <= width })
    }
    let wide = TextWidth.wrap("世界世界世界 hello", width: 5).pieces
    #expect(wide.joined() == "世界世界世界 hello")
    #expect(wide.allSatisfy { TextWidth.width($0) <= 5 })
  }

  @Test func everyCharacterOfALongCommandIsReachable() {
    #expect(Self.command.count >= 300)
    for (width, height) in Self.sizes {
      let state = Self.state(Self.longShell, width: width, height: height)
      let (rows, _) = Self.scrollThrough(state, width: width, height: height)
      let ordered = rows.keys.sorted().compactMap { rows[$0] }
      guard let layout = WorkbenchLayout.compute(width: width, height: height, state: state).prompt else {
        Issue.record("no prompt at \(width)×\(height)")
        continue
      }
      let pieces = TextWidth.wrap(Self.command, width: layout.width - 6).pieces
      guard let start = ordered.firstIndex(where: { $0.hasPrefix("$ ") }) else {
        Issue.record("no command at \(width)×\(height): \(ordered)")
        continue
      }
      for (index, piece) in pieces.enumerated() {
        let shown = start + index < ordered.count ? ordered[start + index] : ""
        let trimmed = String(piece.reversed().drop { $0 == " " }.reversed())
        #expect(shown == (index == 0 ? "$ " : "  ") + trimmed, "\(width)×\(height) piece \(index)")
      }
      for reason in Self.reasons {
        let words = reason.split(separator: " ").suffix(3).joined(separator: " ")
        #expect(ordered.contains { $0.hasSuffix(words) }, "\(width)×\(height): the end of a reason")
      }
      #expect(ordered.contains { $0.contains("time limit 30.0s") })
    }
  }

  @Test func aTwoHundredLineDiffScrollsToItsEnd() {
    for (width, height) in Self.sizes {
      var state = Self.state(Self.bigEdit, width: width, height: height)
      let top = WorkbenchView.render(state, width: width, height: height, now: Self.now).text
      #expect(top.contains("line 1 of") && top.contains("more (J)"), "\(width)×\(height)")
      // Past the end the prompt stays at its last page: the last line shows, nothing below.
      state.promptScroll = 1_000_000
      let end = WorkbenchView.render(state, width: width, height: height, now: Self.now).text
      #expect(end.contains("#200"), "\(width)×\(height)")
      #expect(end.contains("more (K)") && !end.contains("more (J)"), "\(width)×\(height)")
      // One K from the end goes back a line (and the `↓` row takes one more).
      _ = state.handle(.char("K"), now: Self.now)
      let back = WorkbenchView.render(state, width: width, height: height, now: Self.now).text
      #expect(back.contains("↓ 2 more (J)"), "\(width)×\(height)")
    }
  }

  @Test func snapshots() {
    for (width, height) in Self.sizes {
      for (name, request) in [("prompt-long-command", Self.longShell), ("prompt-long-diff", Self.bigEdit)] {
        var state = Self.state(request, width: width, height: height)
        let first = WorkbenchView.render(state, width: width, height: height, now: Self.now).text
        assertSnapshot(first, named: "\(name).\(width)x\(height)")
        for _ in 0..<3 { _ = state.handle(.char("J"), now: Self.now) }
        let canvas = WorkbenchView.render(state, width: width, height: height, now: Self.now)
        // What fits shows whole; what doesn't scrolls.
        #expect(canvas.text.contains("↑ 3 more") == first.contains("↓ "), "\(name) \(width)×\(height)")
        assertSnapshot(canvas.text, named: "\(name)-scrolled.\(width)x\(height)")
      }
    }
  }

  @Test func thePromptGrowsToMostOfATallScreen() {
    let state = Self.state(Self.bigEdit, width: 120, height: 40)
    let layout = WorkbenchLayout.compute(width: 120, height: 40, state: state)
    #expect((layout.prompt?.height ?? 0) >= 25)
    #expect(!layout.compact)
  }

  @Test func longLogLinesWrap() {
    var state = Fixture.state()
    _ = state.apply(Fixture.event("op_w", .received) { $0.op = .shell(command: "echo", timeoutMs: nil) }, now: 99)
    _ = state.apply(
      Fixture.event("op_w", .output) {
        $0.stream = "stdout"
        $0.data = String(repeating: "abcdefghij", count: 20) + "END\n"
      }, now: 99)
    for (width, height) in [(80, 24), (120, 40)] {
      var canvas = Canvas(width: width, height: height)
      LogView.draw(state, into: &canvas, rect: canvas.bounds)
      #expect(canvas.text.contains("END"), "\(width)×\(height)")
      #expect(canvas.text.contains("↪"))
    }
  }
}
