/// Judges operations before they run.
///
/// This first version judges by operation kind under the space's preset: `restrictive`
/// allows only `readFile` and `message`; `standard` and `permissive` allow every kind (the
/// sandbox is the boundary). Rules from policy files and the shell analyzer build on it.
public struct Policy: Sendable {
  /// The preset the policy starts from.
  public var preset: PolicyPreset

  /// Creates a policy from a preset.
  public init(preset: PolicyPreset) {
    self.preset = preset
  }

  /// The decision for one operation.
  public func evaluate(_ operation: Op) -> Decision {
    let rule = "preset:\(preset.rawValue)"
    switch preset {
    case .restrictive where operation.kind.writes:
      return .deny(
        "the restrictive policy is read-only: \(operation.kind.rawValue) is not allowed",
        rule: rule)
    case .restrictive, .standard, .permissive:
      return .allow("\(operation.kind.rawValue) is allowed by the \(preset.rawValue) policy", rule: rule)
    }
  }
}
