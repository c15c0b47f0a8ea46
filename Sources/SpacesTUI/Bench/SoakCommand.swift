import ArgumentParser
import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

/// `spaces bench soak`: the soak benchmark of issue 11.
struct SoakCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "soak",
    abstract: "Many well-behaved agents, first alone, then beside one misbehaving agent of each kind.",
    discussion: """
      Starts `spaces serve` (this binary) twice, each time on a temporary SPACES_HOME, and runs the \
      well-behaved agents against it: each its own connection bound to one of the spaces, running a \
      mix of createFile, readFile, editFile, shell `echo`/`true` and message. The second run adds \
      the misbehaving agents of issue 11 for its whole length: escape attempts to an unsandboxed \
      shell, attempts to become the supervisor, huge numbers and malformed lines, a connection \
      keeping many `sleep`s in flight, long editFile texts on a 10 MiB file, connections \
      pipelining reads of a 10 MiB file without reading, subscribers replaying a journal of large \
      events without reading, and bursts of connections. Reports the agents' latency, the \
      server's memory (VmRSS every 100 ms, VmHWM), and checks every journal. Exits 1 when a \
      target is missed.
      """)

  @Option(help: "Well-behaved agents (one connection each).") var agents = 200
  @Option(help: "Operations per well-behaved agent.") var ops = 50
  @Option(help: "Spaces the well-behaved agents are spread over.") var spaces = 20
  @Option(help: "The well-behaved agents' backend (bubblewrap or host).") var backend = BackendKind.bubblewrap
  @Option(help: "The well-behaved agents' policy (standard or permissive).") var policy = PolicyPreset.standard
  @Option(help: "Connections pipelining reads of the big file without reading (kind 5).") var slowReaders = 30
  @Option(help: "Reads each of them pipelines.") var readsPerReader = 8
  @Option(help: "How many times a slow reader the server dropped connects again (in all).") var slowReaderLives = 3
  @Option(help: "The big file's size in KiB (the edited file's too).") var bigFileKib = 10 * 1024
  @Option(help: "Subscribers replaying the big space's journal from seq 1 without reading.") var subscribers = 4
  @Option(help: "`sleep` commands one connection keeps in flight (kind 4).") var sleepers = 64
  @Option(help: "How long each of them sleeps.") var sleepSeconds = 20
  @Option(help: "The length of the long edits' oldText.") var oldTextChars = 100_000
  @Option(help: "Connections per burst (kind 7).") var burst = 2000
  @Option(help: "The pause between bursts, in milliseconds.") var burstPauseMs = 1000
  @Flag(help: "Only the baseline run, without misbehaving agents.") var baselineOnly = false
  @Flag(help: "Latency and memory are reported but don't decide the exit status (for tests).")
  var correctnessOnly = false
  @Flag(help: "Print JSON instead of a table.") var json = false

  func validate() throws {
    guard agents >= 1, ops >= 1, spaces >= 1, spaces <= 100 else {
      throw ValidationError("--agents and --ops must be at least 1, --spaces from 1 to 100")
    }
    guard [.bubblewrap, .host].contains(backend) else { throw ValidationError("--backend is bubblewrap or host") }
    guard [.standard, .permissive].contains(policy) else { throw ValidationError("--policy is standard or permissive") }
    guard readsPerReader >= 1, bigFileKib >= 1, bigFileKib <= 10 * 1024, sleepSeconds >= 1, sleepSeconds <= 3600
    else {
      throw ValidationError("--reads-per-reader ≥ 1, --big-file-kib 1…10240, --sleep-seconds 1…3600")
    }
    guard oldTextChars >= 10, oldTextChars * 2 < bigFileKib * 1024 else {
      throw ValidationError("--old-text-chars must be at least 10 and under half the big file")
    }
    guard slowReaders >= 0, subscribers >= 0, sleepers >= 0, burst >= 0, burst <= 10_000, burstPauseMs >= 0 else {
      throw ValidationError("the misbehavers' counts can't be negative; --burst at most 10000")
    }
  }

  func run() async throws {
    let settings = SoakSettings(
      agents: agents, operations: ops, spaces: spaces, backend: backend, policy: policy, slowReaders: slowReaders,
      readsPerReader: readsPerReader, slowReaderLives: slowReaderLives, bigFileBytes: bigFileKib * 1024,
      subscribers: subscribers, sleepers: sleepers, sleepSeconds: sleepSeconds, oldTextChars: oldTextChars,
      burst: burst, burstPauseMs: burstPauseMs)
    let bench = SoakBench(settings: settings, progress: !json)
    var runs = [try await bench.run(misbehaving: false)]
    if !baselineOnly { runs.append(try await bench.run(misbehaving: true)) }
    let report = SoakReport(settings: settings, runs: runs, timingCounts: !correctnessOnly)
    if json {
      CLI.print(SpacesJSON.pretty(report))
    } else {
      CLI.print(report.table)
    }
    let missed = report.targets.filter { !$0.met && ($0.correctness || !correctnessOnly) }
    if !missed.isEmpty {
      _ = CLI.writeError(missed.map { "spaces bench soak: missed: \($0.name): \($0.detail)\n" }.joined())
      throw ExitCode(ExitStatus.failed)
    }
  }
}

/// The soak benchmark's numbers.
struct SoakSettings: Codable, Sendable {
  var agents: Int
  var operations: Int
  var spaces: Int
  var backend: BackendKind
  var policy: PolicyPreset
  var slowReaders: Int
  var readsPerReader: Int
  var slowReaderLives: Int
  var bigFileBytes: Int
  var subscribers: Int
  var sleepers: Int
  var sleepSeconds: Int
  var oldTextChars: Int
  var burst: Int
  var burstPauseMs: Int

  /// What the server's memory may grow by over its idle size: the reply budget (the server's
  /// default, `replyBudgetBytes`) plus an allowance for everything else in flight.
  static var replyBudget: Int { SpacesServerOptions().replyBudgetBytes }
  static let allowance = 64 << 20
  static var memoryBudget: Int { replyBudget + allowance }
}

/// One run: the well-behaved agents' figures, the server's memory and CPU, the journal audit and
/// the misbehavers' accounts.
struct SoakRun: Codable, Sendable {
  var name: String
  var misbehaving: Bool
  var seconds = 0.0
  var throughput = 0.0
  var latency = LatencySummary([])
  var latencyByKind: [String: LatencySummary] = [:]
  var failedOperations = 0
  var failures: [String] = []
  var idleRSS = 0
  var peakRSS = 0
  var peakHWM = 0
  var rssSamples = 0
  var serverCPUSeconds = 0.0
  var clientCPUSeconds = 0.0
  var serverStoppedCleanly = true
  var approvalsDenied = 0
  var audit = JournalAudit()
  var misbehavers: [MisbehaverReport] = []
  var problems: [String] = []

  /// The most the server's memory grew over its idle size (the higher of sampled VmRSS and VmHWM).
  var growth: Int { max(peakRSS, peakHWM) - idleRSS }
}

/// Runs the soak once, with or without misbehaving agents.
struct SoakBench {
  var settings: SoakSettings
  var progress: Bool

  private let started = ContinuousClock.now

  private func say(_ text: String) {
    let at = (ContinuousClock.now - started).milliseconds / 1000
    if progress { _ = CLI.writeError(String(format: "soak [%6.1f s]: ", at) + text + "\n") }
  }

  func run(misbehaving: Bool) async throws -> SoakRun {
    var run = SoakRun(name: misbehaving ? "with misbehavers" : "baseline", misbehaving: misbehaving)
    let folder = FileManager.default.temporaryDirectory.path + "/spaces-soak-\(getpid())-\(misbehaving ? "m" : "b")"
    try? FileManager.default.removeItem(atPath: folder)
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let home = SpacesHome(path: folder + "/home")
    say("\(run.name): starting spaces serve on \(home.path)")
    let server = try await SoakServer.start(home: home, log: folder + "/serve.log")
    let supervisor = try await SpacesClient.connect(home: home.path)
    let token = try server.token
    try await supervisor.hello(role: .supervisor, token: token, client: "soak")

    let names = (0..<settings.spaces).map { String(format: "a%02d", $0) }
    for name in names {
      _ = try await supervisor.createSpace(
        SpaceCreateParams(name: name, policy: settings.policy, backend: settings.backend))
    }
    try await createMisbehaversSpaces(supervisor)
    run.idleRSS = server.memory()?.rss ?? 0
    let sampler = RSSSampler(server)

    let agents = WellBehavedAgents(count: settings.agents, operations: settings.operations, spaces: names)
    let clients = try await agents.connect(home: home)
    let warmUp = await agents.run(clients, warmUp: true)
    let stop = StopFlag()
    let personStop = StopFlag()
    // The person supervising denies whatever the policy asks about (no well-behaved operation
    // asks; a misbehaver's may).
    let person = Task { await Self.denyApprovals(supervisor, until: personStop) }
    let targets = SoakTargets(home: home, runFolder: folder, token: token, stop: stop, settings: settings)
    var tallies: [Misbehaver] = []
    var misbehavers: Task<Void, Never>?
    if misbehaving {
      tallies = Self.kinds.map { Misbehaver($0.name) }
      let started = tallies
      misbehavers = Task.detached {
        await withTaskGroup(of: Void.self) { group in
          for (kind, tally) in zip(Self.kinds, started) {
            group.addTask { await kind.body(targets, tally) }
          }
        }
      }
      say("waiting for the misbehaving agents to get going")
      let clock = ContinuousClock()
      let deadline = clock.now + .seconds(120)
      while !tallies.allSatisfy(\.engaged), clock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
      }
      for tally in tallies where !tally.engaged {
        run.problems.append("\(tally.snapshot.kind) never got going within 120 s")
      }
    }

    say("\(run.name): \(settings.agents) agents × \(settings.operations) operations")
    let clock = ContinuousClock()
    let serverCPU = server.cpuSeconds()
    let ownCPU = ownCPUSeconds()
    let start = clock.now
    let outcomes = await agents.run(clients)
    run.seconds = (clock.now - start).milliseconds / 1000
    run.serverCPUSeconds = server.cpuSeconds() - serverCPU
    run.clientCPUSeconds = ownCPUSeconds() - ownCPU
    let latencies = outcomes.flatMap(\.latencies)
    run.latency = LatencySummary(latencies)
    run.throughput = Double(latencies.count) / max(run.seconds, 1e-9)
    var byKind: [String: [Double]] = [:]
    for outcome in outcomes { byKind.merge(outcome.latenciesByKind) { $0 + $1 } }
    run.latencyByKind = byKind.mapValues(LatencySummary.init)
    let failures = (warmUp + outcomes).flatMap(\.failures)
    run.failedOperations = failures.count
    run.failures = Array(failures.prefix(10))

    if !server.isRunning { run.problems.append("spaces serve died during the run; see its log") }
    say("\(run.name): stopping the misbehaving agents")
    stop.set()
    await misbehavers?.value
    // Only now: a misbehaver's last operation may be waiting for the person's answer.
    personStop.set()
    run.approvalsDenied = await person.value
    for client in clients { await client.close() }
    await supervisor.close()
    let sampled = sampler.stop()
    run.peakRSS = sampled.peak
    run.rssSamples = sampled.samples
    run.peakHWM = server.memory()?.hwm ?? 0
    say("\(run.name): stopping the server and reading the journals")
    run.serverStoppedCleanly = await server.stop()
    if !run.serverStoppedCleanly { run.problems.append("spaces serve didn't stop within 60 s of SIGTERM") }

    // Escapes leave marks on the host; none may exist.
    if misbehaving, let escapee = tallies.first {
      for marker in targets.markers where access(marker, F_OK) == 0 {
        escapee.breach("a sandboxed command wrote \(marker) on the host")
        unlink(marker)
      }
    }
    run.misbehavers = tallies.map(\.snapshot)
    run.audit = JournalAudit.run(home: home, acknowledged: (warmUp + outcomes).flatMap(\.acknowledged))
    return run
  }

  /// Denies every approval request until `stop`; returns how many it denied.
  private static func denyApprovals(_ supervisor: SpacesClient, until stop: StopFlag) async -> Int {
    var denied = 0
    var rounds = 0
    while !stop.isSet, rounds < 1_000_000 {
      rounds += 1
      for request in (try? await supervisor.approvals()) ?? [] {
        if (try? await supervisor.resolveApproval(request.id, .deny, feedback: "denied by the soak's person")) != nil {
          denied += 1
        }
      }
      try? await Task.sleep(for: .milliseconds(50))
    }
    return denied
  }

  /// The misbehavers' own spaces. The escape attempts start from a sandboxed space whose policy
  /// allows everything (only the sandbox and the server stand in their way); the host space is
  /// the person's, the one they try to reach.
  private func createMisbehaversSpaces(_ supervisor: SpacesClient) async throws {
    let specs: [(String, PolicyPreset, BackendKind)] = [
      (SoakSpace.escape, .permissive, .bubblewrap), (SoakSpace.host, .permissive, .host),
      (SoakSpace.supervisor, .permissive, .bubblewrap), (SoakSpace.numbers, .standard, settings.backend),
      (SoakSpace.sleeper, .standard, settings.backend), (SoakSpace.edit, .standard, settings.backend),
      (SoakSpace.big, .standard, settings.backend),
    ]
    for (name, policy, backend) in specs {
      let config = try await supervisor.createSpace(SpaceCreateParams(name: name, policy: policy, backend: backend))
      // The large files are put in place directly: they are the setting, not part of the run.
      if name == SoakSpace.big {
        try String(repeating: "a", count: settings.bigFileBytes - 1).appending("\n").write(
          toFile: config.workspace + "/" + SoakSpace.bigFile, atomically: true, encoding: .utf8)
      }
      if name == SoakSpace.edit {
        try EditRegions.file(bytes: settings.bigFileBytes, chars: settings.oldTextChars).write(
          toFile: config.workspace + "/" + SoakSpace.editFile, atomically: true, encoding: .utf8)
      }
    }
  }

  /// One misbehaving agent of each kind of issue 11.
  struct Kind: Sendable {
    var name: String
    var body: @Sendable (SoakTargets, Misbehaver) async -> Void
  }

  static let kinds: [Kind] = [
    Kind(name: "1 unsandboxed shell") { await Misbehavers.unsandboxedShell($0, $1) },
    Kind(name: "2 become supervisor") { await Misbehavers.becomeSupervisor($0, $1) },
    Kind(name: "3 huge numbers, malformed lines") { targets, tally in
      await Misbehavers.onThread("soak-numbers") { Misbehavers.hugeNumbers(targets, tally) }
    },
    Kind(name: "4 pipelined sleeps") { await Misbehavers.sleepers($0, $1) },
    Kind(name: "4 long editFile texts") { await Misbehavers.longEdits($0, $1) },
    Kind(name: "5 readers that don't read") { targets, tally in
      await Misbehavers.onThread("soak-readers") { Misbehavers.slowReaders(targets, tally) }
    },
    Kind(name: "5 subscribers that don't read") { targets, tally in
      await Misbehavers.onThread("soak-subscribers") { Misbehavers.subscribers(targets, tally) }
    },
    Kind(name: "7 connection bursts") { targets, tally in
      await Misbehavers.onThread("soak-bursts") { Misbehavers.bursts(targets, tally) }
    },
  ]
}

/// A target of the soak and whether it was met.
struct SoakTarget: Codable, Sendable {
  var name: String
  var met: Bool
  var detail: String
  /// A correctness target (decides the exit status even with `--correctness-only`).
  var correctness: Bool
}

/// Both runs, the targets and the table.
struct SoakReport: Codable, Sendable {
  var settings: SoakSettings
  var runs: [SoakRun]
  var replyBudgetBytes = SoakSettings.replyBudget
  var memoryBudgetBytes = SoakSettings.memoryBudget
  var p99Ratio: Double?
  var targets: [SoakTarget] = []
  var met: Bool

  init(settings: SoakSettings, runs: [SoakRun], timingCounts: Bool) {
    self.settings = settings
    self.runs = runs
    let expected = settings.agents * settings.operations
    var targets: [SoakTarget] = []
    for run in runs {
      let done = run.latency.count
      targets.append(
        SoakTarget(
          name: "\(run.name): every operation completed", met: run.failedOperations == 0 && done == expected,
          detail: "\(done) of \(expected) answered, \(run.failedOperations) not completed"
            + (run.failures.first.map { "; first: \($0)" } ?? ""), correctness: true))
      targets.append(
        SoakTarget(
          name: "\(run.name): nothing lost", met: run.audit.nothingLost && run.serverStoppedCleanly,
          detail: "\(run.audit.problemCount) problems in \(run.audit.events) events of \(run.audit.spaces) journals"
            + (run.audit.problems.first.map { "; first: \($0)" } ?? ""), correctness: true))
      targets.append(
        SoakTarget(
          name: "\(run.name): server memory", met: run.growth <= SoakSettings.memoryBudget,
          detail:
            "peak − idle = \(mib(run.growth)) MiB, budget \(mib(SoakSettings.memoryBudget)) MiB (reply budget \(mib(SoakSettings.replyBudget)) + \(mib(SoakSettings.allowance)))",
          correctness: false))
      if run.misbehaving {
        let breaches = run.misbehavers.flatMap { report in report.breaches.map { "\(report.kind): \($0)" } }
        let attempts = run.misbehavers.map(\.attempts).reduce(0, +)
        let refused = run.misbehavers.map(\.refused).reduce(0, +)
        targets.append(
          SoakTarget(
            name: "every escape and hostile input refused", met: breaches.isEmpty && run.problems.isEmpty,
            detail: "\(refused) of \(attempts) attempts refused"
              + (breaches.first.map { "; first breach: \($0)" } ?? "")
              + (run.problems.first.map { "; \($0)" } ?? ""), correctness: true))
      }
    }
    if runs.count == 2 {
      let ratio = runs[1].latency.p99 / max(runs[0].latency.p99, 1e-9)
      p99Ratio = ratio
      targets.append(
        SoakTarget(
          name: "p99 with misbehavers ≤ 2 × without", met: ratio <= 2,
          detail: String(format: "%.2f ms / %.2f ms = %.2f", runs[1].latency.p99, runs[0].latency.p99, ratio),
          correctness: false))
    }
    self.targets = targets
    met = targets.allSatisfy { $0.met || (!timingCounts && !$0.correctness) }
  }

  /// The report as an aligned table, one column per run.
  var table: String {
    func number(_ value: Double) -> String {
      value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }
    var lines: [[String]] = [["measurement"] + runs.map(\.name) + ["target", ""]]
    func row(_ name: String, _ value: (SoakRun) -> String, target: String = "", met: Bool? = nil) {
      lines.append([name] + runs.map(value) + [target, met.map { $0 ? "ok" : "MISSED" } ?? ""])
    }
    let ratioTarget = targets.first { $0.name.hasPrefix("p99 with") }
    row("operations (agents × ops)", { "\($0.latency.count)" })
    row("throughput", { "\(number($0.throughput)) ops/s" })
    row("latency p50", { "\(number($0.latency.p50)) ms" })
    row("latency p99", { "\(number($0.latency.p99)) ms" }, target: "≤ 2 × baseline", met: ratioTarget?.met)
    row("latency max", { "\(number($0.latency.max)) ms" })
    for kind in ["createFile", "readFile", "editFile", "shell", "message"] {
      row("  p99 \(kind)", { run in run.latencyByKind[kind].map { "\(number($0.p99)) ms" } ?? "" })
    }
    row("not completed", { "\($0.failedOperations)" }, target: "0", met: runs.allSatisfy { $0.failedOperations == 0 })
    row("server idle RSS", { "\(mib($0.idleRSS)) MiB" })
    row("server peak RSS (VmRSS / 100 ms)", { "\(mib($0.peakRSS)) MiB" })
    row("server VmHWM", { "\(mib($0.peakHWM)) MiB" })
    row(
      "peak − idle", { "\(mib($0.growth)) MiB" }, target: "≤ \(mib(SoakSettings.memoryBudget)) MiB",
      met: runs.allSatisfy { $0.growth <= SoakSettings.memoryBudget })
    row("server CPU", { "\(number($0.serverCPUSeconds)) s" })
    row("client CPU (this process)", { "\(number($0.clientCPUSeconds)) s" })
    row("approvals denied by the person", { "\($0.approvalsDenied)" })
    row("wall time", { "\(number($0.seconds)) s" })
    row(
      "journals: events checked", { "\($0.audit.events)" }, target: "nothing lost",
      met: runs.allSatisfy { $0.audit.nothingLost && $0.serverStoppedCleanly })
    row("journals: operations", { "\($0.audit.operations)" })
    if let hostile = runs.first(where: \.misbehaving) {
      let escape = targets.first { $0.name.hasPrefix("every escape") }
      for report in hostile.misbehavers {
        let counts = report.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append(
          ["misbehaver \(report.kind)"]
            + runs.map { $0.misbehaving ? "\(report.refused)/\(report.attempts) refused" : "" }
            + [counts, report.breaches.isEmpty ? "" : "BREACH"])
      }
      lines.append(
        ["escapes and hostile inputs"] + runs.map { _ in "" } + ["all refused", escape?.met == true ? "ok" : "MISSED"])
    }
    let widths = (0..<lines[0].count).map { column in lines.map { $0[column].count }.max() ?? 0 }
    var text = lines.map { line in
      line.enumerated().map { index, cell in cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
        .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }.joined(separator: "\n")
    if let p99Ratio { text += String(format: "\np99 ratio (with / without): %.2f (target ≤ 2)", p99Ratio) }
    text +=
      "\nmemory budget: peak − idle ≤ reply budget \(mib(SoakSettings.replyBudget)) MiB + \(mib(SoakSettings.allowance)) MiB allowance"
    for target in targets where !target.met { text += "\nMISSED \(target.name): \(target.detail)" }
    return text
  }
}

private func mib(_ bytes: Int) -> Int { Int((Double(bytes) / 1_048_576).rounded()) }
