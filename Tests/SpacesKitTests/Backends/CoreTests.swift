import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

let allBackends: [any IsolationBackend] =
  [BubblewrapBackend(), HostBackend()]
  + (ContainerTestSupport.available ? [ContainerTestSupport.backend(space: "core")] : [])

/// The behaviour both backends share: streaming, cap, timeout, exit codes, leftovers.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CoreTests {
  @Test(arguments: allBackends)
  func exitCodesAndStreamsApart(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let recorder = Recorder()
    let outcome = try await backend.run(
      ShellRequest(command: "echo out; echo err >&2; exit 7", workspace: ws.path),
      onOutput: recorder.onOutput)
    #expect(outcome.exitCode == 7)
    #expect(outcome.signal == nil)
    #expect(outcome.stdout == "out\n")
    #expect(outcome.stderr == "err\n")
    #expect(recorder.text(.stdout) == "out\n")
    #expect(recorder.text(.stderr) == "err\n")
    #expect(!outcome.truncated && !outcome.timedOut && outcome.limitHit == nil)

    let ok = try await backend.run(
      ShellRequest(command: "true", workspace: ws.path), onOutput: { _, _ in })
    #expect(ok.exitCode == 0)
  }

  @Test(arguments: allBackends)
  func whatMustComeFirstIsAwaitedBeforeTheCommandStarts(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    var request = ShellRequest(command: "cat first.txt", workspace: ws.path)
    // Written only once the backend has prepared the command, after a suspension: the command
    // sees it only if it was launched after this ended.
    request.beforeLaunch = {
      await Task.yield()
      try? ws.write("first.txt", "written first\n")
    }
    let outcome = try await backend.run(request, onOutput: { _, _ in })
    #expect(outcome.exitCode == 0)
    #expect(outcome.stdout == "written first\n")
  }

  @Test(arguments: allBackends)
  func streamsAsProduced(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let recorder = Recorder()
    // A container exec takes a few hundred milliseconds to start on a busy machine.
    let slow = backend is ContainerBackend
    let start = ContinuousClock.now
    let outcome = try await backend.run(
      ShellRequest(command: "echo first; sleep \(slow ? 3 : 1); echo second", workspace: ws.path),
      onOutput: recorder.onOutput)
    let end = ContinuousClock.now
    #expect(outcome.stdout == "first\nsecond\n")
    let first = try #require(recorder.all.first)
    #expect(first.text == "first\n")
    // The first line arrives while the command still sleeps.
    #expect(first.at - start < .milliseconds(slow ? 2500 : 700))
    #expect(end - first.at > .milliseconds(800))
  }

  @Test(arguments: allBackends)
  func multibyteNeverSplit(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let recorder = Recorder()
    // "é" = C3 A9 and "€" = E2 82 AC, written in pieces with pauses between.
    let command =
      #"printf '\303'; sleep 0.2; printf '\251\342'; sleep 0.2; printf '\202'; sleep 0.2; printf '\254!\n'"#
    let outcome = try await backend.run(
      ShellRequest(command: command, workspace: ws.path), onOutput: recorder.onOutput)
    #expect(outcome.stdout == "é€!\n")
    let chunks = recorder.all.filter { $0.kind == .stdout }.map(\.text)
    #expect(chunks.joined() == "é€!\n")
    #expect(chunks.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") })
    #expect(chunks.count >= 2)
  }

  @Test(arguments: allBackends)
  func outputCappedWithBoundedMemory(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let rssBefore = Sys.residentBytes()
    let streamed = StreamCounter()
    var limits = ShellLimits()
    limits.outputCapBytes = 64 * 1024
    let outcome = try await backend.run(
      ShellRequest(
        command: "head -c 314572800 /dev/zero | tr '\\0' x; echo err >&2", workspace: ws.path,
        limits: limits),
      onOutput: streamed.onOutput)
    let rssAfter = Sys.residentBytes()
    #expect(outcome.exitCode == 0)
    #expect(outcome.truncated)
    #expect(outcome.stderr == "err\n")
    let omitted = 300 * 1024 * 1024 - 64 * 1024
    #expect(
      outcome.stdout.hasPrefix(
        String(repeating: "x", count: 32 * 1024) + "\n…[\(omitted) bytes omitted]…\n"))
    #expect(
      outcome.stdout.hasSuffix(
        "\n…[\(omitted) bytes omitted]…\n" + String(repeating: "x", count: 32 * 1024)))
    // onOutput got the first cap bytes and one marker, not 300 MB.
    #expect(streamed.bytes(.stdout) == 64 * 1024 + OutputCollector.streamCapMarker.utf8.count)
    #expect(rssAfter - rssBefore < 100 * 1024 * 1024)
  }

  @Test(arguments: allBackends)
  func yesIsCutAtTheCap(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let rssBefore = Sys.residentBytes()
    var limits = ShellLimits()
    limits.outputCapBytes = 1000
    limits.timeoutMs = 1500
    let outcome = try await backend.run(
      ShellRequest(command: "yes", workspace: ws.path, limits: limits), onOutput: { _, _ in })
    #expect(outcome.timedOut)
    #expect(outcome.truncated)
    #expect(outcome.stdout.utf8.count < 1200)
    #expect(outcome.stdout.hasPrefix("y\ny\n"))
    #expect(Sys.residentBytes() - rssBefore < 100 * 1024 * 1024)
  }

  @Test(arguments: allBackends)
  func timeoutKillsProcessesThatIgnoreTerm(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    // A marker of its own: the backends' cases run at once, and one's leftovers check must not
    // see (or its clean-up kill) another's sleep.
    let seconds = String(Int.random(in: 100_000...999_999))
    let marker = ["sleep", seconds]
    defer {
      killAll { $0 == marker }
      ws.cleanup()
    }
    var limits = ShellLimits()
    limits.timeoutMs = 500
    let start = ContinuousClock.now
    let outcome = try await backend.run(
      ShellRequest(
        command: "trap '' TERM; sleep \(seconds) & sleep \(seconds); echo never", workspace: ws.path,
        limits: limits),
      onOutput: { _, _ in })
    let elapsed = ContinuousClock.now - start
    #expect(outcome.timedOut)
    #expect(outcome.exitCode != 0)
    #expect(!outcome.stdout.contains("never"))
    #expect(outcome.stderr.contains("timed out after 500 ms"))
    // Killed, not waited for (its sleeps would last days): a bound far below that, and far
    // above what a loaded machine takes (a container's exec took 6.4 s once in a full run).
    #expect(elapsed < .seconds(60))
    #expect(outcome.limitError(timeoutMs: 500)?.code == .timeout)
    #expect(processes(argv: marker).isEmpty)
  }

  @Test(arguments: allBackends)
  func backgroundProcessesDoNotSurvive(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    // A marker of its own: the backends' cases run at once, and one's leftovers check must not
    // see (or its clean-up kill) another's sleep.
    let seconds = String(Int.random(in: 100_000...999_999))
    let marker = ["sleep", seconds]
    defer {
      killAll { $0 == marker }
      ws.cleanup()
    }
    let start = ContinuousClock.now
    let outcome = try await backend.run(
      ShellRequest(command: "sleep \(seconds) & echo started", workspace: ws.path), onOutput: { _, _ in })
    #expect(outcome.exitCode == 0)
    #expect(outcome.stdout == "started\n")
    // Not waited for (the sleep would last days): a bound far above what a loaded machine takes.
    #expect(ContinuousClock.now - start < .seconds(60))
    #expect(processes(argv: marker).isEmpty)
  }

  @Test(arguments: allBackends)
  func cancellationKillsTheTree(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    // A marker of its own: the backends' cases run at once, and one's leftovers check must not
    // see (or its clean-up kill) another's sleep.
    let seconds = String(Int.random(in: 100_000...999_999))
    let marker = ["sleep", seconds]
    defer {
      killAll { $0 == marker }
      ws.cleanup()
    }
    let recorder = Recorder()
    let task = Task {
      try await backend.run(
        ShellRequest(command: "sleep \(seconds) & echo go; sleep \(seconds)", workspace: ws.path),
        onOutput: recorder.onOutput)
    }
    try await eventually("the first output") { recorder.text(.stdout) == "go\n" }
    task.cancel()
    let result = await task.result
    let error = #expect(throws: SpacesError.self) { try result.get() }
    #expect(error?.code == .cancelled)
    #expect(processes(argv: marker).isEmpty)
  }

  @Test(arguments: allBackends)
  func fileSizeAndCpuLimits(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    var limits = ShellLimits()
    limits.fileSizeBytes = 1 << 20
    let big = try await backend.run(
      ShellRequest(command: "head -c 5000000 /dev/zero > big", workspace: ws.path, limits: limits),
      onOutput: { _, _ in })
    #expect(big.limitHit == .fileSize)
    #expect(big.stderr.contains("file size limit"))
    #expect(big.limitError(timeoutMs: 100)?.code == .limitExceeded)

    limits = ShellLimits()
    limits.cpuSeconds = 1
    limits.timeoutMs = 20_000
    let spin = try await backend.run(
      ShellRequest(command: "while :; do :; done", workspace: ws.path, limits: limits),
      onOutput: { _, _ in })
    #expect(spin.limitHit == .cpu)
    #expect(!spin.timedOut)
  }

  @Test(arguments: allBackends)
  func memoryLimit(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    var limits = ShellLimits()
    limits.memoryBytes = 64 << 20
    limits.timeoutMs = 30_000
    // The shell keeps the whole 200 MB command substitution in memory.
    let outcome = try await backend.run(
      ShellRequest(
        command: "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived", workspace: ws.path,
        limits: limits),
      onOutput: { _, _ in })
    #expect(!outcome.stdout.contains("survived"))
    #expect(outcome.exitCode != 0)
    if CgroupSupport.shared?.memoryParent != nil || backend is ContainerBackend {
      #expect(outcome.limitHit == .memory)
    }
  }

  @Test(arguments: allBackends)
  func forkBombIsStopped(backend: any IsolationBackend) async throws {
    let ws = TempFolder()
    let isBomb: ([String]) -> Bool = { argv in argv.contains { $0.contains("bomb(){") } }
    defer {
      killAll(where: isBomb)
      ws.cleanup()
    }
    var limits = ShellLimits()
    limits.maxProcesses = 64
    limits.timeoutMs = 20_000
    let start = ContinuousClock.now
    let outcome = try await backend.run(
      ShellRequest(
        command: "bomb(){ bomb | bomb & }; bomb; sleep 30", workspace: ws.path, limits: limits),
      onOutput: { _, _ in })
    #expect(ContinuousClock.now - start < .seconds(15))
    #expect(outcome.limitHit == .processes || outcome.timedOut)
    if CgroupSupport.shared?.pidsParent != nil || backend is ContainerBackend {
      #expect(outcome.limitHit == .processes)
      #expect(outcome.stderr.contains("process limit (64) reached"))
    }
    try await eventually("the fork bomb gone") { processes(where: isBomb).isEmpty }
  }
}

/// Counts streamed bytes without keeping them.
final class StreamCounter: Sendable {
  private let counts = LockedValue<[OutputStreamKind: Int]>([:])
  var onOutput: @Sendable (OutputStreamKind, String) -> Void {
    { [self] kind, text in counts.withValue { $0[kind, default: 0] += text.utf8.count } }
  }
  func bytes(_ kind: OutputStreamKind) -> Int { counts.withValue { $0[kind, default: 0] } }
}
