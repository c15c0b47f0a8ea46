/// What a too-small terminal shows.
public enum TooSmallView {
  /// Draws the notice.
  public static func draw(into canvas: inout Canvas, width: Int, height: Int) {
    let lines = PaneDrawing.wrap(
      "Terminal too small (\(width)×\(height)): the workbench needs \(WorkbenchLayout.minimumWidth)×\(WorkbenchLayout.minimumHeight). Enlarge it, or press q to quit.",
      width: max(1, width - 2))
    let top = max(0, (height - lines.count) / 2)
    for (offset, line) in lines.enumerated() where top + offset < height {
      canvas.put(line, x: max(0, (width - TextWidth.width(line)) / 2), y: top + offset, Style(.waiting, bold: true))
    }
  }
}
