import ArgumentParser
import Foundation
import SpacesKit
import SpacesModel

/// `spaces bench fuzz`: mutated inputs through the decoders of operations, protocol lines and
/// policy files, in this process; a trap ends the run, so a finished run is the proof.
struct FuzzCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fuzz",
    abstract: "Fuzz the decoders of operations, JSON-RPC lines and policy.yaml with mutated inputs.",
    discussion: """
      Seeds come from the corpus folder (op/*.json, rpc/*.jsonl with one seed per line, policy/*.yaml);
      each input is a seed with one to four mutations (extreme numbers, swapped types, deep nesting,
      huge strings, invalid UTF-8, lone surrogates, duplicate keys, truncation, byte flips, YAML
      anchors, tags and documents), or, now and then, one generated from scratch. The same seed gives
      the same inputs. A refused input is the right outcome for bad input; a trap would end the
      process, and an input slower than --slow-ms is reported and saved. Re-run with --trace FILE to
      keep the input being decoded in FILE, so the one that traps is there afterwards.
      """)

  @Option(help: "Inputs per target.") var inputs = 1_000_000
  @Option(help: "The random seed.") var seed: UInt64 = 1
  @Option(help: "op, rpc, policy or all.") var target = "all"
  @Option(help: "The corpus folder.") var corpus = "Tests/Fuzz/corpus"
  @Option(help: "An input slower than this (ms) is reported and saved.") var slowMs = 1000.0
  @Option(help: "Write each input to this file before decoding it.") var trace: String?
  @Flag(help: "List every outcome class with its count.") var outcomes = false
  // Not `--json`: `spaces bench` has that flag, and a parent's flag takes it from a subcommand.
  @Option(help: "table, or json for one JSON array of reports.") var format = "table"

  func run() throws {
    let targets: [FuzzTarget] = target == "all" ? FuzzTarget.allCases : [FuzzTarget(rawValue: target)].compactMap { $0 }
    guard !targets.isEmpty else { throw ValidationError("--target must be op, rpc, policy or all") }
    guard inputs >= 0 else { throw ValidationError("--inputs must be 0 or more") }
    guard format == "table" || format == "json" else { throw ValidationError("--format must be table or json") }
    let json = format == "json"
    var reports: [FuzzReport] = []
    for fuzzTarget in targets {
      let seeds = try fuzzTarget.seeds(in: corpus)
      var fuzzer = Fuzzer(target: fuzzTarget, seeds: seeds, seed: seed, slowMs: slowMs, trace: trace)
      let report = fuzzer.run(inputs: inputs)
      if !json { CLI.print(report.line(outcomes: outcomes)) }
      reports.append(report)
    }
    if json { CLI.print(SpacesJSON.pretty(reports)) }
    if reports.contains(where: { $0.bugs > 0 || !$0.slow.isEmpty }) { throw ExitCode(1) }
  }
}

/// One decoder under fuzzing.
enum FuzzTarget: String, CaseIterable, Codable {
  case op, rpc, policy

  /// The corpus files' extension.
  var fileExtension: String {
    switch self {
    case .op: "json"
    case .rpc: "jsonl"
    case .policy: "yaml"
    }
  }

  /// The seeds: every corpus file of this target (for rpc, every line of every file).
  func seeds(in corpus: String) throws -> [[UInt8]] {
    let folder = URL(fileURLWithPath: corpus).appendingPathComponent(rawValue)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    var seeds: [[UInt8]] = []
    for name in names.sorted() where name.hasSuffix("." + fileExtension) {
      let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
      if self == .rpc {
        seeds += bytes.split(separator: 0x0A, omittingEmptySubsequences: true).map(Array.init)
      } else {
        seeds.append(bytes)
      }
    }
    guard !seeds.isEmpty else {
      throw ValidationError(
        "no \(rawValue) seeds in \(folder.path) (*.\(fileExtension)); run from the repository or pass --corpus")
    }
    return seeds
  }

  /// Decodes one input.
  func decode(_ input: [UInt8]) -> InputDecoders.Outcome {
    let data = Data(input)
    switch self {
    case .op: return InputDecoders.operation(data)
    case .rpc: return InputDecoders.protocolLine(data)
    case .policy: return InputDecoders.policyFile(data)
    }
  }
}

/// What a fuzzing run of one target found.
struct FuzzReport: Codable {
  var target: FuzzTarget
  var inputs: Int
  var seeds: Int
  var seconds: Double
  var accepted: Int
  /// How often each outcome class came out.
  var outcomes: [String: Int]
  var slowestMs: Double
  /// Inputs over the slowness limit (saved to these files).
  var slow: [String]
  /// Properties that didn't hold (`BUG …` outcomes), with the files their inputs were saved to.
  var bugs: Int
  var bugFiles: [String]
  /// Always 0 in a report: a crash ends the process before the report.
  var crashes = 0

  func line(outcomes listing: Bool) -> String {
    let rate = seconds > 0 ? Double(inputs) / seconds : 0
    var text = String(
      format:
        "%-7@ %9d inputs (%d seeds) in %.1f s (%.0f/s), %d distinct outcomes, %.1f%% accepted, slowest %.2f ms, %d crashes, %d bugs",
      target.rawValue, inputs, seeds, seconds, rate, outcomes.count,
      inputs > 0 ? 100 * Double(accepted) / Double(inputs) : 0, slowestMs, crashes, bugs)
    for file in slow { text += "\n  slow input saved to \(file)" }
    for file in bugFiles { text += "\n  input of a BUG outcome saved to \(file)" }
    if listing {
      for (kind, count) in outcomes.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) {
        text += "\n  \(String(count).padding(toLength: 9, withPad: " ", startingAt: 0)) \(kind)"
      }
    }
    return text
  }
}

/// A small deterministic random number generator (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A number in `0..<bound` (`bound` > 0).
  mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

  /// True once in `n` times.
  mutating func oneIn(_ n: Int) -> Bool { below(n) == 0 }

  /// One of `items` (not empty).
  mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Runs mutated inputs through one target.
struct Fuzzer {
  let target: FuzzTarget
  let seeds: [[UInt8]]
  var random: SplitMix64
  let slowMs: Double
  let traceFile: Int32?

  init(target: FuzzTarget, seeds: [[UInt8]], seed: UInt64, slowMs: Double, trace: String?) {
    self.target = target
    self.seeds = seeds
    // One stream per target, so `--target rpc` gives the inputs of rpc in `--target all`.
    random = SplitMix64(state: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(FuzzTarget.allCases.firstIndex(of: target) ?? 0))
    self.slowMs = slowMs
    traceFile = trace.map { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }.flatMap { $0 >= 0 ? $0 : nil }
  }

  mutating func run(inputs: Int) -> FuzzReport {
    let clock = ContinuousClock()
    var report = FuzzReport(
      target: target, inputs: inputs, seeds: seeds.count, seconds: 0, accepted: 0, outcomes: [:], slowestMs: 0,
      slow: [], bugs: 0, bugFiles: [])
    let start = clock.now
    for index in 0..<inputs {
      // Every seed as it is first, then mutations.
      let input = index < seeds.count ? seeds[index] : mutated()
      if let traceFile {
        _ = ftruncate(traceFile, 0)
        _ = input.withUnsafeBytes { pwrite(traceFile, $0.baseAddress, $0.count, 0) }
      }
      let before = clock.now
      let outcome = target.decode(input)
      let elapsed = milliseconds(clock.now - before)
      report.outcomes[outcome.kind, default: 0] += 1
      if outcome.accepted { report.accepted += 1 }
      if elapsed > report.slowestMs { report.slowestMs = elapsed }
      if elapsed > slowMs, report.slow.count < 5 {
        report.slow.append(save(input, "slow-\(index)"))
      }
      if outcome.isBug {
        report.bugs += 1
        if report.bugFiles.count < 5 { report.bugFiles.append(save(input, "bug-\(index)")) }
      }
    }
    report.seconds = milliseconds(clock.now - start) / 1000
    if let traceFile { close(traceFile) }
    return report
  }

  private func save(_ input: [UInt8], _ name: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "spaces-fuzz-\(target.rawValue)-\(name).\(target.fileExtension)"
    ).path
    _ = FileManager.default.createFile(atPath: path, contents: Data(input))
    return path
  }

  private func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
  }

  // MARK: - Inputs

  /// A seed with one to four mutations, or (one in twenty) an input generated from scratch.
  mutating func mutated() -> [UInt8] {
    var input: [UInt8]
    if random.oneIn(20) {
      input = generated()
    } else {
      input = random.pick(seeds)
    }
    // Mostly one or two: more break the JSON before the decoders see it.
    for _ in 0..<random.pick([1, 1, 1, 1, 2, 2, 3, 4]) {
      mutate(&input)
    }
    return input
  }

  /// An input built from the target's vocabulary.
  mutating func generated() -> [UInt8] {
    switch target {
    case .op:
      return Array(jsonObject(depth: 0, keys: FuzzVocabulary.opKeys).utf8)
    case .rpc:
      let params = random.oneIn(4) ? jsonValue(depth: 1) : jsonObject(depth: 1, keys: FuzzVocabulary.paramKeys)
      let id = random.pick(FuzzVocabulary.ids)
      let method = random.pick(FuzzVocabulary.methods)
      return Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#.utf8)
    case .policy:
      var lines = ["preset: \(random.pick(["standard", "restrictive", "permissive", "x", "~", "[]"]))"]
      for _ in 0..<random.below(4) {
        let key = random.pick(FuzzVocabulary.policyKeys)
        lines.append("\(key): \(random.pick(FuzzVocabulary.yamlValues))")
      }
      lines.append("rules:")
      for _ in 0..<random.below(4) {
        var first = true
        for _ in 0...random.below(4) {
          let key = random.pick(FuzzVocabulary.ruleKeys)
          lines.append("\(first ? "  - " : "    ")\(key): \(random.pick(FuzzVocabulary.yamlValues))")
          first = false
        }
      }
      return Array(lines.joined(separator: "\n").utf8)
    }
  }

  private mutating func jsonObject(depth: Int, keys: [String]) -> String {
    var members: [String] = []
    for _ in 0..<random.below(5) {
      members.append("\"\(random.pick(keys))\":\(jsonValue(depth: depth + 1))")
    }
    return "{" + members.joined(separator: ",") + "}"
  }

  private mutating func jsonValue(depth: Int) -> String {
    switch random.below(depth > 3 ? 3 : 5) {
    case 0: return random.pick(FuzzVocabulary.numbers)
    case 1: return random.pick(FuzzVocabulary.jsonScalars)
    case 2: return "\"\(random.pick(FuzzVocabulary.words))\""
    case 3: return "[" + (0..<random.below(3)).map { _ in jsonValue(depth: depth + 1) }.joined(separator: ",") + "]"
    default: return jsonObject(depth: depth, keys: FuzzVocabulary.opKeys + FuzzVocabulary.paramKeys)
    }
  }

  /// The mutations, each as often as its weight: most keep the text well-formed, so that
  /// the decoders get past the JSON or YAML parser.
  enum Mutation: CaseIterable {
    case number, value, duplicateKey, escape, hugeString, deepNesting, badBytes, truncate, flip, splice, word
    case structural, yamlStructure, lineValue

    func weight(yaml: Bool) -> Int {
      switch self {
      case .number, .value: 4
      case .duplicateKey, .escape: 2
      case .yamlStructure: yaml ? 2 : 0
      case .lineValue: yaml ? 3 : 0
      default: 1
      }
    }
  }

  /// Applies one mutation.
  mutating func mutate(_ input: inout [UInt8]) {
    let yaml = target == .policy
    var roll = random.below(Mutation.allCases.reduce(0) { $0 + $1.weight(yaml: yaml) })
    let mutation = Mutation.allCases.first { mutation in
      roll -= mutation.weight(yaml: yaml)
      return roll < 0
    }
    switch mutation ?? .flip {
    case .number: replaceNumber(&input)
    case .value: replaceValue(&input, yaml: yaml)
    case .duplicateKey: duplicateKey(&input, yaml: yaml)
    case .escape: insertInString(&input, Array(random.pick(FuzzVocabulary.escapes).utf8))
    case .hugeString: hugeString(&input)
    case .deepNesting: deepNesting(&input, yaml: yaml)
    case .badBytes:
      let bytes = random.pick(FuzzVocabulary.badBytes)
      if random.oneIn(2) { insertInString(&input, bytes) } else { insert(&input, bytes) }
    case .truncate:
      if !input.isEmpty { input.removeLast(input.count - random.below(input.count)) }
    case .flip: flipBytes(&input)
    case .splice: splice(&input)
    case .word:
      let words = yaml ? FuzzVocabulary.yamlValues : FuzzVocabulary.methods + FuzzVocabulary.jsonScalars
      insert(&input, Array(random.pick(words).utf8))
    case .structural: insert(&input, Array(random.pick(FuzzVocabulary.structural).utf8))
    case .yamlStructure: yamlStructure(&input)
    case .lineValue: replaceLineValue(&input)
    }
  }

  private mutating func insert(_ input: inout [UInt8], _ bytes: [UInt8]) {
    input.insert(contentsOf: bytes, at: random.below(input.count + 1))
  }

  /// Where number literals are: runs of digits with their sign, point and exponent.
  private func numberRanges(_ input: [UInt8]) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var index = 0
    while index < input.count {
      let byte = input[index]
      if byte >= 0x30 && byte <= 0x39 {
        var start = index
        if start > 0, input[start - 1] == UInt8(ascii: "-") { start -= 1 }
        var end = index
        while end < input.count,
          (input[end] >= 0x30 && input[end] <= 0x39) || [0x2E, 0x65, 0x45, 0x2B, 0x2D].contains(input[end])
        {
          end += 1
        }
        ranges.append(start..<end)
        index = end
      } else {
        index += 1
      }
    }
    return ranges
  }

  private mutating func replaceNumber(_ input: inout [UInt8]) {
    let ranges = numberRanges(input)
    let replacement = Array(random.pick(target == .policy ? FuzzVocabulary.yamlNumbers : FuzzVocabulary.numbers).utf8)
    if ranges.isEmpty {
      replaceValue(&input, yaml: target == .policy)
    } else {
      input.replaceSubrange(random.pick(ranges), with: replacement)
    }
  }

  /// Replaces the value after a `:` with a value of another type.
  private mutating func replaceValue(_ input: inout [UInt8], yaml: Bool) {
    let colons = input.indices.filter { input[$0] == UInt8(ascii: ":") }
    guard let colon = colons.isEmpty ? nil : random.pick(colons) else { return }
    var start = colon + 1
    while start < input.count, input[start] == 0x20 { start += 1 }
    let end = valueEnd(input, from: start, yaml: yaml)
    let pool =
      yaml ? FuzzVocabulary.yamlValues : FuzzVocabulary.jsonScalars + FuzzVocabulary.numbers + FuzzVocabulary.jsonValues
    input.replaceSubrange(start..<end, with: Array(random.pick(pool).utf8))
  }

  /// Where the JSON value starting at `start` ends (for YAML, the end of the line).
  private func valueEnd(_ input: [UInt8], from start: Int, yaml: Bool) -> Int {
    guard start < input.count else { return input.count }
    if yaml { return input[start...].firstIndex(of: 0x0A) ?? input.count }
    var depth = 0
    var inString = false
    var index = start
    while index < input.count {
      let byte = input[index]
      if inString {
        if byte == UInt8(ascii: "\\") {
          index += 1
        } else if byte == UInt8(ascii: "\"") {
          inString = false
          if depth == 0 { return index + 1 }
        }
      } else if byte == UInt8(ascii: "\"") {
        inString = true
      } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
        depth += 1
      } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
        if depth == 0 { return index }
        depth -= 1
        if depth == 0 { return index + 1 }
      } else if byte == UInt8(ascii: ","), depth == 0 {
        return index
      }
      index += 1
    }
    return input.count
  }

  private mutating func deepNesting(_ input: inout [UInt8], yaml: Bool) {
    let depth = random.pick([100, 600, 1001, 5000, 10_000, 100_000])
    let at = random.below(input.count + 1)
    switch random.below(yaml ? 4 : 3) {
    case 0: input.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "["), count: depth), at: at)
    case 1:
      let open = Array(#"{"a":"#.utf8)
      input.insert(contentsOf: (0..<depth).flatMap { _ in open }, at: at)
    case 2:
      let inner =
        [UInt8](repeating: UInt8(ascii: "["), count: depth) + [UInt8](repeating: UInt8(ascii: "]"), count: depth)
      input.insert(contentsOf: inner, at: at)
    default:
      // Block nesting: `- - - - x` on one line, or ever deeper indentation.
      if random.oneIn(2) {
        input.insert(contentsOf: Array(String(repeating: "- ", count: min(depth, 20_000)).utf8) + [0x78], at: at)
      } else {
        var text = ""
        for level in 0..<min(depth, 300) { text += String(repeating: " ", count: level) + "k\(level):\n" }
        input.insert(contentsOf: Array(text.utf8), at: at)
      }
    }
  }

  private mutating func hugeString(_ input: inout [UInt8]) {
    // Huge is expensive: most are 4 KiB, one in fifty a megabyte.
    let length = random.oneIn(50) ? 1 << 20 : 4096
    let filler = random.pick(["a", "\\n", "\\u00e9", " ", "é", "\\\\", "\"", "[]"])
    let text = String(repeating: filler, count: length / max(1, filler.utf8.count))
    if random.oneIn(2) {
      insertInString(&input, Array(text.utf8))
    } else {
      insert(&input, Array(text.utf8))
    }
  }

  /// Inserts bytes right after a `"` (inside a string, most of the time).
  private mutating func insertInString(_ input: inout [UInt8], _ bytes: [UInt8]) {
    let quotes = input.indices.filter { input[$0] == UInt8(ascii: "\"") }
    if quotes.isEmpty {
      insert(&input, bytes)
    } else {
      input.insert(contentsOf: bytes, at: random.pick(quotes) + 1)
    }
  }

  private mutating func duplicateKey(_ input: inout [UInt8], yaml: Bool) {
    if yaml {
      let key = random.pick(FuzzVocabulary.policyKeys + FuzzVocabulary.ruleKeys)
      insert(&input, Array("\n\(key): \(random.pick(FuzzVocabulary.yamlValues))\n".utf8))
      return
    }
    let braces = input.indices.filter { input[$0] == UInt8(ascii: "{") }
    guard !braces.isEmpty else { return }
    let key = random.pick(FuzzVocabulary.opKeys + FuzzVocabulary.paramKeys + ["jsonrpc", "id", "method", "params"])
    let value = random.oneIn(2) ? random.pick(FuzzVocabulary.jsonValues) : jsonValue(depth: 2)
    input.insert(contentsOf: Array("\"\(key)\":\(value),".utf8), at: random.pick(braces) + 1)
  }

  private mutating func flipBytes(_ input: inout [UInt8]) {
    guard !input.isEmpty else { return }
    for _ in 0...random.below(4) {
      let index = random.below(input.count)
      switch random.below(3) {
      case 0: input[index] ^= UInt8(1 << random.below(8))
      case 1: input[index] = UInt8(truncatingIfNeeded: random.next())
      default: input.remove(at: index)
      }
      if input.isEmpty { return }
    }
  }

  /// Crosses the input with a piece of another seed, or repeats a piece of itself.
  private mutating func splice(_ input: inout [UInt8]) {
    let other = random.oneIn(2) ? random.pick(seeds) : input
    guard !other.isEmpty else { return }
    let start = random.below(other.count)
    let end = start + random.below(min(other.count - start, 256) + 1)
    let piece = Array(other[start..<end])
    let at = random.below(input.count + 1)
    if random.oneIn(2) {
      input.insert(contentsOf: piece, at: at)
    } else {
      input.replaceSubrange(at..<min(input.count, at + piece.count), with: piece)
    }
  }

  /// YAML's own structure: anchors and aliases (a bounded "billion laughs"), tags, several
  /// documents, directives, complex keys, merges.
  private mutating func yamlStructure(_ input: inout [UInt8]) {
    switch random.below(5) {
    case 0:
      // Each level aliases the previous one nine times: expanded it would be 9^levels nodes.
      var text = "x0: &a0 [lol]\n"
      let levels = random.pick([3, 6, 9, 12])
      for level in 1...levels {
        text += "x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ",") + "]\n"
      }
      let use = random.pick(["rules", "limits", "paths", "kinds", "preset", "network"])
      text += "\(use): *a\(levels)\n"
      if random.oneIn(2) {
        input = Array(text.utf8)
      } else {
        insert(&input, Array(text.utf8))
      }
    case 1:
      insert(&input, Array(random.pick(FuzzVocabulary.yamlDocuments).utf8))
    case 2:
      input = Array("%YAML 1.1\n%TAG ! tag:x,2000:\n--- ".utf8) + input
    case 3:
      // Anchor a value and use it elsewhere.
      let lines = input.split(separator: 0x0A, omittingEmptySubsequences: false)
      guard let line = lines.isEmpty ? nil : random.pick(lines), let colon = line.firstIndex(of: UInt8(ascii: ":"))
      else { return }
      let value = Array(line[(colon + 1)...])
      input = Array("base: &b \(String(decoding: value, as: UTF8.self))\n".utf8) + input
      replaceLineValue(&input, with: " *b")
    default:
      insert(&input, Array("\n? [complex, key]\n: value\n<<: {preset: standard}\n".utf8))
    }
  }

  /// Replaces the rest of a line after its `:` (YAML).
  private mutating func replaceLineValue(_ input: inout [UInt8], with value: String? = nil) {
    let colons = input.indices.filter { input[$0] == UInt8(ascii: ":") }
    guard !colons.isEmpty else { return }
    let colon = random.pick(colons)
    let end = input[(colon + 1)...].firstIndex(of: 0x0A) ?? input.count
    let replacement = value ?? " " + random.pick(FuzzVocabulary.yamlValues + FuzzVocabulary.yamlNumbers)
    input.replaceSubrange((colon + 1)..<end, with: Array(replacement.utf8))
  }
}

/// The words inputs are made of.
enum FuzzVocabulary {
  static let numbers = [
    "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "1e308", "-1e308", "1e309", "1.5", "-0", "0", "-1", "1e-320", "4.9e-324",
    "0.0000001", "1E+2", "123456789012345678901234567890", "2147483648", "4294967296", "1.0", "1e2", "-0.0",
    "00", "01", "+1", ".5", "5.", "0x10", "NaN", "Infinity", "-Infinity", "1e", "--1", "1_000",
  ]
  static let yamlNumbers = [
    "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616",
    "99999999999999999999999", "1e308", "-1e308", "1.5", "-0", "0", "-1", "1e-320", ".inf", "-.inf", ".nan",
    "0x7fffffffffffffff", "0x8000000000000000", "-0x8000000000000000", "0o777777777777777777777777",
    "0b1111111111111111111111111111111111111111111111111111111111111111", "1:2:3:4:5:6:7:8:9:10:11:12",
    "-1:0:0:0:0:0:0:0:0:0:0:0", "99999999999:0:0:0", "1_000_000", "+_1_", "0777", "012345678", "1:60",
    "190:20:30", "0x", "-", "+", "1e", "0.", "'60000'", "\"60000\"", "!!int 60000", "!!float 1e3", "!!str 5",
    "!!int 1:2:3:4:5:6:7:8:9:10:11:12:13", "!!int 0x8000000000000000",
  ]
  static let jsonScalars = ["null", "true", "false", "\"\"", "\"x\"", "0", "[]", "{}", "nul", "tru", "\"\\u0000\""]
  static let jsonValues = [
    "[1,2]", "{\"a\":1}", "[[[]]]", "{\"kind\":\"shell\"}", "[null]", "\"\\ud800\"", "\"\\udc00\\ud800\"",
    "\"\\uD83D\\uDE00\"", "\"\\\"\"", "\"a\\/b\"", "\"\\x41\"", "\"\\u12\"", "1.5", "9223372036854775807",
    "\"9223372036854775807\"", "{\"\":\"\"}", "[\"shell\"]", "{\"id\":{}}",
  ]
  static let escapes = [
    "\\ud800", "\\udc00", "\\udbff\\udfff", "\\ud800\\u0041", "\\u0000", "\\uffff", "\\ufffe", "\\uZZZZ",
    "\\u12", "\\", "\\x00", "\\u00e9", "\\uD834\\uDD1E", "\\/", "\\b\\f\\n\\r\\t", "\\U0001F600", "\\N",
  ]
  static let badBytes: [[UInt8]] = [
    [0xFF], [0xFE], [0xC0, 0x80], [0xC3], [0x80], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
    [0xF8, 0x88, 0x80, 0x80, 0x80], [0x00], [0xEF, 0xBB, 0xBF], [0xE2, 0x80, 0xA8], [0x0D], [0x0A], [0x09], [0x7F],
    [0xC2, 0x85], [0xF0, 0x9F, 0x98, 0x80], [0xE0, 0x80, 0xAF], [0x1B],
  ]
  static let structural = ["{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\n", ",,", "{}", "[]", "::", "\"\""]
  static let opKeys = [
    "kind", "kind", "path", "content", "encoding", "oldText", "newText", "recursive", "command", "timeoutMs", "text",
    "", "KIND", "kind\u{0}", "extra",
  ]
  static let paramKeys = [
    "space", "op", "events", "role", "token", "client", "name", "policy", "backend", "workspace", "network", "image",
    "id", "fromSeq", "subscription", "decision", "feedback", "rules", "path", "content", "encoding", "recursive",
    "reason", "seconds",
  ]
  static let methods = [
    "hello", "request.cancel", "space.create", "space.list", "space.get", "space.delete", "op.submit",
    "events.subscribe", "events.unsubscribe", "approval.list", "approval.resolve", "approval.extend", "policy.check",
    "file.list",
    "file.read", "file.write", "file.delete", "", "HELLO", "op.submit ", "rpc.discover", "event",
  ]
  static let ids = [
    "1", "0", "-1", "\"a\"", "null", "1.5", "1e400", "-0", "[]", "{}", "true", "9223372036854775807",
    "9223372036854775808", "\"\"", "\"\\ud800\"",
  ]
  static let words = [
    "shell", "readFile", "createFile", "editFile", "deleteFile", "message", "utf8", "base64", "agent", "supervisor",
    "ask", "allow", "deny", "once", "session", "always", "standard", "permissive", "restrictive", "bubblewrap",
    "container", "demo", "a.txt", "../../etc/passwd", "/etc/passwd", "", "echo hi", "rm -rf /", "sub-1", "op_x",
  ]
  static let policyKeys = ["preset", "network", "approvalTimeoutSeconds", "limits", "rules", "extra"]
  static let ruleKeys = ["name", "kinds", "paths", "command", "decision", "reason", "other"]
  static let yamlValues = [
    "standard", "permissive", "restrictive", "true", "false", "yes", "no", "on", "off", "~", "null", "[]", "{}", "''",
    "\"\"", "[shell]", "[shell, createFile]", "[[shell]]", "{a: 1}", "allow", "ask", "deny", "git push", "\"\\0\"",
    "\"\\x01\\x7f\"", "\"\\u0085\\u2028\"", "\"a\\tb\"", "\"\\r\"", "\"\\ud800\"", "\"\\U0010FFFF\"", "\"#x\"",
    "'it''s'", "|\n  block\n  text", ">-\n  folded", "!!binary aGVsbG8=", "!!binary", "!!str", "!!map {}",
    "!!seq []", "!!set {a, b}", "!!omap [a: 1]", "!!timestamp 2001-12-14", "!custom x", "!<tag:yaml.org,2002:str> x",
    "&x y", "*x", "*undefined", "<<", "- a\n- b", "[\"migrations/**\"]", "[\"/abs\"]", "[\"\"]", "[\"**/**/**/*\"]",
    "\"**\"", "\"[\"", "\"{a}\"", "timeoutMs: 1", "{timeoutMs: 9223372036854775807}", "{memoryBytes: -1}",
    "{cpuSeconds: 1:2:3:4:5:6:7:8:9:10:11:12}", "{timeoutMs: 0x7fffffffffffffff}", "{timeoutMs: 1e308}",
    "{unknown: 1}", "@", "`", "%", "\t", "? x", "- - - x", "'unterminated", "\"unterminated",
  ]
  static let yamlDocuments = [
    "\n---\npreset: standard\n", "\n...\n", "\n--- !!str\n", "\n---\n---\n", "\n%YAML 1.2\n---\n", "\n--- |\n  x\n",
  ]
}
