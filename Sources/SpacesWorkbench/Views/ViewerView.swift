import SpacesModel

/// The read-only file viewer.
public enum ViewerView {
  /// The keys the status line offers while the viewer has the focus.
  static let hints = [
    KeyHint("search", .filter), KeyHint("edit", .edit), KeyHint("close", .close), KeyHint("help", .help),
  ]

  /// Draws a file.
  public static func draw(_ view: WorkbenchState.FileView, state: WorkbenchState, into canvas: inout Canvas, rect: Rect)
  {
    canvas.box(
      rect, title: PaneDrawing.title(.log, EventText.sanitize(view.path) + " · read-only"), focused: state.focus == .log
    )
    let tag = (state.viewerSearch.isEmpty ? "" : "/" + state.viewerSearch + " · ") + "\(view.lines.count) lines"
    canvas.boxTag(rect, tag)
    let inner = PaneDrawing.inner(rect)
    guard !inner.isEmpty else { return }
    if let error = view.error {
      canvas.put(error, x: inner.x + 1, y: inner.y, Style(.failed), limit: inner.width - 1)
      return
    }
    let digits = max(3, String(view.lines.count).count)
    for row in 0..<inner.height {
      let index = view.scroll + row
      guard index < view.lines.count else { break }
      let number = String(index + 1)
      let y = inner.y + row
      canvas.put(
        String(repeating: " ", count: digits - number.count) + number + " │", x: inner.x, y: y, Style(.lineNumber),
        limit: inner.width)
      PaneDrawing.putHighlighted(
        view.lines[index], query: state.viewerSearch, into: &canvas, x: inner.x + digits + 3, y: y,
        style: Style(.text), limit: inner.width - digits - 3)
    }
  }
}
