// TEMPORARY until the runner lands.
public struct HostBackend: IsolationBackend {
  public init() {}
  public var name: String { "host" }
  public var isolated: Bool { false }
  public func run(_ request: ShellRequest, onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void)
    async throws -> ShellOutcome
  {
    throw SpacesError(.backendUnavailable, "interim")
  }
}
public struct BubblewrapBackend: IsolationBackend {
  public init(bwrapPath: String? = nil, hiddenPaths: [String] = []) {}
  public var name: String { "bubblewrap" }
  public var isolated: Bool { true }
  public func run(_ request: ShellRequest, onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void)
    async throws -> ShellOutcome
  {
    throw SpacesError(.backendUnavailable, "interim")
  }
}
