import Foundation
import SpacesTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// SIGKILL of `spaces undo` at random points: on reopen, the tree is exactly as before the undo
/// or as after it, and the journal says so.
@Suite(.serialized) struct UndoCrashTests {
  static let bwrap = FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap")

  @Test(.enabled(if: bwrap, "needs bwrap")) func killNineDuringUndoLeavesBeforeOrAfter() async throws {
    let home = CLIHome()
    #expect(try await home.run("space", "create", "u").status == 0)
    let workspace = home.path + "/spaces/u/workspace"
    let seed = try await home.run(
      "op", "u",
      #"{"kind":"shell","command":"for i in $(seq 1 80); do echo base $i > f$i; done; mkdir -p d/e && echo x > d/e/g && chmod 750 d"}"#
    )
    #expect(seed.status == 0, "\(seed.stderr)")
    let start = Tree(workspace)
    let change =
      #"{"kind":"shell","command":"for i in $(seq 1 80); do echo more >> f$i; done; mkdir -p n/m && echo y > n/m/y && rm -r d && ln -s f1 l && chmod 600 f2"}"#
    // How long a whole undo takes here (process start included), to spread the kills over it.
    let clock = ContinuousClock()
    let calibration = try #require(try await home.run("op", "u", change).json?["id"] as? String)
    var environment = home.environment
    environment["SPACES_TEST_UNDO_PAUSE_US"] = "150"
    let began = clock.now
    let whole = Process()
    whole.executableURL = URL(fileURLWithPath: Binary.path)
    whole.arguments = ["undo", "u", calibration]
    whole.environment = environment
    whole.standardOutput = FileHandle.nullDevice
    try whole.run()
    whole.waitUntilExit()
    let span = clock.now - began
    #expect(whole.terminationStatus == 0)
    #expect(Tree(workspace) == start)
    let spanMicros = Int(span.components.seconds) * 1_000_000 + Int(span.components.attoseconds / 1_000_000_000_000)

    var outcomes = (before: 0, after: 0)
    var recovered = 0
    for round in 1...50 {
      let ran = try await home.run("op", "u", change)
      let op = try #require(ran.json?["id"] as? String, "round \(round): \(ran.stdout) \(ran.stderr)")
      let changed = Tree(workspace)
      #expect(changed != start)

      // Undo in a process of its own, slowed between steps, and kill it at a random moment.
      let process = Process()
      process.executableURL = URL(fileURLWithPath: Binary.path)
      process.arguments = ["undo", "u", op]
      process.environment = environment
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      try await Task.sleep(for: .microseconds(Int.random(in: spanMicros / 4...max(spanMicros / 4 + 1, spanMicros))))
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()

      // Opening the space again finishes an interrupted undo.
      #expect(try await home.run("changes", "u").status == 0)
      let after = Tree(workspace)
      if after == start {
        outcomes.before += 1
        let journal = try await home.journal("u")
        let undone = journal.filter {
          $0["type"] as? String == "undone" && ($0["undo"] as? [String: Any])?["target"] as? String == op
        }
        #expect(
          undone.count == 1,
          "round \(round): the undo is journaled once; its events: \(journal.filter { "\($0)".contains(op) })")
        if (undone.first?["undo"] as? [String: Any])?["recovered"] as? Bool == true { recovered += 1 }
      } else {
        #expect(after == changed, "round \(round): neither before nor after the undo")
        guard after == changed else { return }
        outcomes.after += 1
        #expect(try await home.run("undo", "u", op).status == 0)
        #expect(Tree(workspace) == start)
      }
    }
    // Both kinds of outcome happen across the rounds (the kill lands before and after the intent).
    print(
      "undo kill rounds (a whole undo: \(spanMicros / 1000) ms): \(outcomes.before) finished (\(recovered) of them "
        + "on reopen), \(outcomes.after) not started")
    #expect(outcomes.before > 0)
  }

  /// SIGKILL of the runtime (`spaces op`) while its command runs: the next open records what
  /// the command changed, closes it in the journal as failed (interrupted) with that record, and
  /// undo gives back the tree from before, byte for byte.
  @Test(.enabled(if: bwrap, "needs bwrap")) func killNineDuringACommandLeavesAnUndoableRecord() async throws {
    let home = CLIHome()
    #expect(try await home.run("space", "create", "c").status == 0)
    let workspace = home.path + "/spaces/c/workspace"
    let seed = try await home.run(
      "op", "c",
      #"{"kind":"shell","command":"mkdir -p keep/deep && echo one > keep/a && echo two > keep/deep/b && echo gone > doomed && printf '\\000\\377' > bin && ln -s keep/a link && chmod 640 keep/a"}"#
    )
    #expect(seed.status == 0, "\(seed.stderr)")
    let before = Tree(workspace)

    // A command that changes things and then sleeps: killed, with its runtime, once it has.
    let writer = Process()
    writer.executableURL = URL(fileURLWithPath: Binary.path)
    writer.arguments = [
      "op", "c",
      #"{"kind":"shell","command":"mkdir -p out && for i in $(seq 1 30); do echo $i > out/f$i; done; rm doomed link; echo more >> keep/deep/b; chmod 600 bin; mv keep/a keep/moved; echo done > out/last; sleep 60","timeoutMs":120000}"#,
    ]
    writer.environment = home.environment
    writer.standardOutput = FileHandle.nullDevice
    writer.standardError = FileHandle.nullDevice
    try writer.run()
    try await eventually("the command to write its files") {
      FileManager.default.fileExists(atPath: workspace + "/out/last")
    }
    kill(writer.processIdentifier, SIGKILL)
    writer.waitUntilExit()
    #expect(writer.terminationReason == .uncaughtSignal)
    let changed = Tree(workspace)
    #expect(changed != before)
    let started = try await home.journal("c").filter { $0["type"] as? String == "started" }
    let op = try #require(started.last?["opId"] as? String)

    // The next open (any command that opens the space) closes it.
    let shown = try await home.run("changes", "c", op, "--json")
    #expect(shown.status == 0, "\(shown.stderr)")
    #expect(shown.json?["status"] as? String == "recorded", "\(shown.stdout)")
    let ends = try await home.journal("c").filter {
      $0["opId"] as? String == op && ["completed", "failed", "denied"].contains($0["type"] as? String ?? "")
    }
    #expect(ends.count == 1, "the interrupted command is closed once: \(ends)")
    let end = try #require(ends.first)
    #expect(end["type"] as? String == "failed")
    let error = (end["result"] as? [String: Any])?["error"] as? [String: Any]
    #expect(error?["code"] as? String == "cancelled")
    let message = (error?["message"] as? String) ?? ""
    #expect(message.contains("interrupted"), "\(error ?? [:])")
    let summary = try #require(end["changes"] as? [String: Any], "no change summary on the failed event")
    #expect(summary["record"] as? String == op)
    #expect((summary["added"] as? Int ?? 0) >= 31)
    #expect(Tree(workspace) == changed, "closing it changed nothing in the workspace")

    // Opening again doesn't close it twice; undo gives the tree from before.
    #expect(try await home.run("changes", "c").status == 0)
    let again = try await home.journal("c").filter { $0["opId"] as? String == op && $0["type"] as? String == "failed" }
    #expect(again.count == 1)
    let undone = try await home.run("undo", "c", op)
    #expect(undone.status == 0, "\(undone.stdout) \(undone.stderr)")
    let back = Tree(workspace)
    #expect(
      back == before,
      "\(back.difference(from: before))")
  }
}

/// `spaces space show` says when recording for undo has to read the whole workspace for each
/// command (no inotify watch), and stops saying it once the watch works again.
@Suite struct RecordingSpeedTests {
  @Test func spaceShowSaysWhenRecordingIsSlower() async throws {
    let home = CLIHome()
    #expect(try await home.run("space", "create", "w", "--backend", "host", "--policy", "permissive").status == 0)
    var environment = home.environment
    environment["SPACES_NO_INOTIFY"] = "1"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Binary.path)
    process.arguments = ["op", "w", #"{"kind":"shell","command":"echo x > f"}"#]
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let slow = try await home.run("space", "show", "w")
    #expect(slow.stdout.contains("recording:  SLOWER: SPACES_NO_INOTIFY is set"), "\(slow.stdout)")
    let json = try await home.run("space", "show", "w", "--json")
    #expect((json.json?["slowRecording"] as? String ?? "").contains("SPACES_NO_INOTIFY"), "\(json.stdout)")

    #expect(try await home.run("op", "w", #"{"kind":"shell","command":"echo y > f"}"#).status == 0)
    let watched = try await home.run("space", "show", "w")
    #expect(!watched.stdout.contains("recording:"), "\(watched.stdout)")
  }
}
