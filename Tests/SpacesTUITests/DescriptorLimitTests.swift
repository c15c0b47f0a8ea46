import Foundation
import Testing

/// With no file descriptors left, errors say so: never "the space has no readable config" or
/// "no space called …" for a space that is there.
///
/// Each run is a `spaces` process under its own `ulimit -n`, so the test process (and the
/// tests running beside it) keeps its descriptors.
@Suite struct DescriptorLimitTests {
  let home = CLIHome()

  /// Runs `spaces` with `arguments` under `ulimit -n limit`.
  func run(limit: Int, _ arguments: [String]) async throws -> Run {
    let environment = home.environment
    return try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(
          with: Result {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments =
              ["-c", #"ulimit -n "$1" && shift && exec "$@""#, "sh", "\(limit)", Binary.path] + arguments
            process.environment = environment
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let collected = Collected()
            let group = DispatchGroup()
            group.enter()
            DispatchQueue.global().async {
              collected.set(err: err.fileHandleForReading.readDataToEndOfFile())
              group.leave()
            }
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            if group.wait(timeout: .now() + 60) == .timedOut { process.terminate() }
            process.waitUntilExit()
            return Run(
              status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
              stderr: String(decoding: collected.err, as: UTF8.self))
          })
      }
    }
  }

  @Test func runningOutOfDescriptorsIsReportedAsSuch() async throws {
    let created = try await home.run("space", "create", "s", "--backend", "host")
    #expect(created.status == 0, "\(created.stderr)")
    // An operation opens the config, the workspace, the journal and the policy, one after the
    // other: some limit runs out at each of them. (`space show` needs one descriptor beyond
    // stdio, so it either runs or can't start.)
    let commands: [[String]] = [
      ["op", "s", #"{"kind":"message","text":"hi"}"#],
      ["op", "s", #"{"kind":"readFile","path":"missing.txt"}"#],
    ]
    for command in commands {
      var failures: [String] = []
      var successes = 0
      // From too few descriptors to start at all, up to enough: every failure on the way
      // names the real cause.
      for limit in 4...24 {
        let run = try await run(limit: limit, command)
        let said = run.stderr + run.stdout
        // It ran to its answer: completed, or the missing file's notFound.
        if let error = run.json?["error"] as? [String: Any], error["code"] as? String == "notFound" {
          successes += 1
          continue
        }
        if run.status == 0 {
          successes += 1
          continue
        }
        #expect(!said.contains("no readable config"), "ulimit -n \(limit): \(said)")
        #expect(!said.contains("no space called"), "ulimit -n \(limit): \(said)")
        #expect(!said.contains("has no config"), "ulimit -n \(limit): \(said)")
        if said.contains("too many open files in the runtime") {
          #expect(said.contains("try again"), "ulimit -n \(limit): \(said)")
          failures.append(said)
        }
      }
      #expect(!failures.isEmpty, "\(command): no run hit the descriptor limit")
      #expect(successes > 0, "\(command): no run had enough descriptors")
    }
    // Under a normal limit the space is there as it was.
    let show = try await home.run("space", "show", "s", "--json")
    #expect(show.json?["name"] as? String == "s")
  }
}
