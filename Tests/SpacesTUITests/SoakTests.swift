import Foundation
import Testing

/// `spaces bench soak` at a small scale: nothing is lost and every escape is refused. Its latency
/// and memory targets are the benchmark's, not the tests'.
@Suite struct SoakTests {
  @Test func aSmallSoakLosesNothingAndRefusesEveryEscape() async throws {
    let home = CLIHome()
    let run = try await home.run(
      "bench", "soak", "--agents", "20", "--ops", "10", "--spaces", "4", "--backend", "host", "--slow-readers", "3",
      "--big-file-kib", "256", "--old-text-chars", "10000", "--subscribers", "2", "--sleepers", "10",
      "--sleep-seconds", "20", "--burst", "100", "--burst-pause-ms", "200", "--correctness-only", "--json",
      deadline: .seconds(300))
    #expect(run.status == 0, "\(run.stderr)")
    let report = try #require(run.json, "\(run.stdout.prefix(2000))")
    let runs = try #require(report["runs"] as? [[String: Any]])
    #expect(runs.count == 2)
    for soak in runs {
      let name = soak["name"] as? String ?? "?"
      let audit = try #require(soak["audit"] as? [String: Any])
      #expect(audit["problemCount"] as? Int == 0, "\(name): \(audit["problems"] ?? "")")
      // 20 agents × (10 operations + a warm-up round of 6), in the journals of their 4 spaces.
      #expect(audit["acknowledged"] as? Int == 20 * 16, "\(name)")
      #expect(soak["failedOperations"] as? Int == 0, "\(name): \(soak["failures"] ?? "")")
      #expect((soak["latency"] as? [String: Any])?["count"] as? Int == 200, "\(name)")
      #expect(soak["serverStoppedCleanly"] as? Bool == true, "\(name)")
    }
    let hostile = try #require(runs.last?["misbehavers"] as? [[String: Any]])
    #expect(hostile.count == 8)
    for misbehaver in hostile {
      let kind = misbehaver["kind"] as? String ?? "?"
      #expect((misbehaver["breaches"] as? [String])?.isEmpty == true, "\(kind): \(misbehaver["breaches"] ?? "")")
      #expect(misbehaver["attempts"] as? Int == misbehaver["refused"] as? Int, "\(kind)")
    }
    // The escape attempts and hostile inputs were really made, and each was refused.
    for prefix in ["1 ", "2 ", "3 "] {
      let attempts = hostile.first { ($0["kind"] as? String)?.hasPrefix(prefix) == true }?["attempts"] as? Int
      #expect((attempts ?? 0) > 0, "kind \(prefix)made no attempt")
    }
    let targets = try #require(report["targets"] as? [[String: Any]])
    for target in targets where target["correctness"] as? Bool == true {
      #expect(target["met"] as? Bool == true, "\(target["name"] ?? ""): \(target["detail"] ?? "")")
    }
  }
}
