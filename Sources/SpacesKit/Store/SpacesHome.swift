import Foundation
import SpacesModel
import SpacesPolicy

#if canImport(Glibc)
  import Glibc
#endif

/// The folder that holds every space: `SPACES_HOME`, else `$XDG_DATA_HOME/agent-spaces`, else
/// `~/.local/share/agent-spaces`.
///
/// Layout: `spaces/NAME/space.json` (the config), `spaces/NAME/policy.yaml` (the policy),
/// `spaces/NAME/journal.jsonl` (the journal) and
/// `spaces/NAME/workspace/` (the workspace, unless the space was given an existing folder).
public struct SpacesHome: Sendable {
  /// The absolute path of the folder.
  public let path: String

  /// Uses the folder at `path` (created on first write).
  public init(path: String) {
    self.path = URL(fileURLWithPath: path).standardizedFileURL.path
  }

  /// The folder the environment names (see the type's summary).
  public static func fromEnvironment(_ environment: [String: String]) -> SpacesHome {
    SpacesHome(path: SpacesProtocol.home(in: environment))
  }

  /// The folder of the space called `name`.
  public func spaceFolder(_ name: String) -> String { path + "/spaces/" + name }
  /// The config file of the space called `name`.
  public func configPath(_ name: String) -> String { spaceFolder(name) + "/space.json" }
  /// The policy file of the space called `name`.
  public func policyPath(_ name: String) -> String { spaceFolder(name) + "/policy.yaml" }
  /// The journal of the space called `name`.
  public func journalPath(_ name: String) -> String { spaceFolder(name) + "/journal.jsonl" }
  /// The space's shell session (folder and carried variables).
  public func sessionPath(_ name: String) -> String { spaceFolder(name) + "/session.json" }
  /// The folder a space gets as its workspace when it wasn't given one.
  public func ownWorkspace(_ name: String) -> String { spaceFolder(name) + "/workspace" }

  /// Checks that `name` can name a space.
  public static func validate(name: String) throws(SpacesError) {
    let allowed = name.utf8.allSatisfy { byte in
      (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
        || byte == 0x5F || byte == 0x2E
    }
    let first = name.utf8.first
    let startsWell = first.map { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) } ?? false
    guard allowed, startsWell, name.utf8.count <= 64 else {
      throw SpacesError(
        .invalidName,
        "\(EventText.quoted(name)) is not a valid space name: use 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"
      )
    }
  }

  /// Creates a space and returns its config.
  ///
  /// With `workspace`, the space uses that existing folder (and never deletes it); otherwise
  /// it gets a new folder of its own.
  public func create(
    name: String, policy: PolicyPreset = .standard, backend: BackendKind = .bubblewrap,
    workspace: String? = nil, network: Bool = false, image: String? = nil, engine: String? = nil
  ) throws(SpacesError) -> SpaceConfig {
    try Self.validate(name: name)
    if backend != .container, image != nil || engine != nil {
      throw SpacesError(
        .invalidRequest,
        "--image and --engine apply to the container backend only; add --backend container or leave them out")
    }
    if policy == .restrictive, network {
      throw SpacesError(
        .invalidRequest,
        "the restrictive policy runs no shell commands, so --network would do nothing; leave it out or choose another policy"
      )
    }
    var brought: String?
    if let workspace {
      let absolute = URL(
        fileURLWithPath: workspace,
        relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
      ).standardizedFileURL.path
      // Stored resolved, so a symlink changed later can't move the workspace somewhere else.
      brought = try WorkspaceGuard.check(absolute, home: self)
    }
    try makeFolder(path + "/spaces", exclusive: false, mode: 0o700)
    let folder = spaceFolder(name)
    if mkdir(folder, 0o700) != 0 {
      if errno == EEXIST {
        throw SpacesError(
          .spaceExists,
          "a space called \"\(name)\" already exists; choose another name or remove it with `spaces space rm \(name)`")
      }
      throw SpacesError(.ioError, "can't create \(folder): \(String(cString: strerror(errno)))", errno: errno)
    }
    do throws(SpacesError) {
      let workspacePath = brought ?? ownWorkspace(name)
      if brought == nil { try makeFolder(workspacePath, exclusive: true, mode: 0o755) }
      var config = SpaceConfig(
        name: name, workspace: workspacePath, ownsWorkspace: brought == nil, policy: policy,
        backend: backend)
      config.capabilities.network = network
      config.image = image
      config.engine = engine
      try save(config)
      let policy = PolicyFile.template(preset: policy, space: name)
      guard FileManager.default.createFile(atPath: policyPath(name), contents: Data(policy.utf8)) else {
        throw SpacesError(.ioError, "can't write \(policyPath(name))")
      }
      _ = try Journal(path: journalPath(name))
      return config
    } catch {
      try? FileManager.default.removeItem(atPath: folder)
      throw error
    }
  }

  /// Writes a space's config atomically.
  public func save(_ config: SpaceConfig) throws(SpacesError) {
    let target = configPath(config.name)
    do {
      let data = try SpacesJSON.prettyEncoder.encode(config)
      try data.write(to: URL(fileURLWithPath: target), options: .atomic)
    } catch {
      throw SpacesError.fileCall("can't write \(target)", error)
    }
  }

  /// Reads the config of the space called `name`.
  public func load(_ name: String) throws(SpacesError) -> SpaceConfig {
    try Self.validate(name: name)
    let file = configPath(name)
    // Only a config that is not there means a missing space: running out of descriptors, or
    // a permission, is reported as what it is.
    guard let bytes = try SystemFile.read(file) else {
      if try SystemFile.exists(spaceFolder(name)) {
        throw SpacesError(
          .invalidConfig,
          "the space \"\(name)\" has no config at \(file); restore the file, or remove the space with `spaces space rm \(name)`"
        )
      }
      throw SpacesError(
        .spaceNotFound,
        "no space called \"\(name)\"; see `spaces space list`, or create it with `spaces space create \(name)`")
    }
    let config: SpaceConfig
    do {
      config = try SpacesJSON.decoder.decode(SpaceConfig.self, from: Data(bytes))
    } catch {
      // The decoder's errors are untyped; this is where they become the config's.
      throw SpacesError(.invalidConfig, "can't read \(file): \(SpacesJSON.describe(error)); fix or restore the file")
    }
    guard config.name == name else {
      throw SpacesError(.invalidConfig, "\(file) names the space \"\(config.name)\", not \"\(name)\"")
    }
    return config
  }

  /// The names of every space, sorted.
  public func names() -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: path + "/spaces")) ?? []
    return entries.filter { (try? Self.validate(name: $0)) != nil }.sorted()
  }

  /// Deletes a space: its config, its journal and its own workspace folder. A workspace folder
  /// the user brought with `--workspace` is left as it is. A container backend's container is
  /// removed too (when an engine is there to remove it).
  public func delete(_ name: String) throws(SpacesError) {
    try Self.validate(name: name)
    let folder = spaceFolder(name)
    guard FileManager.default.fileExists(atPath: folder) else {
      throw SpacesError(.spaceNotFound, "no space called \"\(name)\"; see `spaces space list`")
    }
    Backends.cleanUp(space: name, config: try? load(name), home: self)
    // Move the folder aside first so a half-finished removal never looks like a space.
    let trash = path + "/spaces/.deleting-\(name)-\(UUID().uuidString.prefix(8))"
    guard rename(folder, trash) == 0 else {
      throw SpacesError(.ioError, "can't remove \(folder): \(String(cString: strerror(errno)))", errno: errno)
    }
    do {
      try FileManager.default.removeItem(atPath: trash)
    } catch {
      throw SpacesError.fileCall("the space is gone, but \(trash) could not be removed completely", error)
    }
  }

  private func makeFolder(_ folder: String, exclusive: Bool, mode: Int) throws(SpacesError) {
    do {
      try FileManager.default.createDirectory(
        atPath: folder, withIntermediateDirectories: !exclusive,
        attributes: [.posixPermissions: mode])
    } catch {
      throw SpacesError.fileCall("can't create \(folder)", error)
    }
  }
}
