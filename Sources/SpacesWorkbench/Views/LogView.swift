/// The shell log: output grouped by operation.
public enum LogView {
  /// The keys the status line offers while the log has the focus.
  static let hints = [
    KeyHint("follow", .follow), KeyHint("search", .filter), KeyHint("pane", .focusNext), KeyHint("help", .help),
    KeyHint("quit", .quit),
  ]

  /// Draws the log.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    let focused = state.focus == .log
    canvas.box(rect, title: PaneDrawing.title(.log, "Shell log"), focused: focused)
    let inner = PaneDrawing.inner(rect)
    let log = state.log
    let first = log.dropped
    let lastTop = max(first, first + log.count - inner.height)
    let top = state.followLog ? lastTop : min(max(state.logTop, first), lastTop)
    var tag = state.followLog ? "follow" : "paused · " + KeyHint.key(.follow, in: .log) + " follows"
    if !state.logSearch.isEmpty { tag = "/" + state.logSearch + " · " + tag }
    canvas.boxTag(rect, tag, Style(state.followLog ? .ok : .waiting))
    guard !inner.isEmpty else { return }
    if log.count == 0 {
      PaneDrawing.placeholder("No output yet. Shell commands stream here as they run.", in: inner, &canvas)
      return
    }
    for (row, (line, piece, continued)) in rows(log, top: top - first, follow: state.followLog, in: inner).enumerated()
    {
      let y = inner.y + row
      switch line.kind {
      case .header:
        var x = inner.x
        x += canvas.put(continued ? "  " : "▶ ", x: x, y: y, Style(.opHeader), limit: inner.width)
        x += canvas.put(piece + " ", x: x, y: y, Style(.opHeader, bold: true), limit: inner.maxX - x)
        if x < inner.maxX {
          canvas.put(String(repeating: "─", count: inner.maxX - x), x: x, y: y, Style(.border))
        }
      case .footer:
        if line.ending == .denied {
          canvas.put(piece, x: inner.x, y: y, Style(.denied, bold: true), limit: inner.width)
        } else {
          canvas.put("  " + piece, x: inner.x, y: y, Style(line.ending == .ok ? .ok : .failed), limit: inner.width)
        }
      case .stdout:
        if continued { canvas.put("↪", x: inner.x, y: y, Style(.dim)) }
        PaneDrawing.putHighlighted(
          piece, query: state.logSearch, into: &canvas, x: inner.x + 2, y: y, style: Style(.stdout),
          limit: inner.width - 2)
      case .stderr:
        canvas.put(continued ? "↪" : "▌", x: inner.x, y: y, Style(.stderr))
        PaneDrawing.putHighlighted(
          piece, query: state.logSearch, into: &canvas, x: inner.x + 2, y: y, style: Style(.stderr),
          limit: inner.width - 2)
      case .message:
        PaneDrawing.putHighlighted(
          piece, query: state.logSearch, into: &canvas, x: inner.x, y: y, style: Style(.message), limit: inner.width)
      case .notice:
        canvas.put((continued ? "  " : "• ") + piece, x: inner.x, y: y, Style(.waiting), limit: inner.width)
      }
    }
  }

  /// The columns a log line's text has at a pane `width` wide (after its gutter; a denial's
  /// footer has none).
  static func room(_ line: LogLine, width: Int) -> Int {
    switch line.kind {
    case .message: max(1, width)
    case .footer where line.ending == .denied: max(1, width)
    case .footer, .header, .stdout, .stderr, .notice: max(1, width - 2)
    }
  }

  /// The rows the log shows in `inner`: long lines wrap (a line takes at most the pane's
  /// height). From line `top` down; when following, or when the lines from `top` don't fill
  /// the pane, the newest lines end at its bottom.
  static func rows(_ log: LogBuffer, top: Int, follow: Bool, in inner: Rect) -> [(LogLine, String, Bool)] {
    func pieces(_ index: Int) -> [(LogLine, String, Bool)] {
      let line = log[index]
      let wrapped = TextWidth.wrap(line.text, width: room(line, width: inner.width), maxPieces: inner.height).pieces
      return wrapped.enumerated().map { (line, $1, $0 > 0) }
    }
    if !follow {
      var result: [(LogLine, String, Bool)] = []
      var index = max(0, top)
      while index < log.count, result.count < inner.height {
        result += pieces(index)
        index += 1
      }
      if result.count >= inner.height { return Array(result.prefix(inner.height)) }
    }
    var result: [(LogLine, String, Bool)] = []
    var index = log.count - 1
    while index >= 0, result.count < inner.height {
      result = pieces(index) + result
      index -= 1
    }
    return Array(result.suffix(inner.height))
  }
}
