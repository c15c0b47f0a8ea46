import Foundation

/// A rule from a policy file (or granted by a person): which operations it matches, and the
/// decision for them.
public struct PolicyRule: Sendable, Equatable, Codable {
  /// A name for messages and the journal (`rules` in a decision).
  public var name: String
  /// The operation kinds it applies to; empty means every kind.
  public var kinds: [Op.Kind]
  /// Path globs for file operations; empty means any path.
  public var paths: [String]
  /// For shell: a program and an argument prefix, e.g. `git push`; `nil` means any command.
  public var command: [String]?
  /// The decision when the rule matches.
  public var decision: Decision.Verdict
  /// Why, in words for a person.
  public var reason: String

  /// Creates a rule.
  public init(
    name: String, kinds: [Op.Kind] = [], paths: [String] = [], command: [String]? = nil,
    decision: Decision.Verdict, reason: String
  ) {
    self.name = name
    self.kinds = kinds
    self.paths = paths
    self.command = command
    self.decision = decision
    self.reason = reason
  }

  /// The rule as a YAML list item, the way it is appended to a policy file.
  public var yaml: String {
    func quoted(_ text: String) -> String {
      "\"" + text.unicodeScalars.map(Self.escaped).joined() + "\""
    }
    var lines = ["  - name: \(quoted(name))"]
    if !kinds.isEmpty { lines.append("    kinds: [\(kinds.map(\.rawValue).joined(separator: ", "))]") }
    if !paths.isEmpty { lines.append("    paths: [\(paths.map(quoted).joined(separator: ", "))]") }
    if let command { lines.append("    command: \(quoted(command.joined(separator: " ")))") }
    lines.append("    decision: \(decision.rawValue)")
    lines.append("    reason: \(quoted(reason))")
    return lines.joined(separator: "\n") + "\n"
  }

  /// One character inside a double-quoted YAML scalar: escaped unless YAML reads it back
  /// as it is (line breaks such as U+0085 and U+2028 would fold into spaces, and control and
  /// non-characters such as U+0001 or U+FFFF would make the whole file invalid).
  private static func escaped(_ scalar: Unicode.Scalar) -> String {
    switch scalar {
    case "\\": return "\\\\"
    case "\"": return "\\\""
    case "\n": return "\\n"
    case "\r": return "\\r"
    case "\t": return "\\t"
    default:
      let value = scalar.value
      let printable =
        (0x20...0x7E).contains(value) || (0xA0...0xD7FF).contains(value)
        || ((0xE000...0xFFFD).contains(value) && value != 0xFEFF) || value >= 0x10000
      if printable && value != 0x2028 && value != 0x2029 { return String(scalar) }
      return value <= 0xFF ? String(format: "\\x%02X", value) : String(format: "\\u%04X", value)
    }
  }
}
