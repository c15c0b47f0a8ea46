/// The spaces switcher.
public enum SpacesView {
  /// The keys the status line offers while the switcher has the focus.
  static let hints = [
    KeyHint("switch", .switchSpace), KeyHint("pane", .focusNext), KeyHint("help", .help), KeyHint("quit", .quit),
  ]

  /// Draws the spaces list.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    canvas.box(rect, title: PaneDrawing.title(.spaces), focused: state.focus == .spaces)
    let others = state.spaces.filter { $0.name != state.space.name }.reduce(0) { $0 + $1.pending }
    if others > 0 { canvas.boxTag(rect, "\(others) waiting elsewhere", Style(.waiting, bold: true)) }
    let inner = PaneDrawing.inner(rect)
    guard !inner.isEmpty else { return }
    let top = PaneDrawing.scrollTop(selection: state.spaceSelection, count: state.spaces.count, rows: inner.height)
    for (offset, entry) in state.spaces.dropFirst(top).prefix(inner.height).enumerated() {
      let y = inner.y + offset
      let selected = top + offset == state.spaceSelection
      let current = entry.name == state.space.name
      let style =
        selected && state.focus == .spaces
        ? PaneDrawing.selectionStyle(state, pane: .spaces) : Style(current ? .folder : .text, bold: current)
      if selected && state.focus == .spaces {
        canvas.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style)
      }
      canvas.put(current ? "●" : " ", x: inner.x + 1, y: y, style)
      canvas.put(entry.name, x: inner.x + 3, y: y, style, limit: inner.width - 10)
      if entry.pending > 0 {
        let text = "⚠ \(entry.pending)"
        canvas.put(text, x: inner.maxX - TextWidth.width(text) - 1, y: y, Style(.waiting, bold: true))
      }
    }
  }
}
