import SpacesModel

/// The operation queue.
public enum OperationsView {
  /// The keys the status line offers while the queue has the focus.
  static let hints = [
    KeyHint("details", .open), KeyHint("filter", .filter), KeyHint("pane", .focusNext), KeyHint("help", .help),
    KeyHint("quit", .quit),
  ]

  /// The icon and role for a state (running spins with `now`).
  static func icon(_ record: OperationRecord, now: Double) -> (String, Role) {
    switch record.state {
    case .queued: return ("·", .dim)
    case .awaitingApproval: return ("?", .waiting)
    case .running:
      let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
      return (frames[Int(now * 10) % frames.count], .running)
    case .completed: return record.exitedNonZero ? ("✘", .failed) : ("✔", .ok)
    case .failed: return ("✘", .failed)
    case .denied: return ("⊘", .denied)
    }
  }

  /// The short state text at the right of a row.
  public static func stateText(_ record: OperationRecord, now: Double) -> String {
    switch record.state {
    case .queued: return "queued"
    case .awaitingApproval: return "approval"
    case .running:
      let elapsed = Int(max(0, now - (record.startedAt ?? record.receivedAt)) * 1000)
      return WorkbenchState.duration(elapsed)
    case .completed:
      if let code = record.exitCode, code != 0 { return "exit \(code)" }
      return record.durationMs.map(WorkbenchState.duration) ?? "done"
    case .failed:
      if let code = record.exitCode { return "exit \(code)" }
      if let signal = record.signal { return "sig \(signal)" }
      return "error"
    case .denied: return "denied"
    }
  }

  /// Draws the queue.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double) {
    let focused = state.focus == .operations
    canvas.box(rect, title: PaneDrawing.title(.operations), focused: focused)
    let operations = state.visibleOperations
    let running = state.operations.filter { $0.state == .running }.count
    let waiting = state.operations.filter { $0.state == .awaitingApproval }.count
    var tags: [String] = []
    if !state.operationFilter.isEmpty { tags.append("/" + state.operationFilter) }
    if running > 0 { tags.append("\(running) running") }
    if waiting > 0 { tags.append("\(waiting) waiting") }
    if tags.isEmpty { tags.append("\(state.operations.count)") }
    canvas.boxTag(rect, tags.joined(separator: " · "), Style(waiting > 0 ? .waiting : .dim))
    let inner = PaneDrawing.inner(rect)
    let empty = state.operationFilter.isEmpty ? "Nothing yet." : "(no match)"
    PaneDrawing.list(operations, selection: state.operationSelection, in: inner, empty: empty, into: &canvas) {
      canvas, record, y, selected in
      let (glyph, role) = icon(record, now: now)
      // ±N: how many paths it changed in the workspace (its change record).
      let status = stateText(record, now: now) + (record.changes.map { $0.total > 0 ? " ±\($0.total)" : "" } ?? "")
      let statusWidth = TextWidth.width(status)
      let rowStyle = selected ? PaneDrawing.selectionStyle(state, pane: .operations) : Style(.text)
      if selected { canvas.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), rowStyle) }
      canvas.put(glyph, x: inner.x + 1, y: y, selected ? rowStyle : Style(role, bold: true))
      var x = inner.x + 3
      if record.actor == .person {
        x += canvas.put("you ", x: x, y: y, selected ? rowStyle : Style(.person), limit: inner.maxX - x)
      }
      let room = inner.maxX - x - statusWidth - 1
      canvas.put(TextWidth.truncate(record.summary, to: room), x: x, y: y, rowStyle, limit: room)
      if inner.width > statusWidth + 6 {
        canvas.put(status, x: inner.maxX - statusWidth, y: y, selected ? rowStyle : Style(role))
      }
    }
  }
}
