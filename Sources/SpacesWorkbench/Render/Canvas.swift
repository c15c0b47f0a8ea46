/// A rectangle of terminal cells: column `x`, row `y`, `width` × `height`.
public struct Rect: Equatable, Sendable, CustomStringConvertible {
  /// Whether the cell at (`column`, `row`) is inside.
  public func contains(column: Int, row: Int) -> Bool {
    column >= x && column < x + width && row >= y && row < y + height
  }

  /// The left column.
  public var x: Int
  /// The top row.
  public var y: Int
  /// The number of columns.
  public var width: Int
  /// The number of rows.
  public var height: Int

  /// Creates a rectangle; negative sizes become 0.
  public init(x: Int, y: Int, width: Int, height: Int) {
    self.x = x
    self.y = y
    self.width = max(0, width)
    self.height = max(0, height)
  }

  /// The column just right of the rectangle.
  public var maxX: Int { x + width }
  /// The row just below the rectangle.
  public var maxY: Int { y + height }
  /// Whether it has no cells.
  public var isEmpty: Bool { width == 0 || height == 0 }

  /// The rectangle shrunk by `amount` on every side.
  public func inset(_ amount: Int) -> Rect {
    Rect(x: x + amount, y: y + amount, width: width - 2 * amount, height: height - 2 * amount)
  }

  /// Splits off `rows` rows from the top: (top, rest).
  public func splitTop(_ rows: Int) -> (Rect, Rect) {
    let top = min(max(0, rows), height)
    return (
      Rect(x: x, y: y, width: width, height: top), Rect(x: x, y: y + top, width: width, height: height - top)
    )
  }

  /// Splits off `rows` rows from the bottom: (rest, bottom).
  public func splitBottom(_ rows: Int) -> (Rect, Rect) {
    let bottom = min(max(0, rows), height)
    return (
      Rect(x: x, y: y, width: width, height: height - bottom),
      Rect(x: x, y: maxY - bottom, width: width, height: bottom)
    )
  }

  /// Splits off `columns` columns from the left: (left, rest).
  public func splitLeft(_ columns: Int) -> (Rect, Rect) {
    let left = min(max(0, columns), width)
    return (
      Rect(x: x, y: y, width: left, height: height), Rect(x: x + left, y: y, width: width - left, height: height)
    )
  }

  public var description: String { "\(x),\(y) \(width)x\(height)" }
}

/// What a cell means, which a ``Theme`` turns into colours.
public enum Role: String, CaseIterable, Sendable {
  case text, dim, border
  case borderFocus = "border.focus"
  case title
  case titleFocus = "title.focus"
  case selection
  case selectionBlur = "selection.blur"
  case folder, added, modified, deleted
  case stdout, stderr
  case opHeader = "op.header"
  case running, ok, failed, denied, waiting
  case prompt
  case promptTitle = "prompt.title"
  case diffAdd = "diff.add"
  case diffDelete = "diff.delete"
  case diffHunk = "diff.hunk"
  case lineNumber = "line.number"
  case status
  case statusKey = "status.key"
  case statusSpace = "status.space"
  case danger, notice, match, input, key, message, person
}

/// How a cell looks: a role plus attributes.
public struct Style: Equatable, Sendable {
  /// The role.
  public var role: Role
  /// Bold text.
  public var bold: Bool
  /// Underlined text.
  public var underline: Bool
  /// Swapped foreground and background.
  public var reverse: Bool

  /// Creates a style.
  public init(_ role: Role = .text, bold: Bool = false, underline: Bool = false, reverse: Bool = false) {
    self.role = role
    self.bold = bold
    self.underline = underline
    self.reverse = reverse
  }

  /// Plain text.
  public static let plain = Style()
}

/// One terminal cell: a grapheme cluster (empty for the right half of a wide one) and a style.
public struct Cell: Equatable, Sendable {
  /// The grapheme drawn here; "" when the cell to the left is a wide grapheme.
  public var text: String
  /// Its style.
  public var style: Style

  /// Creates a cell.
  public init(_ text: String = " ", _ style: Style = .plain) {
    self.text = text
    self.style = style
  }
}

/// A grid of cells that views draw into; the terminal (or a snapshot) reads it afterwards.
public struct Canvas: Sendable {
  /// Columns.
  public let width: Int
  /// Rows.
  public let height: Int
  /// The cells, row by row.
  public private(set) var cells: [Cell]

  /// A blank canvas.
  public init(width: Int, height: Int) {
    self.width = max(0, width)
    self.height = max(0, height)
    cells = Array(repeating: Cell(), count: self.width * self.height)
  }

  /// The whole canvas as a rectangle.
  public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

  /// The cell at a column and row.
  public subscript(x: Int, y: Int) -> Cell {
    get { cells[y * width + x] }
    set { cells[y * width + x] = newValue }
  }

  /// Fills a rectangle with spaces in `style`.
  public mutating func fill(_ rect: Rect, _ style: Style = .plain) {
    let clip = clipped(rect)
    for row in clip.y..<clip.maxY {
      for column in clip.x..<clip.maxX { self[column, row] = Cell(" ", style) }
    }
  }

  /// Writes `text` at (x, y), clipped to `limit` columns and to the canvas; returns the
  /// columns used. Control characters show as "?"; a wide grapheme that doesn't fit becomes a
  /// space.
  @discardableResult
  public mutating func put(_ text: some StringProtocol, x: Int, y: Int, _ style: Style = .plain, limit: Int? = nil)
    -> Int
  {
    guard y >= 0, y < height else { return 0 }
    let end = min(width, limit.map { x + max(0, $0) } ?? width)
    var column = x
    for character in text {
      if column >= end { break }
      var grapheme = String(character)
      var columns = TextWidth.width(character)
      if character == "\t" {
        grapheme = " "
        columns = 1
      } else if columns == 0 {
        if character.unicodeScalars.first.map({ $0.value < 0x20 || $0.value == 0x7F }) ?? true {
          grapheme = "?"
          columns = 1
        } else {
          continue  // a lone combining mark: skip it
        }
      }
      if column + columns > end {
        if column >= 0 { self[column, y] = Cell(" ", style) }
        column += 1
        break
      }
      if column >= 0 {
        // Overwriting half of a wide grapheme blanks its other half.
        if self[column, y].text.isEmpty, column > 0 { self[column - 1, y] = Cell(" ", self[column - 1, y].style) }
        self[column, y] = Cell(grapheme, style)
        if columns == 2 { self[column + 1, y] = Cell("", style) }
        let after = column + columns
        if after < width, self[after, y].text.isEmpty { self[after, y] = Cell(" ", self[after, y].style) }
      }
      column += columns
    }
    return max(0, column - x)
  }

  /// Draws a rounded box around `rect` with `title` in its top edge.
  public mutating func box(_ rect: Rect, title: String = "", focused: Bool = false, role: Role? = nil) {
    guard rect.width >= 2, rect.height >= 2 else { return }
    let border = Style(role ?? (focused ? .borderFocus : .border), bold: focused)
    let horizontal = String(repeating: "─", count: rect.width - 2)
    put("╭" + horizontal + "╮", x: rect.x, y: rect.y, border)
    for row in (rect.y + 1)..<(rect.maxY - 1) {
      put("│", x: rect.x, y: row, border)
      put("│", x: rect.maxX - 1, y: row, border)
    }
    put("╰" + horizontal + "╯", x: rect.x, y: rect.maxY - 1, border)
    if !title.isEmpty, rect.width > 4 {
      let text = TextWidth.truncate(" " + title + " ", to: rect.width - 4)
      put(text, x: rect.x + 2, y: rect.y, Style(focused ? .titleFocus : .title, bold: true))
    }
  }

  /// Puts `text` at the right end of a box's top edge (a counter, a mode flag).
  public mutating func boxTag(_ rect: Rect, _ text: String, _ style: Style = Style(.dim)) {
    let tag = " " + text + " "
    let width = TextWidth.width(tag)
    guard rect.width > width + 6, rect.y >= 0, rect.y < height else { return }
    let start = rect.maxX - 2 - width
    // Only over bare border: never over the title.
    for column in (start - 1)..<(start + width)
    where column < 0 || column >= self.width || self[column, rect.y].text != "─" {
      return
    }
    put(tag, x: start, y: rect.y, style)
  }

  /// The canvas as plain text, one line per row, trailing spaces removed.
  public var text: String {
    var lines: [String] = []
    lines.reserveCapacity(height)
    for row in 0..<height {
      var line = ""
      for column in 0..<width { line += cells[row * width + column].text }
      while line.hasSuffix(" ") { line.removeLast() }
      lines.append(line)
    }
    return lines.joined(separator: "\n")
  }

  private func clipped(_ rect: Rect) -> Rect {
    let x0 = max(0, rect.x)
    let y0 = max(0, rect.y)
    return Rect(x: x0, y: y0, width: min(width, rect.maxX) - x0, height: min(height, rect.maxY) - y0)
  }
}
