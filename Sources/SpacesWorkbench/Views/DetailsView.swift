import SpacesModel

/// One operation's details and full output.
public enum DetailsView {
  /// The keys the status line offers while the details have the focus.
  static let hints = [KeyHint("scroll", .down, .up), KeyHint("close", .close), KeyHint("help", .help)]

  /// The lines of the details.
  static func lines(_ record: OperationRecord, now: Double) -> [(String, String, Role)] {
    var rows: [(String, String, Role)] = []
    let (glyph, role) = OperationsView.icon(record, now: now)
    var state = "\(glyph) \(record.state == .awaitingApproval ? "awaiting approval" : record.state.rawValue)"
    let outcome = WorkbenchState.outcome(record)
    if record.state.finished {
      state = outcome
    } else if record.state == .running {
      state += " · " + OperationsView.stateText(record, now: now)
    }
    rows.append(("state", state, role))
    rows.append(("id", record.id, .dim))
    rows.append(("by", record.actor == .person ? "you (the person)" : "the agent", .text))
    if let op = record.op {
      switch op {
      case .shell(let command, let timeout, let fresh):
        rows.append(("command", EventText.sanitize(command), .text))
        if let timeout { rows.append(("time limit", WorkbenchState.duration(timeout), .text)) }
        if fresh { rows.append(("shell", "fresh (workspace root, no carried variables)", .text)) }
      case .createFile(let path, let content, _):
        rows.append(("create", EventText.sanitize(path) + " (\(content.utf8.count) bytes)", .text))
      case .editFile(let path, let old, let new):
        rows.append(("edit", EventText.sanitize(path), .text))
        rows.append(("replace", EventText.sanitize(old).replacingOccurrences(of: "\n", with: "⏎"), .diffDelete))
        rows.append(("with", EventText.sanitize(new).replacingOccurrences(of: "\n", with: "⏎"), .diffAdd))
      case .readFile(let path): rows.append(("read", EventText.sanitize(path), .text))
      case .deleteFile(let path, let recursive):
        rows.append(("delete", EventText.sanitize(path) + (recursive ? " (recursive)" : ""), .text))
      case .message(let text): rows.append(("message", EventText.sanitize(text), .message))
      }
    }
    if let policy = record.policy {
      rows.append(
        (
          "policy",
          policy.decision.rawValue + (policy.rules.isEmpty ? "" : " (" + policy.rules.joined(separator: ", ") + ")"),
          .text
        ))
      for reason in policy.reasons { rows.append(("", EventText.sanitize(reason), .dim)) }
    }
    if let said = record.agentReason.map(StatedReason.display), !said.isEmpty {
      rows.append(("agent says", "“" + said + "”", .message))
    }
    if record.extendedSeconds > 0 {
      rows.append(
        ("more time", "\(WorkbenchState.duration(record.extendedSeconds * 1000)) given by a person", .waiting))
    }
    if let resolution = record.resolution { rows.append(("approval", resolution, .waiting)) }
    if let waiting = record.queuedBecause {
      rows.append(("queued", EventText.sanitize(waiting), .dim))
    }
    if let reason = record.reason {
      rows.append(("reason", EventText.sanitize(reason), record.state == .denied ? .denied : .text))
    }
    if let error = record.error { rows.append(("error", EventText.sanitize(error), .failed)) }
    for (index, change) in record.restored.enumerated() {
      var shown = change
      shown.path = EventText.sanitize(change.path).replacingOccurrences(of: "\n", with: "^J")
      rows.append((index == 0 ? "protected" : "", shown.summary, change.action == .failed ? .failed : .waiting))
    }
    if !record.restored.isEmpty {
      rows.append(("", "protected paths change only with your approval", .dim))
    }
    return rows
  }

  /// Draws the details of `record`.
  public static func draw(
    _ record: OperationRecord?, state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double
  ) {
    guard let record else {
      canvas.box(rect, title: PaneDrawing.title(.log, "Operation"), focused: state.focus == .log)
      return
    }
    canvas.box(
      rect, title: PaneDrawing.title(.log, TextWidth.truncate(record.summary, to: max(0, rect.width - 20))),
      focused: state.focus == .log)
    canvas.boxTag(rect, KeyHint.key(.close, in: .details) + " closes")
    let inner = PaneDrawing.inner(rect)
    guard !inner.isEmpty else { return }
    var all: [(String, String, Role, LogLine.Kind?)] = lines(record, now: now).map { ($0.0, $0.1, $0.2, nil) }
    if let changes = record.changes, changes.total > 0 {
      all.append(("", "", .text, nil))
      all.append(
        (
          "changes",
          "±\(changes.total): \(changes.text) · \(KeyHint.key(.undo, in: .details)) undo · "
            + "\(KeyHint.key(.restore, in: .details)) restore to before it", .opHeader, nil
        ))
      for line in state.changeDiffs[record.id] ?? ["(loading the diff…)"] {
        let role: Role =
          line.hasPrefix("+ ")
          ? .diffAdd : line.hasPrefix("- ") ? .diffDelete : line.hasPrefix("  ") ? .text : .opHeader
        all.append(("", line, role, .stdout))
      }
    }
    let count = record.output.count + record.droppedOutput
    all.append(("", "", .text, nil))
    all.append(
      (
        "output",
        count == 0
          ? "(none)" : "\(count) lines" + (record.droppedOutput > 0 ? ", first \(record.droppedOutput) dropped" : ""),
        .opHeader, nil
      ))
    for line in record.output { all.append(("", line.text, line.kind == .stderr ? .stderr : .stdout, line.kind)) }
    // Long values and output lines wrap; the scroll counts rows of `all`, and stops where the
    // last one ends at the bottom.
    func pieces(_ row: (String, String, Role, LogLine.Kind?)) -> [String] {
      let room = row.3 != nil ? inner.width - 2 : inner.width - 11
      return TextWidth.wrap(row.1, width: max(1, room), maxPieces: inner.height).pieces
    }
    var lastScroll = all.count
    var filled = 0
    while lastScroll > 0, filled + pieces(all[lastScroll - 1]).count <= inner.height {
      lastScroll -= 1
      filled += pieces(all[lastScroll]).count
    }
    let scroll = min(state.detailScroll, lastScroll)
    var y = inner.y
    for row in all.dropFirst(scroll) {
      guard y < inner.maxY else { break }
      for (index, piece) in pieces(row).enumerated() where y < inner.maxY {
        if row.3 != nil {
          if row.3 == .stderr || index > 0 {
            canvas.put(index > 0 ? "↪" : "▌", x: inner.x, y: y, Style(row.3 == .stderr ? .stderr : .dim))
          }
          canvas.put(piece, x: inner.x + 2, y: y, Style(row.2), limit: inner.width - 2)
        } else {
          if index == 0 { canvas.put(row.0, x: inner.x + 1, y: y, Style(.dim), limit: 10) }
          canvas.put(
            piece, x: inner.x + 11, y: y, Style(row.2, bold: row.0 == "state" || row.0 == "output"),
            limit: inner.width - 11)
        }
        y += 1
      }
    }
  }
}
