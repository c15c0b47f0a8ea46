import Foundation
import SpacesKit
import SpacesModel
import SpacesWorkbench

/// The workbench's source when the runtime runs inside the workbench's own process.
struct EmbeddedSource: WorkbenchSource {
  let runtime: SpacesRuntime
  /// How agents reach this runtime, for the status line.
  var connection = "embedded"

  func spaceNames() -> [String] { runtime.home.names() }

  func summary(of space: String) throws(SpacesError) -> SpaceSummary {
    let opened = try runtime.space(space)
    let config = opened.config
    // policy.yaml is what rules; space.json's preset only seeded it.
    let preset = (try? opened.policy.current().preset) ?? config.policy
    return SpaceSummary(
      name: config.name, backend: config.backend.rawValue, isolated: config.backend.isolated,
      policy: preset.rawValue)
  }

  func events(of space: String) throws(SpacesError) -> AsyncStream<Event> {
    try runtime.space(space).hub.subscribe()
  }

  func pendingApprovals() -> [ApprovalRequest] { runtime.pendingApprovals() }

  func resolve(_ id: String, with resolution: ApprovalResolution) throws(SpacesError) {
    try runtime.resolveApproval(id, with: resolution)
  }

  func extend(_ id: String, by seconds: Int?) throws(SpacesError) -> ApprovalExtension {
    try runtime.extendApproval(id, by: seconds)
  }

  func submitAsPerson(_ operation: Op, to space: String) async -> OperationResult {
    await runtime.submit(operation, to: space, actor: .person)
  }

  func changes(of op: String, in space: String) async -> ChangesAnswer {
    do {
      return try runtime.space(space).changes(of: op)
    } catch {
      return ChangesAnswer(op: op, status: "none", message: error.message)
    }
  }

  func undo(_ op: String, in space: String, restore: Bool) async throws(SpacesError) -> UndoOutcome {
    try await runtime.space(space).undo(op, restore: restore)
  }

  func list(_ path: String, in space: String) throws(SpacesError) -> [WorkspaceEntry] {
    try runtime.space(space).workspace.list(path)
  }

  func read(_ path: String, in space: String) throws(SpacesError) -> [UInt8] {
    try runtime.space(space).workspace.read(path)
  }

  func grantsAndRules(of space: String) -> GrantsAndRules {
    guard let opened = try? runtime.space(space) else { return GrantsAndRules(note: "can't open \(space)") }
    let grants = opened.policy.grants
    return GrantsAndRules(
      session: grants.commands.sorted().map { .sessionCommand($0) } + grants.rules.map { .sessionRule($0) },
      file: JournalHistory.fileRules(runtime.home, space: space))
  }

  func revoke(_ item: Revocable, in space: String) throws(SpacesError) {
    let policy = try runtime.space(space).policy
    switch item {
    case .sessionCommand(let command): policy.revoke(command: command)
    case .sessionRule(let rule): policy.revoke(rule: rule)
    case .fileRule(let rule): try policy.remove(rule)
    }
  }

  func markSeen(_ space: String, through seq: Int) {
    JournalHistory.markSeen(runtime.home, space: space, through: seq)
  }

  func history(of space: String, events: Int) -> WorkbenchHistory {
    JournalHistory.read(runtime.home, space: space, events: events)
  }
}
