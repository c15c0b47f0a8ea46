import Dispatch
import Foundation
import Logging
import SpacesClientKit
import SpacesKit
import SpacesModel
import SpacesPolicy
import SpacesSandbox
import SpacesWorkbench

/// The workbench's source when it attaches to a running `spaces serve`.
///
/// It connects as a supervisor (with the token in SPACES_HOME): events, approvals and the
/// person's edits go through the server. Spaces, configs and file contents are read from disk
/// beneath the workspace, as the embedded source does — the socket means the same machine.
final class ServerSource: WorkbenchSource, Sendable {
  private let supervisor: SpacesClient
  private let agent: SpacesClient
  private let home: SpacesHome
  private let logger: Logger
  private let approvals = LockedValue<[ApprovalRequest]>([])
  private let workspaces = LockedValue<[String: ConfinedWorkspace]>([:])
  /// Polls the approvals of every space; set once, when attached.
  private let poller = LockedValue<Task<Void, Never>?>(nil)

  let connection = "attached to spaces serve"
  let operationsOutliveQuit = true

  private init(supervisor: SpacesClient, agent: SpacesClient, home: SpacesHome, logger: Logger) {
    self.supervisor = supervisor
    self.agent = agent
    self.home = home
    self.logger = logger
  }

  deinit { poller.withValue { $0?.cancel() } }

  /// Connects to the server of `home` as a supervisor (and once more as an agent, for the demo).
  static func attach(home: SpacesHome, logger: Logger) async throws(SpacesError) -> ServerSource {
    guard let token = SupervisorToken.read(in: home) else {
      throw SpacesError(.invalidConfig, "no supervisor token in \(SupervisorToken.path(in: home))")
    }
    let supervisor = try await SpacesClient.connect(home: home.path)
    try await supervisor.hello(role: .supervisor, token: token, client: "workbench")
    let agent = try await SpacesClient.connect(home: home.path)
    try await agent.hello(role: .agent, client: "workbench-demo")
    let source = ServerSource(supervisor: supervisor, agent: agent, home: home, logger: logger)
    await source.refreshApprovals()
    // Approvals of every space, also those this workbench doesn't watch.
    let poller = Task { [weak source] in
      while !Task.isCancelled {
        try? await Task.sleep(for: .milliseconds(250))
        await source?.refreshApprovals()
      }
    }
    source.poller.withValue { $0 = poller }
    return source
  }

  func spaceNames() -> [String] { home.names() }

  func summary(of space: String) throws(SpacesError) -> SpaceSummary {
    let config = try home.load(space)
    // policy.yaml is what rules; space.json's preset only seeded it.
    let preset =
      (try? PolicyStore(path: home.policyPath(space), fallback: config.policy).current().preset) ?? config.policy
    return SpaceSummary(
      name: config.name, backend: config.backend.rawValue, isolated: config.backend.isolated,
      policy: preset.rawValue)
  }

  func events(of space: String) throws(SpacesError) -> AsyncStream<Event> {
    _ = try home.load(space)
    let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(50_000))
    let task = Task {
      do {
        let lastSeq = try Journal(path: home.journalPath(space)).lastSeq
        for await event in try await supervisor.subscribe(space: space, fromSeq: lastSeq + 1) {
          // The prompt reads the pending list when it sees these: have it up to date first.
          if [.approvalRequested, .approvalResolved, .approvalExtended].contains(event.type) {
            await refreshApprovals()
          }
          continuation.yield(event)
        }
      } catch {
        logger.warning("events of \(space): \(error)")
      }
      continuation.finish()
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }

  func pendingApprovals() -> [ApprovalRequest] { approvals.withValue { $0 } }

  func resolve(_ id: String, with resolution: ApprovalResolution) throws(SpacesError) {
    guard let choice = resolution.choice else {
      throw SpacesError(.invalidRequest, "a resolution needs a choice: once, session, always or deny")
    }
    let supervisor = supervisor
    let outcome = Self.blocking { () throws(SpacesError) in
      try await supervisor.resolveApproval(
        id, choice, feedback: resolution.feedback, rules: resolution.rules.isEmpty ? nil : resolution.rules)
    }
    approvals.withValue { $0.removeAll { $0.id == id } }
    if case .failure(let error) = outcome { throw error }
  }

  func extend(_ id: String, by seconds: Int?) throws(SpacesError) -> ApprovalExtension {
    let supervisor = supervisor
    let outcome = Self.blocking { () throws(SpacesError) in
      try await supervisor.extendApproval(id, seconds: seconds)
    }
    switch outcome {
    case .success(let extended):
      // The countdown moves at once, not at the next poll.
      approvals.withValue { pending in
        for index in pending.indices where pending[index].id == id { pending[index].deadline = extended.deadline }
      }
      return extended
    case .failure(let error):
      throw error
    }
  }

  func submitAsPerson(_ operation: Op, to space: String) async -> OperationResult {
    await Self.result(of: operation, in: space) { [supervisor] () throws(SpacesError) in
      switch operation {
      case .createFile(let path, let content, let encoding):
        return try await supervisor.writeFile(path, content: content, encoding: encoding, in: space)
      case .deleteFile(let path, let recursive):
        return try await supervisor.deleteFile(path, recursive: recursive, in: space)
      case .readFile(let path):
        return try await supervisor.readFile(path, in: space)
      default:
        return try await supervisor.submit(operation, to: space)
      }
    }
  }

  func changes(of op: String, in space: String) async -> ChangesAnswer {
    do throws(SpacesError) {
      return try await supervisor.changes(of: op, in: space)
    } catch {
      return ChangesAnswer(op: op, status: "none", message: error.message)
    }
  }

  func undo(_ op: String, in space: String, restore: Bool) async throws(SpacesError) -> UndoOutcome {
    restore ? try await supervisor.restore(space, before: op) : try await supervisor.undo(op, in: space)
  }

  /// Runs an operation as the agent the demo plays.
  func submitAsAgent(_ operation: Op, to space: String) async -> OperationResult {
    await Self.result(of: operation, in: space) { [agent] () throws(SpacesError) in
      try await agent.submit(operation, to: space)
    }
  }

  func list(_ path: String, in space: String) throws(SpacesError) -> [WorkspaceEntry] {
    try workspace(space).list(path)
  }

  func read(_ path: String, in space: String) throws(SpacesError) -> [UInt8] {
    try workspace(space).read(path)
  }

  func grantsAndRules(of space: String) -> GrantsAndRules {
    GrantsAndRules(
      file: JournalHistory.fileRules(home, space: space),
      note: "this session's grants live in the spaces serve process (not listed here)")
  }

  func revoke(_ item: Revocable, in space: String) throws(SpacesError) {
    guard case .fileRule(let rule) = item else {
      throw SpacesError(.invalidRequest, "session grants live in the spaces serve process")
    }
    // The server re-reads policy.yaml when it changes.
    let config = try home.load(space)
    try PolicyStore(path: home.policyPath(space), fallback: config.policy).remove(rule)
  }

  func markSeen(_ space: String, through seq: Int) {
    JournalHistory.markSeen(home, space: space, through: seq)
  }

  func history(of space: String, events: Int) -> WorkbenchHistory {
    JournalHistory.read(home, space: space, events: events)
  }

  // MARK: - Helpers

  private func refreshApprovals() async {
    guard let pending = try? await supervisor.approvals() else { return }
    approvals.withValue { $0 = pending }
  }

  private func workspace(_ space: String) throws(SpacesError) -> ConfinedWorkspace {
    if let open = workspaces.withValue({ $0[space] }) { return open }
    let config = try home.load(space)
    let opened = try ConfinedWorkspace(root: config.workspace, maxFileSize: config.limits.maxFileSizeBytes)
    workspaces.withValue { $0[space] = opened }
    return opened
  }

  private static func result(
    of operation: Op, in space: String, _ body: () async throws(SpacesError) -> OperationResult
  ) async -> OperationResult {
    do throws(SpacesError) {
      return try await body()
    } catch {
      return .callFailed(operation, in: space, error: error)
    }
  }

  /// Waits on this thread for an async call (a short round trip on the local socket).
  private static func blocking<T: Sendable>(
    _ body: @escaping @Sendable () async throws(SpacesError) -> T
  ) -> Result<T, SpacesError> {
    let done = DispatchSemaphore(value: 0)
    let outcome = LockedValue<Result<T, SpacesError>?>(nil)
    Task.detached {
      do throws(SpacesError) {
        let value = try await body()
        outcome.withValue { $0 = .success(value) }
      } catch {
        outcome.withValue { $0 = .failure(error) }
      }
      done.signal()
    }
    done.wait()
    return outcome.withValue { $0 } ?? .failure(SpacesError(.ioError, "the call ended without an answer"))
  }
}
