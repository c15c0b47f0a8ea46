import CSpacesSys
import Dispatch
import SpacesModel
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Per-operation cgroups for the process and memory limits, where this host lets us make them.
///
/// Works with cgroup v1 (`pids` and `memory` hierarchies, as in this container) and with a
/// delegated cgroup v2 subtree (`pids` and `memory` enabled in our cgroup's
/// `cgroup.subtree_control`). Each operation gets `spaces-<pid>-<n>` under this process's own
/// cgroup, so limits above us still apply. Where nothing is writable, `CgroupSupport.shared`
/// is nil and the runner falls back to rlimits.
struct CgroupSupport: Sendable {
  /// The parent folder for the pids controller (v1 hierarchy, or the v2 folder).
  var pidsParent: String?
  /// The parent folder for the memory controller.
  var memoryParent: String?
  /// The parent folder for the v1 freezer (nil on v2, whose groups freeze by themselves, or when
  /// it can't be used): an operation's group is frozen while it is killed (``OperationCgroup/killAll(attempts:ignoring:)``).
  var freezerParent: String?
  /// Whether the controllers live in the unified (v2) hierarchy.
  var unified: Bool

  /// Detected once per process.
  static let shared: CgroupSupport? = detect()

  private static let counter = Atomic<Int>(0)

  /// Makes the cgroups for one operation; nil when that fails (the caller falls back).
  func makeOperationGroup(limits: ShellLimits) -> OperationCgroup? {
    let name = "spaces-\(getpid())-\(Self.counter.add(1, ordering: .relaxed).newValue)"
    var group = OperationCgroup(unified: unified)
    if let pidsParent, limits.maxProcesses > 0 {
      let dir = pidsParent + "/" + name
      guard mkdir(dir, 0o755) == 0 else { return nil }
      group.pidsDir = dir
      guard Sys.writeFile(dir + "/pids.max", "\(limits.maxProcesses)") else {
        group.remove()
        return nil
      }
    }
    if let memoryParent, limits.memoryBytes > 0 {
      let dir = memoryParent + "/" + name
      if unified, dir == group.pidsDir {
        group.memoryDir = dir
      } else if mkdir(dir, 0o755) == 0 {
        group.memoryDir = dir
      } else {
        group.remove()
        return nil
      }
      let ok: Bool
      if unified {
        ok = Sys.writeFile(dir + "/memory.max", "\(limits.memoryBytes)")
        Sys.writeFile(dir + "/memory.swap.max", "0")
      } else {
        ok = Sys.writeFile(dir + "/memory.limit_in_bytes", "\(limits.memoryBytes)")
        Sys.writeFile(dir + "/memory.memsw.limit_in_bytes", "\(limits.memoryBytes)")
      }
      guard ok else {
        group.remove()
        return nil
      }
    }
    guard !group.directories.isEmpty else { return nil }
    // Optional: without it the group is killed one process at a time.
    if let freezerParent, mkdir(freezerParent + "/" + name, 0o755) == 0 {
      group.freezerDir = freezerParent + "/" + name
    }
    return group
  }

  private static func detect() -> CgroupSupport? {
    guard let membership = Sys.readFile("/proc/self/cgroup"),
      let mountinfo = Sys.readFile("/proc/self/mountinfo")
    else { return nil }
    var v1Paths: [String: String] = [:]
    var v2Path: String?
    for line in membership.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard parts.count == 3 else { continue }
      if parts[0] == "0" && parts[1].isEmpty {
        v2Path = String(parts[2])
      } else {
        for controller in parts[1].split(separator: ",") {
          v1Paths[String(controller)] = String(parts[2])
        }
      }
    }
    var v1Mounts: [String: (root: String, point: String)] = [:]
    var v2Mount: (root: String, point: String)?
    for line in mountinfo.split(separator: "\n") {
      guard let separator = line.firstRange(of: " - ") else { continue }
      let fields = line[..<separator.lowerBound].split(separator: " ")
      let tail = line[separator.upperBound...].split(separator: " ")
      guard fields.count >= 5, tail.count >= 3 else { continue }
      let mount = (root: String(fields[3]), point: String(fields[4]))
      if tail[0] == "cgroup2" {
        v2Mount = mount
      } else if tail[0] == "cgroup" {
        for option in tail[2].split(separator: ",") where option == "pids" || option == "memory" || option == "freezer"
        {
          v1Mounts[String(option)] = mount
        }
      }
    }
    func folder(_ mount: (root: String, point: String), _ path: String) -> String {
      var relative = path
      if mount.root != "/" && relative.hasPrefix(mount.root) {
        relative = String(relative.dropFirst(mount.root.count))
      }
      if relative == "/" { relative = "" }
      return mount.point + relative
    }
    var support = CgroupSupport(pidsParent: nil, memoryParent: nil, freezerParent: nil, unified: false)
    if let mount = v1Mounts["pids"], let path = v1Paths["pids"] {
      support.pidsParent = folder(mount, path)
    }
    if let mount = v1Mounts["memory"], let path = v1Paths["memory"] {
      support.memoryParent = folder(mount, path)
    }
    if support.pidsParent == nil && support.memoryParent == nil, let mount = v2Mount,
      let path = v2Path
    {
      let dir = folder(mount, path)
      let enabled = (Sys.readFile(dir + "/cgroup.subtree_control") ?? "").split(whereSeparator: {
        $0 == " " || $0 == "\n"
      })
      support.unified = true
      if enabled.contains("pids") { support.pidsParent = dir }
      if enabled.contains("memory") { support.memoryParent = dir }
    }
    // Check that we can really make and configure a group here.
    if support.pidsParent != nil {
      let probe = support.probe(parent: support.pidsParent, file: "pids.max", value: "max")
      if !probe { support.pidsParent = nil }
    }
    if support.memoryParent != nil {
      let file = support.unified ? "memory.max" : "memory.limit_in_bytes"
      let probe = support.probe(
        parent: support.memoryParent, file: file, value: support.unified ? "max" : "-1")
      if !probe { support.memoryParent = nil }
    }
    if support.pidsParent == nil && support.memoryParent == nil { return nil }
    if !support.unified, let mount = v1Mounts["freezer"], let path = v1Paths["freezer"] {
      let parent = folder(mount, path)
      if support.probe(parent: parent, file: "freezer.state", value: "THAWED") { support.freezerParent = parent }
    }
    for parent in Set([support.pidsParent, support.memoryParent, support.freezerParent].compactMap { $0 }) {
      removeAbandoned(in: parent)
    }
    return support
  }

  /// Removes the empty operation cgroups a process that is gone left behind (killed, or exited
  /// with a spare waiting). One that still holds processes stays (rmdir refuses).
  private static func removeAbandoned(in parent: String) {
    guard let dir = opendir(parent) else { return }
    defer { closedir(dir) }
    var names: [String] = []
    while let name = cspaces_readdir_name(dir) { names.append(String(cString: name)) }
    for name in names where name.hasPrefix("spaces-") {
      let owner = name.dropFirst("spaces-".count).split(separator: "-").first { Int32($0) != nil }
      guard let owner, let pid = Int32(owner), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
      rmdir(parent + "/" + name)
    }
  }

  private func probe(parent: String?, file: String, value: String) -> Bool {
    guard let parent else { return false }
    let dir = parent + "/spaces-probe-\(getpid())"
    guard mkdir(dir, 0o755) == 0 || errno == EEXIST else { return false }
    defer { rmdir(dir) }
    return Sys.writeFile(dir + "/" + file, value)
  }
}

/// The cgroups of one operation: joined by its command as it starts, watched, emptied and removed.
struct OperationCgroup: Sendable {
  var unified: Bool
  var pidsDir: String?
  var memoryDir: String?
  /// The group's v1 freezer folder (see ``CgroupSupport/freezerParent``).
  var freezerDir: String?

  /// The distinct folders the command must join.
  var directories: [String] {
    var dirs: [String] = []
    for dir in [pidsDir, memoryDir, freezerDir].compactMap({ $0 }) where !dirs.contains(dir) {
      dirs.append(dir)
    }
    return dirs
  }

  /// The processes in the group now.
  func processes() -> [pid_t] {
    guard let dir = directories.first, let text = Sys.readFile(dir + "/cgroup.procs") else {
      return []
    }
    return text.split(separator: "\n").compactMap { pid_t($0) }
  }

  /// Sends a signal to every process in the group except `except`.
  func signalAll(_ sig: Int32, except: pid_t? = nil) {
    for pid in processes() where pid != except {
      Sys.signal(pid, sig)
    }
  }

  /// Kills everything in the group until it is empty (or `attempts` rounds pass).
  ///
  /// All at once: killed one at a time, a shell woken by its child's death could run its next
  /// command (`sleep 10; rm -r x`) before its own turn came. On cgroup v2 one write to
  /// `cgroup.kill` (Linux 5.14) kills the whole group in the kernel; before that kernel, the group
  /// is frozen first (`cgroup.freeze`, Linux 5.2: a frozen process runs no code of its own), then
  /// each process killed, then thawed. On cgroup v1 the group's freezer does the same
  /// (`freezer.state`; a process killed while frozen dies as it thaws, before any code of its
  /// own); without one, the processes are killed one by one (the runner kills a process group
  /// first, in one call, where it has one).
  ///
  /// `ignoring` is a process already known to have exited (a zombie not yet reaped).
  func killAll(attempts: Int = 200, ignoring: pid_t? = nil) {
    // Nothing left (the usual end of a command): nothing to freeze or kill.
    if processes().allSatisfy({ $0 == ignoring }) { return }
    // v2 without `cgroup.kill`: frozen while the loop below kills, thawed after it.
    var frozenV2: String?
    if unified, let dir = directories.first {
      if !Sys.writeFile(dir + "/cgroup.kill", "1"), Sys.writeFile(dir + "/cgroup.freeze", "1") { frozenV2 = dir }
    } else if let freezerDir {
      killFrozen(freezerDir, ignoring: ignoring)
    }
    defer { if let frozenV2 { Sys.writeFile(frozenV2 + "/cgroup.freeze", "0") } }
    for round in 0..<attempts {
      let pids = processes().filter { $0 != ignoring }
      if pids.isEmpty { return }
      for pid in pids { Sys.signal(pid, SIGKILL) }
      if round > 1 { usleep(round < 40 ? 200 : 2000) }
    }
  }

  /// Freezes the v1 freezer group `dir`, sends every process in it SIGKILL, and thaws it: each
  /// dies as it thaws, before any code of its own.
  private func killFrozen(_ dir: String, ignoring: pid_t?) {
    guard Sys.writeFile(dir + "/freezer.state", "FROZEN") else { return }
    defer { Sys.writeFile(dir + "/freezer.state", "THAWED") }
    // Freezing is done when the state reads FROZEN (a process in the kernel finishes first).
    for _ in 0..<100 {
      if Sys.readFile(dir + "/freezer.state")?.hasPrefix("FROZEN") == true { break }
      usleep(500)
    }
    for pid in processes() where pid != ignoring { Sys.signal(pid, SIGKILL) }
  }

  /// Whether the process limit refused a fork.
  var processLimitHit: Bool {
    guard let pidsDir else { return false }
    return counter(in: pidsDir + "/pids.events", named: "max") > 0
  }

  /// Whether the memory limit made the kernel kill a process.
  var memoryLimitHit: Bool {
    guard let memoryDir else { return false }
    let file = unified ? "/memory.events" : "/memory.oom_control"
    return counter(in: memoryDir + file, named: "oom_kill") > 0
  }

  /// Empties and removes the folders in the background, off the operation's path (its last
  /// processes may take a moment to be reaped). Folders a process left behind when it ended
  /// are removed the next time one starts.
  func removeLater() {
    OperationCgroup.cleanup.asyncAfter(deadline: .now() + .milliseconds(2)) { self.remove() }
  }

  private static let cleanup = DispatchQueue(label: "spaces-cgroup-cleanup", qos: .utility)

  /// Empties and removes the folders (retrying while the last processes are reaped).
  func remove() {
    for dir in directories {
      for attempt in 0..<100 {
        if rmdir(dir) == 0 || errno == ENOENT { break }
        if errno != EBUSY { break }
        killAll(attempts: 5)
        usleep(attempt < 10 ? 1000 : 10_000)
      }
    }
  }

  private func counter(in file: String, named name: String) -> Int {
    guard let text = Sys.readFile(file) else { return 0 }
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ")
      if parts.count == 2 && parts[0] == name { return Int(parts[1]) ?? 0 }
    }
    return 0
  }
}
