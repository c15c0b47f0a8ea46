import SpacesModel

/// The approval prompt, docked at the bottom.
///
/// Nothing in it is ever clipped: the command, the policy's reasons, the diff and the rule
/// preview wrap to the prompt's width, and when they don't fit the prompt scrolls (`J`/`K`)
/// between `↑ N more` and `↓ N more` markers.
public enum PromptView {
  /// One row of the prompt's body.
  enum Line: Equatable {
    /// Text in a style.
    case text(String, Style)
    /// A piece of a diff line: the first piece carries the line numbers and the sign.
    case diff(DiffLine, piece: String, first: Bool)

    /// The row as plain text (for tests and widths).
    var plain: String {
      switch self {
      case .text(let text, _): text
      case .diff(_, let piece, _): piece
      }
    }
  }

  /// The label of the agent's stated reason.
  static let agentSays = "agent says: "

  /// Columns a diff line's numbers and sign take before its text.
  static let diffGutter = 12

  /// The rows the prompt would like at `width` (borders and the choices row included).
  public static func height(state: WorkbenchState, request: ApprovalRequest, width: Int) -> Int {
    bodyLines(state: state, request: request, width: width - 4).count + 3
  }

  /// The body wrapped to `width` columns: the rule preview while the rule is edited, what will
  /// run, why, and the diff.
  static func bodyLines(state: WorkbenchState, request: ApprovalRequest, width: Int) -> [Line] {
    let width = max(4, width)
    var lines: [Line] = []
    func add(_ text: String, _ style: Style, first: String = "", rest: String = "") {
      let room = max(1, width - TextWidth.width(first))
      for (index, piece) in TextWidth.wrap(text, width: room).pieces.enumerated() {
        lines.append(.text((index == 0 ? first : rest) + piece, style))
      }
    }
    if case .input(.rule(let id), let text) = state.overlay, id == request.id {
      add("saves to the space's policy.yaml:", Style(.dim, bold: true))
      let yaml = WorkbenchState.rules(request.suggestedRules, editedTo: text).map(\.yaml).joined()
      for line in LineDiff.lines(yaml) { add(line, Style(.text), first: "  ", rest: "  ") }
      lines.append(.text("", Style(.text)))
    }
    let note = state.promptDetails[request.id]?.note.map { " (\($0))" } ?? ""
    switch request.op {
    case .shell(let command, let timeout, let fresh):
      // `$ ` starts the command, `> ` each further line of it (as a shell's PS2), and a
      // wrapped piece continues under two spaces.
      for (index, line) in LineDiff.lines(EventText.sanitize(command)).enumerated() {
        add(line, Style(.text, bold: true), first: index == 0 ? "$ " : "> ", rest: "  ")
      }
      if let timeout {
        add(
          "time limit \(WorkbenchState.duration(timeout)) for the command once it runs", Style(.dim), first: "  ",
          rest: "  ")
      }
      if let cwd = request.cwd, !fresh {
        add("in ./\(EventText.sanitize(cwd)) (the shell session's folder)", Style(.dim), first: "  ", rest: "  ")
      }
      if fresh {
        add(
          "in a fresh shell: the workspace root, no variables carried from earlier commands", Style(.dim),
          first: "  ", rest: "  ")
      }
    case .createFile(let path, _, _):
      add("create \(EventText.sanitize(path))" + note, Style(.text, bold: true), rest: "  ")
    case .editFile(let path, _, _):
      add("edit \(EventText.sanitize(path))" + note, Style(.text, bold: true), rest: "  ")
    case .deleteFile(let path, let recursive):
      add(
        "delete \(EventText.sanitize(path))\(recursive ? " and everything in it" : "")", Style(.text, bold: true),
        rest: "  ")
    case .readFile(let path):
      add("read \(EventText.sanitize(path))", Style(.text, bold: true), rest: "  ")
    case .message(let text):
      for (index, line) in LineDiff.lines(EventText.sanitize(text)).enumerated() {
        add(line, Style(.text), first: index == 0 ? "message: " : "         ", rest: "         ")
      }
    }
    for reason in request.decision.reasons {
      add(EventText.sanitize(reason), Style(.waiting), first: "why: ", rest: "     ")
    }
    // The agent's own words, apart from the policy's: one paragraph in quotes under its label,
    // so nothing it says can pass for a `why:` line.
    if let said = (request.reason ?? state.operation(request.id)?.agentReason).map(StatedReason.display),
      !said.isEmpty
    {
      add("“" + said + "”", Style(.message), first: agentSays, rest: String(repeating: " ", count: agentSays.count))
    }
    if let diff = state.promptDetails[request.id]?.diff {
      let room = max(1, width - diffGutter)
      for line in diff {
        let text = line.kind == .separator ? "" : EventText.sanitize(line.text)
        for (index, piece) in TextWidth.wrap(text, width: room).pieces.enumerated() {
          lines.append(.diff(line, piece: piece, first: index == 0))
        }
      }
    }
    return lines
  }

  /// How the body fits in `rows` when scrolled by `scroll` (clamped): the first line shown, how
  /// many show, and whether an `↑` row goes above them and a `↓` row below.
  static func window(count: Int, rows: Int, scroll: Int) -> (first: Int, lines: Int, up: Bool, down: Bool) {
    if count <= rows { return (0, count, false, false) }
    if rows < 3 {
      let first = min(max(0, scroll), count - max(0, rows))
      return (first, max(0, rows), false, false)
    }
    let first = min(max(0, scroll), count - (rows - 1))
    let up = first > 0
    let down = count - first > rows - (up ? 1 : 0)
    return (first, rows - (up ? 1 : 0) - (down ? 1 : 0), up, down)
  }

  /// The furthest the body of the prompt at `rect` scrolls.
  static func maxScroll(_ state: WorkbenchState, request: ApprovalRequest, rect: Rect) -> Int {
    let content = rect.inset(1)
    let count = bodyLines(state: state, request: request, width: content.width - 2).count
    return window(count: count, rows: max(0, content.height - 1), scroll: .max).first
  }

  /// "4:32 left", "9s left": the time until the request's deadline.
  static func countdown(_ state: WorkbenchState, request: ApprovalRequest, now: Double) -> (String, Role)? {
    guard let deadline = state.deadlines[request.id] else { return nil }
    let left = max(0, Int((deadline - now).rounded(.up)))
    let text = left >= 60 ? "\(left / 60):\(left % 60 < 10 ? "0" : "")\(left % 60) left" : "\(left)s left"
    return (text, left <= 30 ? .failed : .waiting)
  }

  /// Draws the prompt.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double) {
    guard let request = state.currentApproval else { return }
    canvas.fill(rect, Style(.prompt))
    canvas.box(rect, role: .waiting)
    var title = " ⚠ Approval needed "
    let all = state.approvals
    if all.count > 1, let index = all.firstIndex(where: { $0.id == request.id }) {
      title += "· \(index + 1) of \(all.count) "
    }
    var x = rect.x + 2
    x += canvas.put(title, x: x, y: rect.y, Style(.promptTitle, bold: true), limit: rect.width - 4)
    if let (left, role) = countdown(state, request: request, now: now), x < rect.maxX - 4 {
      x += canvas.put("· ", x: x, y: rect.y, Style(.promptTitle, bold: true), limit: rect.maxX - 2 - x)
      x += canvas.put(left + " ", x: x, y: rect.y, Style(role, bold: true), limit: rect.maxX - 2 - x)
    }
    let who = state.operation(request.id)?.actor == .person ? "you" : "the agent"
    canvas.boxTag(rect, "\(who) · \(request.op.kind.rawValue) · \(request.id)", Style(.dim))
    let inner = rect.inset(1)
    let content = Rect(x: inner.x + 1, y: inner.y, width: inner.width - 2, height: inner.height)
    guard !content.isEmpty else { return }

    let bodyRows = max(0, content.height - 1)
    let body = bodyLines(state: state, request: request, width: content.width)
    let (scroll, shown, up, down) = window(count: body.count, rows: bodyRows, scroll: state.promptScroll)
    var y = content.y
    if up {
      canvas.put(
        "↑ \(scroll) more (\(KeyHint.key(.up, in: .prompt)))", x: content.x, y: y, Style(.dim), limit: content.width)
      y += 1
    }
    for line in body.dropFirst(scroll).prefix(shown) {
      draw(line, into: &canvas, x: content.x, y: y, width: content.width)
      y += 1
    }
    let below = body.count - scroll - shown
    if down {
      canvas.put(
        "↓ \(below) more (\(KeyHint.key(.down, in: .prompt)))", x: content.x, y: y, Style(.waiting, bold: true),
        limit: content.width)
    } else if below > 0, bodyRows > 0 {
      let more = "↓\(below)"
      canvas.put(more, x: content.maxX - TextWidth.width(more), y: y - 1, Style(.waiting, bold: true))
    }
    y = content.y + bodyRows
    guard y < content.maxY else { return }
    drawChoices(state, request: request, into: &canvas, content: content, y: y, now: now)
  }

  static func draw(_ line: Line, into canvas: inout Canvas, x: Int, y: Int, width: Int) {
    switch line {
    case .text(let text, let style):
      canvas.put(text, x: x, y: y, style, limit: width)
    case .diff(let diff, let piece, let first):
      drawDiffLine(diff, piece: piece, first: first, into: &canvas, x: x, y: y, width: width)
    }
  }

  /// The hints beside the deny field.
  static let denyHints = [KeyHint("deny", .accept), KeyHint("back", .cancel)]
  /// The hints beside the rule field.
  static let ruleHints = [KeyHint("save & run", .accept), KeyHint("back", .cancel)]

  /// The choices row, or the field of a deny or a rule being written.
  static func drawChoices(
    _ state: WorkbenchState, request: ApprovalRequest, into canvas: inout Canvas, content: Rect, y: Int, now: Double
  ) {
    var field: (label: String, text: String, hint: String)?
    switch state.overlay {
    case .input(.denyFeedback, let text):
      field = ("feedback for the agent: ", text, "  " + KeyHint.line(denyHints, in: .input))
    case .input(.rule, let text): field = ("always allow: ", text, "  " + KeyHint.line(ruleHints, in: .input))
    default: break
    }
    var x = content.x
    if let field {
      x += canvas.put(field.label, x: x, y: y, Style(.key), limit: content.maxX - x)
      let room = max(4, content.maxX - x - TextWidth.width(field.hint))
      let shown = TextWidth.width(field.text) >= room ? "…" + String(field.text.suffix(room - 2)) : field.text
      canvas.fill(Rect(x: x, y: y, width: min(room, content.maxX - x), height: 1), Style(.input))
      let used = canvas.put(shown + "█", x: x, y: y, Style(.input), limit: room)
      x += max(used, room)
      canvas.put(field.hint, x: x, y: y, Style(.dim), limit: content.maxX - x)
      return
    }
    let paused = state.promptShown.map { now - $0.at < WorkbenchState.promptGuard } ?? false
    let narrow = content.width < 60
    let choices = [
      KeyHint("once", .approveOnce), KeyHint(narrow ? "session" : "this session", .approveSession),
      KeyHint(request.suggestedRules.isEmpty ? (narrow ? "—" : "always (no rule)") : "always…", .approveAlways),
      KeyHint("deny…", .deny),
    ]
    for choice in choices {
      let (key, label) = (choice.keys(in: .prompt), choice.label)
      guard x < content.maxX else { break }
      x += canvas.put(
        narrow ? key : "[" + key + "]", x: x, y: y, paused ? Style(.dim) : Style(.key, bold: true),
        limit: content.maxX - x)
      x += canvas.put(
        " " + label + (narrow ? "  " : "   "), x: x, y: y, Style(paused ? .dim : .text), limit: content.maxX - x)
    }
    let waiting = state.spaces.reduce(0) { $0 + $1.pending }
    if waiting > 1, x < content.maxX - 10 {
      x += canvas.put(
        KeyHint.key(.nextRequest, in: state.context) + " next  ", x: x, y: y, Style(.dim), limit: content.maxX - x)
    }
    if x < content.maxX - 14 {
      x += canvas.put(
        KeyHint.key(.extendDeadline, in: .prompt) + " more time  ", x: x, y: y, Style(.dim), limit: content.maxX - x)
    }
    if !request.suggestedRules.isEmpty, x < content.maxX - 12 {
      let rule = "rule: " + WorkbenchState.editableRuleText(request.suggestedRules)
      canvas.put(TextWidth.truncate(rule, to: content.maxX - x), x: x, y: y, Style(.dim), limit: content.maxX - x)
    }
  }

  static func drawDiffLine(
    _ line: DiffLine, piece: String, first: Bool, into canvas: inout Canvas, x: Int, y: Int, width: Int
  ) {
    func number(_ value: Int?) -> String {
      let text = value.map(String.init) ?? ""
      return String(repeating: " ", count: max(0, 4 - text.count)) + text
    }
    switch line.kind {
    case .separator:
      canvas.put("     ⋯", x: x, y: y, Style(.diffHunk), limit: width)
      return
    case .context, .added, .removed:
      break
    }
    let (sign, role): (String, Role) =
      switch line.kind {
      case .added: ("+", .diffAdd)
      case .removed: ("−", .diffDelete)
      default: (" ", .text)
      }
    let gutter = first ? number(line.oldNumber) + " " + number(line.newNumber) + " " : String(repeating: " ", count: 10)
    var used = canvas.put(gutter, x: x, y: y, Style(.lineNumber), limit: width)
    used += canvas.put((first ? sign : "↪") + " ", x: x + used, y: y, Style(role, bold: first), limit: width - used)
    canvas.put(piece, x: x + used, y: y, Style(role), limit: width - used)
  }
}
