import SpacesModel
import SpacesPolicy
import SpacesSandbox

/// Chooses the backend a space's config names.
public enum Backends {
  /// The backend for a space. Availability is checked when a command runs, so a space whose
  /// backend is missing still serves file operations and messages.
  public static func make(for config: SpaceConfig, home: SpacesHome) -> any IsolationBackend {
    switch config.backend {
    case .host: HostBackend()
    case .bubblewrap: BubblewrapBackend(hiddenPaths: [home.path])
    case .container:
      ContainerBackend(
        space: config.name, home: home.path, image: config.image, engine: config.engine)
    }
  }

  /// Releases what a backend keeps for a space outside its folder (the container backend's
  /// container, the bubblewrap backend's persistent sandbox); called when the space is deleted. Best effort: never fails.
  public static func cleanUp(space: String, config: SpaceConfig?, home: SpacesHome) {
    if let config, config.backend == .bubblewrap {
      BubblewrapBackend.endSandbox(workspace: config.workspace)
      return
    }
    guard config == nil || config?.backend == .container else { return }
    ContainerBackend.removeContainer(space: space, home: home.path, engine: config?.engine)
  }
}
