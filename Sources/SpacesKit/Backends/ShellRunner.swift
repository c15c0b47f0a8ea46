import Dispatch
import Subprocess
import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// How a backend launches one command; the shared `ShellRunner` does everything else.
///
/// Backends differ only in this: the argv they build and how the launched process relates to
/// the tree it starts. A container backend supplies `docker exec …` the same way.
struct LaunchPlan: Sendable {
  /// How the runner stops the tree when there is no operation cgroup.
  enum TreeKind: Sendable {
    /// The launched process leads a process group holding the whole tree (host). A process
    /// that calls `setsid` or `setpgid` leaves it; only a cgroup catches those.
    case processGroup
    /// Killing the launched process tears down everything (bwrap: its PID namespace dies
    /// with it), so signals go to the processes inside first and to it last.
    case sandbox
  }

  /// Absolute path of the program to start.
  var executable: String
  /// Its arguments (without argv[0]).
  var arguments: [String]
  /// Its whole environment.
  var environment: [String: String]
  /// Its working directory.
  var workingDirectory: String?
  /// How the launched process relates to what it starts.
  var treeKind: TreeKind
}

/// The runner shared by all backends: spawns, streams, caps, enforces the timeout and limits,
/// and makes sure nothing the command started is left when it returns.
enum ShellRunner {
  /// Grace between SIGTERM and SIGKILL when the time limit or a cancellation stops a command.
  static let terminationGraceMs = 500
  /// How often the process-limit counter is checked while a command runs.
  static let limitPollMs = 50

  /// Checks the parts of a request every backend relies on.
  static func validate(_ request: ShellRequest) throws {
    if request.command.utf8.contains(0) {
      throw SpacesError(.invalidRequest, "The command contains a NUL byte.")
    }
    for (key, value) in request.environment {
      let valid =
        !key.isEmpty && !key.utf8.contains(0) && !key.contains("=") && !value.utf8.contains(0)
      if !valid {
        throw SpacesError(.invalidRequest, "The environment variable name \"\(key)\" is not valid.")
      }
    }
    if !Sys.isDirectory(request.workspace) {
      throw SpacesError(.ioError, "The workspace folder \(request.workspace) does not exist.")
    }
  }

  /// The `/bin/sh` script that sets the rlimits and then runs the command.
  ///
  /// The limits use dash's `ulimit` (Debian's `/bin/sh`): `-t` seconds (soft, with a hard
  /// limit one second later so SIGXCPU comes before SIGKILL), `-f` 512-byte blocks, `-v` KiB,
  /// `-p` processes. They are set soft and hard, so the command can't raise them again; a
  /// limit the runtime's own hard limit already undercuts fails quietly (the stricter stays).
  /// The prefix shares the command's first line, so line numbers in messages don't move.
  static func script(
    command: String, limits: ShellLimits, memoryByRlimit: Bool, processesByRlimit: Bool
  ) -> String {
    var parts: [String] = []
    if limits.cpuSeconds > 0 {
      parts.append("ulimit -t \(limits.cpuSeconds + 1) 2>/dev/null")
      parts.append("ulimit -S -t \(limits.cpuSeconds) 2>/dev/null")
    }
    if limits.fileSizeBytes > 0 {
      parts.append("ulimit -f \(max(1, limits.fileSizeBytes / 512)) 2>/dev/null")
    }
    if memoryByRlimit && limits.memoryBytes > 0 {
      parts.append("ulimit -v \(max(1, limits.memoryBytes / 1024)) 2>/dev/null")
    }
    if processesByRlimit && limits.maxProcesses > 0 {
      parts.append("ulimit -p \(limits.maxProcesses) 2>/dev/null")
    }
    return parts.map { $0 + "; " }.joined() + command
  }

  /// The clean environment every backend starts from, plus the request's variables.
  static func cleanEnvironment(home: String, extra: [String: String]) -> [String: String] {
    var env = [
      "PATH": "/usr/local/bin:/usr/bin:/bin",
      "HOME": home,
      "LANG": "C.UTF-8",
      "TERM": "dumb",
    ]
    for (key, value) in extra { env[key] = value }
    return env
  }

  /// Runs one command as planned and returns its outcome once its whole tree is gone.
  ///
  /// - Parameters:
  ///   - useCgroup: whether to put the launched process in an operation cgroup; false when the
  ///     limits are enforced elsewhere (the container backend: the engine's client is not the
  ///     command, and the container's own cgroup holds the limits).
  ///   - makePlan: builds the launch; it is told whether an operation cgroup holds the process
  ///     and memory limits (else the plan's script should set rlimits instead).
  static func run(
    _ request: ShellRequest,
    useCgroup: Bool = true,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void,
    makePlan: (OperationCgroup?) throws -> LaunchPlan
  ) async throws -> ShellOutcome {
    try Task.checkCancellation()
    let clock = ContinuousClock()
    let started = clock.now
    let cgroup = useCgroup ? CgroupSupport.shared?.makeOperationGroup(limits: request.limits) : nil
    do {
      var outcome = try await run(request, cgroup: cgroup, started: started, onOutput: onOutput, makePlan: makePlan)
      // Whatever is left in the operation cgroup goes now (the launcher is reaped by now). Killing
      // and removing may wait on the kernel: keep that off the cooperative threads.
      if let cgroup {
        let finished = outcome
        outcome.limitHit = await Sys.offloaded {
          cgroup.killAll()
          let hit = limitHit(outcome: finished, ending: nil, cgroup: cgroup)
          cgroup.remove()
          return hit
        }
      }
      if let note = note(for: outcome, limits: request.limits) {
        outcome.stderr +=
          (outcome.stderr.isEmpty || outcome.stderr.hasSuffix("\n") ? "" : "\n") + note
        onOutput(.stderr, note)
      }
      outcome.durationMs = Int((clock.now - started) / .milliseconds(1))
      return outcome
    } catch {
      if let cgroup {
        await Sys.offloaded {
          cgroup.killAll()
          cgroup.remove()
        }
      }
      throw error
    }
  }

  /// Launches the plan and collects its output; the caller cleans up the cgroup.
  private static func run(
    _ request: ShellRequest,
    cgroup: OperationCgroup?,
    started: ContinuousClock.Instant,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void,
    makePlan: (OperationCgroup?) throws -> LaunchPlan
  ) async throws -> ShellOutcome {
    let plan = try makePlan(cgroup)

    var executable = plan.executable
    var arguments = plan.arguments
    if let cgroup {
      arguments = ["-c", cgroup.joinScript, "spaces-join", executable] + arguments
      executable = "/bin/sh"
    }
    var options = PlatformOptions()
    options.processGroupID = 0
    options.teardownSequence = [
      .gracefulShutDown(allowedDurationToNextStep: .milliseconds(terminationGraceMs))
    ]
    var environment: [Environment.Key: String] = [:]
    for (key, value) in plan.environment {
      if let envKey = Environment.Key(rawValue: key) { environment[envKey] = value }
    }

    var wakeFDs: [Int32] = [-1, -1]
    guard pipe(&wakeFDs) == 0 else {
      throw SpacesError(.ioError, "Could not create a pipe: errno \(errno).", errno: errno)
    }
    defer {
      close(wakeFDs[0])
      close(wakeFDs[1])
    }
    let wakeWrite = wakeFDs[1]
    let deadline: ContinuousClock.Instant? =
      request.limits.timeoutMs > 0
      ? started.advanced(by: .milliseconds(request.limits.timeoutMs)) : nil
    let cap = request.limits.outputCapBytes

    let result: ExecutionResult<RunBody, SequenceOutput, SequenceOutput>
    do {
      result = try await withTaskCancellationHandler {
        try await Subprocess.run(
          .path(FilePath(executable)),
          arguments: Arguments(arguments),
          environment: .custom(environment),
          workingDirectory: plan.workingDirectory.map { FilePath($0) },
          platformOptions: options,
          input: .none,
          output: .sequence,
          error: .sequence
        ) { execution in
          let watch = Watch(
            pid: execution.processIdentifier.value,
            pidfd: execution.processIdentifier.processDescriptor,
            wakeFD: wakeFDs[0],
            deadline: deadline,
            cgroup: cgroup,
            treeKind: plan.treeKind
          )
          async let watched = watch.run()
          async let out = collect(
            execution.standardOutput, kind: .stdout, cap: cap, onOutput: onOutput)
          async let err = collect(
            execution.standardError, kind: .stderr, cap: cap, onOutput: onOutput)
          let collected = await (out, err)
          let ending = await watched
          return RunBody(ending: ending, stdout: collected.0, stderr: collected.1)
        }
      } onCancel: {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
      }
    } catch let error as SpacesError {
      throw error
    } catch {
      throw SpacesError(.ioError, "Could not run \(plan.executable): \(error)")
    }

    let body = result.closureResult
    var outcome = ShellOutcome(
      exitCode: nil, signal: nil, stdout: body.stdout.outcomeText(),
      stderr: body.stderr.outcomeText(),
      truncated: body.stdout.truncated || body.stderr.truncated,
      timedOut: body.ending == .timedOut, limitHit: nil, durationMs: 0)
    switch result.terminationStatus {
    case .exited(let code): outcome.exitCode = code
    case .signaled(let sig): outcome.signal = sig
    }
    // Subprocess may tear the process down itself on cancellation before the watch sees it.
    if body.ending == .cancelled || Task.isCancelled {
      throw CancellationError()
    }
    // Without a cgroup the rlimits are all there is; with one, the caller looks at it too.
    outcome.limitHit = limitHit(outcome: outcome, ending: body.ending, cgroup: nil)
    return outcome
  }

  private static func limitHit(
    outcome: ShellOutcome, ending: Watch.Ending?, cgroup: OperationCgroup?
  ) -> String? {
    if let known = outcome.limitHit { return known }
    if ending == .processLimit || cgroup?.processLimitHit == true { return "processes" }
    if cgroup?.memoryLimitHit == true { return "memory" }
    func died(of sig: Int32) -> Bool { outcome.signal == sig || outcome.exitCode == 128 + sig }
    if died(of: SIGXCPU) { return "cpu" }
    if died(of: SIGXFSZ) { return "fileSize" }
    return nil
  }

  private static func note(for outcome: ShellOutcome, limits: ShellLimits) -> String? {
    if outcome.timedOut {
      return
        "[spaces] timed out after \(limits.timeoutMs) ms: the command and everything it started were killed\n"
    }
    return outcome.limitHit.flatMap { limitNote($0, limits: limits) }
  }

  /// The line appended to stderr when a limit stops a command ("processes", "memory",
  /// "fileSize" or "cpu"); nil for anything else.
  static func limitNote(_ limit: String, limits: ShellLimits) -> String? {
    switch limit {
    case "processes":
      return "[spaces] process limit (\(limits.maxProcesses)) reached: the command was stopped\n"
    case "memory":
      return "[spaces] memory limit (\(limits.memoryBytes) bytes) reached: a process was killed\n"
    case "fileSize": return "[spaces] file size limit (\(limits.fileSizeBytes) bytes) reached\n"
    case "cpu": return "[spaces] CPU time limit (\(limits.cpuSeconds) s per process) reached\n"
    default: return nil
    }
  }

  private static func collect(
    _ sequence: SubprocessOutputSequence, kind: OutputStreamKind, cap: Int,
    onOutput: @Sendable (OutputStreamKind, String) -> Void
  ) async -> OutputCollector {
    var collector = OutputCollector(kind: kind, cap: cap)
    do {
      for try await buffer in sequence {
        let text = buffer.withUnsafeBytes { collector.append($0) }
        if let text { onOutput(kind, text) }
      }
    } catch {
      // A read error ends the stream; what was read is kept.
    }
    if let rest = collector.finish() { onOutput(kind, rest) }
    return collector
  }
}

/// What the body of a run hands back.
struct RunBody: Sendable {
  var ending: Watch.Ending
  var stdout: OutputCollector
  var stderr: OutputCollector
}

/// Watches a running command on a thread of its own: its exit, the deadline, the process
/// limit and cancellation; stops the tree when one of them calls for it.
struct Watch: Sendable {
  /// Why watching ended.
  enum Ending: Sendable, Equatable {
    case exited, timedOut, cancelled, processLimit
  }

  var pid: pid_t
  var pidfd: Int32
  var wakeFD: Int32
  var deadline: ContinuousClock.Instant?
  var cgroup: OperationCgroup?
  var treeKind: LaunchPlan.TreeKind

  func run() async -> Ending {
    await Sys.offloaded { self.block() }
  }

  private func block() -> Ending {
    let clock = ContinuousClock()
    let watchLimit = cgroup?.pidsDir != nil
    while true {
      var timeout = watchLimit ? ShellRunner.limitPollMs : 1000
      if let deadline {
        let left = Int((deadline - clock.now) / .milliseconds(1)) + 1
        timeout = max(0, min(timeout, left))
      }
      if pidfd < 0 { timeout = min(timeout, 5) }
      let ready = Sys.pollReadable([pidfd, wakeFD], timeoutMs: timeout)
      if ready[0] || (pidfd < 0 && Sys.hasExited(pid: pid)) {
        killLeftovers()
        return .exited
      }
      if ready[1] {
        terminate(graceful: true)
        return .cancelled
      }
      if let deadline, clock.now >= deadline {
        terminate(graceful: true)
        return .timedOut
      }
      if watchLimit, cgroup?.processLimitHit == true {
        terminate(graceful: false)
        return .processLimit
      }
    }
  }

  /// After the launched process exits: nothing it started may stay.
  private func killLeftovers() {
    if let cgroup { cgroup.killAll(ignoring: pid) }
    if treeKind == .processGroup { Sys.signalGroup(pid, SIGKILL) }
  }

  /// SIGTERM to the tree, a grace period, then SIGKILL to all, then wait for the launcher.
  private func terminate(graceful: Bool) {
    if graceful {
      if let cgroup { cgroup.signalAll(SIGTERM, except: treeKind == .sandbox ? pid : nil) }
      switch treeKind {
      case .processGroup: Sys.signalGroup(pid, SIGTERM)
      case .sandbox: if cgroup == nil { Sys.signal(pid, SIGTERM) }
      }
      if waitForExit(ms: ShellRunner.terminationGraceMs) {
        killLeftovers()
        return
      }
    }
    if let cgroup { cgroup.killAll() }
    if treeKind == .processGroup { Sys.signalGroup(pid, SIGKILL) }
    Sys.signal(pid, SIGKILL)
    _ = waitForExit(ms: 5000)
    killLeftovers()
  }

  private func waitForExit(ms: Int) -> Bool {
    let clock = ContinuousClock()
    let end = clock.now.advanced(by: .milliseconds(ms))
    while clock.now < end {
      if pidfd >= 0 {
        let left = Int((end - clock.now) / .milliseconds(1)) + 1
        if Sys.pollReadable([pidfd], timeoutMs: left)[0] { return true }
      } else {
        if Sys.hasExited(pid: pid) { return true }
        usleep(2000)
      }
    }
    return pidfd >= 0 ? Sys.pollReadable([pidfd], timeoutMs: 0)[0] : Sys.hasExited(pid: pid)
  }
}
