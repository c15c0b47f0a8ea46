/// The agent's own short account of why it submits an operation (`reason` beside `op` in
/// `op.submit`): the one place that says what it may be and how it is shown.
///
/// It is optional and untrusted: nobody checks it, the policy never reads it, and it is shown to
/// the person only as the agent's words (`agent says: …`), apart from the policy's reasons. It
/// is journaled as sent (on the operation's `received` event) and carried by its approval
/// request; anything that displays it goes through ``display(_:)``.
public enum StatedReason {
  /// The most characters (Unicode scalars) a reason may have.
  public static let maxLength = 500

  /// What the MCP tools and the SDKs tell a model the field is for.
  public static let description =
    "Why you need this, in a sentence or two (at most \(maxLength) characters): shown to the person who approves it."

  /// Checks a reason as it arrives: `nil` or only whitespace means none; longer than
  /// ``maxLength`` is an error that says so.
  public static func validate(_ text: String?) throws(SpacesError) -> String? {
    guard let text, text.contains(where: { !$0.isWhitespace }) else { return nil }
    let count = text.unicodeScalars.count
    guard count <= maxLength else {
      throw SpacesError(
        .invalidRequest,
        "\"reason\" is \(count) characters long; it may have at most \(maxLength): say why in a sentence or two")
    }
    return text
  }

  /// The reason as one line a terminal can show safely: control characters (escape sequences
  /// among them) become visible text (`^[`), line breaks and tabs become spaces, characters that
  /// reorder text (bidirectional overrides and isolates) become `�`, runs of spaces shrink to
  /// one, and it is cut at ``maxLength`` characters.
  public static func display(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    var count = 0
    var lastWasSpace = true
    func append(_ scalars: String.UnicodeScalarView) {
      out.append(contentsOf: scalars)
      count += scalars.count
      lastWasSpace = false
    }
    for scalar in text.unicodeScalars {
      guard count < maxLength else { break }
      switch scalar.value {
      case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029, 0x20:
        if !lastWasSpace {
          out.append(" ")
          count += 1
          lastWasSpace = true
        }
      case 0x00..<0x20, 0x7F:
        append("^\(Character(Unicode.Scalar(UInt8(scalar.value ^ 0x40))))".unicodeScalars)
      case _ where EventText.hidesOrReorders(scalar):
        append("\u{FFFD}".unicodeScalars)
      default:
        append(String.UnicodeScalarView([scalar]))
      }
    }
    var shown = String(out)
    while shown.last == " " { shown.removeLast() }
    return shown
  }
}
