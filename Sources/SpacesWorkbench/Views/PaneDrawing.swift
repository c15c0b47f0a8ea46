import SpacesModel

/// The drawing helpers the views share: a pane's inside and title, the placeholder of an empty
/// pane, the selection look, search highlights, scrolling a list to its selection, and wrapping
/// at spaces.
enum PaneDrawing {
  /// The rows a pane at `rect` shows inside its border.
  static func inner(_ rect: Rect) -> Rect { rect.inset(1) }

  /// A pane's title: the key that focuses it (from ``Keymap/bindings``) in brackets, then
  /// `text` (the pane's own title when `nil`).
  static func title(_ pane: Pane, _ text: String? = nil) -> String {
    (Keymap.focusKey(pane).map { "[\($0.name)] " } ?? "") + (text ?? pane.title)
  }

  /// The dim line an empty pane shows in its first row.
  static func placeholder(_ text: String, in inner: Rect, _ canvas: inout Canvas) {
    canvas.put(text, x: inner.x + 1, y: inner.y, Style(.dim), limit: inner.width - 1)
  }

  /// The look of the selected row in `pane`: bright while the pane has the focus and nothing
  /// covers it.
  static func selectionStyle(_ state: WorkbenchState, pane: Pane) -> Style {
    state.focus == pane && state.overlay == .none ? Style(.selection, bold: true) : Style(.selectionBlur)
  }

  /// Writes `text` with `query` matches highlighted; returns the columns used.
  @discardableResult
  static func putHighlighted(
    _ text: String, query: String, into canvas: inout Canvas, x: Int, y: Int, style: Style, limit: Int
  ) -> Int {
    guard !query.isEmpty, let range = text.range(of: query, options: .caseInsensitive) else {
      return canvas.put(text, x: x, y: y, style, limit: limit)
    }
    var used = canvas.put(text[..<range.lowerBound], x: x, y: y, style, limit: limit)
    used += canvas.put(text[range], x: x + used, y: y, Style(.match, bold: true), limit: limit - used)
    let rest = String(text[range.upperBound...])
    used += putHighlighted(rest, query: query, into: &canvas, x: x + used, y: y, style: style, limit: limit - used)
    return used
  }

  /// The first row a list of `count` rows shows in `rows` rows so that `selection` stays in
  /// view (near the middle once the list scrolls).
  static func scrollTop(selection: Int, count: Int, rows: Int) -> Int {
    guard count > rows, rows > 0 else { return 0 }
    return min(max(0, selection - rows / 2), count - rows)
  }

  /// Draws a list pane's rows in `inner`: `empty` dim in the first row when there are none,
  /// else the rows that fit around `selection`, each drawn by `draw` at its row `y`, told
  /// whether it is the selected one.
  static func list<Row>(
    _ rows: [Row], selection: Int, in inner: Rect, empty: String, into canvas: inout Canvas,
    _ draw: (inout Canvas, Row, _ y: Int, _ selected: Bool) -> Void
  ) {
    guard !inner.isEmpty else { return }
    if rows.isEmpty {
      placeholder(empty, in: inner, &canvas)
      return
    }
    let top = scrollTop(selection: selection, count: rows.count, rows: inner.height)
    for (offset, row) in rows[top..<min(rows.count, top + inner.height)].enumerated() {
      draw(&canvas, row, inner.y + offset, top + offset == selection)
    }
  }

  /// Wraps text at spaces to `width` columns.
  static func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ") {
      if !line.isEmpty, TextWidth.width(line) + 1 + TextWidth.width(word) > width {
        lines.append(line)
        line = ""
      }
      line += (line.isEmpty ? "" : " ") + word
    }
    if !line.isEmpty { lines.append(line) }
    return lines
  }
}
