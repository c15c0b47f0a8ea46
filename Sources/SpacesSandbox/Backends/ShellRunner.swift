import CSpacesSys
import Dispatch
import SpacesModel

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
    /// The launched process runs in a persistent sandbox and is not our child (the zygote
    /// reaps it and reports its status): the operation cgroup holds the whole tree and is
    /// what is signalled.
    case cgroup
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

  /// The environment as execve wants it, `NAME=value`, sorted.
  var environmentStrings: [String] {
    environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
  }
}

/// The runner shared by all backends: spawns, streams, caps, enforces the timeout and limits,
/// and makes sure nothing the command started is left when it returns.
package enum ShellRunner {
  /// Grace between SIGTERM and SIGKILL when the time limit or a cancellation stops a command.
  static let terminationGraceMs = 500
  /// How often the process-limit counter is checked while a command runs.
  static let limitPollMs = 50
  /// How long output is still read after the command ended, while something holds the pipes.
  static let drainAfterExitMs = 2000
  /// How long the pump polls without sleeping for the command's end once its pipes closed:
  /// exit closes them microseconds before the status can be read, and a sleeping thread's
  /// wake-up costs more than that on a virtual machine.
  static let endSpinMicroseconds = 300

  /// Checks the parts of a request every backend relies on.
  static func validate(_ request: ShellRequest) throws(SpacesError) {
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
  /// `session` is the shell session's prelude (``ShellSessionScript/prelude(_:stateFile:)``),
  /// which runs after the limits are set, in the same shell as the command.
  static func script(
    command: String, limits: ShellLimits, memoryByRlimit: Bool, processesByRlimit: Bool, session: String? = nil
  ) -> String {
    var limitsSet: [String] = []
    if limits.cpuSeconds > 0 {
      limitsSet.append("ulimit -t \(limits.cpuSeconds + 1)")
      limitsSet.append("ulimit -S -t \(limits.cpuSeconds)")
    }
    if limits.fileSizeBytes > 0 {
      limitsSet.append("ulimit -f \(max(1, limits.fileSizeBytes / 512))")
    }
    if memoryByRlimit && limits.memoryBytes > 0 {
      limitsSet.append("ulimit -v \(max(1, limits.memoryBytes / 1024))")
    }
    if processesByRlimit && limits.maxProcesses > 0 {
      limitsSet.append("ulimit -p \(limits.maxProcesses)")
    }
    // One redirection for them all (each of its own was an open and four descriptor moves).
    var parts = limitsSet.isEmpty ? [] : ["{ " + limitsSet.map { $0 + "; " }.joined() + "} 2>/dev/null"]
    if let session { parts.append(session) }
    return parts.map { $0 + "; " }.joined() + command
  }

  /// The clean environment every backend starts from, plus the request's variables.
  static package func cleanEnvironment(home: String, extra: [String: String]) -> [String: String] {
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
  ///   - sandbox: the persistent sandbox to run the command in (one of its spares, already in
  ///     its operation cgroup, execs the plan); throws ``PersistentSandbox/unavailable`` when
  ///     that fails before the command ran.
  static func run(
    _ request: ShellRequest,
    useCgroup: Bool = true,
    sandbox: PersistentSandbox? = nil,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void,
    makePlan: (OperationCgroup?) throws(SpacesError) -> LaunchPlan
  ) async throws(SpacesError) -> ShellOutcome {
    if Task.isCancelled { throw .runCancelled }
    let clock = ContinuousClock()
    let started = clock.now
    let key = Spawner.SpareKey(cgroup: useCgroup && CgroupSupport.shared != nil, limits: request.limits)
    let spare: Spawner.Spare?
    var warm: WarmStart?
    if let sandbox {
      guard var taken = await sandbox.spare(key, limits: request.limits) else { throw PersistentSandbox.unavailable }
      if let shell = taken.warm {
        // A shell exec'd ahead takes the plan as a script, unless the plan can't be one.
        let plan: LaunchPlan
        do { plan = try makePlan(taken.cgroup) } catch {
          PersistentSandbox.discardLater([taken])
          throw error
        }
        if let script = WarmShell.script(for: plan, boot: sandbox.boot, session: request.session != nil) {
          warm = WarmStart(shell: shell, plan: plan, script: script)
        } else {
          PersistentSandbox.discardLater([taken])
          guard let cold = await sandbox.coldSpare(limits: request.limits) else { throw PersistentSandbox.unavailable }
          taken = cold
        }
      }
      spare = taken
    } else {
      spare = Spawner.shared.takeSpare(key)
    }
    defer {
      if let sandbox {
        sandbox.refill(key, limits: request.limits)
      } else {
        Spawner.shared.refill(key, limits: request.limits)
      }
    }
    let cgroup: OperationCgroup? =
      if let spare { spare.cgroup } else {
        useCgroup ? CgroupSupport.shared?.makeOperationGroup(limits: request.limits) : nil
      }
    do {
      // The pump leaves nothing in the cgroup and has it removed once the result is back.
      var outcome = try await run(
        request, cgroup: cgroup, spare: spare?.process, inSandbox: sandbox != nil, warm: warm, started: started,
        onOutput: onOutput, makePlan: makePlan)
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
      // A warm shell gone before its script came: the backend tries again, with a spare made
      // for it rather than another that may be gone too.
      if warm != nil, error.code == PersistentSandbox.unavailable.code { sandbox?.discardSpares() }
      throw error
    }
  }

  /// Launches the plan and collects its output; the caller cleans up the cgroup.
  private static func run(
    _ request: ShellRequest,
    cgroup: OperationCgroup?,
    spare: cspaces_spare?,
    inSandbox: Bool,
    warm: WarmStart?,
    started: ContinuousClock.Instant,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void,
    makePlan: (OperationCgroup?) throws(SpacesError) -> LaunchPlan
  ) async throws(SpacesError) -> ShellOutcome {
    let plan: LaunchPlan
    let pipes: PipeSet
    do {
      if let warm {
        plan = warm.plan
        pipes = warm.shell.pipes
      } else {
        plan = try makePlan(cgroup)
        pipes = try PipeSet()
      }
    } catch {
      if inSandbox, let spare {
        close(spare.control_fd)
      } else if var spare {
        cspaces_spare_discard(&spare)
      }
      throw error
    }
    defer {
      pipes.closeAll()
      warm?.shell.finish()
    }
    let timeoutMs = min(request.limits.timeoutMs, ShellLimits.ranges["timeoutMs"]?.upperBound ?? 86_400_000)
    let deadline: ContinuousClock.Instant? = timeoutMs > 0 ? started.advanced(by: .milliseconds(timeoutMs)) : nil
    let cap = request.limits.outputCapBytes
    @Sendable func pump(_ child: Child) -> RunBody {
      pipes.closeChildEnds()
      defer { close(child.pidfd) }
      return Pump(
        pid: child.pid, pidfd: child.pidfd, stdoutFD: pipes.stdoutRead, stderrFD: pipes.stderrRead,
        wakeFD: pipes.wakeRead, deadline: deadline, cgroup: cgroup, treeKind: plan.treeKind,
        cap: cap, recordedStatus: recorded, onOutput: onOutput
      ).run()
    }
    let wakeWrite = pipes.wakeWrite
    let stateFile = request.session?.stateFile
    // A warm shell's record of the session, read where it ends: its exit status there means the
    // command ended once its output did.
    let recorded: (@Sendable () -> Int32?)? =
      if let warm, request.session != nil {
        { warm.shell.record().flatMap(ShellSessionScript.recordedStatus) }
      } else { nil }
    // The handler's operation throws untyped, so the run comes back as a typed `Result`.
    let body = try await withTaskCancellationHandler { () async -> Result<RunBody, SpacesError> in
      do throws(SpacesError) { return .success(try await launchAndPump()) } catch { return .failure(error) }
    } onCancel: {
      var byte: UInt8 = 1
      _ = write(wakeWrite, &byte, 1)
    }.get()
    func launchAndPump() async throws(SpacesError) -> RunBody {
      await request.beforeLaunch?()
      if inSandbox, let spare {
        // The command is sent from here (to a warm shell, its script in one write; else one
        // datagram, which is taken whole or refused at once), so it runs while the pump's
        // thread wakes; the spare's socket then brings the command's status from the zygote
        // (unless a warm shell's record tells it first).
        let started =
          if let warm { warm.shell.start(warm.script) } else {
            launch(spare, plan, pipes, inSandbox: true, stateFile: stateFile)
          }
        guard started == 0 else {
          close(spare.control_fd)
          throw PersistentSandbox.unavailable
        }
        return await Sys.onOwnThread { pump(Child(pid: spare.pid, pidfd: spare.control_fd)) }
      }
      // With a spare, launching and pumping happen on one thread, without a hop between.
      if let spare {
        let launched = await Sys.onOwnThread { () -> Result<RunBody, SpareFailure> in
          let rc = launch(spare, plan, pipes)
          guard rc == 0 else { return .failure(SpareFailure(code: rc)) }
          return .success(pump(Child(pid: spare.pid, pidfd: spare.pidfd)))
        }
        switch launched {
        case .success(let body): return body
        case .failure(let failure) where ![E2BIG, EPIPE, ECONNRESET, EPROTO, EIO, ENOMEM].contains(failure.code):
          throw SpacesError(
            .ioError, "Could not run \(plan.executable): \(String(cString: strerror(failure.code))).",
            errno: failure.code)
        case .failure:
          // Too large a command for a spare, or the spare is gone: fork it the usual way, in
          // the same cgroup.
          break
        }
      }
      let result = await Spawner.shared.run {
        Result { () throws(SpacesError) in try spawn(plan, cgroup: cgroup, pipes: pipes) }
      }
      let child = try result.get()
      return await Sys.onOwnThread { pump(child) }
    }

    var outcome = ShellOutcome(
      exitCode: nil, signal: nil, stdout: body.stdout.outcomeText(),
      stderr: body.stderr.outcomeText(),
      truncated: body.stdout.truncated || body.stderr.truncated,
      timedOut: body.ending == .timedOut, limitHit: nil, durationMs: 0)
    if let warm, request.session != nil { outcome.sessionRecord = warm.shell.record() }
    let status = body.status
    if status & 0x7f == 0 {
      outcome.exitCode = (status >> 8) & 0xff
    } else {
      outcome.signal = status & 0x7f
    }
    if body.ending == .cancelled || Task.isCancelled {
      throw .runCancelled
    }
    outcome.limitHit = body.ending == .processLimit ? .processes : body.cgroupLimit ?? limitHit(outcome)
    if body.outputLeftOpen {
      let note = "[spaces] a process the command started kept its output open after it ended; it may still run\n"
      outcome.stderr += (outcome.stderr.isEmpty || outcome.stderr.hasSuffix("\n") ? "" : "\n") + note
      onOutput(.stderr, note)
    }
    return outcome
  }

  /// A warm shell's run: the shell, the plan it stands for and the script it is sent.
  struct WarmStart: Sendable {
    var shell: WarmShell
    var plan: LaunchPlan
    var script: [UInt8]
  }

  /// A started child: its pid and a pidfd that becomes readable when it exits.
  struct Child {
    var pid: pid_t
    var pidfd: Int32
  }

  /// Makes a spare exec the plan; 0 or an errno value (E2BIG: too large for a spare). A
  /// persistent sandbox's spare (`inSandbox`) also gets the session's state file (opened here,
  /// never following a symlink) as its descriptor 3, and the exec is not waited for: the
  /// zygote's status report tells how it went.
  private static func launch(
    _ spare: cspaces_spare, _ plan: LaunchPlan, _ pipes: PipeSet, inSandbox: Bool = false, stateFile: String? = nil
  ) -> Int32 {
    var process = spare
    var stateFD: Int32 = -1
    if let stateFile {
      // Made here, private, for a command the zygote runs (a warm shell needs none).
      stateFD = ShellSessionRun.openStateFile(stateFile)
      guard stateFD >= 0 else { return errno }
    }
    defer { if stateFD >= 0 { close(stateFD) } }
    let argv = CStringArray([plan.executable] + plan.arguments)
    let envp = CStringArray(plan.environmentStrings)
    defer {
      argv.free()
      envp.free()
    }
    return withOptionalCString(plan.workingDirectory) { cwd in
      inSandbox
        ? cspaces_zygote_launch(
          &process, plan.executable, argv.pointers, envp.pointers, cwd, pipes.stdoutWrite, pipes.stderrWrite, stateFD,
          -1)
        : cspaces_spare_launch(
          &process, plan.executable, argv.pointers, envp.pointers, cwd, pipes.stdoutWrite, pipes.stderrWrite)
    }
  }

  /// Starts the plan's process inside the operation cgroup before it runs a single instruction
  /// of its own (the child moves itself there before exec). Call it on the spawner thread (see
  /// ``Spawner``).
  static func spawn(_ plan: LaunchPlan, cgroup: OperationCgroup?, pipes: PipeSet) throws(SpacesError) -> Child {
    let joins = try CgroupJoin(cgroup)
    defer { joins.close() }
    let executable = plan.executable
    let argv = CStringArray([executable] + plan.arguments)
    let envp = CStringArray(plan.environmentStrings)
    defer {
      argv.free()
      envp.free()
    }
    var pid: Int32 = 0
    var pidfd: Int32 = -1
    let rc = withOptionalCString(plan.workingDirectory) { cwd in
      joins.files.withUnsafeBufferPointer { joinFDs in
        cspaces_spawn(
          executable, argv.pointers, envp.pointers, cwd, joinFDs.baseAddress, Int32(joinFDs.count),
          pipes.stdoutWrite, pipes.stderrWrite, &pid, &pidfd)
      }
    }
    guard rc == 0 else {
      let reason = String(cString: strerror(rc))
      if rc == ENOSYS {
        throw SpacesError(
          .ioError, "Could not start \(executable): this kernel has no pidfds; Agent Spaces needs Linux 5.3 or later.")
      }
      if cgroup != nil, rc != ENOENT, rc != EACCES {
        throw SpacesError(.ioError, "Could not run \(executable) in the operation cgroup: \(reason).", errno: rc)
      }
      throw SpacesError(.ioError, "Could not run \(executable): \(reason).", errno: rc)
    }
    return Child(pid: pid, pidfd: pidfd)
  }

  /// The rlimit a command died of, from its status (the cgroup limits are read by the pump).
  private static func limitHit(_ outcome: ShellOutcome) -> ShellLimit? {
    func died(of sig: Int32) -> Bool { outcome.signal == sig || outcome.exitCode == 128 + sig }
    if died(of: SIGXCPU) { return .cpu }
    if died(of: SIGXFSZ) { return .fileSize }
    return nil
  }

  private static func note(for outcome: ShellOutcome, limits: ShellLimits) -> String? {
    if outcome.timedOut {
      return
        "[spaces] timed out after \(limits.timeoutMs) ms: the command and everything it started were killed\n"
    }
    return outcome.limitHit?.note(limits)
  }

}

/// The pipes of one run: stdout and stderr from the child, and a wake pipe for cancellation.
final class PipeSet: Sendable {
  let stdoutRead: Int32
  let stdoutWrite: Int32
  let stderrRead: Int32
  let stderrWrite: Int32
  let wakeRead: Int32
  let wakeWrite: Int32
  private let childEndsClosed = LockedValue(false)

  /// Makes the pipes; `stdoutSize` > 0 sets the stdout pipe's size (0: the system's).
  init(stdoutSize: Int32 = 1 << 20) throws(SpacesError) {
    var fds: [Int32] = []
    for _ in 0..<3 {
      var pair: [Int32] = [-1, -1]
      // A larger stdout pipe means fewer wake-ups for a command that prints a lot.
      let code = cspaces_pipe(&pair, fds.isEmpty ? stdoutSize : 0)
      guard code == 0 else {
        for fd in fds { close(fd) }
        throw SpacesError(.ioError, "Could not create a pipe: errno \(code).", errno: code)
      }
      fds += pair
    }
    (stdoutRead, stdoutWrite, stderrRead, stderrWrite, wakeRead, wakeWrite) = (
      fds[0], fds[1], fds[2], fds[3], fds[4], fds[5]
    )
  }

  /// Closes the ends the child writes to (once it has them).
  func closeChildEnds() {
    let first = childEndsClosed.withValue { closed -> Bool in
      defer { closed = true }
      return !closed
    }
    if first {
      close(stdoutWrite)
      close(stderrWrite)
    }
  }

  /// Closes everything.
  func closeAll() {
    closeChildEnds()
    for fd in [stdoutRead, stderrRead, wakeRead, wakeWrite] { close(fd) }
  }
}

/// A spare that could not exec its command.
struct SpareFailure: Error {
  var code: Int32
}

/// NUL-terminated copies of strings for execve.
struct CStringArray {
  let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

  init(_ strings: [String]) {
    pointers = .allocate(capacity: strings.count + 1)
    for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
    pointers[strings.count] = nil
  }

  func free() {
    var index = 0
    while let pointer = pointers[index] {
      Glibc.free(pointer)
      index += 1
    }
    pointers.deallocate()
  }
}

private func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
  guard let string else { return body(nil) }
  return string.withCString { body($0) }
}

/// What the pump hands back.
struct RunBody: Sendable {
  var ending: Pump.Ending
  var status: Int32
  /// `processes` or `memory` when the operation cgroup's limit was hit.
  var cgroupLimit: ShellLimit?
  /// Whether something kept stdout or stderr open after the command ended.
  var outputLeftOpen = false
  var stdout: OutputCollector
  var stderr: OutputCollector
}

/// Runs a command to its end on a thread of its own: reads its stdout and stderr as they come,
/// watches its exit, the deadline, the process limit and cancellation, and stops the tree
/// when one of them calls for it.
struct Pump: Sendable {
  /// Why watching ended.
  enum Ending: Sendable, Equatable {
    case exited, timedOut, cancelled, processLimit
  }

  var pid: pid_t
  var pidfd: Int32
  var stdoutFD: Int32
  var stderrFD: Int32
  var wakeFD: Int32
  var deadline: ContinuousClock.Instant?
  var cgroup: OperationCgroup?
  var treeKind: LaunchPlan.TreeKind
  var cap: Int
  /// The exit status the command's shell recorded, looked at once its output has ended (a warm
  /// shell's session record; see ``WarmShell``): with one, the command ended there, and what it
  /// left in its cgroup (itself included, were it still there) is killed without waiting for
  /// the zygote's report.
  var recordedStatus: (@Sendable () -> Int32?)? = nil
  var onOutput: @Sendable (OutputStreamKind, String) -> Void

  func run() -> RunBody {
    var stdout = OutputCollector(kind: .stdout, cap: cap)
    var stderr = OutputCollector(kind: .stderr, cap: cap)
    var outOpen = true
    var errOpen = true
    var ending: Ending?
    let clock = ContinuousClock()
    let watchLimit = cgroup?.pidsDir != nil
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
    defer { buffer.deallocate() }

    /// Reads what one pipe has; false at its end.
    func drain(_ fd: Int32, into collector: inout OutputCollector) -> Bool {
      let count = read(fd, buffer.baseAddress, buffer.count)
      if count > 0 {
        if let text = collector.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) {
          onOutput(collector.kind, text)
        }
        return true
      }
      return count < 0 && (errno == EINTR || errno == EAGAIN)
    }

    var recorded: Int32?
    var endedAt: ContinuousClock.Instant?
    var pipesClosedAt: ContinuousClock.Instant?
    var leftOpen = false
    while outOpen || errOpen || ending == nil {
      if ending != nil {
        // A process that left the tree (without a cgroup, `setsid` escapes the process group)
        // may hold the pipes open for ever: stop reading a while after the command ended.
        let ended = endedAt ?? clock.now
        endedAt = ended
        if clock.now - ended > .milliseconds(ShellRunner.drainAfterExitMs) {
          leftOpen = true
          break
        }
      }
      var timeout = watchLimit ? ShellRunner.limitPollMs : 1000
      if ending != nil { timeout = min(timeout, ShellRunner.drainAfterExitMs) }
      if ending == nil, let deadline {
        let left = Int((deadline - clock.now) / .milliseconds(1)) + 1
        timeout = max(0, min(timeout, left))
      }
      if ending == nil, !outOpen, !errOpen {
        let closed = pipesClosedAt ?? clock.now
        pipesClosedAt = closed
        if clock.now - closed < .microseconds(ShellRunner.endSpinMicroseconds) { timeout = 0 }
      }
      var fds = [
        pollfd(fd: ending == nil ? pidfd : -1, events: Int16(POLLIN), revents: 0),
        pollfd(fd: outOpen ? stdoutFD : -1, events: Int16(POLLIN), revents: 0),
        pollfd(fd: errOpen ? stderrFD : -1, events: Int16(POLLIN), revents: 0),
        pollfd(fd: ending == nil ? wakeFD : -1, events: Int16(POLLIN), revents: 0),
      ]
      let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, 4, Int32(timeout)) }
      if ready < 0 && errno != EINTR { break }
      if fds[1].revents != 0 { outOpen = drain(stdoutFD, into: &stdout) }
      if fds[2].revents != 0 { errOpen = drain(stderrFD, into: &stderr) }
      // The output has just ended: a shell that recorded its exit status has ended (it writes
      // the record as it exits); the zygote's report would only say so later.
      if !outOpen && !errOpen && pipesClosedAt == nil && ending == nil {
        if let code = recordedStatus?() {
          cgroup?.killAll()
          recorded = code << 8
          ending = .exited
          break
        }
      }
      guard ending == nil else { continue }
      if fds[0].revents != 0 {
        // Nothing the command started may stay; then the pipes reach their end.
        killLeftovers()
        ending = .exited
      } else if fds[3].revents != 0 {
        terminate(graceful: true)
        ending = .cancelled
      } else if let deadline, clock.now >= deadline {
        terminate(graceful: true)
        ending = .timedOut
      } else if watchLimit, cgroup?.processLimitHit == true {
        terminate(graceful: false)
        ending = .processLimit
      }
    }
    if let rest = stdout.finish() { onOutput(.stdout, rest) }
    if let rest = stderr.finish() { onOutput(.stderr, rest) }
    var execError: Int32 = 0
    let status =
      if let recorded { recorded } else if treeKind == .cgroup {
        cspaces_zygote_status(pidfd, &execError)
      } else { cspaces_reap(pid) }
    // Nothing is left in the operation cgroup (see killLeftovers); the empty folders go after
    // the result is back.
    var cgroupLimit: ShellLimit?
    if let cgroup {
      cgroupLimit = cgroup.processLimitHit ? .processes : cgroup.memoryLimitHit ? .memory : nil
      cgroup.removeLater()
    }
    return RunBody(
      ending: ending ?? .exited, status: status, cgroupLimit: cgroupLimit, outputLeftOpen: leftOpen, stdout: stdout,
      stderr: stderr)
  }

  /// After the launched process exits: nothing it started may stay.
  ///
  /// A sandbox needs nothing more: when bwrap has exited, the init of its PID namespace has
  /// exited before it, and the kernel ends every process of a namespace whose init ends.
  private func killLeftovers() {
    switch treeKind {
    case .sandbox: return
    case .cgroup: cgroup?.killAll(ignoring: pid)
    case .processGroup:
      if let cgroup { cgroup.killAll(ignoring: pid) }
      Sys.signalGroup(pid, SIGKILL)
    }
  }

  /// SIGTERM to the tree, a grace period, then SIGKILL to all, then wait for the launched process.
  private func terminate(graceful: Bool) {
    if graceful {
      if let cgroup { cgroup.signalAll(SIGTERM, except: treeKind == .sandbox ? pid : nil) }
      switch treeKind {
      case .processGroup: Sys.signalGroup(pid, SIGTERM)
      case .sandbox: if cgroup == nil { Sys.signal(pid, SIGTERM) }
      case .cgroup: break
      }
      if waitForExit(ms: ShellRunner.terminationGraceMs) {
        killLeftovers()
        return
      }
    }
    // The process group first, in one call: a cgroup is killed one process at a time, and a
    // shell woken by its child's death could run its next command (`echo`) before its own turn.
    if treeKind == .processGroup { Sys.signalGroup(pid, SIGKILL) }
    if let cgroup { cgroup.killAll() }
    // A persistent sandbox's command is not our child: once its zygote reaped it, its pid
    // may be another process's; the cgroup above has it.
    if treeKind != .cgroup { Sys.signal(pid, SIGKILL) }
    _ = waitForExit(ms: 5000)
    killLeftovers()
  }

  private func waitForExit(ms: Int) -> Bool {
    Sys.pollReadable([pidfd], timeoutMs: ms)[0]
  }
}
