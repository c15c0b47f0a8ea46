/// Which output stream of a command a chunk came from.
public enum OutputStreamKind: String, Codable, Sendable {
  /// Standard output.
  case stdout
  /// Standard error.
  case stderr
}
