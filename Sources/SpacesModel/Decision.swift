/// A policy's verdict on an operation: allow, ask or deny, with why.
///
/// JSON form: `{"decision":"ask","reasons":["…"],"rules":["…"]}`.
public struct Decision: Codable, Sendable, Equatable {
  /// The three verdicts, ordered from least to most strict.
  public enum Verdict: String, Codable, Sendable, Comparable, CaseIterable {
    case allow, ask, deny

    private var strictness: Int {
      switch self {
      case .allow: 0
      case .ask: 1
      case .deny: 2
      }
    }

    public static func < (lhs: Verdict, rhs: Verdict) -> Bool { lhs.strictness < rhs.strictness }
  }

  /// The verdict.
  public var decision: Verdict
  /// Sentences for a person, one per rule that matched.
  public var reasons: [String]
  /// The names of the rules that matched.
  public var rules: [String]

  /// Creates a decision.
  public init(_ decision: Verdict, reasons: [String] = [], rules: [String] = []) {
    self.decision = decision
    self.reasons = reasons
    self.rules = rules
  }

  /// Allows, naming the rule that did.
  public static func allow(_ reason: String, rule: String) -> Decision {
    Decision(.allow, reasons: [reason], rules: [rule])
  }

  /// Denies, naming the rule that did.
  public static func deny(_ reason: String, rule: String) -> Decision {
    Decision(.deny, reasons: [reason], rules: [rule])
  }
}
