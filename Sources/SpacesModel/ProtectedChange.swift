/// One protected path a shell command changed without a person's approval, and what the runtime
/// did about it (the `protectedRestored` event carries a list of them).
public struct ProtectedChange: Codable, Sendable, Equatable {
  /// What the command did to the path.
  public enum Change: String, Codable, Sendable {
    /// It made the path, which was not there before.
    case created
    /// It changed the content, the mode or the symlink target (for `.git/config`: the keys
    /// that run a program or read another file).
    case modified
    /// It removed the path (or renamed it, or a folder on the way, away).
    case deleted
  }

  /// What the runtime did.
  public enum Action: String, Codable, Sendable {
    /// It removed what the command made.
    case removed
    /// It wrote the previous content back, with its mode (or the previous symlink).
    case restored
    /// It could not put the previous state back (`error` says why).
    case failed
  }

  /// The workspace-relative path (sanitized for display by whoever shows it).
  public var path: String
  /// What the command did.
  public var change: Change
  /// What the runtime did.
  public var action: Action
  /// The protected kind of path (``ProtectedPaths/Entry/name``), e.g. `git-hooks`.
  public var rule: String
  /// Why putting it back failed, when it did.
  public var error: String?

  /// Creates a change record.
  public init(path: String, change: Change, action: Action, rule: String, error: String? = nil) {
    self.path = path
    self.change = change
    self.action = action
    self.rule = rule
    self.error = error
  }

  /// A line for the agent and the person, e.g. "put back .git/hooks/pre-commit (created)".
  public var summary: String {
    let verb =
      switch action {
      case .removed: "removed"
      case .restored: "put back"
      case .failed: "could not put back"
      }
    return "\(verb) \(path) (\(change.rawValue) by the command)" + (error.map { ": \($0)" } ?? "")
  }
}
