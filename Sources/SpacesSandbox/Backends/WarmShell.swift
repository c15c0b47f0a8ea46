import CSpacesSys
import Foundation
import SpacesModel
import SpacesPolicy

#if canImport(Glibc)
  import Glibc
#endif

/// A persistent sandbox's spare that has already become the command's shell: `/bin/sh -s`,
/// exec'd ahead of time in its operation cgroup, its output pipes in place, blocked reading its
/// script from a socket only the runtime holds the other end of.
///
/// A shell command then costs no exec of its own: the runtime writes the script (at most
/// ``maxScriptBytes``, in one write the shell reads whole) and closes the socket; the shell runs
/// it and exits at the end of it. What the script holds is what `sh -c` would have been given,
/// with the variables the plan sets beyond the shell's own environment exported first
/// (``script(for:boot:session:)``). A plan the shell can't take
/// that way (a variable whose name is not a shell name, a script too long for one write) goes
/// to a spare that execs it (``PersistentSandbox/coldSpare(limits:)``).
///
/// The shell's standard input is the script's socket, at its end once the script is read (as
/// `/dev/null` would be); its descriptor 3 is a memory file the session's record is written to
/// (``BubblewrapBackend/sessionStateDescriptor``), handed back in the outcome
/// (``ShellOutcome/sessionRecord``). A record that ends with the exit status tells the command
/// ended as soon as its output does (see ``Pump``).
final class WarmShell: Sendable {
  /// The command's output pipes (the child's ends already closed here).
  let pipes: PipeSet
  /// The runtime's end of the script's socket; closed once the script is sent.
  private let script: Int32
  /// The memory file the shell's descriptor 3 refers to.
  private let state: Int32
  private let scriptClosed = LockedValue(false)
  /// The record once it ends with the exit status: the shell has written all of it.
  private let completeRecord = LockedValue<[UInt8]?>(nil)

  /// The longest script sent: what a unix socket takes in one write and the shell's first read
  /// takes whole (dash reads 8 KiB at a time), so nothing of it is left for a command that
  /// reads its standard input.
  static let maxScriptBytes = 4096

  /// How a warm shell is exec'd: the plan's executable, `-s`, the plan's folder and the base
  /// environment every command's plan adds its variables to.
  static func bootPlan(environment: [String: String], workingDirectory: String) -> LaunchPlan {
    LaunchPlan(
      executable: "/bin/sh", arguments: ["-s"], environment: environment, workingDirectory: workingDirectory,
      treeKind: .cgroup)
  }

  private init(pipes: PipeSet, script: Int32, state: Int32) {
    self.pipes = pipes
    self.script = script
    self.state = state
  }

  /// Makes `spare` (just forked by the zygote, waiting for its command) exec the shell of
  /// `boot`; nil when that can't be sent (the spare is then of no use).
  static func boot(_ spare: cspaces_spare, _ boot: LaunchPlan) -> WarmShell? {
    guard let pipes = try? PipeSet(stdoutSize: 0) else { return nil }
    var pair: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
      pipes.closeAll()
      return nil
    }
    let state = cspaces_memfd("spaces-session-state")
    guard state >= 0 else {
      pipes.closeAll()
      close(pair[0])
      close(pair[1])
      return nil
    }
    // The runtime's end only writes, the shell's only reads.
    shutdown(pair[0], Int32(SHUT_RD))
    let argv = CStringArray([boot.executable] + boot.arguments)
    let envp = CStringArray(boot.environmentStrings)
    defer {
      argv.free()
      envp.free()
    }
    var process = spare
    let rc = (boot.workingDirectory ?? "/").withCString { cwd in
      cspaces_zygote_launch(
        &process, boot.executable, argv.pointers, envp.pointers, cwd, pipes.stdoutWrite, pipes.stderrWrite, state,
        pair[1])
    }
    close(pair[1])
    pipes.closeChildEnds()
    let shell = WarmShell(pipes: pipes, script: pair[0], state: state)
    guard rc == 0 else {
      shell.discard()
      return nil
    }
    return shell
  }

  /// The script that runs `plan` in a shell booted with `boot`; nil when the shell can't take
  /// it: another program or folder, a variable whose name is not a shell name, or longer than
  /// ``maxScriptBytes``. Without `session` (the plan records none) the state file's descriptor
  /// is closed first, so the command holds what a command exec'd for it would.
  static func script(for plan: LaunchPlan, boot: LaunchPlan, session: Bool) -> [UInt8]? {
    guard plan.executable == boot.executable, plan.arguments.count == 2, plan.arguments[0] == "-c",
      plan.workingDirectory == boot.workingDirectory, plan.treeKind == boot.treeKind,
      boot.environment.allSatisfy({ plan.environment[$0.key] != nil })
    else { return nil }
    let added = plan.environment.filter { boot.environment[$0.key] != $0.value }
    // The shell reads these from its environment otherwise than from `export` (dash ignores an
    // inherited IFS, sets its own PPID…): a plan that sets one is exec'd as it is.
    guard added.keys.allSatisfy({ $0.isShellName && !shellsOwn.contains($0) }) else { return nil }
    // On the command's first line, as the limits and the session's prelude are.
    let exports =
      (session ? "" : "exec 3>&-; ")
      + (added.isEmpty
        ? ""
        : "export "
          + added.keys.sorted().map { "\($0)=\(ContainerScripts.quote(added[$0] ?? ""))" }.joined(separator: " ") + "; ")
    let bytes = Array((exports + plan.arguments[1]).utf8)
    return bytes.count <= maxScriptBytes ? bytes : nil
  }

  /// The variables a shell sets for itself when it starts.
  static let shellsOwn: Set<String> = ["IFS", "PPID", "OPTIND", "LINENO", "PWD", "OLDPWD"]

  /// Sends the script and closes the socket: the shell runs it. The stdout pipe is grown first
  /// (a command that prints a lot wakes the pump less). 0, or an errno value when the shell is
  /// gone (then nothing ran).
  func start(_ bytes: [UInt8]) -> Int32 {
    _ = cspaces_pipe_resize(pipes.stdoutRead, 1 << 20)
    let sent = bytes.withUnsafeBytes { send(script, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    let err = sent == bytes.count ? 0 : (sent < 0 ? errno : EIO)
    closeScript()
    return err
  }

  /// What the shell recorded of the session so far (at most `ShellSession.maxStateBytes` and
  /// one more byte, so a larger record is still seen as too large); nil when nothing. A record
  /// that ends with the exit status is complete, and is read once (the pump reads it as the
  /// output ends, the outcome takes it after).
  func record() -> [UInt8]? {
    if let kept = completeRecord.withValue({ $0 }) { return kept }
    var info = stat()
    guard fstat(state, &info) == 0, info.st_size > 0 else { return nil }
    let limit = min(Int(info.st_size), ShellSession.maxStateBytes + 1)
    var bytes = [UInt8](repeating: 0, count: limit)
    var count = 0
    while count < limit {
      let got = bytes.withUnsafeMutableBytes { pread(state, $0.baseAddress.map { $0 + count }, limit - count, count) }
      if got < 0, errno == EINTR { continue }
      guard got > 0 else { break }
      count += got
    }
    guard count > 0 else { return nil }
    let read = Array(bytes[..<count])
    if ShellSessionScript.recordedStatus(read) != nil { completeRecord.withValue { $0 = read } }
    return read
  }

  /// Closes what the runtime still holds of a shell that ran (its pipes are the run's).
  func finish() {
    closeScript()
    close(state)
  }

  /// Ends a shell that will not be used: with its socket closed it reads no script and exits.
  func discard() {
    finish()
    pipes.closeAll()
  }

  private func closeScript() {
    let first = scriptClosed.withValue { closed -> Bool in
      defer { closed = true }
      return !closed
    }
    if first { close(script) }
  }
}
