import SpacesModel

/// Every answer and denial (who, when, why), this session's grants and the policy file's rules;
/// `x` takes back the selected grant or rule.
public enum DecisionsView {
  /// The keys the status line offers while the decisions have the focus.
  static let hints = [
    KeyHint("select", .down, .up), KeyHint("take back", .revoke), KeyHint("close", .close), KeyHint("help", .help),
  ]

  /// One grant or rule as a line.
  public static func describe(_ item: Revocable) -> String {
    switch item {
    case .sessionCommand(let command): "this session: exactly `\(EventText.sanitize(command))`"
    case .sessionRule(let rule): "this session: " + describe(rule)
    case .fileRule(let rule): "policy.yaml: " + describe(rule)
    }
  }

  /// What taking `item` back does.
  static func revokeEffect(_ item: Revocable) -> String {
    switch item {
    case .sessionCommand, .sessionRule: "the policy asks again for what it allowed."
    case .fileRule: "the rule is removed from the space's policy.yaml (the rest of the file stays as it is)."
    }
  }

  static func describe(_ rule: PolicyRule) -> String {
    var what: [String] = []
    if let command = rule.command { what.append("`" + command.joined(separator: " ") + "`") }
    if !rule.paths.isEmpty { what.append(rule.paths.joined(separator: ", ")) }
    if !rule.kinds.isEmpty { what.append("(" + rule.kinds.map(\.rawValue).joined(separator: ", ") + ")") }
    return EventText.sanitize("\(rule.decision.rawValue) " + what.joined(separator: " ") + " — \(rule.name)")
  }

  /// The answers and denials, oldest first: time, what, who, why.
  static func answers(_ state: WorkbenchState) -> [(String, Role)] {
    var rows: [(String, Role)] = []
    for record in state.operations where record.resolution != nil || record.state == .denied {
      let time = record.decidedAt.map { $0.count >= 19 ? String(Array($0)[11..<19]) : $0 } ?? "--:--:--"
      let (what, who, role): (String, String, Role)
      switch record.resolution {
      case "timeout": (what, who, role) = ("⌛ timed out", "nobody", .failed)
      case "cancelled": (what, who, role) = ("⊘ cancelled", "the agent", .dim)
      case "deny": (what, who, role) = ("⊘ denied", "you", .denied)
      case let answer?: (what, who, role) = ("✔ " + answer, "you", .ok)
      case nil: (what, who, role) = ("⊘ denied", record.decidedBy ?? "policy", .denied)
      }
      let why = record.reason.map { " — " + EventText.sanitize($0) } ?? ""
      rows.append(
        ("\(time)  \(TextWidth.pad(what, to: 13)) \(TextWidth.pad(who, to: 8)) \(record.summary)\(why)", role))
    }
    return rows
  }

  /// Draws the view.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    canvas.box(rect, title: PaneDrawing.title(.log, "Decisions"), focused: state.focus == .log)
    canvas.boxTag(
      rect,
      KeyHint.key(.revoke, in: .decisions) + " takes back · " + KeyHint.key(.close, in: .decisions) + " closes")
    let inner = PaneDrawing.inner(rect)
    guard !inner.isEmpty else { return }
    // (text, style, index of the selectable item)
    var rows: [(String, Style, Int?)] = []
    let answers = answers(state)
    rows.append(("Answers and denials (\(answers.count))", Style(.titleFocus, bold: true), nil))
    if answers.isEmpty { rows.append(("  none yet", Style(.dim), nil)) }
    for (text, role) in answers { rows.append(("  " + text, Style(role), nil)) }
    let items = state.grantsAndRules
    rows.append(("", Style(.text), nil))
    rows.append(("This session's grants (\(items.session.count))", Style(.titleFocus, bold: true), nil))
    if items.session.isEmpty { rows.append(("  none", Style(.dim), nil)) }
    for (index, item) in items.session.enumerated() { rows.append(("  " + describe(item), Style(.text), index)) }
    rows.append(("", Style(.text), nil))
    rows.append(("Rules in policy.yaml (\(items.file.count))", Style(.titleFocus, bold: true), nil))
    if items.file.isEmpty { rows.append(("  none", Style(.dim), nil)) }
    for (index, item) in items.file.enumerated() {
      rows.append(("  " + describe(item), Style(.text), items.session.count + index))
    }
    if let note = items.note { rows.append(("  (" + note + ")", Style(.dim), nil)) }
    // Long rows wrap (the why of an answer is never cut), continuing under two more spaces.
    var lines: [(String, Style, Int?)] = []
    for row in rows {
      let indent = String(row.0.prefix { $0 == " " }) + "    "
      for (index, piece) in TextWidth.wrap(row.0, width: max(1, inner.width - indent.count)).pieces.enumerated() {
        lines.append((index == 0 ? piece : indent + piece, row.1, row.2))
      }
    }
    let selectedLine = lines.lastIndex { $0.2 == state.decisionSelection } ?? 0
    let top = selectedLine < inner.height ? 0 : selectedLine - inner.height + 2
    for (offset, line) in lines.dropFirst(top).prefix(inner.height).enumerated() {
      let y = inner.y + offset
      let selected = line.2 != nil && line.2 == state.decisionSelection
      let style = selected ? PaneDrawing.selectionStyle(state, pane: .log) : line.1
      if selected { canvas.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style) }
      canvas.put(line.0, x: inner.x, y: y, style, limit: inner.width)
    }
  }
}
