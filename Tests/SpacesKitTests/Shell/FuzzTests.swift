import Testing

@testable import SpacesKit
@testable import SpacesPolicy

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

/// The CPU-heavy fuzz tests run on a GCD thread: on two cores, a test computing for seconds on
/// one of the concurrency pool's two threads stalls every other test's tasks (and their deadlines).
@Test func fuzzNeverCrashesAndNeverAllowsSubstitution() async throws {
  let (checked, allowed) = try await blocking { () -> (Int, [String]) in
    var rng = SeededRandom(state: 0x5EED)
    var checked = 0
    var allowed: [String] = []
    for _ in 0..<20_000 {
      let command = randomCommand(&rng)
      let analysis = ShellAnalyzer.analyze(command)
      let decision = CommandJudge.judge(
        analysis, rules: CommandJudge.standardCommandRules, unmatched: .ask)
      if !command.contains("<<"), runsSubstitution(command) {
        checked += 1
        if decision.decision == .allow { allowed.append("\(command.debugDescription) → \(decision)") }
      }
      if !analysis.hazards.isEmpty, decision.decision == .allow {
        allowed.append("\(command.debugDescription) has hazards → \(decision)")
      }
    }
    return (checked, allowed)
  }
  #expect(allowed.isEmpty, "\(allowed.prefix(10))")
  #expect(checked > 1_000)
}

@Test func hugeAndDeepInputsComplete() async throws {
  let failures = try await blocking { () -> [String] in
    var failures: [String] = []
    var rng = SeededRandom(state: 42)
    let noise = (0..<1_000_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    if ShellAnalyzer.analyze(String(decoding: noise, as: UTF8.self)).hazards.isEmpty { failures.append("\(#line)") }

    let shellNoise = (0..<60_000).map { _ in fragments[Int(rng.next() % UInt64(fragments.count))] }
      .joined()
    if !(shellNoise.utf8.count > 100_000) { failures.append("\(#line)") }
    _ = CommandJudge.judge(shellNoise, rules: CommandJudge.standardCommandRules, unmatched: .ask)

    let words = String(repeating: "echo hello world; ", count: 60_000)
    if !(ShellAnalyzer.analyze(words).commands.count == 60_000) { failures.append("\(#line)") }

    for open in ["(", "$(", "{ ", "<(", "\"$(", "$(`", "if true; then "] {
      let deep = String(repeating: open, count: 10_000) + "ls"
      if !(ShellAnalyzer.analyze(deep).hazards.contains { $0.kind == .parseError }) {
        failures.append("line \(#line): \(open)")
      }
    }
    let balanced =
      String(repeating: "$(", count: 10_000) + "ls" + String(repeating: ")", count: 10_000)
    if !(ShellAnalyzer.analyze(balanced).hazards.contains { $0.kind == .parseError }) { failures.append("\(#line)") }
    let quotes = String(repeating: "'a'\"b\"", count: 100_000)
    if !(ShellAnalyzer.analyze(quotes).commands.count == 1) { failures.append("\(#line)") }
    return failures
  }
  #expect(failures.isEmpty, "failed checks at lines \(failures)")
}
