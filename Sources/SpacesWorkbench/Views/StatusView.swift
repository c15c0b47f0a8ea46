import SpacesModel

/// The status line: space, backend, policy, connection, counts and key hints (or the input
/// field of a filter or search).
public enum StatusView {
  /// Draws the status line.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double) {
    guard !rect.isEmpty else { return }
    canvas.fill(rect, Style(.status))
    var x = rect.x
    if case .input(let purpose, let text) = state.overlay {
      let label: String
      switch purpose {
      case .filter(let pane): label = " filter \(pane.title.lowercased()): "
      case .search: label = " search: "
      case .newFile: label = " new file: "
      case .denyFeedback, .rule: label = ""
      }
      if !label.isEmpty {
        x += canvas.put(label, x: x, y: rect.y, Style(.statusKey, bold: true), limit: rect.width)
        x += canvas.put(text + "█", x: x, y: rect.y, Style(.input), limit: rect.maxX - x)
        let hint = "  " + KeyHint.line(fieldHints, in: .input)
        canvas.put(hint, x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
        return
      }
    }
    // Narrow: the backend (unless unisolated), the policy and the connection's name give way
    // to what changes (approvals waiting, notices, keys).
    let narrow = rect.width < 72
    x += canvas.put(" " + state.space.name + " ", x: x, y: rect.y, Style(.statusSpace, bold: true), limit: rect.width)
    if !state.space.isolated {
      let backend = narrow ? " UNISOLATED " : " " + state.space.backend + " UNISOLATED "
      x += canvas.put(backend, x: x, y: rect.y, Style(.danger, bold: true), limit: rect.maxX - x)
    } else if !narrow {
      x += canvas.put(" " + state.space.backend + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    }
    if !narrow {
      x += canvas.put("│ " + state.space.policy + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    }
    // The shell session's folder, where the next command starts, when it is not the root.
    if state.shellFolder != "." {
      let folder = TextWidth.truncate(EventText.sanitize("./" + state.shellFolder), to: narrow ? 12 : 28)
      x += canvas.put("│ " + folder + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    }
    let dot = state.connected ? "●" : "○"
    x += canvas.put(narrow ? " " : "│ ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    x += canvas.put(dot, x: x, y: rect.y, Style(state.connected ? .ok : .failed), limit: rect.maxX - x)
    x += canvas.put(narrow ? " " : " " + state.connection + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    if state.away {
      x += canvas.put("│ ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
      x += canvas.put("away ", x: x, y: rect.y, Style(.statusKey, bold: true), limit: rect.maxX - x)
    }
    let waiting = state.approvals.count
    if waiting > 0 {
      x += canvas.put("│ ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
      x += canvas.put("\(waiting) waiting ", x: x, y: rect.y, Style(.statusKey, bold: true), limit: rect.maxX - x)
    }
    if let flash = state.flash, flash.until >= now {
      let room = rect.maxX - x - 2
      canvas.put(
        "│ " + TextWidth.truncate(flash.text, to: room), x: x, y: rect.y, Style(.statusKey), limit: rect.maxX - x)
      return
    }
    var hints = hintPairs(state)
    while !hints.isEmpty,
      hints.reduce(0, { $0 + TextWidth.width($1.0) + TextWidth.width($1.1) + 3 }) > rect.maxX - x - 2
    {
      hints.removeLast()
    }
    var text: [(String, Bool)] = []
    for (key, label) in hints {
      text.append((key, true))
      text.append((" " + label + "  ", false))
    }
    let width = text.reduce(0) { $0 + TextWidth.width($1.0) }
    var hx = max(x + 1, rect.maxX - width)
    if hx + 4 > rect.maxX { return }
    for (piece, isKey) in text {
      hx += canvas.put(piece, x: hx, y: rect.y, Style(isKey ? .statusKey : .status, bold: isKey), limit: rect.maxX - hx)
    }
  }

  /// The hints beside a filter, search or new file's field.
  static let fieldHints = [KeyHint("ok", .accept), KeyHint("cancel", .cancel)]

  /// The hints where no pane has its own.
  static let hints = [KeyHint("help", .help), KeyHint("quit", .quit)]

  /// The hints the status line shows in `context`: each pane's own. (A docked prompt shows its
  /// keys in its choices row; the status line keeps the focused pane's, so `.prompt` is never
  /// the status line's context.)
  static func hints(for context: KeyContext) -> [KeyHint] {
    switch context {
    case .files: FilesView.hints
    case .log: LogView.hints
    case .operations: OperationsView.hints
    case .spaces: SpacesView.hints
    case .viewer: ViewerView.hints
    case .details: DetailsView.hints
    case .decisions: DecisionsView.hints
    case .global, .prompt, .confirm, .input, .help, .banner: hints
    }
  }

  /// The focused pane's hints as (keys, label), keys from ``Keymap/bindings``.
  static func hintPairs(_ state: WorkbenchState) -> [(String, String)] {
    hints(for: state.context).map { ($0.keys(in: state.context), $0.label) }
  }
}
