import CSpacesSys
import Foundation
import SpacesModel
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Starts the commands of every shell operation, from one thread that lives as long as the
/// process.
///
/// Two reasons. A sandbox started with `--die-with-parent` dies when the *thread* that started
/// it exits (Linux's parent-death signal follows the thread), and the threads that run tasks
/// come and go. And moving a new process into its cgroups is slow (each move waits for an RCU
/// grace period, milliseconds): so the thread keeps spares — the small `spaces-spare` helper,
/// started and moved into a fresh operation cgroup ahead of time — which the next command with
/// the same limits execs at once. ``enableSpares()`` turns that on for long-lived runtimes (the
/// server and the workbench); a one-shot CLI run doesn't need it.
final package class Spawner: @unchecked Sendable {
  // @unchecked: its mutable state is guarded by `condition` (its thread sleeps on it) or is a LockedValue.
  static package let shared = Spawner()

  /// What a spare was made for: commands whose cgroup has the same limits.
  struct SpareKey: Hashable, Sendable {
    var cgroup: Bool
    var maxProcesses: Int
    var memoryBytes: Int

    init(cgroup: Bool, limits: ShellLimits) {
      self.cgroup = cgroup
      maxProcesses = limits.maxProcesses
      memoryBytes = limits.memoryBytes
    }
  }

  /// A child waiting for its command, with its operation cgroup.
  struct Spare: Sendable {
    var process: cspaces_spare
    var cgroup: OperationCgroup?
    /// In a persistent sandbox, the shell the spare already became (see ``WarmShell``).
    var warm: WarmShell?
  }

  /// The spawner thread sleeps on this until there is work: the one place here a thread
  /// waits, so the one condition variable; it guards `queue` only.
  private let condition = NSCondition()
  private var queue: [@Sendable () -> Void] = []
  /// The spares ready and on their way, and which kinds of command were used last.
  private struct SpareState {
    var spares: [SpareKey: [Spare]] = [:]
    var refilling: [SpareKey: Int] = [:]
    var lastUsed: [SpareKey: Int] = [:]
    var useCount = 0
  }
  private let state = LockedValue(SpareState())
  /// How many spares are kept per kind of command: two, so a command that follows another at
  /// once still finds one while the first is being replaced.
  private let sparesPerKey = 2
  /// How many kinds of command keep spares.
  private let kindsKept = 4
  private let sparesEnabled = Atomic(false)

  private init() {
    let thread = Thread { [self] in loop() }
    thread.name = "spaces-spawner"
    thread.start()
  }

  /// Keeps a spare ready for each kind of command from now on.
  package func enableSpares() {
    sparesEnabled.store(true, ordering: .relaxed)
  }

  /// Whether spares are kept (a long-lived runtime).
  var sparesOn: Bool { sparesEnabled.load(ordering: .relaxed) }

  /// Runs `work` on the spawner thread and returns its result.
  func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      submit { continuation.resume(returning: work()) }
    }
  }

  private func submit(_ work: @escaping @Sendable () -> Void) {
    condition.lock()
    queue.append(work)
    condition.signal()
    condition.unlock()
  }

  private func loop() {
    while true {
      condition.lock()
      while queue.isEmpty { condition.wait() }
      let work = queue.removeFirst()
      condition.unlock()
      work()
    }
  }

  /// Takes the spare made for `key`, if one is ready.
  func takeSpare(_ key: SpareKey) -> Spare? {
    guard sparesEnabled.load(ordering: .relaxed) else { return nil }
    return state.withValue { state in
      guard var ready = state.spares[key], !ready.isEmpty else { return nil }
      let spare = ready.removeFirst()
      state.spares[key] = ready
      return spare
    }
  }

  /// Starts making a spare for `key` unless one is ready or on its way. Called once a command
  /// is done, so the start doesn't compete with the command's own. Spares are kept for the
  /// few kinds of command used last; those of a kind no longer used (a space's limits changed)
  /// are ended.
  func refill(_ key: SpareKey, limits: ShellLimits) {
    guard sparesEnabled.load(ordering: .relaxed) else { return }
    let (stale, needed) = state.withValue { state in
      state.useCount += 1
      state.lastUsed[key] = state.useCount
      var stale: [Spare] = []
      if state.lastUsed.count > kindsKept,
        let oldest = state.lastUsed.filter({ $0.key != key && state.refilling[$0.key, default: 0] == 0 })
          .min(by: { $0.value < $1.value })?.key
      {
        state.lastUsed[oldest] = nil
        stale = state.spares.removeValue(forKey: oldest) ?? []
      }
      let needed = sparesPerKey - (state.spares[key]?.count ?? 0) - (state.refilling[key] ?? 0)
      if needed > 0 { state.refilling[key, default: 0] += needed }
      return (stale, needed)
    }
    if !stale.isEmpty {
      let ending = stale
      submit {
        for spare in ending {
          var process = spare.process
          cspaces_spare_discard(&process)
          spare.cgroup?.remove()
        }
      }
    }
    for _ in 0..<max(0, needed) {
      submit { [self] in
        let made = Self.makeSpare(key, limits: limits)
        state.withValue { state in
          state.refilling[key, default: 1] -= 1
          if let made { state.spares[key, default: []].append(made) }
        }
      }
    }
  }

  /// The process ids of the spares waiting now, of one kind or all (for tests).
  func spareProcessIDs(_ key: SpareKey? = nil) -> [Int32] {
    state.withValue { state in
      if let key { return (state.spares[key] ?? []).map(\.process.pid) }
      return state.spares.values.flatMap { $0.map(\.process.pid) }
    }
  }

  /// The `spaces-spare` helper beside the running executable (or `SPACES_SPARE_HELPER`); nil
  /// when there is none, and then commands start without spares.
  static let helper: String? = {
    if let path = Sys.environment("SPACES_SPARE_HELPER") {
      return Sys.isExecutableFile(path) ? path : nil
    }
    let executable = Sys.realPath("/proc/self/exe")
    guard let slash = executable.lastIndex(of: "/") else { return nil }
    let path = String(executable[..<slash]) + "/spaces-spare"
    return Sys.isExecutableFile(path) ? path : nil
  }()

  /// Starts a spare in a fresh operation cgroup (called on the spawner thread).
  private static func makeSpare(_ key: SpareKey, limits: ShellLimits) -> Spare? {
    guard let helper else { return nil }
    var cgroup: OperationCgroup?
    if key.cgroup {
      guard let made = CgroupSupport.shared?.makeOperationGroup(limits: limits) else { return nil }
      cgroup = made
    }
    guard let joins = try? CgroupJoin(cgroup) else {
      cgroup?.remove()
      return nil
    }
    defer { joins.close() }
    var process = cspaces_spare(pid: 0, pidfd: -1, control_fd: -1)
    let rc = joins.files.withUnsafeBufferPointer {
      cspaces_spare_start(helper, $0.baseAddress, Int32($0.count), &process)
    }
    guard rc == 0 else {
      cgroup?.remove()
      return nil
    }
    return Spare(process: process, cgroup: cgroup)
  }
}

/// The open cgroup files a child needs to start inside an operation cgroup.
struct CgroupJoin {
  /// `cgroup.procs` of each folder, for a child to write itself into.
  var files: [Int32] = []

  init(_ cgroup: OperationCgroup?) throws(SpacesError) {
    guard let cgroup else { return }
    for dir in cgroup.directories {
      let fd = open(dir + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
      guard fd >= 0 else {
        let code = errno
        close()
        throw SpacesError(
          .ioError, "Could not open the operation cgroup \(dir): \(String(cString: strerror(code))).", errno: code)
      }
      files.append(fd)
    }
  }

  func close() {
    for fd in files { Glibc.close(fd) }
  }
}
