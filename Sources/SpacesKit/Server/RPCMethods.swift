import Foundation
import SpacesModel

/// The protocol's methods: who may call each one and in which order it is answered.
enum RPCMethod: String, CaseIterable, Sendable {
  case hello
  case requestCancel = "request.cancel"
  case spaceCreate = "space.create"
  case spaceList = "space.list"
  case spaceGet = "space.get"
  case spaceDelete = "space.delete"
  case opSubmit = "op.submit"
  case eventsSubscribe = "events.subscribe"
  case eventsUnsubscribe = "events.unsubscribe"
  case approvalList = "approval.list"
  case approvalResolve = "approval.resolve"
  case approvalExtend = "approval.extend"
  case policyCheck = "policy.check"
  case fileList = "file.list"
  case fileRead = "file.read"
  case fileWrite = "file.write"
  case fileDelete = "file.delete"
  case opChanges = "op.changes"
  case opUndo = "op.undo"
  case spaceRestore = "space.restore"

  /// Finds a method by its wire name; an unknown name is -32601 with the list of methods.
  init(named name: String) throws(RPCError) {
    guard let method = RPCMethod(rawValue: name) else {
      throw RPCError(
        RPCErrorCode.methodNotFound,
        "no method \"\(name)\"; the methods are \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    self = method
  }

  /// Whether it runs on the connection's task, before the next line is read (so a request sent
  /// right after `hello` already sees the role).
  var answeredInOrder: Bool { self == .hello || self == .requestCancel }

  /// What an agent may not do, for the -32003 message; `nil` when agents may call it.
  var supervisorAction: String? {
    switch self {
    case .spaceDelete: "delete spaces"
    case .approvalResolve: "resolve approvals"
    case .approvalExtend: "give approval requests more time"
    case .fileList, .fileRead, .fileWrite, .fileDelete: "use \(rawValue)"
    case .opUndo: "undo operations"
    case .spaceRestore: "restore a workspace"
    default: nil
    }
  }
}

/// A request's params, decoded for its method: the one place that says which params each
/// method reads.
enum RPCParams: Sendable {
  case hello(HelloParams)
  case cancel(CancelParams)
  case spaceCreate(SpaceCreateParams)
  case spaceList
  case spaceGet(SpaceNameParams)
  case spaceDelete(SpaceNameParams)
  case submit(SubmitParams)
  case subscribe(SubscribeParams)
  case unsubscribe(UnsubscribeParams)
  case approvalList(ApprovalListParams)
  case approvalResolve(ApprovalResolveParams)
  case approvalExtend(ApprovalExtendParams)
  case policyCheck(SubmitParams)
  case fileList(FileListParams)
  case fileRead(FileReadParams)
  case fileWrite(FileWriteParams)
  case fileDelete(FileDeleteParams)
  case opChanges(ChangesParams)
  case opUndo(UndoParams)
  case spaceRestore(RestoreParams)

  /// Decodes the params of `request` for its method; -32601 for an unknown method, -32602 with
  /// the field's name for bad params.
  init(_ request: ServerConnection.Request) throws(RPCError) {
    switch try RPCMethod(named: request.method) {
    case .hello: self = .hello(try request.params(HelloParams.self))
    case .requestCancel: self = .cancel(try request.params(CancelParams.self))
    case .spaceCreate: self = .spaceCreate(try request.params(SpaceCreateParams.self))
    case .spaceList: self = .spaceList
    case .spaceGet: self = .spaceGet(try request.params(SpaceNameParams.self))
    case .spaceDelete: self = .spaceDelete(try request.params(SpaceNameParams.self))
    case .opSubmit: self = .submit(try request.params(SubmitParams.self))
    case .eventsSubscribe: self = .subscribe(try request.params(SubscribeParams.self))
    case .eventsUnsubscribe: self = .unsubscribe(try request.params(UnsubscribeParams.self))
    case .approvalList: self = .approvalList(try request.params(ApprovalListParams.self))
    case .approvalResolve: self = .approvalResolve(try request.params(ApprovalResolveParams.self))
    case .approvalExtend: self = .approvalExtend(try request.params(ApprovalExtendParams.self))
    case .policyCheck: self = .policyCheck(try request.params(SubmitParams.self))
    case .fileList: self = .fileList(try request.params(FileListParams.self))
    case .fileRead: self = .fileRead(try request.params(FileReadParams.self))
    case .fileWrite: self = .fileWrite(try request.params(FileWriteParams.self))
    case .fileDelete: self = .fileDelete(try request.params(FileDeleteParams.self))
    case .opChanges: self = .opChanges(try request.params(ChangesParams.self))
    case .opUndo: self = .opUndo(try request.params(UndoParams.self))
    case .spaceRestore: self = .spaceRestore(try request.params(RestoreParams.self))
    }
  }
}
