import CSpacesSys
import Foundation
import SpacesModel
import SpacesPolicy
import Subprocess
import SystemPackage

/// Runs commands in one long-running Docker or Podman container per space, through the
/// engine's CLI.
///
/// The container (`spaces-<space>-<hash of SPACES_HOME>`, labelled `agent-spaces.space`) is
/// made on first use from the space's image: the workspace bind-mounted read-write at
/// `/workspace` (the working directory), `--network none` unless the network is granted,
/// `--memory`, `--pids-limit` and `--cpus` from the limits, `--cap-drop ALL`,
/// `no-new-privileges`, a read-only root with a tmpfs `/tmp`. Each operation is one
/// `exec` with a clean environment, under a wrapper that records the operation's session and
/// kills what the command left when it ends; after a timeout or a cancellation a second
/// `exec` does that sweep. A stopped container is started again, a vanished one (or one made
/// with other settings) is made anew. The engine's CLI gets the runtime's environment, so
/// `DOCKER_HOST`, `CONTAINER_HOST` and `CONTAINERS_CONF` apply (a space can live on a remote
/// engine).
public struct ContainerBackend: IsolationBackend {
  /// The image used when a space names none.
  public static let defaultImage = "docker.io/library/debian:bookworm-slim"

  /// The space's name.
  public let space: String
  /// The path of the SPACES_HOME the space lives in (hashed into the container's name).
  public let home: String
  /// The image the container is made from.
  public let image: String
  /// The engine's CLI as configured ("podman", "docker" or a path); nil searches.
  public let engine: String?

  /// Creates the backend for one space.
  /// - Parameters:
  ///   - space: the space's name.
  ///   - home: the SPACES_HOME path.
  ///   - image: the image; nil uses `defaultImage`.
  ///   - engine: "podman", "docker" or a path to either; nil uses `SPACES_CONTAINER_ENGINE`,
  ///     else the first of podman and docker found in `PATH`.
  public init(space: String, home: String, image: String? = nil, engine: String? = nil) {
    self.space = space
    self.home = home
    self.image = image.flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultImage
    self.engine = engine.flatMap { $0.isEmpty ? nil : $0 }
  }

  /// "container".
  public var name: String { "container" }

  /// Always true.
  public var isolated: Bool { true }

  /// What the backend guarantees; see ``IsolationProfile``.
  public func isolationProfile(network: Bool) -> IsolationProfile { .container(network: network) }

  /// The container's name: `spaces-<space>-<8 hex digits of the SPACES_HOME path's hash>`.
  public var containerName: String {
    Self.containerName(space: space, home: home)
  }

  /// The container name for a space in a SPACES_HOME.
  public static func containerName(space: String, home: String) -> String {
    "spaces-\(space)-\(String(stableHash(home)).prefix(8))"
  }

  /// Runs one command with `exec` in the space's container; see
  /// `IsolationBackend.run(_:onOutput:)`.
  ///
  /// - Throws: `SpacesError(.backendUnavailable)` when no engine is found, the engine does not
  ///   answer, or the image is missing and can't be pulled; never falls back to the host.
  public func run(
    _ request: ShellRequest,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws(SpacesError) -> ShellOutcome {
    try ShellRunner.validate(request)
    let cli = try resolveEngine()
    let settings = createArguments(for: request)
    try await ensureContainer(cli: cli, settings: settings, trustCache: true)
    var outcome = try await execute(request, cli: cli, onOutput: onOutput)
    if Self.looksLikeMissingContainer(outcome) {
      let note = "[spaces] the container \(containerName) had stopped or vanished; starting it again\n"
      onOutput(.stderr, note)
      try await ensureContainer(cli: cli, settings: settings, trustCache: false)
      outcome = try await execute(request, cli: cli, onOutput: onOutput)
    }
    return outcome
  }

  // MARK: - One operation

  private func execute(
    _ request: ShellRequest, cli: Engine,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws(SpacesError) -> ShellOutcome {
    let operation = Self.newOperationID()
    // The session's state file is in the space's `shell` folder, bound into the container.
    let session = request.session.map {
      ShellSessionScript.prelude(
        $0, stateFile: Self.sessionMount + "/" + ($0.stateFile as NSString).lastPathComponent)
    }
    let script = ShellRunner.script(
      command: request.command, limits: request.limits, memoryByRlimit: false,
      processesByRlimit: false, session: session)
    var env = ShellRunner.cleanEnvironment(home: "/workspace", extra: request.environment)
    env[ContainerScripts.marker] = operation
    let arguments =
      ["exec", containerName, "env", "-i"] + env.keys.sorted().map { "\($0)=\(env[$0] ?? "")" }
      + [
        "/bin/sh", "-c", ContainerScripts.wrapper(operation: operation, limits: request.limits),
        "spaces-op", script,
      ]
    let hostEnvironment = ProcessInfo.processInfo.environment
    var outcome: ShellOutcome
    do {
      outcome = try await ShellRunner.run(request, useCgroup: false, onOutput: onOutput) { _ in
        LaunchPlan(
          executable: cli.path, arguments: arguments, environment: hostEnvironment,
          workingDirectory: Self.clientFolder(), treeKind: .processGroup)
      }
    } catch let error where error.code == .cancelled {
      // The engine's client is gone, but not what it started inside: sweep, uncancelled.
      let name = containerName
      _ = await Task.detached { await Self.sweep(operation: operation, container: name, cli: cli) }
        .value
      throw error
    }
    if outcome.timedOut {
      // The engine's client took the signal; inside, the sweep kills with SIGKILL.
      outcome.exitCode = 128 + 9
      outcome.signal = nil
      let removed = await Self.sweep(operation: operation, container: containerName, cli: cli)
      if removed {
        let note =
          "[spaces] the leftovers could not be killed inside; the container was removed and is made again on next use\n"
        outcome.stderr += note
        onOutput(.stderr, note)
      }
    }
    if outcome.limitHit == nil {
      for limit in [ShellLimit.processes, .memory] where outcome.stderr.hasSuffix(limit.note(request.limits)) {
        outcome.limitHit = limit
        break
      }
    }
    // The wrapper's counter can miss a fork bomb that ends within one poll; a shell that
    // could not fork under the container's pids limit says so itself.
    if outcome.limitHit == nil, Self.forkFailed(outcome.stderr) {
      let note = ShellLimit.processes.note(request.limits)
      outcome.limitHit = .processes
      outcome.stderr += (outcome.stderr.hasSuffix("\n") ? "" : "\n") + note
      onOutput(.stderr, note)
    }
    return outcome
  }

  /// Whether stderr shows that a shell could not fork (EAGAIN: the pids limit).
  static func forkFailed(_ stderr: String) -> Bool {
    stderr.contains("can't fork") || stderr.contains("Cannot fork")
      || stderr.contains("fork: Resource temporarily unavailable")
      || stderr.contains("fork: retry")
  }

  /// Kills what an operation left in the container (a separate `exec`); when that can't run
  /// (e.g. the process limit is exhausted), removes the container. Returns whether it did.
  @discardableResult
  static func sweep(operation: String, container: String, cli: Engine) async -> Bool {
    let env = ShellRunner.cleanEnvironment(home: "/workspace", extra: [:])
    let arguments =
      ["exec", container, "env", "-i", "\(ContainerScripts.marker)=sweep-\(operation)"]
      + env.keys.sorted().map { "\($0)=\(env[$0] ?? "")" }
      + ["/bin/sh", "-c", ContainerScripts.sweeper(operation: operation), "spaces-sweep"]
    let result = await cli.run(arguments)
    if result.status == 0 { return false }
    _ = await cli.run(["rm", "-f", container])
    ContainerCache.forget(container)
    return true
  }

  /// Whether an outcome is the engine saying the container is gone or not running (so the
  /// command never ran).
  static func looksLikeMissingContainer(_ outcome: ShellOutcome) -> Bool {
    guard outcome.stdout.isEmpty, !outcome.timedOut, let code = outcome.exitCode,
      [1, 125, 126, 255].contains(code)
    else { return false }
    let text = outcome.stderr.lowercased()
    guard text.utf8.count < 2000 else { return false }
    return [
      "no such container", "no container with name or id", "is not running",
      "container state improper", "can only create exec sessions on running containers",
    ].contains { text.contains($0) }
  }

  /// The working directory of the engine's client (and so of Podman's conmon, which writes an
  /// `oom` file into it when the memory limit kills a process): not the runtime's own.
  static func clientFolder() -> String {
    let folder = NSTemporaryDirectory() + "agent-spaces-engine"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return Sys.isDirectory(folder) ? folder : "/"
  }

  static func newOperationID() -> String {
    UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(16).description
  }

  // MARK: - The container

  /// Where the space's shell session folder (``sessionFolder()``) is inside the container.
  static let sessionMount = "/run/spaces-session"

  /// The host folder where the runtime makes each operation's shell session state file
  /// (`SPACES_HOME/spaces/NAME/shell`), made when missing.
  func sessionFolder() -> String {
    let folder = home + "/spaces/" + space + "/shell"
    if !Sys.isDirectory(folder) {
      try? FileManager.default.createDirectory(
        atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
    return Sys.realPath(folder)
  }

  /// The settings part of `run -d`: everything but the name and the config label.
  func createArguments(for request: ShellRequest) -> [String] {
    let limits = request.limits
    var args = [
      "--label", "agent-spaces.space=\(space)", "--label", "agent-spaces.home=\(home)",
      "--hostname", "spaces",
    ]
    if !request.network { args += ["--network", "none"] }
    if limits.memoryBytes > 0 {
      args += ["--memory", "\(limits.memoryBytes)b", "--memory-swap", "\(limits.memoryBytes)b"]
    }
    if limits.maxProcesses > 0 { args += ["--pids-limit", "\(limits.maxProcesses)"] }
    if limits.cpus > 0 { args += ["--cpus", "\(limits.cpus)"] }
    args += [
      "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
      "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777",
      "--tmpfs", "\(ContainerScripts.stateFolder):rw,nosuid,nodev,mode=0755",
      "-v", "\(Sys.realPath(request.workspace)):/workspace", "-w", "/workspace",
      "-v", "\(sessionFolder()):\(Self.sessionMount)",
      "-e", "\(ContainerScripts.marker)=init",
      "--entrypoint", "/bin/sh", image, "-c", ContainerScripts.keepAlive,
    ]
    return args
  }

  /// Makes sure the container runs with these settings: starts a stopped one, makes a missing
  /// one, replaces one made with other settings.
  private func ensureContainer(cli: Engine, settings: [String], trustCache: Bool) async throws(SpacesError) {
    let name = containerName
    let fingerprint = String(Self.stableHash(settings.joined(separator: "\u{0}")))
    if trustCache, ContainerCache.ready(name) == fingerprint { return }
    try await ContainerCache.serialized(name) { () async throws(SpacesError) in
      if trustCache, ContainerCache.ready(name) == fingerprint { return }
      ContainerCache.forget(name)
      try await prepare(cli: cli, name: name, fingerprint: fingerprint, settings: settings)
      ContainerCache.set(name, fingerprint)
    }
  }

  private func prepare(cli: Engine, name: String, fingerprint: String, settings: [String])
    async throws(SpacesError)
  {
    let inspect = await cli.run([
      "container", "inspect", "--format",
      "{{.State.Running}}|{{index .Config.Labels \"agent-spaces.config\"}}", name,
    ])
    if inspect.status == 0 {
      let fields = inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        .split(separator: "|", omittingEmptySubsequences: false)
      let running = fields.first == "true"
      let matches = fields.count == 2 && fields[1] == fingerprint
      if matches && running { return }
      if matches {
        let start = await cli.run(["start", name])
        if start.status == 0 { return }
      }
      _ = await cli.run(["rm", "-f", name])
    } else if !Self.isNoSuchContainer(inspect.stderr) {
      throw SpacesError(
        .backendUnavailable,
        "The container backend can't run: \(cli.displayName) does not answer (\(Self.firstLine(inspect.stderr))); "
          + "check that the engine runs (`\(cli.displayName) info`; DOCKER_HOST or CONTAINER_HOST if it is remote), "
          + "or choose another backend with --backend.")
    }
    try await ensureImage(cli: cli)
    let created = await cli.run(
      ["run", "-d", "--pull=never", "--name", name, "--label", "agent-spaces.config=\(fingerprint)"]
        + settings)
    if created.status != 0 {
      // Another process may have made it at the same moment.
      let again = await cli.run([
        "container", "inspect", "--format",
        "{{.State.Running}}|{{index .Config.Labels \"agent-spaces.config\"}}", name,
      ])
      if again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "true|\(fingerprint)" {
        return
      }
      _ = await cli.run(["rm", "-f", name])
      throw SpacesError(
        .backendUnavailable,
        "The container backend could not start the container \(name) from \(image): \(Self.firstLine(created.stderr)). "
          + "Check the image (it needs /bin/sh) or choose another with `spaces space create --image`.")
    }
  }

  private func ensureImage(cli: Engine) async throws(SpacesError) {
    if await cli.run(["image", "inspect", "--format", "{{.Id}}", image]).status == 0 { return }
    let pulled = await cli.run(["pull", image], timeout: .seconds(600))
    if pulled.status == 0 { return }
    throw SpacesError(
      .backendUnavailable,
      "The container image \(image) is not available and could not be pulled (\(Self.firstLine(pulled.stderr))). "
        + "Pull or load it yourself (`\(cli.displayName) pull \(image)`), or choose another image: "
        + "`spaces space create NAME --backend container --image IMAGE`.")
  }

  static func isNoSuchContainer(_ text: String) -> Bool {
    let text = text.lowercased()
    return text.contains("no such container") || text.contains("no such object")
      || text.contains("no container with name or id")
  }

  static func firstLine(_ text: String) -> String {
    let line =
      text.split(separator: "\n").first.map { String($0) }?.trimmingCharacters(in: .whitespaces)
      ?? ""
    return line.isEmpty ? "no message" : String(line.prefix(400))
  }

  /// FNV-1a, 64 bits, as hex: stable across runs (unlike `Hasher`).
  static func stableHash(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }

  // MARK: - Removal

  /// Removes the container of a space, if there is one; used when the space is deleted.
  ///
  /// Best effort and synchronous: when no engine is installed or it does not answer, there is
  /// nothing to remove (or nothing we can do) and deleting the space goes on.
  /// - Returns: whether the engine removed a container.
  @discardableResult
  public static func removeContainer(space: String, home: String, engine: String?) -> Bool {
    let name = containerName(space: space, home: home)
    ContainerCache.forget(name)
    guard let cli = try? Engine.resolve(configured: engine), let pipes = try? PipeSet() else { return false }
    defer { pipes.closeAll() }
    // Started like every command (and unlike Foundation's Process), it inherits none of the
    // runtime's descriptors: not the server's socket, not a client's connection.
    let plan = LaunchPlan(
      executable: cli.path, arguments: ["rm", "-f", name], environment: ProcessInfo.processInfo.environment,
      workingDirectory: nil, treeKind: .processGroup)
    guard let child = try? ShellRunner.spawn(plan, cgroup: nil, pipes: pipes) else { return false }
    pipes.closeChildEnds()
    close(child.pidfd)
    var printed = 0
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = read(pipes.stdoutRead, &buffer, buffer.count)
      if count > 0 {
        printed += count
      } else if count == 0 || errno != EINTR {
        break
      }
    }
    let status = cspaces_reap(child.pid)
    return status == 0 && printed > 0
  }

  private func resolveEngine() throws(SpacesError) -> Engine {
    try Engine.resolve(configured: engine)
  }
}

/// A container engine's CLI.
struct Engine: Sendable {
  /// The executable.
  var path: String
  /// "podman" or "docker" (the executable's name), for messages.
  var displayName: String

  static let installHint =
    "install Podman (apt-get install podman) or Docker, or choose another backend with --backend"

  /// The configured engine, else `SPACES_CONTAINER_ENGINE`, else podman or docker in `PATH`.
  static func resolve(configured: String?) throws(SpacesError) -> Engine {
    let wanted =
      configured
      ?? Sys.environment("SPACES_CONTAINER_ENGINE").flatMap {
        $0.isEmpty ? nil : $0
      }
    let path = Sys.environment("PATH")
    if let wanted {
      let found = wanted.contains("/") ? (Sys.isExecutableFile(wanted) ? wanted : nil) : Sys.which(wanted, path: path)
      guard let found else {
        throw SpacesError(
          .backendUnavailable,
          "The container backend can't run: the container engine \(wanted) was not found; \(installHint).")
      }
      return Engine(path: found, displayName: String(found.split(separator: "/").last ?? "podman"))
    }
    for name in ["podman", "docker"] {
      if let found = Sys.which(name, path: path) { return Engine(path: found, displayName: name) }
    }
    throw SpacesError(
      .backendUnavailable,
      "The container backend can't run: neither podman nor docker was found in PATH; \(installHint).")
  }

  /// What one CLI call gave back.
  struct Result: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs the CLI with the runtime's environment; failures to start come back as status -1.
  func run(_ arguments: [String], timeout: Duration = .seconds(60)) async -> Result {
    do {
      return try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask {
          let result = try await Subprocess.run(
            .path(FilePath(path)), arguments: Arguments(arguments), environment: .inherit,
            workingDirectory: FilePath(ContainerBackend.clientFolder()), input: .none, output: .string(limit: 1 << 20),
            error: .string(limit: 1 << 20))
          let status: Int32
          switch result.terminationStatus {
          case .exited(let code): status = code
          case .signaled(let sig): status = 128 + sig
          }
          return Result(
            status: status, stdout: result.standardOutput, stderr: result.standardError)
        }
        group.addTask {
          try await Task.sleep(for: timeout)
          return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first ?? Result(status: -1, stdout: "", stderr: "\(displayName) did not answer within \(timeout)")
      }
    } catch {
      return Result(status: -1, stdout: "", stderr: "could not run \(path): \(error)")
    }
  }
}

/// Containers known to run with given settings in this process, so an operation costs one
/// `exec` (a vanished container is noticed by the failing exec and made again).
enum ContainerCache {
  private static let state = LockedValue<[String: String]>([:])
  private static let locks = AsyncLocks()

  static func ready(_ name: String) -> String? { state.withValue { $0[name] } }
  static func set(_ name: String, _ fingerprint: String) { state.withValue { $0[name] = fingerprint } }
  static func forget(_ name: String) { _ = state.withValue { $0.removeValue(forKey: name) } }

  /// Runs `body` with no other `serialized` call for `name` running at the same time.
  static func serialized(_ name: String, _ body: @Sendable () async throws(SpacesError) -> Void)
    async throws(SpacesError)
  {
    await locks.acquire(name)
    do throws(SpacesError) {
      try await body()
    } catch {
      await locks.release(name)
      throw error
    }
    await locks.release(name)
  }
}

/// Named async mutexes (FIFO waiters).
actor AsyncLocks {
  private var held: Set<String> = []
  private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

  func acquire(_ name: String) async {
    if !held.contains(name) {
      held.insert(name)
      return
    }
    await withCheckedContinuation { waiters[name, default: []].append($0) }
  }

  func release(_ name: String) {
    if var queue = waiters[name], !queue.isEmpty {
      let next = queue.removeFirst()
      waiters[name] = queue.isEmpty ? nil : queue
      next.resume()
    } else {
      held.remove(name)
    }
  }
}
