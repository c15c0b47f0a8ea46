import ArgumentParser
import Foundation
import SpacesKit
import SpacesModel
import SpacesSandbox
import Subprocess
import SystemPackage

/// `spaces bench`: the machine's figures (the default), or the soak benchmark.
struct BenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure this machine (the default), fuzz the decoders, the policy's prompt rate, or soak the server.",
    subcommands: [BenchMachine.self, FuzzCommand.self, BenchPrompts.self, SoakCommand.self],
    defaultSubcommand: BenchMachine.self)
}

/// `spaces bench` (`spaces bench machine`): sandbox start-up, runtime overhead, first byte,
/// streaming, and the server's round trips.
struct BenchMachine: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "machine",
    abstract: "Measure this machine: sandbox start-up, runtime overhead, first byte, streaming (the default).",
    discussion: """
      Runs interleaved samples of a bare /bin/true, a bare bwrap, and shell operations through the
      runtime (bubblewrap backend), in a temporary SPACES_HOME. Targets are ratios to the bare
      figures measured in the same run. Build with -c release for representative figures.
      `spaces bench fuzz` fuzzes the decoders, `spaces bench prompts` replays agent transcripts
      through the policy, and `spaces bench soak` runs many agents with and without misbehaving ones.
      """)

  @Option(help: "Samples per measurement.") var iterations = 100
  @Flag(help: "Print JSON instead of a table.") var json = false
  @Flag(help: "Only the sandbox figures.") var sandboxOnly = false
  @Flag(help: "Only the server (socket and MCP) figures.") var serverOnly = false
  @Flag(help: "Only what recording changes for undo costs (5,000-file workspaces).") var recordingOnly = false
  @Option(help: "Also measure the container backend with this (local) image, e.g. localhost/spaces-test.")
  var containerImage: String?

  func run() async throws {
    var rows: [BenchRow] = []
    if !serverOnly {
      rows += try await SandboxBench(
        iterations: iterations, containerImage: containerImage, recordingOnly: recordingOnly
      ).run()
    }
    if !sandboxOnly && !recordingOnly { rows += try await runServerBench(iterations: iterations * 3) }
    if json {
      CLI.print(SpacesJSON.pretty(rows))
    } else {
      CLI.print(BenchRow.table(rows))
      // A binary without its helper measures a sandbox per command, not the runtime as shipped.
      if let why = BubblewrapBackend.persistentSandboxUnavailable {
        CLI.print("note: shell commands ran in a sandbox each, not a persistent one: \(why)")
      }
    }
  }
}

/// Measures the sandbox and the runtime path around it.
struct SandboxBench {
  var iterations: Int
  var containerImage: String?
  var recordingOnly = false
  let clock = ContinuousClock()

  func run() async throws -> [BenchRow] {
    let home = SpacesHome(path: FileManager.default.temporaryDirectory.path + "/spaces-bench-\(getpid())")
    defer { try? FileManager.default.removeItem(atPath: home.path) }
    _ = try home.create(name: "bench", policy: .permissive, backend: .bubblewrap)
    // As in the server and the workbench, where the runtime lives long.
    SpacesRuntime.enableSpareProcesses()
    let runtime = SpacesRuntime(home: home, supervised: false)
    if recordingOnly { return try await RecordingBench(iterations: iterations).run(home: home, runtime: runtime) }
    let space = try runtime.space("bench")
    let config = space.config
    let bwrap = BubblewrapBackend(hiddenPaths: [home.path])
    let line = try await bwrap.commandLine(
      for: ShellRequest(command: "true", workspace: config.workspace, limits: config.limits.shell, network: false))
    // The same sandbox set-up, running /bin/true directly.
    let bareSandbox = Array(line.prefix { $0 != "/bin/sh" }) + ["/bin/true"]

    var bare: [Double] = []
    var sandbox: [Double] = []
    var operation: [Double] = []
    var firstByte: [Double] = []
    for index in 0..<(iterations + 5) {
      let warm = index < 5
      let a = try await timed { try await spawn(["/bin/true"]) }
      let b = try await timed { try await spawn(bareSandbox) }
      let c = try await timed { _ = await space.submit(.shell(command: "true", timeoutMs: nil)) }
      let d = try await firstOutput(space)
      if !warm {
        bare.append(a)
        sandbox.append(b)
        operation.append(c)
        firstByte.append(d)
      }
    }
    var throughput: [Double] = []
    for _ in 0..<5 {
      let bytes = 22_888_896.0  // the output of `seq 1 3000000`
      let seconds = try await timed { _ = await space.submit(.shell(command: "seq 1 3000000", timeoutMs: nil)) } / 1000
      throughput.append(bytes / 1e6 / seconds)
    }

    let bareRow = BenchRow("bare /bin/true", samples: bare)
    let sandboxRow = BenchRow("bare bwrap … /bin/true", samples: sandbox).against(bareRow)
    let overhead = BenchRow("shell `true` through the runtime", samples: operation).against(bareRow)
    let extra = overhead.median - sandboxRow.median
    var rows = [bareRow, sandboxRow]
    rows.append(overhead.target("≤ 2× bare /bin/true", met: (overhead.ratio ?? .infinity) <= 2))
    rows.append(
      BenchRow(
        "  runtime overhead over bare bwrap", samples: zip(operation.sorted(), sandbox.sorted()).map { $0 - $1 }
      ).target("≤ 2 ms", met: extra <= 2))
    let firstRow = BenchRow("first output byte (`echo x`)", samples: firstByte).against(bareRow)
    rows.append(firstRow.target("≤ bare /bin/true + 1 ms", met: firstRow.median <= bareRow.median + 1))
    let stream = BenchRow("streaming `seq 1 3000000`", unit: "MB/s", samples: throughput)
    rows.append(stream.target("≥ 100 MB/s", met: stream.median >= 100))
    if let image = containerImage {
      rows += try await containerRows(home: home, runtime: runtime, image: image)
    }
    rows += try await RecordingBench(iterations: iterations).run(home: home, runtime: runtime)
    return rows
  }

  /// Shell `true` and streaming through the container backend (one exec per operation).
  private func containerRows(home: SpacesHome, runtime: SpacesRuntime, image: String) async throws -> [BenchRow] {
    _ = try home.create(name: "bench-container", policy: .permissive, backend: .container, image: image)
    let space = try runtime.space("bench-container")
    let probe = await space.submit(.shell(command: "true", timeoutMs: nil))
    guard probe.status == .completed else {
      return [BenchRow("container backend: unavailable (\(probe.error?.message ?? "?"))", samples: [])]
    }
    var samples: [Double] = []
    for _ in 0..<max(5, iterations / 5) {
      samples.append(try await timed { _ = await space.submit(.shell(command: "true", timeoutMs: nil)) })
    }
    var throughput: [Double] = []
    for _ in 0..<3 {
      let seconds = try await timed { _ = await space.submit(.shell(command: "seq 1 3000000", timeoutMs: nil)) } / 1000
      throughput.append(22_888_896.0 / 1e6 / seconds)
    }
    Backends.cleanUp(space: space.name, config: space.config, home: home)
    return [
      BenchRow("container: shell `true` through the runtime", samples: samples),
      BenchRow("container: streaming `seq 1 3000000`", unit: "MB/s", samples: throughput),
    ]
  }

  private func timed(_ body: () async throws -> Void) async throws -> Double {
    let start = clock.now
    try await body()
    return milliseconds(clock.now - start)
  }

  private func firstOutput(_ space: Space) async throws -> Double {
    let events = space.hub.subscribe()
    let start = clock.now
    let task = Task { await space.submit(.shell(command: "echo x", timeoutMs: nil)) }
    var first = 0.0
    for await event in events where event.type == .output {
      first = milliseconds(clock.now - start)
      break
    }
    _ = await task.value
    return first
  }

  private func spawn(_ argv: [String]) async throws {
    _ = try await Subprocess.run(
      .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
      environment: .custom(["PATH": "/usr/bin:/bin"]), input: .none, output: .discarded, error: .discarded)
  }

  private func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
  }
}
