import SpacesModel

/// The workspace tree.
public enum FilesView {
  /// The keys the status line offers while the tree has the focus.
  static let hints = [
    KeyHint("open", .open), KeyHint("edit", .edit), KeyHint("new", .newFile), KeyHint("del", .deleteFile),
    KeyHint("filter", .filter), KeyHint("help", .help), KeyHint("quit", .quit),
  ]

  /// Draws the tree.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    let focused = state.focus == .files
    canvas.box(rect, title: PaneDrawing.title(.files), focused: focused)
    let rows = state.treeRows
    let changes = state.tree.markers.count
    if !state.treeFilter.isEmpty {
      canvas.boxTag(rect, "/" + state.treeFilter, Style(.match))
    } else if changes > 0 {
      canvas.boxTag(rect, "\(changes) changed", Style(.modified))
    }
    let inner = PaneDrawing.inner(rect)
    let empty = state.treeFilter.isEmpty ? "(empty workspace)" : "(no match)"
    PaneDrawing.list(rows, selection: state.treeSelection, in: inner, empty: empty, into: &canvas) {
      canvas, row, y, selected in
      let base: Style
      switch row.marker {
      case .added: base = Style(.added)
      case .modified: base = Style(.modified)
      case .deleted: base = Style(.deleted)
      case nil: base = row.isFolder ? Style(.folder, bold: true) : Style(.text)
      }
      let style = selected ? PaneDrawing.selectionStyle(state, pane: .files) : base
      if selected { canvas.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style) }
      var x = inner.x + min(row.depth * 2, max(0, inner.width - 6))
      let icon = row.isFolder ? (row.expanded ? "▾ " : "▸ ") : "  "
      x += canvas.put(icon, x: x, y: y, selected ? style : Style(.dim), limit: inner.maxX - x)
      let markerText = row.marker?.rawValue ?? (row.holdsChanges ? "•" : " ")
      let name = row.name + (row.isFolder ? "/" : "")
      let nameWidth = inner.maxX - x - 2
      x += canvas.put(TextWidth.truncate(EventText.sanitize(name), to: nameWidth), x: x, y: y, style, limit: nameWidth)
      canvas.put(markerText, x: inner.maxX - 1, y: y, selected ? style : (row.marker == nil ? Style(.modified) : base))
    }
  }
}
