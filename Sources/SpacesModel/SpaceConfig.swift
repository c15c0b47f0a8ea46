import Foundation

/// The isolation backends a space can use.
public enum BackendKind: String, Codable, Sendable, CaseIterable {
  /// Linux namespaces through `bwrap` (the default).
  case bubblewrap
  /// A long-running Docker or Podman container per space.
  case container
  /// No isolation at all: commands run on the host as the runtime's user.
  case host

  /// Whether commands in this backend are isolated from the host.
  public var isolated: Bool { self != .host }
}

/// The policy presets from the original description.
public enum PolicyPreset: String, Codable, Sendable, CaseIterable {
  /// Read-only, no shell, no network.
  case restrictive
  /// Basic operations, curated commands.
  case standard
  /// Most operations allowed.
  case permissive
}

/// Limits that apply to a space's operations.
public struct SpaceLimits: Codable, Sendable, Equatable {
  /// The largest file `createFile`, `editFile` and `readFile` handle, in bytes.
  public var maxFileSizeBytes: Int = 10 * 1024 * 1024
  /// Limits for shell operations.
  public var shell = ShellLimits()
  /// How many shell operations of the space may run at once; more wait as `queued`.
  public var maxRunning: Int = 8

  /// The values `maxRunning` accepts.
  public static let maxRunningRange = 1...64
  /// The values `maxFileSizeBytes` accepts (up to 4 GiB).
  public static let fileSizeRange = 1...(1 << 32)

  /// Creates the default limits.
  public init() {}

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let defaults = SpaceLimits()
    maxFileSizeBytes =
      try container.decodeIfPresent(Int.self, forKey: .maxFileSizeBytes)
      ?? defaults.maxFileSizeBytes
    guard Self.fileSizeRange.contains(maxFileSizeBytes) else {
      throw DecodingError.dataCorruptedError(
        forKey: .maxFileSizeBytes, in: container,
        debugDescription:
          "`maxFileSizeBytes` must be from \(Self.fileSizeRange.lowerBound) to \(Self.fileSizeRange.upperBound), not \(maxFileSizeBytes)"
      )
    }
    shell = try container.decodeIfPresent(ShellLimits.self, forKey: .shell) ?? defaults.shell
    maxRunning = try container.decodeIfPresent(Int.self, forKey: .maxRunning) ?? defaults.maxRunning
    guard Self.maxRunningRange.contains(maxRunning) else {
      throw DecodingError.dataCorruptedError(
        forKey: .maxRunning, in: container,
        debugDescription: "`maxRunning` must be from 1 to \(Self.maxRunningRange.upperBound), not \(maxRunning)")
    }
  }
}

/// How much of a space's change history is kept (`undo` in `space.json`).
public struct UndoConfig: Codable, Sendable, Equatable {
  /// How many operations' change records are kept; the oldest are dropped first.
  public var keepOperations: Int = 500
  /// How many bytes the stored contents may take (the records' and the workspace's own copy);
  /// the oldest records are dropped first.
  public var maxBytes: Int = 1 << 30
  /// Files larger than this are kept by hash only: when an operation changes or deletes one,
  /// its earlier content can't be put back (undo says so).
  public var largeFileBytes: Int = 64 << 20
  /// Whether operations are recorded at all (false: no change records, no undo).
  public var enabled: Bool = true

  /// The values `keepOperations` accepts.
  public static let keepRange = 1...100_000
  /// The values `maxBytes` accepts (1 MiB to 1 TiB).
  public static let bytesRange = (1 << 20)...(1 << 40)
  /// The values `largeFileBytes` accepts (up to 16 GiB).
  public static let largeRange = 0...(1 << 34)

  /// Creates the defaults: 500 operations, 1 GiB, files over 64 MiB by hash only.
  public init() {}

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let defaults = UndoConfig()
    func number(_ key: CodingKeys, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
      let value = try container.decodeIfPresent(Int.self, forKey: key) ?? fallback
      guard range.contains(value) else {
        throw DecodingError.dataCorruptedError(
          forKey: key, in: container,
          debugDescription:
            "`undo.\(key.stringValue)` must be from \(range.lowerBound) to \(range.upperBound), not \(value)")
      }
      return value
    }
    keepOperations = try number(.keepOperations, defaults.keepOperations, Self.keepRange)
    maxBytes = try number(.maxBytes, defaults.maxBytes, Self.bytesRange)
    largeFileBytes = try number(.largeFileBytes, defaults.largeFileBytes, Self.largeRange)
    enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
  }
}

/// A space's stored configuration (`space.json` in the space's folder).
public struct SpaceConfig: Codable, Sendable, Equatable {
  /// Network and other optional powers.
  public struct Capabilities: Codable, Sendable, Equatable {
    /// Whether shell commands may reach the network.
    public var network: Bool = false
    /// Creates capabilities with everything off.
    public init(network: Bool = false) { self.network = network }
  }

  /// The space's name (also its folder's name).
  public var name: String
  /// When the space was created (ISO 8601).
  public var created: String
  /// The absolute path of the workspace folder.
  public var workspace: String
  /// Whether the workspace folder belongs to the space (and is deleted with it).
  public var ownsWorkspace: Bool
  /// The policy preset.
  public var policy: PolicyPreset
  /// The isolation backend.
  public var backend: BackendKind
  /// The container image, for the container backend (default
  /// `ContainerBackend.defaultImage`).
  public var image: String?
  /// The container engine's CLI for the container backend: "podman", "docker" or a path; nil
  /// uses `SPACES_CONTAINER_ENGINE`, else the first of podman and docker found in `PATH`.
  public var engine: String?
  /// Optional powers.
  public var capabilities: Capabilities
  /// Limits.
  public var limits: SpaceLimits
  /// Variables added to the clean environment of shell commands.
  public var environment: [String: String]
  /// How much change history is kept for undo.
  public var undo: UndoConfig

  /// Creates a configuration with default limits and no extra powers.
  public init(
    name: String, workspace: String, ownsWorkspace: Bool, policy: PolicyPreset = .standard,
    backend: BackendKind = .bubblewrap, created: Date = Date()
  ) {
    self.name = name
    self.created = Event.timestamp(created)
    self.workspace = workspace
    self.ownsWorkspace = ownsWorkspace
    self.policy = policy
    self.backend = backend
    self.image = nil
    self.engine = nil
    self.capabilities = Capabilities()
    self.limits = SpaceLimits()
    self.environment = [:]
    self.undo = UndoConfig()
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    created = try container.decodeIfPresent(String.self, forKey: .created) ?? ""
    workspace = try container.decode(String.self, forKey: .workspace)
    ownsWorkspace = try container.decodeIfPresent(Bool.self, forKey: .ownsWorkspace) ?? false
    policy = try container.decodeIfPresent(PolicyPreset.self, forKey: .policy) ?? .standard
    backend = try container.decodeIfPresent(BackendKind.self, forKey: .backend) ?? .bubblewrap
    image = try container.decodeIfPresent(String.self, forKey: .image)
    engine = try container.decodeIfPresent(String.self, forKey: .engine)
    capabilities =
      try container.decodeIfPresent(Capabilities.self, forKey: .capabilities) ?? Capabilities()
    limits = try container.decodeIfPresent(SpaceLimits.self, forKey: .limits) ?? SpaceLimits()
    environment = try container.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
    undo = try container.decodeIfPresent(UndoConfig.self, forKey: .undo) ?? UndoConfig()
  }
}
