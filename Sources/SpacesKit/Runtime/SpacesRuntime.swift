import CSpacesSys
import Foundation
import Logging
import SpacesModel
import SpacesSandbox

/// The runtime: every space under one ``SpacesHome``, opened on demand and kept open.
///
/// The CLI, the workbench and the server all submit operations through it.
public final class SpacesRuntime: Sendable {
  /// Where spaces are stored.
  public let home: SpacesHome
  private let logger: Logger
  private let open = LockedValue<[String: Space]>([:])
  /// Whether a person can answer approval requests (a workbench or a supervisor client). When
  /// not, an operation the policy asks about is denied at once instead of waiting.
  public let supervised: Bool
  /// What large file contents (reads of 1 MiB and more) may hold in memory at once, across
  /// every space of the runtime (``ByteGate``).
  public let contents = ByteGate(limit: ByteGate.defaultLimit)
  /// Keeps a spare process forked (and moved into a fresh operation cgroup) ahead of each
  /// shell command, so commands start without paying for the fork and the cgroup move. Worth
  /// it in a long-lived process (the server and the workbench turn it on); irreversible.
  public static func enableSpareProcesses() {
    Spawner.shared.enableSpares()
  }

  /// Raises the process's soft limit on open descriptors to its hard limit (at most 1 Mi).
  ///
  /// A server holds descriptors for every connection and, per space, its persistent sandbox
  /// and the warm shells waiting in it (their pipes, script socket and state file): a desktop's
  /// default soft limit of 1024 is reached long before the hard one. Commands inherit the raised
  /// soft limit, which they could raise to the hard one themselves.
  public static func raiseDescriptorLimit() {
    _ = cspaces_raise_descriptor_limit(1 << 20)
  }

  /// Gives buffers of 1 MiB and more back to the system as soon as they are freed.
  ///
  /// Answers and file contents of many MiB are allocated and freed all the time in a server. By
  /// default glibc raises its mmap threshold to the largest block freed (up to 32 MiB), so after
  /// the first such buffer they come from the heap and stay resident once freed: memory then
  /// grows well past what the server's budgets hold at once. Process-wide; the server turns it on.
  ///
  /// Freed memory at the top of a heap is kept until ``releaseFreeMemory()`` (once a second in a
  /// server) rather than handed back at every `free` over 128 KiB (glibc's default): handing it
  /// back is an `madvise` whose TLB flush interrupts the other core, and the next operation
  /// faults the same pages in again (4 % of a server's time in a run of small writes).
  public static func returnLargeBuffers() {
    _ = cspaces_fix_mmap_threshold(1 << 20)
    _ = cspaces_set_trim_threshold(64 << 20)
  }

  /// Gives the free pages inside malloc's heaps back to the system.
  ///
  /// Many connections coming and going leave freed blocks under 1 MiB scattered through the
  /// heaps of malloc's arenas, where they stay resident (only the top of a heap is returned on
  /// its own): tens of MiB in `spaces bench soak`. The server calls this once a second.
  public static func releaseFreeMemory() {
    _ = cspaces_release_free_memory()
  }

  /// Creates a runtime over the spaces in `home`; `logger` receives warnings (never stdout).
  public init(home: SpacesHome, supervised: Bool = true, logger: Logger = Logger(label: "agent-spaces")) {
    self.home = home
    self.supervised = supervised
    self.logger = logger
  }

  /// The open space called `name`, opening it on first use.
  public func space(_ name: String) throws(SpacesError) -> Space {
    if let space = openSpace(name) { return space }
    let config = try home.load(name)
    // space.json may have been edited by hand: the workspace is checked again on every open.
    do {
      try WorkspaceGuard.check(
        config.workspace, home: home, own: config.ownsWorkspace ? home.ownWorkspace(name) : nil)
    } catch {
      throw SpacesError(
        error.code, "the space \"\(name)\" can't be opened: \(error.message) (edit \(home.configPath(name)))",
        errno: error.errno)
    }
    let backend = Backends.make(for: config, home: home)
    let space = try Space(
      config: config, journalPath: home.journalPath(name), policyPath: home.policyPath(name),
      backend: backend, supervised: supervised, guardedFiles: [SupervisorToken.path(in: home)], contents: contents,
      logger: logger)
    return open.withValue { spaces in
      if let existing = spaces[name] { return existing }
      spaces[name] = space
      return space
    }
  }

  /// The space called `name` if it is open already (nil: not opened yet, or no such space).
  public func openSpace(_ name: String) -> Space? {
    open.withValue { $0[name] }
  }

  /// Runs one operation in the space called `spaceName`.
  ///
  /// A missing space or an unreadable config comes back as a failed result, like any error.
  /// `admission` is the submitter's own share of running commands (a connection's), if any;
  /// `reason` is the agent's own reason for the operation (``StatedReason``).
  public func submit(
    _ operation: Op, to spaceName: String, actor: Event.Actor = .agent,
    id: String = Space.newOperationID(), admission: Slots? = nil, reason: String? = nil,
    hold: ContentHold? = nil, answer: (@Sendable (OperationResult) -> Void)? = nil
  ) async -> OperationResult {
    do {
      return try await space(spaceName).submit(
        operation, actor: actor, id: id, admission: admission, reason: reason, hold: hold, answer: answer)
    } catch {
      var result = OperationResult(
        id: "", space: spaceName, kind: operation.kind, status: .failed)
      result.error = OperationResult.ErrorInfo(error)
      return result
    }
  }

  /// The approval requests waiting in every open space (or one), oldest first per space.
  public func pendingApprovals(space name: String? = nil) -> [ApprovalRequest] {
    let spaces = open.withValue { Array($0.values) }.sorted { $0.name < $1.name }
    return spaces.filter { name == nil || $0.name == name }.flatMap { $0.approvals.pending }
  }

  /// Answers an approval request in whichever open space holds it.
  public func resolveApproval(_ id: String, with resolution: ApprovalResolution) throws(SpacesError) {
    let spaces = open.withValue { Array($0.values) }
    guard let space = spaces.first(where: { $0.approvals.pending.contains { $0.id == id } }) else {
      // Let a space that knows the id say why it is closed; otherwise it was never asked.
      for space in spaces {
        do {
          try space.approvals.resolve(id, with: resolution)
          return
        } catch  where error.code == .approvalClosed {
          throw error
        } catch {}
      }
      throw SpacesError(
        .notFound,
        "no approval request \(id) is waiting; see what waits with `spaces approvals` (approval.list on the socket)")
    }
    try space.approvals.resolve(id, with: resolution)
  }

  /// Gives an approval request more time, in whichever open space holds it
  /// (``Space/extendApproval(_:by:)``).
  public func extendApproval(_ id: String, by seconds: Int? = nil) throws(SpacesError) -> ApprovalExtension {
    let spaces = open.withValue { Array($0.values) }
    guard let space = spaces.first(where: { $0.approvals.pending.contains { $0.id == id } }) else {
      // Let a space that knew the id say why it is closed (the seconds are checked first);
      // otherwise it was never asked.
      for space in spaces {
        do {
          return try space.extendApproval(id, by: seconds)
        } catch  where error.code != .notFound {
          throw error
        } catch {}
      }
      throw SpacesError(
        .notFound,
        "no approval request \(id) is waiting; see what waits with `spaces approvals` (approval.list on the socket)")
    }
    return try space.extendApproval(id, by: seconds)
  }

  /// Forgets an open space (after it was deleted or its config changed).
  public func close(_ name: String) {
    _ = open.withValue { $0.removeValue(forKey: name) }
  }
}
