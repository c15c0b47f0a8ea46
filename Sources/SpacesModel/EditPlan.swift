/// What an `editFile` does to a file's bytes: the one rule that both the runtime's edit and the
/// approval prompt's preview call, so the preview can never show an edit the runtime refuses.
///
/// `oldText` must occur exactly once, counting overlapping occurrences (`"aa"` occurs twice in
/// `"aaa"`). The search is linear in the file's size whatever `oldText` is (Knuth–Morris–Pratt),
/// so a long `oldText` can't make an edit of a large file take minutes.
public enum EditPlan {
  /// How often a needle occurs, and where first.
  public struct Matches: Sendable, Equatable {
    /// The number of occurrences, overlapping ones included.
    public var count: Int
    /// The offset of the first one.
    public var first: Int?
  }

  /// The file's bytes after replacing the one occurrence of `oldText` with `newText`.
  ///
  /// Throws `invalidRequest` for an empty `oldText`, `invalidEncoding` when the file is not
  /// UTF-8, `editNoMatch` and `editAmbiguous` when `oldText` occurs zero or several times; each
  /// message names `path` and says what to do.
  public static func apply(
    oldText: String, newText: String, to bytes: [UInt8], path: String
  ) throws(SpacesError) -> [UInt8] {
    guard !oldText.isEmpty else {
      throw SpacesError(.invalidRequest, "\"oldText\" is empty; give the exact text to replace")
    }
    guard String(validating: bytes, as: UTF8.self) != nil else {
      throw SpacesError(.invalidEncoding, "\(path) is not UTF-8 text; replace it with createFile instead")
    }
    let needle = Array(oldText.utf8)
    let found = matches(of: needle, in: bytes)
    guard found.count == 1, let at = found.first else {
      if found.count == 0 {
        throw SpacesError(
          .editNoMatch,
          "\"oldText\" was not found in \(path); read the file and copy the text exactly, including whitespace")
      }
      throw SpacesError(
        .editAmbiguous,
        "\"oldText\" occurs \(found.count) times in \(path); include more surrounding text so it matches exactly once"
      )
    }
    var edited = bytes
    edited.replaceSubrange(at..<(at + needle.count), with: Array(newText.utf8))
    return edited
  }

  /// Counts the occurrences of `needle` (non-empty) in `haystack`, overlapping ones included,
  /// in time linear in both.
  public static func matches(of needle: [UInt8], in haystack: [UInt8]) -> Matches {
    var result = Matches(count: 0, first: nil)
    guard !needle.isEmpty, needle.count <= haystack.count else { return result }
    // failure[i]: the length of the longest proper border of needle[0...i].
    var failure = [Int](repeating: 0, count: needle.count)
    needle.withUnsafeBufferPointer { pattern in
      var length = 0
      for index in 1..<max(1, pattern.count) {
        while length > 0, pattern[index] != pattern[length] { length = failure[length - 1] }
        if pattern[index] == pattern[length] { length += 1 }
        failure[index] = length
      }
      haystack.withUnsafeBufferPointer { text in
        var matched = 0
        for index in 0..<text.count {
          while matched > 0, text[index] != pattern[matched] { matched = failure[matched - 1] }
          if text[index] == pattern[matched] { matched += 1 }
          if matched == pattern.count {
            result.count += 1
            if result.first == nil { result.first = index + 1 - pattern.count }
            matched = failure[matched - 1]
          }
        }
      }
    }
    return result
  }
}
