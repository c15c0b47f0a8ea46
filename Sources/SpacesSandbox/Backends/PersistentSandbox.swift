import CSpacesSys
import Foundation
import SpacesModel
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A bubblewrap sandbox kept alive for a workspace, in which each shell command is a fork/exec.
///
/// `bwrap … /run/spaces/zygote --zygote` (the `spaces-spare` helper bound read-only) is started
/// once, from the spawner thread (its `--die-with-parent` follows that thread, which lives as long
/// as the runtime). The zygote inside forks *spares* on request over a socketpair only the
/// runtime holds the other end of: each spare first moves itself into a fresh operation cgroup
/// (the runtime sends the open `cgroup.procs` files), reports its pid (SCM_CREDENTIALS, which the
/// kernel translates into the runtime's PID namespace) and waits for its command; the zygote
/// reaps it and sends its wait status back on the spare's socket. The spares kept ready have
/// already exec'd the command's shell (``WarmShell``): a command is then the script it is sent.
/// The operation cgroup is what kills a command's whole tree (the PID namespace outlives the
/// command now), so a sandbox is only used where operation cgroups can be made (see
/// ``BubblewrapBackend``).
final class PersistentSandbox: Sendable {
  /// The bwrap arguments the sandbox was built with: a request that needs others gets a new one.
  let signature: [String]
  /// How the spares kept ready exec their shell (see ``WarmShell``).
  let boot: LaunchPlan
  /// The `bwrap` process (its pid in the runtime's namespace).
  let processID: Int32
  private let pidfd: Int32
  private let control: Int32
  /// The spares ready and on their way, for the kind of command run last.
  private struct State {
    var spares: [Spawner.SpareKey: [Spawner.Spare]] = [:]
    var refilling: [Spawner.SpareKey: Int] = [:]
    var lastKey: Spawner.SpareKey?
    var ended = false
  }
  private let state = LockedValue(State())
  private let exited = Atomic(false)
  /// Spares kept per sandbox, for the kind of command it ran last.
  private let sparesKept = 3
  /// How long a spare may take to be ready (the first waits for bwrap's set-up too).
  static let spareTimeoutMs: Int32 = 10_000

  /// The request could not run in a persistent sandbox (it died, or a spare failed): the
  /// backend tries a new one, then a sandbox of its own for the command. Its code is the
  /// sandbox's own and never leaves ``BubblewrapBackend`` (which catches it).
  static let unavailable = SpacesError(
    SpacesError.Code(rawValue: "sandboxUnavailable"), "the persistent sandbox could not take the command")

  private init(signature: [String], boot: LaunchPlan, processID: Int32, pidfd: Int32, control: Int32) {
    self.signature = signature
    self.boot = boot
    self.processID = processID
    self.pidfd = pidfd
    self.control = control
  }

  deinit {
    close(control)
  }

  /// Whether bwrap (and so everything inside) is gone.
  var isDead: Bool {
    exited.load(ordering: .acquiring) || Sys.pollReadable([pidfd], timeoutMs: 0)[0]
  }

  /// Starts `bwrap` with `arguments` (ending with the zygote's command line). Call it on the
  /// spawner thread.
  static func start(bwrap: String, arguments: [String], signature: [String], boot: LaunchPlan) -> PersistentSandbox? {
    let argv = CStringArray([bwrap] + arguments)
    let envp = CStringArray(["PATH=/usr/bin:/bin"])
    defer {
      argv.free()
      envp.free()
    }
    var pid: Int32 = 0
    var pidfd: Int32 = -1
    var control: Int32 = -1
    guard cspaces_zygote_start(bwrap, argv.pointers, envp.pointers, &pid, &pidfd, &control) == 0 else { return nil }
    let sandbox = PersistentSandbox(signature: signature, boot: boot, processID: pid, pidfd: pidfd, control: control)
    // One thread per sandbox waits for bwrap to end and reaps it.
    let thread = Thread { [sandbox, pid, pidfd] in
      _ = Sys.pollReadable([pidfd], timeoutMs: -1)
      _ = cspaces_reap(pid)
      sandbox.exited.store(true, ordering: .releasing)
      close(pidfd)
      sandbox.discardSpares()
    }
    thread.name = "spaces-sandbox-reaper"
    thread.stackSize = 64 << 10
    thread.start()
    return sandbox
  }

  /// A spare for a command of kind `key`: a ready one (a ``WarmShell``), or one made now (paying
  /// the cgroup move, and exec'ing its command when it is sent); nil when the sandbox can't make one.
  func spare(_ key: Spawner.SpareKey, limits: ShellLimits) async -> Spawner.Spare? {
    let ready: Spawner.Spare? = state.withValue { state in
      guard var list = state.spares[key], !list.isEmpty else { return nil }
      let spare = list.removeFirst()
      state.spares[key] = list
      return spare
    }
    if let ready { return ready }
    return await coldSpare(limits: limits)
  }

  /// A spare made now, which execs the command it is sent; nil when the sandbox can't make one.
  func coldSpare(limits: ShellLimits) async -> Spawner.Spare? {
    await Sys.offloaded { self.makeSpare(limits: limits, warm: false) }
  }

  /// Keeps `sparesKept` spares of kind `key` ready (when spares are on: a long-lived runtime);
  /// those of another kind are ended.
  func refill(_ key: Spawner.SpareKey, limits: ShellLimits) {
    guard Spawner.shared.sparesOn else { return }
    let planned: (stale: [Spawner.Spare], needed: Int)? = state.withValue { state in
      guard !state.ended else { return nil }
      var stale: [Spawner.Spare] = []
      if state.lastKey != key {
        for (other, list) in state.spares where other != key { stale += list }
        state.spares = state.spares.filter { $0.key == key }
        state.lastKey = key
      }
      let needed = sparesKept - (state.spares[key]?.count ?? 0) - (state.refilling[key] ?? 0)
      if needed > 0 { state.refilling[key, default: 0] += needed }
      return (stale, needed)
    }
    guard let (ending, needed) = planned else { return }
    Self.queue.async { Self.discard(ending) }
    for _ in 0..<max(0, needed) {
      Self.queue.asyncAfter(deadline: .now() + .milliseconds(1)) { [self] in
        let made = makeSpare(limits: limits, warm: true)
        let keep = state.withValue { state in
          state.refilling[key, default: 1] -= 1
          let keep = !state.ended && state.lastKey == key
          if let made, keep { state.spares[key, default: []].append(made) }
          return keep
        }
        if let made, !keep { Self.discard([made]) }
      }
    }
  }

  /// Ends the sandbox: no more spares; with `now`, bwrap is killed (and everything inside),
  /// else the zygote exits once the commands running in it have ended.
  func end(now: Bool) {
    let first = state.withValue { state in
      defer { state.ended = true }
      return !state.ended
    }
    guard first else { return }
    shutdown(control, Int32(SHUT_WR))
    discardSpares()
    if now && !exited.load(ordering: .acquiring) {
      // The reaper thread has not reaped it yet, so the pid is still bwrap's.
      Sys.signal(processID, SIGKILL)
    }
  }

  /// The process ids of the spares waiting now (for tests).
  var spareProcessIDs: [Int32] {
    state.withValue { state in state.spares.values.flatMap { $0.map(\.process.pid) } }
  }

  /// Ends the spares waiting now (the next command's is made for it): one of them was found
  /// dead, so the others may be too (a command can kill the shells waiting beside it).
  func discardSpares() {
    let all = state.withValue { state in
      defer { state.spares = [:] }
      return state.spares.values.flatMap { $0 }
    }
    Self.queue.async { Self.discard(all) }
  }

  private static let queue = DispatchQueue(label: "spaces-sandbox-spares", qos: .userInitiated)

  /// Ends spares off the caller's thread (their cgroups go once their processes have).
  static func discardLater(_ spares: [Spawner.Spare]) {
    queue.async { discard(spares) }
  }

  /// Ends spares: closing its socket ends a spare (a warm one's script socket, its shell); its
  /// cgroup goes once it has.
  static func discard(_ spares: [Spawner.Spare]) {
    for spare in spares {
      spare.warm?.discard()
      close(spare.process.control_fd)
      spare.cgroup?.remove()
    }
  }

  /// Asks the zygote for a spare in a fresh operation cgroup; blocks until it is ready. A `warm`
  /// one then execs the sandbox's shell (``boot``), which waits for its script.
  private func makeSpare(limits: ShellLimits, warm: Bool) -> Spawner.Spare? {
    guard !isDead, let cgroup = CgroupSupport.shared?.makeOperationGroup(limits: limits) else { return nil }
    guard let joins = try? CgroupJoin(cgroup) else {
      cgroup.remove()
      return nil
    }
    defer { joins.close() }
    var process = cspaces_spare(pid: 0, pidfd: -1, control_fd: -1)
    let rc = joins.files.withUnsafeBufferPointer {
      cspaces_zygote_spare(control, $0.baseAddress, Int32($0.count), Self.spareTimeoutMs, &process)
    }
    guard rc == 0 else {
      cgroup.remove()
      return nil
    }
    guard warm else { return Spawner.Spare(process: process, cgroup: cgroup) }
    guard let shell = WarmShell.boot(process, boot) else {
      close(process.control_fd)
      cgroup.remove()
      return nil
    }
    return Spawner.Spare(process: process, cgroup: cgroup, warm: shell)
  }
}

/// The persistent sandboxes of this process, one per workspace.
enum SandboxPool {
  private struct Entry {
    var sandbox: PersistentSandbox
    var lastUse: Int
  }

  private static let entries = LockedValue<(sandboxes: [String: Entry], uses: Int)>(([:], 0))
  /// The most sandboxes kept at once; the one used least recently is ended beyond.
  static let maxKept = 16

  /// The sandbox for `workspace` built with `signature`: the one there is, or a new one (which
  /// replaces one built with other arguments, or one that died). nil when bwrap can't start.
  static func sandbox(
    workspace: String, signature: [String], bwrap: String, arguments: [String], boot: LaunchPlan
  ) async -> PersistentSandbox? {
    if let found = current(workspace), found.signature == signature, !found.isDead {
      return found
    }
    // Started on the spawner thread (see ``Spawner``), which also makes concurrent first uses
    // of a space start one sandbox between them.
    let (sandbox, retired) = await Spawner.shared.run { () -> (PersistentSandbox?, [PersistentSandbox]) in
      if let found = current(workspace), found.signature == signature, !found.isDead {
        return (found, [])
      }
      let made = PersistentSandbox.start(bwrap: bwrap, arguments: arguments, signature: signature, boot: boot)
      let retired = entries.withValue { state -> [PersistentSandbox] in
        var retired: [PersistentSandbox] = []
        if let old = state.sandboxes.removeValue(forKey: workspace) { retired.append(old.sandbox) }
        guard let made else { return retired }
        state.uses += 1
        state.sandboxes[workspace] = Entry(sandbox: made, lastUse: state.uses)
        while state.sandboxes.count > maxKept,
          let oldest = state.sandboxes.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        {
          if let entry = state.sandboxes.removeValue(forKey: oldest) { retired.append(entry.sandbox) }
        }
        return retired
      }
      return (made, retired)
    }
    for old in retired { old.end(now: old.isDead) }
    return sandbox
  }

  /// The sandbox of `workspace` now, if there is one (marked as used).
  static func current(_ workspace: String) -> PersistentSandbox? {
    entries.withValue { state in
      guard var entry = state.sandboxes[workspace] else { return nil }
      state.uses += 1
      entry.lastUse = state.uses
      state.sandboxes[workspace] = entry
      return entry.sandbox
    }
  }

  /// Ends the sandbox of `workspace` and everything in it (its space was deleted).
  static func end(workspace: String) {
    let entry = entries.withValue { $0.sandboxes.removeValue(forKey: workspace) }
    entry?.sandbox.end(now: true)
  }
}
