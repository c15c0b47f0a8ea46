import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A workspace tree for comparison: per path its kind, mode and content or link target.
private func snapshot(_ root: String) -> [String: String] {
  var entries: [String: String] = [:]
  func walk(_ prefix: String) {
    guard let dir = opendir(root + (prefix.isEmpty ? "" : "/" + prefix)) else { return }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      let path = prefix.isEmpty ? name : prefix + "/" + name
      var info = stat()
      guard lstat(root + "/" + path, &info) == 0 else { continue }
      let mode = String(info.st_mode & 0o7777, radix: 8)
      switch info.st_mode & S_IFMT {
      case S_IFDIR:
        entries[path] = "dir \(mode)"
        walk(path)
      case S_IFLNK:
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(root + "/" + path, &buffer, 4095)
        entries[path] =
          "link " + String(decoding: buffer.prefix(max(0, count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
      default:
        let data = FileManager.default.contents(atPath: root + "/" + path) ?? Data()
        entries[path] = "file \(mode) " + data.base64EncodedString()
      }
    }
  }
  walk("")
  return entries
}

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
    let start = snapshot(workspace)
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
    #expect(snapshot(workspace) == start)
    let spanMicros = Int(span.components.seconds) * 1_000_000 + Int(span.components.attoseconds / 1_000_000_000_000)

    var outcomes = (before: 0, after: 0)
    var recovered = 0
    for round in 1...50 {
      let ran = try await home.run("op", "u", change)
      let op = try #require(ran.json?["id"] as? String, "round \(round): \(ran.stdout) \(ran.stderr)")
      let changed = snapshot(workspace)
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
      let after = snapshot(workspace)
      if after == start {
        outcomes.before += 1
        let journal = try await home.journal("u")
        let undone = journal.filter {
          $0["type"] as? String == "undone" && ($0["undo"] as? [String: Any])?["target"] as? String == op
        }
        #expect(undone.count == 1, "round \(round): the undo is journaled once")
        if (undone.first?["undo"] as? [String: Any])?["recovered"] as? Bool == true { recovered += 1 }
      } else {
        #expect(after == changed, "round \(round): neither before nor after the undo")
        guard after == changed else { return }
        outcomes.after += 1
        #expect(try await home.run("undo", "u", op).status == 0)
        #expect(snapshot(workspace) == start)
      }
    }
    // Both kinds of outcome happen across the rounds (the kill lands before and after the intent).
    print(
      "undo kill rounds (a whole undo: \(spanMicros / 1000) ms): \(outcomes.before) finished (\(recovered) of them "
        + "on reopen), \(outcomes.after) not started")
    #expect(outcomes.before > 0)
  }
}
