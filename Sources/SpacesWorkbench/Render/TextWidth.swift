import CWorkbench
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Terminal column widths of text, per grapheme cluster.
///
/// A grapheme is as wide as its base scalar says (`wcwidth`: 2 for CJK and other wide
/// characters), or 2 when it is presented as an emoji; combining marks and zero-width joiners
/// inside a cluster add nothing. Control characters count as 0 (callers sanitize them first).
public enum TextWidth {
  /// `wcwidth` needs a UTF-8 `LC_CTYPE`; set it once if the process has none.
  private static let localeReady: Bool = {
    let current = setlocale(LC_CTYPE, nil).map { String(cString: $0) } ?? "C"
    if !current.uppercased().contains("UTF-8") && !current.uppercased().contains("UTF8") {
      _ = setlocale(LC_CTYPE, "C.UTF-8")
    }
    return true
  }()

  /// The number of columns one grapheme cluster takes: 0, 1 or 2.
  public static func width(_ character: Character) -> Int {
    if character.isASCII {
      guard let value = character.asciiValue else { return 1 }  // "\r\n"
      return value < 0x20 || value == 0x7F ? 0 : 1
    }
    let scalars = character.unicodeScalars
    guard let first = scalars.first else { return 0 }
    if scalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
    if first.properties.isEmojiPresentation { return 2 }
    // Regional indicator pairs (flags) are two columns.
    if (0x1F1E6...0x1F1FF).contains(first.value) { return 2 }
    _ = localeReady
    let columns = Int(cworkbench_wcwidth(first.value))
    if columns < 0 { return first.value < 0xA0 ? 0 : 1 }
    return min(columns, 2)
  }

  /// The number of columns `text` takes.
  public static func width(_ text: some StringProtocol) -> Int {
    var total = 0
    for character in text { total += width(character) }
    return total
  }

  /// The longest prefix of `text` that fits in `columns`, and its width.
  public static func prefix(_ text: String, fitting columns: Int) -> (text: String, width: Int) {
    var used = 0
    var end = text.startIndex
    for index in text.indices {
      let next = width(text[index])
      if used + next > columns { break }
      used += next
      end = text.index(after: index)
    }
    return (String(text[..<end]), used)
  }

  /// `text` cut into pieces of at most `columns` columns each, breaking after a space when one
  /// is near the end of a piece; the pieces joined give `text` back exactly (no character is
  /// dropped). At most `maxPieces` pieces: `complete` is false when text was left over.
  public static func wrap(_ text: String, width columns: Int, maxPieces: Int = .max) -> (
    pieces: [String], complete: Bool
  ) {
    guard columns > 0, maxPieces > 0 else { return ([], text.isEmpty) }
    if text.utf8.count <= columns, width(text) <= columns { return ([text], true) }
    var pieces: [String] = []
    var start = text.startIndex
    var used = 0
    var lastBreak: String.Index?
    var index = start
    while index < text.endIndex {
      let character = text[index]
      let next = width(character)
      if used + next > columns, index > start {
        // Break after the last space when it leaves the piece at least half full.
        var end = index
        if let space = lastBreak, width(text[start..<space]) * 2 >= columns { end = space }
        pieces.append(String(text[start..<end]))
        if pieces.count == maxPieces { return (pieces, false) }
        start = end
        used = width(text[start..<index])
        lastBreak = nil
      }
      used += next
      index = text.index(after: index)
      if character == " " { lastBreak = index }
    }
    if start < text.endIndex || pieces.isEmpty { pieces.append(String(text[start...])) }
    return (pieces, true)
  }

  /// `text` cut to `columns`, ending with "…" when it was cut.
  public static func truncate(_ text: String, to columns: Int) -> String {
    guard columns > 0 else { return "" }
    if width(text) <= columns { return text }
    return prefix(text, fitting: columns - 1).text + "…"
  }

  /// `text` padded with spaces (or cut) to exactly `columns`.
  public static func pad(_ text: String, to columns: Int) -> String {
    let cut = truncate(text, to: columns)
    return cut + String(repeating: " ", count: max(0, columns - width(cut)))
  }
}
