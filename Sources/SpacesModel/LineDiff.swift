/// One line of a diff.
public struct DiffLine: Equatable, Sendable {
  /// Whether the line is kept, added, removed, or a hunk separator.
  public enum Kind: Sendable { case context, added, removed, separator }
  /// The kind.
  public var kind: Kind
  /// The line number in the old text (context and removed lines).
  public var oldNumber: Int?
  /// The line number in the new text (context and added lines).
  public var newNumber: Int?
  /// The text, without its newline.
  public var text: String
}

/// A line diff for approval prompts.
public enum LineDiff {
  /// The lines of `text`, without a trailing empty line.
  public static func lines(_ text: String) -> [String] {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    return lines
  }

  /// The diff from `old` to `new`, with `context` unchanged lines around each change.
  ///
  /// Uses a longest-common-subsequence table after trimming the common head and tail; when
  /// the middle is too large for that, it shows it as removed then added.
  public static func diff(old: String, new: String, context: Int = 3) -> [DiffLine] {
    let a = lines(old)
    let b = lines(new)
    var head = 0
    while head < a.count, head < b.count, a[head] == b[head] { head += 1 }
    var tail = 0
    while tail < a.count - head, tail < b.count - head, a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
    let midA = Array(a[head..<(a.count - tail)])
    let midB = Array(b[head..<(b.count - tail)])
    var full: [DiffLine] = []
    for index in 0..<head {
      full.append(DiffLine(kind: .context, oldNumber: index + 1, newNumber: index + 1, text: a[index]))
    }
    var oldLine = head
    var newLine = head
    if midA.count * midB.count <= 4_000_000 {
      // LCS lengths from the end.
      let n = midA.count
      let m = midB.count
      var table = Array(repeating: 0, count: (n + 1) * (m + 1))
      if n > 0 && m > 0 {
        for i in stride(from: n - 1, through: 0, by: -1) {
          for j in stride(from: m - 1, through: 0, by: -1) {
            table[i * (m + 1) + j] =
              midA[i] == midB[j]
              ? table[(i + 1) * (m + 1) + j + 1] + 1
              : max(table[(i + 1) * (m + 1) + j], table[i * (m + 1) + j + 1])
          }
        }
      }
      var i = 0
      var j = 0
      while i < n || j < m {
        if i < n, j < m, midA[i] == midB[j] {
          oldLine += 1
          newLine += 1
          full.append(DiffLine(kind: .context, oldNumber: oldLine, newNumber: newLine, text: midA[i]))
          i += 1
          j += 1
        } else if i < n, j == m || table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1] {
          oldLine += 1
          full.append(DiffLine(kind: .removed, oldNumber: oldLine, newNumber: nil, text: midA[i]))
          i += 1
        } else {
          newLine += 1
          full.append(DiffLine(kind: .added, oldNumber: nil, newNumber: newLine, text: midB[j]))
          j += 1
        }
      }
    } else {
      for line in midA {
        oldLine += 1
        full.append(DiffLine(kind: .removed, oldNumber: oldLine, newNumber: nil, text: line))
      }
      for line in midB {
        newLine += 1
        full.append(DiffLine(kind: .added, oldNumber: nil, newNumber: newLine, text: line))
      }
    }
    for offset in 0..<tail {
      oldLine += 1
      newLine += 1
      full.append(DiffLine(kind: .context, oldNumber: oldLine, newNumber: newLine, text: a[a.count - tail + offset]))
    }
    // Keep only the changes and `context` lines around them.
    let changed = full.indices.filter { full[$0].kind != .context }
    guard !changed.isEmpty else { return [] }
    var keep = Array(repeating: false, count: full.count)
    for index in changed {
      for near in max(0, index - context)...min(full.count - 1, index + context) { keep[near] = true }
    }
    var result: [DiffLine] = []
    var skipped = false
    for (index, line) in full.enumerated() {
      if keep[index] {
        if skipped, !result.isEmpty {
          result.append(DiffLine(kind: .separator, oldNumber: nil, newNumber: nil, text: "…"))
        }
        skipped = false
        result.append(line)
      } else {
        skipped = true
      }
    }
    return result
  }
}
