import SpacesModel
import SpacesPolicy

/// Runs commands directly on the host with `/bin/sh -c` in the workspace folder: no isolation.
///
/// What it still does: a clean environment (PATH, HOME = the workspace, LANG, TERM plus the
/// space's variables), stdin from /dev/null, the time limit, the output cap, CPU and file-size
/// rlimits, and the process and memory limits where an operation cgroup can be made.
/// The command runs in its own process group, which is killed when the command ends or times
/// out; a process that calls `setsid` leaves the group and survives that — unless the
/// operation cgroup (used whenever the host allows one) catches it. That is accepted: the host
/// backend is for when isolation is not wanted.
public struct HostBackend: IsolationBackend {
  /// Creates the backend.
  public init() {}

  /// "host".
  public var name: String { "host" }

  /// Always false.
  public var isolated: Bool { false }

  /// What the backend guarantees; see ``IsolationProfile``.
  public func isolationProfile(network: Bool) -> IsolationProfile { .host(network: network) }

  /// Runs one command; see `IsolationBackend.run(_:onOutput:)`.
  ///
  /// `onOutput` receives each stream's first `outputCapBytes` bytes as they come, then one
  /// marker chunk, then nothing more; the outcome keeps the head and the tail.
  public func run(
    _ request: ShellRequest,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws(SpacesError) -> ShellOutcome {
    try ShellRunner.validate(request)
    return try await ShellRunner.run(request, onOutput: onOutput) { cgroup in
      let script = ShellRunner.script(
        command: request.command, limits: request.limits,
        memoryByRlimit: cgroup?.memoryDir == nil, processesByRlimit: false,
        session: request.session.map { ShellSessionScript.prelude($0, stateFile: $0.stateFile) })
      return LaunchPlan(
        executable: "/bin/sh",
        arguments: ["-c", script],
        environment: ShellRunner.cleanEnvironment(
          home: request.workspace, extra: request.environment),
        workingDirectory: request.workspace,
        treeKind: .processGroup)
    }
  }
}
