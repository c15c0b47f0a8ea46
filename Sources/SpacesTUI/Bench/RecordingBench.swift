import Foundation
import SpacesKit
import SpacesModel

/// What recording changes for undo costs: the same operations on two 5,000-file workspaces, one
/// with `undo.enabled` false (the bare reference) and one recording, interleaved.
struct RecordingBench {
  var iterations: Int
  let clock = ContinuousClock()

  /// The files of each workspace: 100 folders of 50 small files.
  static let files = 5_000

  func run(home: SpacesHome, runtime: SpacesRuntime) async throws -> [BenchRow] {
    var spaces: [Space] = []
    for (name, enabled) in [("rec-off", false), ("rec-on", true)] {
      var config = try home.create(name: name, policy: .permissive, backend: .bubblewrap)
      config.undo.enabled = enabled
      try home.save(config)
      for folder in 0..<(Self.files / 50) {
        let path = config.workspace + "/src/m\(folder)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for file in 0..<50 {
          try Data("export const v\(file) = \(folder * 50 + file);\n".utf8).write(
            to: URL(fileURLWithPath: path + "/f\(file).ts"))
        }
      }
      let space = try runtime.space(name)
      // The first recorded operation stores the workspace once (the baseline); not measured.
      _ = await space.submit(.shell(command: "true", timeoutMs: nil))
      spaces.append(space)
    }
    let (off, on) = (spaces[0], spaces[1])
    let cases: [(String, (Int) -> Op)] = [
      ("shell `true` (changes nothing)", { _ in .shell(command: "true", timeoutMs: nil) }),
      ("shell changing 1 file", { index in .shell(command: "echo \(index) >> src/m1/f1.ts", timeoutMs: nil) }),
      (
        "shell changing 100 files",
        { index in
          .shell(command: "for f in src/m2/*.ts src/m3/*.ts; do echo \(index) >> $f; done", timeoutMs: nil)
        }
      ),
      (
        "createFile 1 KiB",
        { index in
          .createFile(path: "src/new\(index % 10).ts", content: String(repeating: "x", count: 1024), encoding: .utf8)
        }
      ),
    ]
    var rows: [BenchRow] = []
    let samples = max(5, iterations / 2)
    for (label, make) in cases {
      var bare: [Double] = []
      var recorded: [Double] = []
      for index in 0..<(samples + 3) {
        let a = try await timed { _ = await off.submit(make(index)) }
        let b = try await timed { _ = await on.submit(make(index)) }
        if index >= 3 {
          bare.append(a)
          recorded.append(b)
        }
      }
      let reference = BenchRow("5,000 files: \(label), not recorded", samples: bare)
      let measured = BenchRow("5,000 files: \(label), recorded", samples: recorded)
      let extra = measured.median - reference.median
      let ratio = reference.median > 0 ? measured.median / reference.median : 0
      let budget = label.hasPrefix("shell `true`")
      rows.append(reference)
      rows.append(
        BenchRow(
          "5,000 files: \(label), recorded", samples: recorded,
          target: String(format: "ratio %.2f, %+.2f ms", ratio, extra) + (budget ? "; ≤ +2 ms" : ""),
          met: budget ? extra <= 2 : nil))
    }
    rows += try await reopening(home: home, name: "rec-on", samples: max(3, iterations / 4))
    return rows
  }

  /// The space opened again (a new runtime, as a new `spaces` process or a restarted server)
  /// and its first command, `true`: with the index saved in `changes/index` (only `lstat`s),
  /// and with that file removed first (every file read and hashed, as before the index was
  /// saved; the index is then written again, which this reference pays too).
  private func reopening(home: SpacesHome, name: String, samples: Int) async throws -> [BenchRow] {
    let index = home.spaceFolder(name) + "/changes/index"
    var bare: [Double] = []
    var saved: [Double] = []
    for _ in 0..<samples {
      for withIndex in [false, true] {
        if !withIndex { unlink(index) }
        let elapsed = try await timed {
          let space = try SpacesRuntime(home: home, supervised: false).space(name)
          _ = await space.submit(.shell(command: "true", timeoutMs: nil))
        }
        if withIndex { saved.append(elapsed) } else { bare.append(elapsed) }
      }
    }
    let reference = BenchRow(
      "5,000 files: reopen + first shell `true`, no saved index (reads every file)", samples: bare)
    let measured = BenchRow("5,000 files: reopen + first shell `true`, saved index", samples: saved)
    let ratio = reference.median > 0 ? measured.median / reference.median : 0
    return [
      reference,
      BenchRow(
        measured.name, samples: saved, target: String(format: "ratio %.2f to reading every file", ratio),
        met: measured.median < reference.median),
    ]
  }

  private func timed(_ body: () async throws -> Void) async throws -> Double {
    let start = clock.now
    try await body()
    let duration = clock.now - start
    return Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
  }
}
