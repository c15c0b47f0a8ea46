/// Resource limits for one shell operation.
public struct ShellLimits: Codable, Sendable, Equatable {
  public var timeoutMs: Int = 120_000
  public var outputCapBytes: Int = 1 << 20
  public var maxProcesses: Int = 256
  public var memoryBytes: Int = 1 << 30
  public var fileSizeBytes: Int = 1 << 30
  public var cpuSeconds: Int = 300
  public init() {}
}

/// The two output streams of a shell command.
public enum OutputStreamKind: String, Codable, Sendable { case stdout, stderr }

/// One shell command to run in a backend.
public struct ShellRequest: Sendable {
  public var command: String
  public var workspace: String
  public var limits: ShellLimits
  public var network: Bool
  public var environment: [String: String]
  public init(
    command: String, workspace: String, limits: ShellLimits, network: Bool,
    environment: [String: String]
  ) {
    self.command = command
    self.workspace = workspace
    self.limits = limits
    self.network = network
    self.environment = environment
  }
}

/// How a shell command ended.
public struct ShellOutcome: Sendable, Equatable {
  public var exitCode: Int32?
  public var signal: Int32?
  public var stdout: String
  public var stderr: String
  public var truncated: Bool
  public var timedOut: Bool
  public var limitHit: String?
  public var durationMs: Int
}

/// Where shell commands run.
public protocol IsolationBackend: Sendable {
  var name: String { get }
  var isolated: Bool { get }
  func run(
    _ request: ShellRequest, onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws -> ShellOutcome
}
