import Foundation
import Testing

@testable import SpacesClientKit
@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

/// The Swift wire types against `schema/protocol.schema.json`: representative values of every
/// type and every event kind are encoded and validated, every field the schema names is one the
/// Swift type writes (and the other way round), and the methods, error codes and enums match.
@Suite struct SchemaTests {
  static let schemaURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("schema/protocol.schema.json")

  static func loadSchema() throws -> SchemaJSON {
    try JSONDecoder().decode(SchemaJSON.self, from: Data(contentsOf: schemaURL))
  }

  // MARK: - Lists

  @Test func methodsMatchBothWays() throws {
    let schema = try Self.loadSchema()
    let methods = try #require(schema["methods"]?.object)
    #expect(Set(methods.keys) == Set(RPCMethod.allCases.map(\.rawValue)))
    for method in RPCMethod.allCases {
      #expect(methods[method.rawValue]?["access"]?.string == method.access.rawValue, "\(method.rawValue)")
    }
  }

  @Test func errorCodesMatchBothWays() throws {
    let schema = try Self.loadSchema()
    let rpc = try #require(schema["rpcErrors"]?.object)
    var names: [String: Int] = [:]
    for name in RPCErrorCode.Name.allCases { names[name.rawValue] = name.code }
    #expect(rpc.mapValues(\.int) == names.mapValues { Optional($0) })
    #expect(Set(Self.enumValues(schema, "ErrorCode")) == Set(SpacesError.Code.all.map(\.rawValue)))
    #expect(SpacesError.Code.all.count == Set(SpacesError.Code.all).count, "no code twice")
  }

  @Test func enumsMatchBothWays() throws {
    let schema = try Self.loadSchema()
    let swift: [String: [String]] = [
      "OpKind": Op.Kind.allCases.map(\.rawValue),
      "EventType": Event.Kind.allCases.map(\.rawValue),
      "Role": ConnectionRole.allCases.map(\.rawValue),
      "PolicyPreset": PolicyPreset.allCases.map(\.rawValue),
      "Backend": BackendKind.allCases.map(\.rawValue),
      "ContentEncoding": ContentEncoding.allCases.map(\.rawValue),
      "Verdict": Decision.Verdict.allCases.map(\.rawValue),
      "ApprovalChoice": ApprovalChoice.allCases.map(\.rawValue),
      "DecidedBy": OperationResult.DecidedBy.allCases.map(\.rawValue),
      "Status": OperationResult.Status.allCases.map(\.rawValue),
      "Actor": Event.Actor.allCases.map(\.rawValue),
    ]
    for (name, values) in swift {
      #expect(Self.enumValues(schema, name) == values, "\(name)")
    }
  }

  // MARK: - Values

  @Test func everyTypeEncodesToItsSchema() throws {
    let schema = try Self.loadSchema()
    let validator = SchemaValidator(root: schema)
    for (name, value) in try Self.samples() {
      let json = try Self.json(value)
      #expect(validator.errors(json, ref: name) == [], "\(name): \(json)")
      #expect(Self.fieldMismatch(schema, name, json) == nil, "\(name)")
    }
  }

  @Test func everyOpKindEncodesToItsSchema() throws {
    let schema = try Self.loadSchema()
    let validator = SchemaValidator(root: schema)
    let variants = try #require(schema["$defs"]?["Op"]?["oneOf"]?.array)
    #expect(variants.count == Op.Kind.allCases.count)
    for op in Self.ops {
      let json = try Self.json(op)
      #expect(validator.errors(json, ref: "Op") == [], "\(json)")
      let variant = variants.first { $0["properties"]?["kind"]?["const"]?.string == op.kind.rawValue }
      let fields = Set(variant?["properties"]?.object?.keys.map { $0 } ?? [])
      #expect(Set(json.object?.keys.map { $0 } ?? []) == fields, "\(op.kind): every field of the kind")
    }
  }

  /// Every event kind, written by Foundation and by FastJSON (the journal's and the wire's
  /// encoder), validates against `Event` with its kind's fields; together they use every field.
  @Test func everyEventKindEncodesToItsSchema() throws {
    let schema = try Self.loadSchema()
    let validator = SchemaValidator(root: schema)
    var used = Set<String>()
    for kind in Event.Kind.allCases {
      let event = Self.event(kind)
      var writer = JSONWriter()
      event.write(to: &writer)
      let fast = try JSONDecoder().decode(SchemaJSON.self, from: Data(writer.bytes))
      let json = try Self.json(event)
      #expect(fast == json, "\(kind): FastJSON writes what Foundation writes")
      #expect(validator.errors(json, ref: "Event") == [], "\(kind): \(json)")
      used.formUnion(json.object?.keys.map { $0 } ?? [])
      let notification = EventNotification(event: event, subscription: "sub-1", requestId: .number(3))
      #expect(validator.errors(try Self.json(notification), ref: "EventNotification") == [])
    }
    let fields = Set(schema["$defs"]?["Event"]?["properties"]?.object?.keys.map { $0 } ?? [])
    #expect(used == fields, "the samples use every event field, and only those")
  }

  /// Each method's params and result, as the client sends and the server answers them.
  @Test func everyMethodsParamsAndResultMatch() throws {
    let schema = try Self.loadSchema()
    let validator = SchemaValidator(root: schema)
    for method in RPCMethod.allCases {
      let entry = try #require(schema["methods"]?[method.rawValue])
      let (params, result) = try Self.exchange(method)
      let paramsJSON = try Self.json(params)
      let resultJSON = try Self.json(result)
      #expect(validator.errors(paramsJSON, entry["params"] ?? .null) == [], "\(method.rawValue) params: \(paramsJSON)")
      #expect(validator.errors(resultJSON, entry["result"] ?? .null) == [], "\(method.rawValue) result: \(resultJSON)")
    }
    let errors: [RPCError] = [RPCError(SpacesError(.busy, "wait")), RPCError(RPCErrorCode.forbidden, "no")]
    for error in errors {
      #expect(validator.errors(try Self.json(error), ref: "RPCError") == [])
    }
    #expect(validator.errors(try Self.json(DisconnectedNotice(reason: "slow")), ref: "DisconnectedNotice") == [])
  }

  // MARK: - The check can fail

  @Test func theValidatorRefusesWhatTheSchemaDoesNotSay() throws {
    let schema = try Self.loadSchema()
    let validator = SchemaValidator(root: schema)
    let decision = try Self.json(Decision(.ask, reasons: ["r"], rules: ["x"]))
    #expect(validator.errors(decision, ref: "Decision") == [])
    var extra = decision
    extra = .object((decision.object ?? [:]).merging(["surprise": .int(1)]) { $1 })
    #expect(!validator.errors(extra, ref: "Decision").isEmpty)
    var missing = decision.object ?? [:]
    missing["reasons"] = nil
    #expect(!validator.errors(.object(missing), ref: "Decision").isEmpty)
    var wrong = decision.object ?? [:]
    wrong["decision"] = .string("maybe")
    #expect(!validator.errors(.object(wrong), ref: "Decision").isEmpty)
    var event = try Self.json(Self.event(.output)).object ?? [:]
    event["text"] = .string("a message field on an output event")
    #expect(!validator.errors(.object(event), ref: "Event").isEmpty)
  }

  /// A scratch copy of the schema with a field added to OperationResult and a method added:
  /// the checks above then fail.
  @Test func aFieldOrMethodAddedToTheSchemaFails() throws {
    let schema = try Self.loadSchema()
    var defs = schema["$defs"]?.object ?? [:]
    var result = defs["OperationResult"]?.object ?? [:]
    var properties = result["properties"]?.object ?? [:]
    properties["newField"] = .object(["type": .string("string")])
    result["properties"] = .object(properties)
    defs["OperationResult"] = .object(result)
    var methods = schema["methods"]?.object ?? [:]
    methods["space.rename"] = .object(["access": .string("supervisor")])
    var root = schema.object ?? [:]
    root["$defs"] = .object(defs)
    root["methods"] = .object(methods)
    let changed = SchemaJSON.object(root)
    let sample = try Self.json(try #require(try Self.samples().first { $0.0 == "OperationResult" }?.1))
    #expect(Self.fieldMismatch(schema, "OperationResult", sample) == nil)
    #expect(Self.fieldMismatch(changed, "OperationResult", sample) != nil)
    #expect(Set(changed["methods"]?.object?.keys.map { $0 } ?? []) != Set(RPCMethod.allCases.map(\.rawValue)))
  }

  // MARK: - Helpers

  static func enumValues(_ schema: SchemaJSON, _ name: String) -> [String] {
    schema["$defs"]?[name]?["enum"]?.array?.compactMap(\.string) ?? []
  }

  static func json(_ value: any Encodable) throws -> SchemaJSON {
    try JSONDecoder().decode(SchemaJSON.self, from: SpacesJSON.encoder.encode(value))
  }

  /// The fields the schema names for `name` that the sample lacks, or the other way round.
  static func fieldMismatch(_ schema: SchemaJSON, _ name: String, _ json: SchemaJSON) -> String? {
    guard let properties = schema["$defs"]?[name]?["properties"]?.object else { return nil }
    let expected = Set(properties.keys)
    let actual = Set(json.object?.keys.map { $0 } ?? [])
    if expected == actual { return nil }
    return "schema only: \(expected.subtracting(actual).sorted()); Swift only: \(actual.subtracting(expected).sorted())"
  }

  static let ops: [Op] = [
    .createFile(path: "a.bin", content: "aGk=", encoding: .base64),
    .readFile(path: "a.txt"),
    .editFile(path: "a.txt", oldText: "a", newText: "b"),
    .deleteFile(path: "build", recursive: true),
    .shell(command: "make test", timeoutMs: 5000, fresh: true),
    .message(text: "done"),
  ]

  static let summary = ChangeSummary(
    record: "op_1", changes: [PathChange(path: "a", before: nil, after: EntryState(kind: .file, mode: 0o644))])

  static func decoded<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    try SpacesJSON.decoder.decode(T.self, from: Data(text.utf8))
  }

  static func fullResult() -> OperationResult {
    var result = OperationResult(id: "op_1", space: "s", kind: .shell, status: .denied, durationMs: 3)
    result.content = "hi"
    result.encoding = .utf8
    result.size = 2
    result.sha256 = String(repeating: "a", count: 64)
    result.exitCode = 1
    result.signal = 9
    result.stdout = "out"
    result.stderr = "err"
    result.truncated = true
    result.restored = [".git/hooks/pre-commit"]
    result.cwd = "src"
    result.streamed = .init(fromSeq: 4, stdout: 1, stderr: 0)
    result.error = .init(SpacesError(.timeout, "too slow"))
    result.reason = "no"
    result.decidedBy = .person
    return result
  }

  static let entryState = #"{"kind":"symlink","mode":511,"size":3,"sha256":"ab","stored":false,"target":"x"}"#
  static let changeRecord =
    #"{"opId":"op_2","order":7,"time":"2026-01-01T00:00:00.000Z","actor":"person","what":"undo op_1","undid":["op_1"],"#
    + #""changes":[{"path":"a","before":\#(entryState),"after":\#(entryState)}]}"#
  static let approval =
    #"{"id":"op_1","space":"s","op":{"kind":"shell","command":"ls"},"#
    + #""decision":{"decision":"ask","reasons":["r"],"rules":["x"]},"requested":"t","deadline":"t","#
    + #""suggestedRules":[{"name":"n","kinds":["shell"],"paths":[],"command":["ls"],"decision":"allow","reason":"r"}],"#
    + #""cwd":"src","reason":"to look"}"#

  /// One value per schema type, with every optional field set.
  static func samples() throws -> [(String, any Encodable)] {
    var config = SpaceConfig(name: "s", workspace: "/w", ownsWorkspace: true)
    config.image = "alpine"
    config.engine = "podman"
    let undo = try decoded(
      UndoOutcome.self,
      #"{"action":"undo","target":"op_1","id":"op_2","undid":["op_1"],"changes":{"record":"op_2","changed":1,"added":0,"deleted":0,"unrestorable":1},"recovered":true}"#
    )
    return [
      ("Decision", Decision(.ask, reasons: ["r"], rules: ["x"])),
      (
        "PolicyRule",
        PolicyRule(name: "n", kinds: [.shell], paths: ["*.md"], command: ["git", "push"], decision: .ask, reason: "r")
      ),
      ("ErrorInfo", OperationResult.ErrorInfo(SpacesError(.notFound, "gone"))),
      ("StreamedOutput", OperationResult.StreamedOutput(fromSeq: 1, stdout: 2, stderr: 3)),
      ("OperationResult", fullResult()),
      (
        "ProtectedChange",
        ProtectedChange(path: ".env", change: .created, action: .failed, rule: "env-files", error: "x")
      ),
      ("ChangeSummary", undo.changes),
      ("EntryState", try decoded(EntryState.self, entryState)),
      ("PathChange", try decoded(PathChange.self, #"{"path":"a","before":\#(entryState),"after":\#(entryState)}"#)),
      ("ChangeRecord", try decoded(ChangeRecord.self, changeRecord)),
      ("UndoOutcome", undo),
      (
        "ChangesAnswer",
        ChangesAnswer(
          op: "op_2", status: "recorded", record: try decoded(ChangeRecord.self, changeRecord), diff: "d", message: "m")
      ),
      (
        "ChangesListItem",
        ChangesList.Item(op: "op_1", time: "t", actor: .agent, what: "w", changes: undo.changes, undid: ["op_0"])
      ),
      ("ChangesList", ChangesList(records: [], kept: 0)),
      ("ApprovalRequest", try decoded(ApprovalRequest.self, approval)),
      ("ApprovalExtension", ApprovalExtension(id: "op_1", deadline: "t", seconds: 60, totalSeconds: 120)),
      (
        "WorkspaceEntry",
        try decoded(WorkspaceEntry.self, #"{"name":"a","path":"d/a","kind":"directory","size":0,"modified":1.5}"#)
      ),
      ("ShellLimits", ShellLimits()),
      ("SpaceLimits", SpaceLimits()),
      ("UndoConfig", UndoConfig()),
      ("SpaceConfig", config),
      ("HelloResult", HelloResult(version: "1.0", protocolVersion: 1, role: .agent, space: "s")),
      ("DisconnectedNotice", DisconnectedNotice(reason: "slow")),
      ("RPCError", RPCError(SpacesError(.busy, "wait"))),
    ]
  }

  /// A representative event of each kind, with the fields the runtime gives it.
  static func event(_ kind: Event.Kind) -> Event {
    let decision = Decision(.ask, reasons: ["r"], rules: ["x"])
    let payload: Event.Payload =
      switch kind {
      case .received: .received(actor: .agent, op: .shell(command: "ls", timeoutMs: nil), reason: "to look")
      case .decision: .decision(decision)
      case .approvalRequested: .approvalRequested(decision)
      case .approvalResolved: .approvalResolved(resolution: .deny, decidedBy: .person, reason: "not now")
      case .approvalExtended: .approvalExtended(actor: .person, deadline: "t", seconds: 60, reason: "more time")
      case .queued: .queued(reason: "8 commands run")
      case .started: .started
      case .output: .output(stream: .stdout, data: "hi\n")
      case .completed: .completed(result: fullResult(), changes: summary)
      // As the runtime closes a command it was killed during: with the command's sender.
      case .failed: .failed(result: fullResult(), changes: summary, actor: .agent)
      case .denied: .denied(result: fullResult())
      case .message: .message(text: "done")
      case .protectedRestored:
        .protectedRestored(
          restored: [ProtectedChange(path: ".env", change: .created, action: .removed, rule: "env-files")],
          reason: "put back")
      case .undone:
        .undone(
          actor: .person,
          undo: UndoOutcome(action: "undo", target: "op_0", id: "op_1", undid: ["op_0"], changes: summary),
          changes: summary)
      }
    var event = Event(space: "s", opId: "op_1", payload)
    event.seq = 5
    return event
  }

  /// A method's params as the client sends them and a result as the server answers.
  static func exchange(_ method: RPCMethod) throws -> (any Encodable, any Encodable) {
    let result = fullResult()
    let submit = SubmitParams(space: "s", op: .readFile(path: "a"), events: true, streamsOutput: true, reason: "r")
    let config = SpaceConfig(name: "s", workspace: "/w", ownsWorkspace: true)
    let undo = UndoOutcome(action: "restore", target: "op_0", id: "op_1", undid: ["op_0"], changes: summary)
    return switch method {
    case .hello:
      (
        HelloParams(role: .supervisor, token: "t", space: "s", client: "c"),
        HelloResult(version: "1", protocolVersion: 1, role: .supervisor)
      )
    case .requestCancel: (CancelParams(id: .string("a")), CancelResult(cancelled: true))
    case .spaceCreate:
      (
        SpaceCreateParams(name: "s", policy: .permissive, backend: .host, workspace: "/w", network: true, image: "i"),
        config
      )
    case .spaceList: (EmptyObject(), SpaceListResult(spaces: [config]))
    case .spaceGet: (SpaceNameParams(name: "s"), config)
    case .spaceDelete: (SpaceNameParams(name: "s"), SpaceDeleteResult(deleted: "s"))
    case .opSubmit: (submit, result)
    case .eventsSubscribe:
      (SubscribeParams(space: "s", fromSeq: 1), SubscribeResult(subscription: "sub-1", spaces: ["s"]))
    case .eventsUnsubscribe: (UnsubscribeParams(subscription: "sub-1"), EmptyObject())
    case .approvalList:
      (ApprovalListParams(space: "s"), ApprovalListResult(approvals: [try decoded(ApprovalRequest.self, approval)]))
    case .approvalResolve:
      (
        ApprovalResolveParams(id: "op_1", decision: .always, feedback: "f", rules: []),
        ApprovalResolveResult(id: "op_1", decision: .always)
      )
    case .approvalExtend:
      (
        ApprovalExtendParams(id: "op_1", seconds: 60),
        ApprovalExtension(id: "op_1", deadline: "t", seconds: 60, totalSeconds: 60)
      )
    case .policyCheck: (submit, Decision(.allow))
    case .fileList:
      (
        FileListParams(space: "s", path: "d"),
        FileListResult(entries: [
          try decoded(WorkspaceEntry.self, #"{"name":"a","path":"a","kind":"file","size":1,"modified":2}"#)
        ])
      )
    case .fileRead: (FileReadParams(space: "s", path: "a"), result)
    case .fileWrite: (FileWriteParams(space: "s", path: "a", content: "x", encoding: .base64), result)
    case .fileDelete: (FileDeleteParams(space: "s", path: "a", recursive: true), result)
    case .opChanges:
      (ChangesParams(space: "s", op: "op_1", diff: true, limit: 5), ChangesAnswer(op: "op_1", status: "gone"))
    case .opUndo: (UndoParams(space: "s", op: "op_0"), undo)
    case .spaceRestore: (RestoreParams(space: "s", before: "op_0"), undo)
    }
  }
}

// MARK: - A validator for the subset of JSON Schema 2020-12 the wire schema uses

/// Any JSON value.
enum SchemaJSON: Decodable, Equatable, Sendable {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case array([SchemaJSON])
  case object([String: SchemaJSON])

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Int.self) {
      self = .int(value)
    } else if let value = try? container.decode(Double.self) {
      self = .double(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([SchemaJSON].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: SchemaJSON].self))
    }
  }

  subscript(key: String) -> SchemaJSON? { object?[key] }
  var object: [String: SchemaJSON]? { if case .object(let value) = self { value } else { nil } }
  var array: [SchemaJSON]? { if case .array(let value) = self { value } else { nil } }
  var string: String? { if case .string(let value) = self { value } else { nil } }
  var int: Int? { if case .int(let value) = self { value } else { nil } }
}

/// Validates JSON values against the schema's keywords: `$ref` (to `#/$defs/…`), `type`,
/// `enum`, `const`, `properties`, `required`, `additionalProperties`, `items`, `oneOf`,
/// `propertyNames`. Any other keyword is reported, so the schema can't silently outgrow it.
struct SchemaValidator {
  let root: SchemaJSON
  static let annotations: Set<String> = ["description", "title", "$schema", "$id"]

  func errors(_ value: SchemaJSON, ref name: String) -> [String] {
    errors(value, .object(["$ref": .string("#/$defs/" + name)]))
  }

  func errors(_ value: SchemaJSON, _ schema: SchemaJSON, at path: String = "$") -> [String] {
    guard let keywords = schema.object else { return ["\(path): the schema is not an object"] }
    var found: [String] = []
    for (keyword, argument) in keywords.sorted(by: { $0.key < $1.key }) {
      switch keyword {
      case "$ref":
        let name = argument.string?.replacingOccurrences(of: "#/$defs/", with: "") ?? ""
        guard let target = root["$defs"]?[name] else {
          found.append("\(path): no definition \(name)")
          continue
        }
        found += errors(value, target, at: path)
      case "type":
        let types = argument.array?.compactMap(\.string) ?? [argument.string ?? ""]
        if !types.contains(where: { Self.matches(value, type: $0) }) {
          found.append("\(path): \(value) is not \(types.joined(separator: " or "))")
        }
      case "enum":
        if !(argument.array ?? []).contains(value) { found.append("\(path): \(value) is not one of \(argument)") }
      case "const":
        if value != argument { found.append("\(path): \(value) is not \(argument)") }
      case "properties":
        guard let object = value.object else { continue }
        for (key, property) in argument.object ?? [:] {
          if let member = object[key] { found += errors(member, property, at: path + "." + key) }
        }
      case "required":
        guard let object = value.object else { continue }
        for key in argument.array?.compactMap(\.string) ?? [] where object[key] == nil {
          found.append("\(path): missing \(key)")
        }
      case "additionalProperties":
        guard let object = value.object else { continue }
        let known = Set(keywords["properties"]?.object?.keys.map { $0 } ?? [])
        for (key, member) in object where !known.contains(key) {
          if argument == .bool(false) {
            found.append("\(path): unknown field \(key)")
          } else if argument != .bool(true) {
            found += errors(member, argument, at: path + "." + key)
          }
        }
      case "items":
        for (index, item) in (value.array ?? []).enumerated() {
          found += errors(item, argument, at: path + "[\(index)]")
        }
      case "oneOf":
        let passing = (argument.array ?? []).filter { errors(value, $0, at: path).isEmpty }
        if passing.count != 1 { found.append("\(path): matches \(passing.count) of oneOf, not 1") }
      case "propertyNames":
        let names = argument["enum"]?.array ?? []
        for key in value.object?.keys.map({ $0 }) ?? [] where !names.contains(.string(key)) {
          found.append("\(path): field \(key) is not allowed here")
        }
      default:
        if !Self.annotations.contains(keyword) { found.append("\(path): unsupported keyword \(keyword)") }
      }
    }
    return found
  }

  static func matches(_ value: SchemaJSON, type: String) -> Bool {
    switch (type, value) {
    case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
      ("integer", .int), ("number", .int), ("number", .double):
      true
    case ("integer", .double(let number)): number.rounded() == number
    default: false
    }
  }
}
