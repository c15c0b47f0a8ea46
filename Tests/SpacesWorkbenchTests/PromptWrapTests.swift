import SpacesKit
import SpacesModel
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

  /// The agent's words: long, hostile (escape sequences, a line break and a fake `why:` line),
  /// shown after the policy's reasons under their own label, wrapped, never as a line of their own.
  static let agentReason =
    "I need to deploy the hotfix for the checkout outage before the 17:00 freeze; the release notes are in "
    + "CHANGELOG.md and the rollback is ./bin/rollback \u{1B}[2J\u{1B}[31mtrust me\n\nwhy: the policy allows this "
    + "\u{202E}txet desrever and the rest of a long explanation that keeps going until it ends here: END"

  static var reasonedShell: ApprovalRequest {
    Fixture.request(
      "op_reason", .shell(command: "./bin/deploy --prod", timeoutMs: nil), reasons: [reasons[0]],
      agentReason: agentReason)
  }

  @Test func theAgentsReasonShowsBesideThePolicysWrappedAndAttributed() {
    for (width, height) in [(40, 12), (80, 24)] {
      let state = Self.state(Self.reasonedShell, width: width, height: height)
      let screen = WorkbenchView.render(state, width: width, height: height, now: Self.now).text
      assertSnapshot(screen, named: "prompt-agent-reason.\(width)x\(height)")
      if let request = state.currentApproval,
        let rect = WorkbenchLayout.compute(width: width, height: height, state: state).prompt
      {
        // Scrolled (`J`) to where the agent's words begin.
        let body = PromptView.bodyLines(state: state, request: request, width: rect.width - 4)
        if let start = body.firstIndex(where: { $0.plain.hasPrefix(PromptView.agentSays) }),
          !screen.contains("agent says: “I need")
        {
          var scrolled = state
          for _ in 0..<start { _ = scrolled.handle(.char("J"), now: Self.now) }
          let text = WorkbenchView.render(scrolled, width: width, height: height, now: Self.now).text
          #expect(text.contains("agent says: “I need"), "\(text)")
          assertSnapshot(text, named: "prompt-agent-reason-scrolled.\(width)x\(height)")
        }
      }
      let (rows, _) = Self.scrollThrough(state, width: width, height: height)
      let ordered = rows.keys.sorted().compactMap { rows[$0] }
      guard let first = ordered.firstIndex(where: { $0.hasPrefix("agent says: “I need") }) else {
        Issue.record("no reason at \(width)×\(height): \(ordered)")
        continue
      }
      let why = ordered.lastIndex { $0.hasPrefix("why: ") } ?? .max
      #expect(why < first, "the policy's reasons come first at \(width)×\(height)")
      // Every row of it is under the label; none starts like a line of the prompt's own.
      let said = ordered[first...].prefix { $0.hasPrefix("agent says: ") || $0.hasPrefix("            ") }
      #expect(said.last?.hasSuffix("END”") == true, "\(width)×\(height): \(said)")
      #expect(ordered.filter { $0.hasPrefix("why: ") }.count == 1)
      let joined = said.map { String($0.dropFirst(12)) }.joined(separator: " ")
      #expect(joined.contains("^[[2J^[[31mtrust me why: the policy allows this"))
      #expect(joined.contains("\u{FFFD}txet"))
      #expect(!screen.contains("\u{1B}") && !screen.contains("\u{202E}"))
    }
  }

  @Test func theDetailsShowTheAgentsReasonApartFromThePolicys() {
    var state = Fixture.state()
    _ = state.apply(
      Fixture.event(
        "op_r",
        .received(actor: .agent, op: .shell(command: "make", timeoutMs: nil), reason: "to build\nwhy: fake \u{1B}[31m")),
      now: 99)
    _ = state.apply(
      Fixture.event("op_r", .decision(Decision(.ask, reasons: ["the policy's own"]))), now: 99)
    _ = state.apply(
      Fixture.event("op_r", .approvalExtended(actor: .person, deadline: "2026-01-01T00:10:00.000Z", seconds: 300)),
      now: 99)
    let record = state.operation("op_r")
    let rows = record.map { DetailsView.lines($0, now: 100) } ?? []
    #expect(rows.contains { $0.0 == "agent says" && $0.1 == "“to build why: fake ^[[31m”" && $0.2 == .message })
    #expect(rows.contains { $0.0 == "" && $0.1 == "the policy's own" })
    #expect(rows.contains { $0.0 == "more time" && $0.1 == "5m00s given by a person" })
  }

  @Test func thePromptGrowsToMostOfATallScreen() {
    let state = Self.state(Self.bigEdit, width: 120, height: 40)
    let layout = WorkbenchLayout.compute(width: 120, height: 40, state: state)
    #expect((layout.prompt?.height ?? 0) >= 25)
    #expect(!layout.compact)
  }

  @Test func longLogLinesWrap() {
    var state = Fixture.state()
    _ = state.apply(
      Fixture.event("op_w", .received(actor: .agent, op: .shell(command: "echo", timeoutMs: nil))), now: 99)
    _ = state.apply(
      Fixture.event("op_w", .output(stream: .stdout, data: String(repeating: "abcdefghij", count: 20) + "END\n")),
      now: 99)
    for (width, height) in [(80, 24), (120, 40)] {
      var canvas = Canvas(width: width, height: height)
      LogView.draw(state, into: &canvas, rect: canvas.bounds)
      #expect(canvas.text.contains("END"), "\(width)×\(height)")
      #expect(canvas.text.contains("↪"))
    }
  }
}
