import SpacesModel
import SpacesPolicy

/// One shell command to run in a space's isolation backend.
public struct ShellRequest: Sendable {
  /// The command line, run by `/bin/sh -c`.
  public var command: String
  /// Host path of the workspace folder (the command's working directory).
  public var workspace: String
  /// Resource limits.
  public var limits: ShellLimits
  /// Whether the command may use the network; `false` means no network at all.
  public var network: Bool
  /// Extra variables from the space config, added to the clean environment.
  public var environment: [String: String]
  /// The workspace's protected paths, which a sandbox makes read-only (bubblewrap binds them;
  /// the container backend can't per command and relies on the runtime's check afterwards).
  public var protectedPaths: ProtectedPaths
  /// Whether a person approved this command after being asked: it then runs with the protected
  /// paths writable.
  public var protectedWritable: Bool
  /// The shell session to run the command in (its folder, its carried variables, where its
  /// state is recorded when it exits); nil runs it in the workspace root with nothing carried
  /// and records nothing.
  public var session: ShellSessionRun?
  /// Awaited once the backend has prepared the command, right before it is launched: what the
  /// caller started beside that preparation and the command must not start before (the runtime's
  /// look at the workspace, to record what the command changes).
  public var beforeLaunch: (@Sendable () async -> Void)?

  /// Creates a request.
  public init(
    command: String,
    workspace: String,
    limits: ShellLimits = ShellLimits(),
    network: Bool = false,
    environment: [String: String] = [:],
    protectedPaths: ProtectedPaths = ProtectedPaths(),
    protectedWritable: Bool = false,
    session: ShellSessionRun? = nil
  ) {
    self.command = command
    self.workspace = workspace
    self.limits = limits
    self.network = network
    self.environment = environment
    self.protectedPaths = protectedPaths
    self.protectedWritable = protectedWritable
    self.session = session
  }
}

/// What a finished shell command produced.
public struct ShellOutcome: Sendable, Equatable {
  /// The exit code, or `nil` when the command was killed by a signal.
  ///
  /// Inside bubblewrap a command killed by signal N is reported as exit code 128 + N (as a shell
  /// would), since bwrap's init passes it on that way.
  public var exitCode: Int32?
  /// The signal that killed the command, if one did.
  public var signal: Int32?
  /// Standard output, capped: head + "\n…[N bytes omitted]…\n" + tail, lossily decoded UTF-8.
  public var stdout: String
  /// Standard error, capped like `stdout`; notes from the runner (timeout, limits) come last.
  public var stderr: String
  /// Whether either stream went over the output cap.
  public var truncated: Bool
  /// Whether the time limit killed the command.
  public var timedOut: Bool
  /// The resource limit that stopped the command, when that is detectable.
  public var limitHit: ShellLimit?
  /// Wall-clock duration in milliseconds.
  public var durationMs: Int
  /// What the command's shell recorded of the session, when the backend has it in hand (a
  /// warm shell's); nil means: read the request's state file.
  public var sessionRecord: [UInt8]?

  /// Creates an outcome.
  public init(
    exitCode: Int32?,
    signal: Int32?,
    stdout: String,
    stderr: String,
    truncated: Bool,
    timedOut: Bool,
    limitHit: ShellLimit?,
    durationMs: Int
  ) {
    self.exitCode = exitCode
    self.signal = signal
    self.stdout = stdout
    self.stderr = stderr
    self.truncated = truncated
    self.timedOut = timedOut
    self.limitHit = limitHit
    self.durationMs = durationMs
  }

  /// The error an operation fails with when the time limit (`timeoutMs`) or a resource limit
  /// stopped the command (`.timeout` or `.limitExceeded`); nil when neither did.
  ///
  /// `run` returns an outcome rather than throwing in these cases, so the output is kept.
  public func limitError(timeoutMs: Int) -> SpacesError? {
    if timedOut {
      return SpacesError(
        .timeout, "the command ran longer than \(timeoutMs) ms and was stopped; raise timeoutMs or run less at once")
    }
    if let limitHit {
      return SpacesError(.limitExceeded, "the command hit the space's \(limitHit.rawValue) limit and was stopped")
    }
    return nil
  }
}

/// A resource limit that can stop a command (the names a result's error and a note use).
public enum ShellLimit: String, Sendable, CaseIterable {
  /// The process count (the cgroup's or the container's pids limit, or RLIMIT_NPROC).
  case processes
  /// The memory limit (the cgroup's or the container's).
  case memory
  /// The largest file a process may write (RLIMIT_FSIZE).
  case fileSize
  /// CPU seconds per process (RLIMIT_CPU).
  case cpu

  /// The line appended to stderr when this limit stops a command.
  public func note(_ limits: ShellLimits) -> String {
    switch self {
    case .processes: "[spaces] process limit (\(limits.maxProcesses)) reached: the command was stopped\n"
    case .memory: "[spaces] memory limit (\(limits.memoryBytes) bytes) reached: a process was killed\n"
    case .fileSize: "[spaces] file size limit (\(limits.fileSizeBytes) bytes) reached\n"
    case .cpu: "[spaces] CPU time limit (\(limits.cpuSeconds) s per process) reached\n"
    }
  }
}

/// A way of running shell commands for a space: with or without isolation from the host.
public protocol IsolationBackend: Sendable {
  /// The backend's name as stored in a space's config: "host", "bubblewrap", "container".
  var name: String { get }
  /// Whether commands are isolated from the host.
  var isolated: Bool { get }
  /// What the backend guarantees about the commands it runs, with the network on or off: what
  /// the policy judges with.
  func isolationProfile(network: Bool) -> IsolationProfile
  /// Runs one command; calls `onOutput` for each chunk as it is produced (stdout and stderr
  /// apart, chunks are valid UTF-8 strings — never split a multibyte sequence across chunks);
  /// returns when the command and everything it started are gone. A cancelled task stops the
  /// command and throws ``SpacesError/runCancelled``.
  func run(
    _ request: ShellRequest,
    onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws(SpacesError) -> ShellOutcome
}
