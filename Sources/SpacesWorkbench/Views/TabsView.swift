/// The tab bar of the compact layout.
public enum TabsView {
  /// Draws the tabs.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    canvas.fill(rect, Style(.status))
    var x = rect.x
    for pane in Pane.allCases {
      let label = label(pane, state)
      let style = pane == state.focus ? Style(.statusSpace, bold: true) : Style(.status)
      x += canvas.put(label, x: x, y: rect.y, style, limit: rect.maxX - x)
    }
  }
}

extension TabsView {
  /// A tab's label (` 3 Ops `; ` 4 Spaces ! ` when another space waits).
  static func label(_ pane: Pane, _ state: WorkbenchState) -> String {
    let pending = pane == .spaces && state.spaces.contains { $0.name != state.space.name && $0.pending > 0 }
    let number = Keymap.focusKey(pane).map { $0.name + " " } ?? ""
    return " \(number)\(pane == .operations ? "Ops" : pane.title)\(pending ? " !" : "") "
  }
}
