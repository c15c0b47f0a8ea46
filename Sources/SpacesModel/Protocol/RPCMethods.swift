import Foundation

/// The protocol's methods, the one list of them: the server routes by it, the client calls by
/// it, and `schema/protocol.schema.json` names the same methods (SchemaTests check both ways).
public enum RPCMethod: String, CaseIterable, Sendable {
  /// Says who the connection is.
  case hello
  /// Stops a running request of the same connection.
  case requestCancel = "request.cancel"
  /// Creates a space.
  case spaceCreate = "space.create"
  /// The spaces the connection may see.
  case spaceList = "space.list"
  /// One space's configuration.
  case spaceGet = "space.get"
  /// Deletes a space.
  case spaceDelete = "space.delete"
  /// Runs one operation.
  case opSubmit = "op.submit"
  /// Follows a space's events.
  case eventsSubscribe = "events.subscribe"
  /// Ends a subscription.
  case eventsUnsubscribe = "events.unsubscribe"
  /// The waiting approval requests.
  case approvalList = "approval.list"
  /// Answers an approval request.
  case approvalResolve = "approval.resolve"
  /// Gives an approval request more time.
  case approvalExtend = "approval.extend"
  /// What the policy says about an operation, without running it.
  case policyCheck = "policy.check"
  /// A workspace folder's entries.
  case fileList = "file.list"
  /// Reads a file as the person.
  case fileRead = "file.read"
  /// Writes a file as the person.
  case fileWrite = "file.write"
  /// Deletes a file or folder as the person.
  case fileDelete = "file.delete"
  /// One operation's change record, or the newest records.
  case opChanges = "op.changes"
  /// Undoes one operation.
  case opUndo = "op.undo"
  /// Takes back everything from one operation on.
  case spaceRestore = "space.restore"

  /// Who may call a method (the schema's `access`).
  public enum Access: String, Sendable {
    /// Agents (in their one space) and supervisors.
    case any
    /// Supervisors only: an agent gets -32003 before its params are read.
    case supervisor
    /// Supervisors, and agents when `spaces serve --allow-agent-spaces` lets them (narrower).
    case supervisorOrAllowedAgent
  }

  /// Finds a method by its wire name; an unknown name is -32601 with the list of methods.
  package init(named name: String) throws(RPCError) {
    guard let method = RPCMethod(rawValue: name) else {
      throw RPCError(
        RPCErrorCode.methodNotFound,
        "no method \"\(name)\"; the methods are \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    self = method
  }

  /// Who may call it.
  public var access: Access {
    switch self {
    case .spaceDelete, .approvalResolve, .approvalExtend, .fileList, .fileRead, .fileWrite, .fileDelete, .opUndo,
      .spaceRestore:
      .supervisor
    case .spaceCreate: .supervisorOrAllowedAgent
    case .hello, .requestCancel, .spaceList, .spaceGet, .opSubmit, .eventsSubscribe, .eventsUnsubscribe,
      .approvalList, .policyCheck, .opChanges:
      .any
    }
  }

  /// What an agent may not do, for the -32003 message; `nil` when agents may call it (the
  /// rules of `space.create` are its own).
  package var supervisorAction: String? {
    guard access == .supervisor else { return nil }
    return switch self {
    case .spaceDelete: "delete spaces"
    case .approvalResolve: "resolve approvals"
    case .approvalExtend: "give approval requests more time"
    case .opUndo: "undo operations"
    case .spaceRestore: "restore a workspace"
    default: "use \(rawValue)"
    }
  }
}
