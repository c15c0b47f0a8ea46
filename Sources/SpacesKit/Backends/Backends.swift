/// Chooses the backend a space's config names.
public enum Backends {
  /// The backend for a space. Availability is checked when a command runs, so a space whose
  /// backend is missing still serves file operations and messages.
  public static func make(for config: SpaceConfig, home: SpacesHome) -> any IsolationBackend {
    switch config.backend {
    case .host: HostBackend()
    case .bubblewrap: BubblewrapBackend(hiddenPaths: [home.path])
    case .container:
      UnavailableBackend(
        name: "container",
        reason: "the container backend is not available in this version; use --backend bubblewrap")
    }
  }
}

/// A backend that can't run anything, and says why.
public struct UnavailableBackend: IsolationBackend {
  public let name: String
  public let reason: String
  public var isolated: Bool { true }

  public func run(
    _ request: ShellRequest, onOutput: @escaping @Sendable (OutputStreamKind, String) -> Void
  ) async throws -> ShellOutcome {
    throw SpacesError(.backendUnavailable, reason)
  }
}
