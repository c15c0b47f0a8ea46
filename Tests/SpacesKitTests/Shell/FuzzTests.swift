import Testing

@testable import SpacesKit

/// A small deterministic random number generator (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
  var state: UInt64

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Shell-heavy fragments that random strings are built from.
private let fragments: [String] = [
  " ", " ", "\n", ";", "&", "&&", "|", "||", "(", ")", "{", "}", "<", ">", ">>", "<<", "<<-",
  "2>&1",
  "'", "\"", "`", "\\", "$", "$(", "${", "$((", "))", "#", "*", "?", "[", "]", "=", "~", "/", "..",
  "-", "!", "ls", "curl", "x", "EOF", "sh", "-c", "git", "if", "then", "fi", "for", "in", "do",
  "done", "case", "esac", ";;", "while", "rm", "-rf", "echo", "<(", "$'", "\t", "é", "\u{FFFD}",
]

private func randomCommand(_ rng: inout SeededRandom) -> String {
  if rng.next() % 4 == 0 {
    let bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    return String(decoding: bytes, as: UTF8.self)
  }
  return (0..<Int(rng.next() % 24)).map { _ in fragments[Int(rng.next() % UInt64(fragments.count))]
  }.joined()
}

/// Whether the shell would run a command substitution in `command`: a `$(` (not `$((`) or a
/// backtick outside single quotes, comments and escapes. Here-documents are not modelled, so
/// callers skip inputs with `<<`.
private func runsSubstitution(_ command: String) -> Bool {
  let bytes = Array(command.utf8)
  var i = 0
  var inSingle = false
  var inDouble = false
  while i < bytes.count {
    let c = bytes[i]
    let next: UInt8? = i + 1 < bytes.count ? bytes[i + 1] : nil
    let afterNext: UInt8? = i + 2 < bytes.count ? bytes[i + 2] : nil
    if inSingle {
      if c == UInt8(ascii: "'") { inSingle = false }
    } else if c == UInt8(ascii: "\\") {
      i += 1
    } else if c == UInt8(ascii: "`")
      || (c == UInt8(ascii: "$") && next == UInt8(ascii: "(") && afterNext != UInt8(ascii: "("))
    {
      return true
    } else if c == UInt8(ascii: "\"") {
      inDouble.toggle()
    } else if !inDouble, c == UInt8(ascii: "'") {
      inSingle = true
    } else if !inDouble, c == UInt8(ascii: "#"),
      i == 0 || " \t\n;&|()<>".utf8.contains(bytes[i - 1])
    {
      while i < bytes.count, bytes[i] != UInt8(ascii: "\n") { i += 1 }
    }
    i += 1
  }
  return false
}

@Test func fuzzNeverCrashesAndNeverAllowsSubstitution() {
  var rng = SeededRandom(state: 0x5EED)
  var checked = 0
  for _ in 0..<20_000 {
    let command = randomCommand(&rng)
    let analysis = ShellAnalyzer.analyze(command)
    let decision = CommandJudge.judge(
      analysis, rules: CommandJudge.standardCommandRules, unmatched: .ask)
    if !command.contains("<<"), runsSubstitution(command) {
      checked += 1
      #expect(decision.decision != .allow, "\(command.debugDescription) → \(decision)")
    }
    if !analysis.hazards.isEmpty {
      #expect(decision.decision != .allow)
    }
  }
  #expect(checked > 1_000)
}

@Test func hugeAndDeepInputsComplete() {
  var rng = SeededRandom(state: 42)
  let noise = (0..<1_000_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
  #expect(!ShellAnalyzer.analyze(String(decoding: noise, as: UTF8.self)).hazards.isEmpty)

  let shellNoise = (0..<60_000).map { _ in fragments[Int(rng.next() % UInt64(fragments.count))] }
    .joined()
  #expect(shellNoise.utf8.count > 100_000)
  _ = CommandJudge.judge(shellNoise, rules: CommandJudge.standardCommandRules, unmatched: .ask)

  let words = String(repeating: "echo hello world; ", count: 60_000)
  #expect(ShellAnalyzer.analyze(words).commands.count == 60_000)

  for open in ["(", "$(", "{ ", "<(", "\"$(", "$(`", "if true; then "] {
    let deep = String(repeating: open, count: 10_000) + "ls"
    #expect(ShellAnalyzer.analyze(deep).hazards.contains { $0.kind == .parseError }, "\(open)")
  }
  let balanced =
    String(repeating: "$(", count: 10_000) + "ls" + String(repeating: ")", count: 10_000)
  #expect(ShellAnalyzer.analyze(balanced).hazards.contains { $0.kind == .parseError })
  let quotes = String(repeating: "'a'\"b\"", count: 100_000)
  #expect(ShellAnalyzer.analyze(quotes).commands.count == 1)
}
