import Foundation
import Testing

/// `spaces bench fuzz` on a few thousand inputs per target: it must finish (a trap in a
/// decoder would end the process), with no broken property and no slow input.
@Suite struct FuzzBenchTests {
  static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz/corpus").path

  @Test func fiveThousandInputsPerTargetFinishCleanly() async throws {
    let home = CLIHome()
    let run = try await home.run(
      "bench", "fuzz", "--inputs", "5000", "--seed", "11", "--corpus", Self.corpus, "--format", "json",
      // A debug build on a busy machine: the slowness limit of a benchmark run (1 s) is for
      // release builds; a megabyte of escapes takes ~0.35 s there, several times that here.
      "--slow-ms", "10000",
      deadline: .seconds(300))
    #expect(run.status == 0, "\(run.stderr)")
    let reports = try #require(
      (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [[String: Any]], "\(run.stdout)")
    #expect(reports.map { $0["target"] as? String } == ["op", "rpc", "policy"])
    for report in reports {
      let target = report["target"] as? String ?? "?"
      #expect(report["inputs"] as? Int == 5000, "\(target)")
      #expect(report["bugs"] as? Int == 0, "\(target): \(report["bugFiles"] ?? "")")
      #expect((report["slow"] as? [String])?.isEmpty == true, "\(target): \(report["slow"] ?? "")")
      // Both outcomes happen: the mutations reach past the first check.
      let outcomes = report["outcomes"] as? [String: Int] ?? [:]
      #expect(outcomes.keys.contains { $0.hasPrefix("ok") }, "\(target)")
      #expect(outcomes.keys.filter { $0.hasPrefix("error") }.count >= 5, "\(target): \(outcomes)")
    }
  }

  @Test func theSameSeedGivesTheSameOutcomes() async throws {
    let home = CLIHome()
    var outputs: [String] = []
    for _ in 0..<2 {
      let run = try await home.run(
        "bench", "fuzz", "--inputs", "300", "--target", "op", "--corpus", Self.corpus, "--outcomes")
      #expect(run.status == 0, "\(run.stderr)")
      // The figures after "in" are times; the outcome classes and counts must repeat exactly.
      outputs.append(run.stdout.split(separator: "\n").dropFirst().joined(separator: "\n"))
    }
    #expect(outputs[0] == outputs[1])
    #expect(!outputs[0].isEmpty)
  }
}
