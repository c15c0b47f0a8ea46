import SpacesModel

/// What an isolation backend guarantees about the commands it runs: the facts the policy
/// judges with, so it asks only where the sandbox can't protect the person.
///
/// Each backend reports its profile (``IsolationBackend/isolationProfile(network:)``); the
/// space's config and policy file decide the network. Every reason the policy gives for a
/// command that runs in a sandbox quotes ``summary``.
public struct IsolationProfile: Sendable, Equatable, Codable {
  /// What of the host's files a command sees.
  public enum HostFiles: String, Sendable, Equatable, Codable {
    /// Everything the runtime's user can see (no sandbox).
    case visible
    /// Hidden, except read-only system folders (`/usr`, `/etc` …).
    case systemReadOnly
  }

  /// The backend's name: "bubblewrap", "container", "host".
  public var backend: String
  /// Whether commands can reach the network.
  public var network: Bool
  /// What of the host's files a command sees.
  public var hostFiles: HostFiles
  /// Whether writes land only in the workspace and a private `/tmp`.
  public var writesConfined: Bool
  /// Whether commands run in their own PID namespace (they can't see or signal the host's
  /// processes).
  public var ownPIDNamespace: Bool
  /// Whether time, memory, process and file-size limits apply.
  public var resourceLimits: Bool
  /// Absolute paths at which commands see the workspace (`/workspace` inside a sandbox). The
  /// home folder (`~`, `$HOME`) is the workspace in every backend.
  public var workspacePaths: [String]

  /// Creates a profile.
  public init(
    backend: String, network: Bool, hostFiles: HostFiles, writesConfined: Bool, ownPIDNamespace: Bool,
    resourceLimits: Bool, workspacePaths: [String]
  ) {
    self.backend = backend
    self.network = network
    self.hostFiles = hostFiles
    self.writesConfined = writesConfined
    self.ownPIDNamespace = ownPIDNamespace
    self.resourceLimits = resourceLimits
    self.workspacePaths = workspacePaths
  }

  /// Whether the backend contains what a command does: host files hidden, writes confined,
  /// its own PID namespace. The policy asks only for what such a sandbox can't contain.
  public var sandboxed: Bool { hostFiles == .systemReadOnly && writesConfined && ownPIDNamespace }

  /// bubblewrap: new namespaces, the workspace at `/workspace`, a private `/tmp`, system
  /// folders read-only, the rest of the host hidden.
  public static func bubblewrap(network: Bool) -> IsolationProfile {
    IsolationProfile(
      backend: "bubblewrap", network: network, hostFiles: .systemReadOnly, writesConfined: true,
      ownPIDNamespace: true, resourceLimits: true, workspacePaths: ["/workspace"])
  }

  /// A container per space: the workspace bind-mounted at `/workspace`, the image's files for
  /// the rest.
  public static func container(network: Bool) -> IsolationProfile {
    IsolationProfile(
      backend: "container", network: network, hostFiles: .systemReadOnly, writesConfined: true,
      ownPIDNamespace: true, resourceLimits: true, workspacePaths: ["/workspace"])
  }

  /// No isolation: commands run on the host as the runtime's user, in the workspace folder.
  public static func host(network: Bool = true, workspace: String? = nil) -> IsolationProfile {
    IsolationProfile(
      backend: "host", network: network, hostFiles: .visible, writesConfined: false, ownPIDNamespace: false,
      resourceLimits: true, workspacePaths: workspace.map { [$0] } ?? [])
  }

  /// The profile of a backend kind.
  public static func of(_ kind: BackendKind, network: Bool, workspace: String? = nil) -> IsolationProfile {
    switch kind {
    case .bubblewrap: .bubblewrap(network: network)
    case .container: .container(network: network)
    case .host: .host(network: network, workspace: workspace)
    }
  }

  /// The same profile with the network on or off.
  public func with(network: Bool) -> IsolationProfile {
    var copy = self
    copy.network = network
    return copy
  }

  /// What protects the person, for reasons: "runs in the sandbox: no network, writes only the
  /// workspace and a private /tmp, host files hidden, own processes" or, without one,
  /// "runs on your machine with no sandbox (UNISOLATED)".
  public var summary: String {
    guard sandboxed else { return "runs on your machine with no sandbox (UNISOLATED)" }
    return
      "runs in the sandbox: \(network ? "network on" : "no network"), writes only the workspace and a private /tmp,"
      + " your files hidden, its own processes"
  }
}
