import Crypto
import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

/// A workspace tree as it is on disk: per path its kind, mode and content (hash) or link target.
struct Tree: Equatable, CustomStringConvertible {
  var entries: [String: String]

  /// Reads the tree beneath `root` with lstat, never following a link.
  init(_ root: String) {
    entries = [:]
    Self.walk(root, "", into: &entries)
  }

  private static func walk(_ root: String, _ prefix: String, into entries: inout [String: String]) {
    guard let dir = opendir(root + (prefix.isEmpty ? "" : "/" + prefix)) else { return }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      let path = prefix.isEmpty ? name : prefix + "/" + name
      var info = stat()
      guard lstat(root + "/" + path, &info) == 0 else { continue }
      let mode = String(info.st_mode & 0o7777, radix: 8)
      switch info.st_mode & S_IFMT {
      case S_IFDIR:
        entries[path] = "dir \(mode)"
        walk(root, path, into: &entries)
      case S_IFLNK:
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(root + "/" + path, &buffer, 4095)
        let target = String(decoding: buffer.prefix(max(0, count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        entries[path] = "link → \(target)"
      default:
        let data = FileManager.default.contents(atPath: root + "/" + path) ?? Data()
        let hash = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        entries[path] = "file \(mode) \(data.count) \(hash.prefix(16))"
      }
    }
  }

  var description: String {
    entries.keys.sorted().map { "\($0): \(entries[$0] ?? "")" }.joined(separator: "\n")
  }

  /// What differs from `other`, for a failure message.
  func difference(from other: Tree) -> String {
    let keys = Set(entries.keys).union(other.entries.keys).sorted()
    return keys.filter { entries[$0] != other.entries[$0] }.prefix(20).map {
      "\($0): \(other.entries[$0] ?? "-") → \(entries[$0] ?? "-")"
    }.joined(separator: "\n")
  }
}

/// A space with the standard policy on `backend`, for change records and undo.
final class UndoFixture: Sendable {
  let folder: TempFolder
  let home: SpacesHome
  let space: Space
  let workspace: String

  static let bwrapAvailable = Sys.which("bwrap", path: Sys.environment("PATH")) != nil

  init(
    label: String = "undo", backend: BackendKind = .bubblewrap, undo: UndoConfig = UndoConfig(),
    preset: PolicyPreset = .standard
  ) throws {
    folder = TempFolder(label)
    home = SpacesHome(path: folder.path)
    var config = try home.create(name: "u", policy: preset, backend: backend)
    config.undo = undo
    try home.save(config)
    space = try SpacesRuntime(home: home, supervised: false).space("u")
    workspace = space.config.workspace
  }

  var tree: Tree { Tree(workspace) }

  /// Runs `command` in the space (its backend) and requires it to complete with exit 0.
  @discardableResult
  func shell(_ command: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> OperationResult {
    let result = await space.submit(.shell(command: command, timeoutMs: 120_000))
    try #require(
      result.status == .completed && result.exitCode == 0, "\(command): \(result)", sourceLocation: sourceLocation)
    return result
  }

  /// The `completed` event of `opId` from the journal.
  func completed(_ opId: String) throws -> Event? {
    var reader = try JournalReader(path: home.journalPath("u"))
    var found: Event?
    while true {
      let batch = try reader.readAvailable(final: true)
      if batch.events.isEmpty { break }
      for event in batch.events where event.opId == opId && (event.type == .completed || event.type == .undone) {
        found = event
      }
    }
    return found
  }
}
