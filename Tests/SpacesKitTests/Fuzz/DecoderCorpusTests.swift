import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesPolicy

/// The fuzzing corpus (`Tests/Fuzz/corpus`) through the decoders: every seed decodes without
/// breaking a property, and every regression input gets the outcome it was added for.
@Suite struct DecoderCorpusTests {
  static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

  /// The corpus files of one target, by name.
  static func files(_ target: String, _ ext: String) throws -> [(name: String, data: Data)] {
    let folder = corpus.appendingPathComponent(target)
    return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().filter { $0.hasSuffix(ext) }
      .map { ($0, try Data(contentsOf: folder.appendingPathComponent($0))) }
  }

  static func lines(_ data: Data) -> [Data] {
    data.split(separator: 0x0A, omittingEmptySubsequences: true).map { Data($0) }
  }

  @Test func everyOperationSeedDecodes() throws {
    let files = try Self.files("op", ".json")
    #expect(files.count >= 15)
    var kinds = Set<String>()
    for file in files {
      let outcome = InputDecoders.operation(file.data)
      #expect(!outcome.isBug, "\(file.name): \(outcome.kind)")
      if !file.name.hasPrefix("regress-") {
        #expect(outcome.accepted, "\(file.name): \(outcome.message ?? "")")
        kinds.insert(outcome.kind)
      }
    }
    #expect(kinds.count == Op.Kind.allCases.count, "a seed for every kind of operation")
  }

  @Test func everyProtocolSeedDecodes() throws {
    var methods = Set<String>()
    for file in try Self.files("rpc", ".jsonl") {
      for line in Self.lines(file.data) {
        let outcome = InputDecoders.protocolLine(line)
        #expect(!outcome.isBug, "\(file.name): \(outcome.kind)")
        if file.name.hasPrefix("regress-") || file.name == "invalid.jsonl" { continue }
        #expect(outcome.accepted, "\(file.name): \(String(decoding: line, as: UTF8.self)): \(outcome.message ?? "")")
        methods.insert(outcome.kind)
      }
    }
    for method in RPCMethod.allCases {
      #expect(methods.contains("ok \(method.rawValue)"), "a seed for \(method.rawValue)")
    }
  }

  @Test func everyPolicySeedParses() throws {
    let files = try Self.files("policy", ".yaml")
    #expect(files.count >= 10)
    for file in files {
      let outcome = InputDecoders.policyFile(file.data)
      #expect(!outcome.isBug, "\(file.name): \(outcome.kind)")
      if !file.name.hasPrefix("regress-") {
        #expect(outcome.accepted, "\(file.name): \(outcome.message ?? "")")
      }
    }
  }

  /// What each regression input must come out as: accepted, or refused with a message that
  /// contains every one of these words.
  static let regressions: [String: [String]?] = [
    // Refused where it is read: an operation's timeout is at most a day (it trapped the runner).
    "op/regress-timeout-max.json": ["\"timeoutMs\"", "from 1 to 86400000"],
    "op/regress-timeout-overflow.json": ["\"timeoutMs\"", "whole number"],
    "op/regress-timeout-fraction.json": ["\"timeoutMs\"", "whole number"],
    "op/regress-timeout-huge-double.json": ["\"timeoutMs\"", "whole number"],
    // It said "expected Dictionary<String, Any>".
    "op/regress-not-an-object.json": ["an operation must be a JSON object"],
    "rpc/regress-submit-timeout-max.jsonl": ["op.submit", "\"timeoutMs\"", "from 1 to 86400000"],
    // Foundation's error for these numbers says "not valid JSON", naming no field.
    "rpc/regress-fromseq-overflow.jsonl": ["events.subscribe", "\"fromSeq\" must be a whole number"],
    "rpc/regress-fromseq-fraction.jsonl": ["events.subscribe", "\"fromSeq\" must be a whole number"],
    "rpc/regress-id-fraction.jsonl": ["\"id\"", "whole number"],
    // Hostile numbers for more time, and a reason over its bound: refused naming the field.
    "rpc/regress-extend-seconds-huge.jsonl": ["approval.extend", "\"seconds\" must be a whole number from 1 to 3600"],
    "rpc/regress-extend-seconds-negative.jsonl": ["approval.extend", "\"seconds\"", "not -1"],
    "rpc/regress-submit-reason-long.jsonl": ["op.submit", "\"reason\" is 501 characters long"],
    "policy/regress-limit-timeout-max.yaml": ["policy.yaml:3:14", "`timeoutMs`", "from 0 to 86400000"],
    "policy/regress-limit-sexagesimal-overflow.yaml": ["policy.yaml:3:", "`timeoutMs`", "whole number"],
    "policy/regress-approval-sexagesimal-overflow.yaml": [
      "policy.yaml:2:", "`approvalTimeoutSeconds`", "whole number",
    ],
    "policy/regress-limit-huge.yaml": ["`memoryBytes`", "at most 9223372036854775807"],
    "policy/regress-limit-float.yaml": ["`timeoutMs`", "whole number"],
    // Its rules, written back as an approval appends them, must read back the same.
    "policy/regress-rule-write-back-escapes.yaml": nil,
  ]

  @Test(arguments: regressions.keys.sorted())
  func regressionInput(_ path: String) throws {
    let data = try Data(contentsOf: Self.corpus.appendingPathComponent(path))
    let outcome: InputDecoders.Outcome
    switch path.split(separator: "/").first {
    case "op": outcome = InputDecoders.operation(data)
    case "rpc": outcome = InputDecoders.protocolLine(Self.lines(data).first ?? data)
    default: outcome = InputDecoders.policyFile(data)
    }
    guard let words = Self.regressions[path] ?? nil else {
      #expect(outcome.accepted, "\(path): \(outcome.message ?? "")")
      return
    }
    #expect(!outcome.accepted && !outcome.isBug, "\(path): \(outcome.kind)")
    let message = outcome.message ?? ""
    for word in words {
      #expect(message.contains(word), "\(path): \(message)")
    }
  }

  @Test func everyRegressionFileHasAnExpectation() throws {
    for (target, ext) in [("op", ".json"), ("rpc", ".jsonl"), ("policy", ".yaml")] {
      for file in try Self.files(target, ext) where file.name.hasPrefix("regress-") {
        #expect(Self.regressions.keys.contains("\(target)/\(file.name)"), "no expectation for \(target)/\(file.name)")
      }
    }
  }

  /// A base-60 number that overflows trapped inside Yams before it was refused.
  @Test func baseSixtyNumbersAreRefusedNotTrapped() throws {
    let text = "preset: standard\nlimits:\n  cpuSeconds: 1:2:3:4:5:6:7:8:9:10:11:12:13:14\n"
    #expect(throws: SpacesError.self) { try PolicyFile.parse(text) }
    let short = try? PolicyFile.parse("preset: standard\napprovalTimeoutSeconds: 1:30\n")
    #expect(short == nil, "base-60 numbers are refused, short ones too")
    #expect(try PolicyFile.parse("preset: standard\napprovalTimeoutSeconds: 90\n").approvalTimeoutSeconds == 90)
  }
}
