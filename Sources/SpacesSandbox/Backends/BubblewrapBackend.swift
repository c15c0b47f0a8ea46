import SpacesModel
import SpacesPolicy
import Subprocess
import SystemPackage

/// Runs commands inside a bubblewrap (`bwrap`) sandbox: the default backend on Linux.
///
/// Inside: `/usr` read-only (with `/bin`, `/lib`, … as on the host), a curated read-only
/// `/etc` without secrets, the workspace read-write at `/workspace` (the working directory
/// and HOME), a private `/tmp`, a minimal `/dev`, its own `/proc`, new user, PID, IPC, UTS and
/// cgroup namespaces, no network unless granted, no capabilities, a new session and a clean
/// environment. The host's home folders, `/root`, `/run` and the `hiddenPaths` are not there.
/// The workspace's protected paths (git hooks, editor tasks, CI workflows…) are read-only and
/// `.env*` files unreadable, unless a person approved the command (``ShellRequest/protectedWritable``).
/// When the command exits, its PID namespace goes and everything it started with it.
public struct BubblewrapBackend: IsolationBackend {
  /// The `bwrap` to use; nil searches `PATH`.
  public let bwrapPath: String?
  /// Host folders (or files) that must not be visible inside, e.g. SPACES_HOME.
  public let hiddenPaths: [String]

  /// Files and folders of `/etc` bound read-only (when they exist): what name lookup, TLS,
  /// the dynamic linker, time zones and common tools need. Everything else — shadow,
  /// gshadow, sudoers, ssh host keys, `ssl/private`, credential-bearing configs (pip.conf,
  /// npmrc, gitconfig) — is simply absent. An allow-list rather than masking secrets in a
  /// bound `/etc`, because a deny-list can't know every secret a host keeps there; the cost
  /// is about 0.17 ms of bwrap set-up per bind, so the list is kept short.
  static let etcAllowList = [
    "passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "gai.conf", "localtime",
    "ld.so.cache", "alternatives", "ssl/certs", "ssl/openssl.cnf", "mime.types", "protocols",
    "services", "os-release",
  ]

  /// Creates the backend.
  /// - Parameters:
  ///   - bwrapPath: the `bwrap` executable; nil searches `PATH`.
  ///   - hiddenPaths: host folders to hide, e.g. SPACES_HOME.
  public init(bwrapPath: String? = nil, hiddenPaths: [String] = []) {
    self.bwrapPath = bwrapPath
    self.hiddenPaths = hiddenPaths
  }

  /// "bubblewrap".
  public var name: String { "bubblewrap" }

  /// Always true.
  public var isolated: Bool { true }

  /// What the backend guarantees; see ``IsolationProfile``.
  public func isolationProfile(network: Bool) -> IsolationProfile { .bubblewrap(network: network) }

  /// Runs one command in a fresh sandbox; see `IsolationBackend.run(_:onOutput:)`.
  ///
  /// `onOutput` receives each stream's first `outputCapBytes` bytes as they come, then one
  /// marker chunk, then nothing more; the outcome keeps the head and the tail.
  /// - Throws: `SpacesError(.backendUnavailable)` when `bwrap` is missing or can't make its
  ///   namespaces here (checked once per `bwrap` path and cached); never falls back to host.
  public func run(
    _ request: ShellRequest,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws(SpacesError) -> ShellOutcome {
    try ShellRunner.validate(request)
    let (bwrap, userNamespace) = try await availability()
    if let outcome = try await runPersistent(request, bwrap: bwrap, userNamespace: userNamespace, onOutput: onOutput) {
      return outcome
    }
    return try await ShellRunner.run(request, onOutput: onOutput) { cgroup throws(SpacesError) in
      // Bound into the sandbox on its own: it must be there first.
      try request.session?.makeStateFile()
      let script = ShellRunner.script(
        command: request.command, limits: request.limits,
        memoryByRlimit: cgroup?.memoryDir == nil, processesByRlimit: userNamespace,
        session: request.session.map { ShellSessionScript.prelude($0, stateFile: Self.sessionStateFile) })
      return LaunchPlan(
        executable: bwrap,
        arguments: arguments(for: request, userNamespace: userNamespace) + [
          "/bin/sh", "-c", script,
        ],
        environment: ["PATH": "/usr/bin:/bin"],
        workingDirectory: "/",
        treeKind: .sandbox)
    }
  }

  /// The full command line `run` would start for a request (bwrap first, then its flags and
  /// `/bin/sh -c`), without the rlimit prefix; for diagnostics and
  /// benchmarks.
  public func commandLine(for request: ShellRequest) async throws(SpacesError) -> [String] {
    let (bwrap, userNamespace) = try await availability()
    return [bwrap] + arguments(for: request, userNamespace: userNamespace) + [
      "/bin/sh", "-c", request.command,
    ]
  }

  // MARK: - The persistent sandbox

  /// Where the `spaces-spare` helper is bound inside a persistent sandbox, to run as its zygote.
  static let zygotePath = "/run/spaces/zygote"
  /// Where a persistent sandbox's command finds the session's state file: its descriptor 3.
  static let sessionStateDescriptor = "/dev/fd/3"

  /// Runs the request in its workspace's persistent sandbox (see ``PersistentSandbox``); nil
  /// when it must run in a sandbox of its own: a command a person approved (it runs without the
  /// protected binds), no `spaces-spare` helper, or no operation cgroup to hold and kill its
  /// tree (the PID namespace no longer does). A sandbox that died is rebuilt once.
  private func runPersistent(
    _ request: ShellRequest, bwrap: String, userNamespace: Bool,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws(SpacesError) -> ShellOutcome? {
    guard !request.protectedWritable, let helper = Spawner.helper, let cgroups = CgroupSupport.shared else {
      return nil
    }
    let limits = request.limits
    // The process limit must be the cgroup's: rlimits would count every op of the sandbox.
    guard limits.maxProcesses > 0 ? cgroups.pidsParent != nil : (limits.memoryBytes > 0 && cgroups.memoryParent != nil)
    else { return nil }
    let workspace = Self.normalize(Sys.realPath(request.workspace))
    let signature = sandboxArguments(for: request, userNamespace: userNamespace)
    let arguments =
      signature + [
        "--ro-bind", helper, Self.zygotePath, "--remount-ro", "/", "--chdir", "/workspace", "--clearenv",
        Self.zygotePath, "--zygote",
      ]
    // The spares kept ready are this shell, exec'd ahead: each command's plan adds its script
    // and its variables to it (see ``WarmShell``).
    let boot = WarmShell.bootPlan(
      environment: ShellRunner.cleanEnvironment(home: "/workspace", extra: [:]), workingDirectory: "/workspace")
    for _ in 0..<2 {
      guard
        let sandbox = await SandboxPool.sandbox(
          workspace: workspace, signature: signature, bwrap: bwrap, arguments: arguments, boot: boot)
      else { return nil }
      do {
        return try await ShellRunner.run(request, sandbox: sandbox, onOutput: onOutput) { cgroup in
          let script = ShellRunner.script(
            command: request.command, limits: request.limits,
            memoryByRlimit: cgroup?.memoryDir == nil, processesByRlimit: userNamespace && cgroup?.pidsDir == nil,
            session: request.session.map { ShellSessionScript.prelude($0, stateFile: Self.sessionStateDescriptor) })
          return LaunchPlan(
            executable: boot.executable, arguments: ["-c", script],
            environment: ShellRunner.cleanEnvironment(home: "/workspace", extra: request.environment),
            workingDirectory: boot.workingDirectory, treeKind: .cgroup)
        }
      } catch let error where error.code == PersistentSandbox.unavailable.code {
        // A spare or the sandbox died before the command ran: a new one, then one of its own.
        if sandbox.isDead { sandbox.end(now: true) }
        continue
      }
    }
    return nil
  }

  /// Why shell commands can't run in a space's persistent sandbox on this machine, so that each
  /// starts a sandbox of its own (several milliseconds more per command); nil when they can.
  public static var persistentSandboxUnavailable: String? {
    if Spawner.helper == nil {
      return "the spaces-spare helper is not beside the spaces executable (install both; "
        + "SPACES_SPARE_HELPER may name it)"
    }
    if CgroupSupport.shared == nil {
      return "no operation cgroup can be made here, and a persistent sandbox needs one to stop a command's "
        + "whole tree (see the bubblewrap backend in the README)"
    }
    return nil
  }

  /// Ends the persistent sandbox of `workspace` and everything running in it (its space was
  /// deleted).
  public static func endSandbox(workspace: String) {
    SandboxPool.end(workspace: normalize(Sys.realPath(workspace)))
  }

  // MARK: - Arguments

  /// The bwrap flags for a request, up to (not including) the command.
  func arguments(for request: ShellRequest, userNamespace: Bool) -> [String] {
    var args = sandboxArguments(for: request, userNamespace: userNamespace)
    if let session = request.session {
      // The file the command's shell records the session in: made by the runtime, bound on
      // its own (it can be written, not replaced), outside the workspace.
      args += ["--bind", session.stateFile, Self.sessionStateFile]
    }
    args += ["--remount-ro", "/", "--chdir", "/workspace", "--clearenv"]
    let env = ShellRunner.cleanEnvironment(home: "/workspace", extra: request.environment)
    for key in env.keys.sorted() {
      args += ["--setenv", key, env[key] ?? ""]
    }
    return args
  }

  /// The flags that make the sandbox itself (namespaces, the file system, the protected binds),
  /// the same for every command of a space until its protected paths, network or hidden paths
  /// change: what a persistent sandbox is built with and compared by.
  func sandboxArguments(for request: ShellRequest, userNamespace: Bool) -> [String] {
    var args = Self.namespaceArguments(network: request.network, userNamespace: userNamespace)
    let hidden = hiddenPaths.map { Self.normalize(Sys.realPath($0)) }.filter { $0 != "/" }
    func isHidden(_ path: String) -> Bool {
      hidden.contains { path == $0 || path.hasPrefix($0 + "/") }
    }
    var binds: [(source: String, target: String)] = []
    args += Self.systemArguments(skipping: isHidden, binds: &binds)
    let workspace = Self.normalize(Sys.realPath(request.workspace))
    args += ["--bind", workspace, "/workspace"]
    binds.append((workspace, "/workspace"))
    if !request.protectedWritable {
      args += ProtectedBinds.arguments(workspace: workspace, paths: request.protectedPaths)
    }
    // Hide what lies beneath a bound folder: an empty tmpfs over folders, /dev/null over files.
    for path in hidden {
      for bind in binds where path != bind.source && path.hasPrefix(bind.source + "/") {
        let target = bind.target + path.dropFirst(bind.source.count)
        if Sys.isDirectory(path) {
          args += ["--tmpfs", target]
        } else if Sys.exists(path) {
          args += ["--ro-bind", "/dev/null", target]
        }
      }
    }
    return args
  }

  /// Where the shell session's state file is inside the sandbox.
  static let sessionStateFile = "/run/spaces/session"

  /// Namespaces and process flags.
  static func namespaceArguments(network: Bool, userNamespace: Bool) -> [String] {
    var args: [String] = []
    if userNamespace { args.append("--unshare-user") }
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if !network { args.append("--unshare-net") }
    args += ["--hostname", "spaces", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    return args
  }

  /// `/usr`, the top-level links or folders into it, the curated `/etc`, `/dev`, `/proc`, `/tmp`.
  static func systemArguments(
    skipping isHidden: (String) -> Bool, binds: inout [(source: String, target: String)]
  ) -> [String] {
    var args = ["--ro-bind", "/usr", "/usr"]
    binds.append(("/usr", "/usr"))
    let layout = HostLayout.current()
    for (path, target) in layout.topLevel {
      if let target {
        args += ["--symlink", target, path]
      } else if !isHidden(path) {
        args += ["--ro-bind", path, path]
        binds.append((path, path))
      }
    }
    args += ["--perms", "0755", "--dir", "/etc"]
    for path in layout.etc where !isHidden(path) {
      args += ["--ro-bind", path, path]
      binds.append((path, path))
    }
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    return args
  }

  /// Which of the host's top-level system folders are symlinks or folders, and which of the
  /// allowed `/etc` files exist: what every sandbox binds. Looked at again when the last look
  /// is over a second old (every command's arguments are built from it; a few dozen `stat`s
  /// each time were a tenth of a `true`'s cost).
  struct HostLayout: Sendable {
    /// `/bin`, `/lib`, …: a symlink's target, or nil for a folder (neither: not listed).
    var topLevel: [(path: String, target: String?)]
    /// The allowed `/etc` files that exist.
    var etc: [String]

    private static let cache = LockedValue<(at: ContinuousClock.Instant, layout: HostLayout)?>(nil)

    static func current() -> HostLayout {
      let now = ContinuousClock.now
      if let cached = cache.withValue({ $0 }), now - cached.at < .seconds(1) { return cached.layout }
      var layout = HostLayout(topLevel: [], etc: [])
      for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let path = "/" + name
        if let target = Sys.symlinkTarget(path) {
          layout.topLevel.append((path, target))
        } else if Sys.isDirectory(path) {
          layout.topLevel.append((path, nil))
        }
      }
      layout.etc = etcAllowList.map { "/etc/" + $0 }.filter { Sys.exists($0) }
      cache.withValue { $0 = (now, layout) }
      return layout
    }
  }

  static func normalize(_ path: String) -> String {
    var path = path
    while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
    return path
  }

  // MARK: - Availability

  private static let probes = LockedValue<[String: Availability]>([:])

  enum Availability: Sendable {
    case available(bwrap: String, userNamespace: Bool)
    case unavailable(String)
  }

  static let installHint =
    "install bubblewrap: apt-get install bubblewrap, or choose another backend with --backend"

  /// The bwrap path and whether it can make a user namespace; throws when it can't run.
  func availability() async throws(SpacesError) -> (String, Bool) {
    let key = bwrapPath ?? ""
    let cached = Self.probes.withValue { $0[key] }
    let result: Availability
    if let cached {
      result = cached
    } else {
      result = await probe()
      Self.probes.withValue { $0[key] = result }
    }
    switch result {
    case .available(let bwrap, let userNamespace): return (bwrap, userNamespace)
    case .unavailable(let message): throw SpacesError(.backendUnavailable, message)
    }
  }

  /// Runs `bwrap … true` once with a user namespace, once without.
  private func probe() async -> Availability {
    let found: String?
    if let bwrapPath {
      found = Sys.isExecutableFile(bwrapPath) ? bwrapPath : nil
    } else {
      found = Sys.which("bwrap", path: Sys.environment("PATH"))
    }
    guard let bwrap = found else {
      let place = bwrapPath.map { "at \($0)" } ?? "in PATH"
      return .unavailable(
        "The bubblewrap backend can't run: bwrap was not found \(place); \(Self.installHint).")
    }
    var firstError = ""
    for userNamespace in [true, false] {
      var binds: [(source: String, target: String)] = []
      let args =
        Self.namespaceArguments(network: false, userNamespace: userNamespace)
        + Self.systemArguments(skipping: { _ in false }, binds: &binds) + [
          "--remount-ro", "/", "/bin/true",
        ]
      do {
        let result = try await Subprocess.run(
          .path(FilePath(bwrap)), arguments: Arguments(args),
          environment: .custom(["PATH": "/usr/bin:/bin"]),
          input: .none, output: .discarded, error: .string(limit: 1 << 16))
        if result.terminationStatus == .exited(0) {
          return .available(bwrap: bwrap, userNamespace: userNamespace)
        }
        if firstError.isEmpty {
          firstError = result.standardError.split(separator: "\n").first.map(String.init) ?? ""
          if firstError.isEmpty { firstError = "bwrap ended with \(result.terminationStatus)" }
        }
      } catch {
        if firstError.isEmpty { firstError = "\(error)" }
      }
    }
    return .unavailable(
      "The bubblewrap backend can't run: \(bwrap) could not create its namespaces (\(firstError)); "
        + "\(Self.installHint).")
  }
}
