/// Help, generated from ``Keymap/bindings``.
public enum HelpView {
  /// The keys its edge names.
  static let hints = [KeyHint("scroll", .down, .up), KeyHint("closes", .close)]

  /// The first line help can start at on a screen `height` rows high (its last page's).
  public static func maxScroll(height: Int) -> Int {
    max(0, Keymap.helpLines().count - (height - 4))
  }

  /// Draws help over the middle of the canvas.
  public static func draw(into canvas: inout Canvas, scroll: Int) {
    let width = min(72, canvas.width - 4)
    let height = canvas.height - 2
    let rect = Rect(x: (canvas.width - width) / 2, y: 1, width: width, height: height)
    canvas.fill(rect, Style(.prompt))
    canvas.box(rect, title: "Keys", focused: true)
    canvas.boxTag(rect, KeyHint.line(hints, in: .help))
    let inner = rect.inset(1)
    guard !inner.isEmpty else { return }
    let lines = Keymap.helpLines()
    let top = min(scroll, maxScroll(height: canvas.height))
    for (offset, line) in lines.dropFirst(top).prefix(inner.height).enumerated() {
      let y = inner.y + offset
      if line.heading {
        canvas.put(line.text, x: inner.x + 1, y: y, Style(.titleFocus, bold: true), limit: inner.width - 1)
      } else {
        canvas.put(line.keys, x: inner.x + 3, y: y, Style(.key, bold: true), limit: 16)
        canvas.put(line.text, x: inner.x + 20, y: y, Style(.text), limit: inner.width - 20)
      }
    }
  }
}
