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
