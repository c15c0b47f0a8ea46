/// A path pattern: `*` matches within one path component, `**` any number of components,
/// `?` one character; everything else matches itself.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
  /// The pattern as written.
  public let pattern: String
  private let components: [[UInt8]]

  /// Creates a glob from a pattern such as `src/**/*.ts` or `.env*`.
  public init(_ pattern: String) {
    self.pattern = pattern
    components = pattern.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
  }

  public var description: String { pattern }

  /// Whether a normalized workspace path (`a/b/c`) matches.
  public func matches(_ path: String) -> Bool {
    matches(parts: Self.parts(path))
  }

  /// The components of a normalized workspace path, as ``matches(parts:)`` takes them (a path
  /// matched against many globs is split once).
  public static func parts(_ path: String) -> [[UInt8]] {
    path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
  }

  /// Whether the path split by ``parts(_:)`` matches.
  public func matches(parts: [[UInt8]]) -> Bool {
    var memo: [Int: Bool] = [:]
    return match(0, parts, 0, &memo)
  }

  private func match(_ p: Int, _ parts: [[UInt8]], _ i: Int, _ memo: inout [Int: Bool]) -> Bool {
    let key = p * (parts.count + 1) + i
    if let known = memo[key] { return known }
    let result: Bool
    if p == components.count {
      result = i == parts.count
    } else if components[p] == Array("**".utf8) {
      // `**` takes zero or more whole components.
      result = (i...parts.count).contains { match(p + 1, parts, $0, &memo) }
    } else if i < parts.count {
      result = Self.component(components[p][...], parts[i][...]) && match(p + 1, parts, i + 1, &memo)
    } else {
      result = false
    }
    memo[key] = result
    return result
  }

  /// Matches one component with `*` and `?` (iterative, linear backtracking).
  static package func component(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
    let pattern = Array(pattern)
    let text = Array(text)
    var p = 0
    var t = 0
    var star = -1
    var mark = 0
    while t < text.count {
      if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
        p += 1
        t += 1
      } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
        star = p
        mark = t
        p += 1
      } else if star >= 0 {
        p = star + 1
        mark += 1
        t = mark
      } else {
        return false
      }
    }
    while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
    return p == pattern.count
  }
}
