import Foundation
import SpacesKit
import SpacesModel
import Testing

@testable import SpacesWorkbench

/// Builds deterministic workbench states for snapshots and key tests.
enum Fixture {
  static let space = SpaceSummary(name: "demo", backend: "bubblewrap", isolated: true, policy: "standard")

  static func entry(_ path: String, folder: Bool = false, size: Int = 10, modified: Double = 1000) -> WorkspaceEntry {
    let name = path.split(separator: "/").last.map(String.init) ?? path
    let json = """
      {"name":"\(name)","path":"\(path)","kind":"\(folder ? "directory" : "file")","size":\(size),"modified":\(modified)}
      """
    return (try? JSONDecoder().decode(WorkspaceEntry.self, from: Data(json.utf8)))!
  }

  static func object<T: Encodable>(_ value: T) -> Any {
    let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
    return (try? JSONSerialization.jsonObject(with: data)) ?? [:]
  }

  static func request(
    _ id: String, _ op: Op, reasons: [String], rules: [PolicyRule] = [], space: String = "demo",
    agentReason: String? = nil, deadline: String = "2026-01-01T00:05:00.000Z"
  ) -> ApprovalRequest {
    var json: [String: Any] = [
      "id": id, "space": space, "op": object(op), "decision": object(Decision(.ask, reasons: reasons, rules: [])),
      "requested": "2026-01-01T00:00:00.000Z", "deadline": deadline,
      "suggestedRules": rules.map { object($0) },
    ]
    if let agentReason { json["reason"] = agentReason }
    let data = (try? JSONSerialization.data(withJSONObject: json)) ?? Data()
    return (try? JSONDecoder().decode(ApprovalRequest.self, from: data))!
  }

  static func event(
    _ id: String, _ payload: Event.Payload, space: String = "demo", _ change: (inout Event) -> Void = { _ in }
  )
    -> Event
  {
    var event = Event(space: space, opId: id, payload, time: Date(timeIntervalSince1970: 0))
    change(&event)
    return event
  }

  static func result(_ id: String, _ kind: Op.Kind, _ status: OperationResult.Status, ms: Int) -> OperationResult {
    OperationResult(id: id, space: "demo", kind: kind, status: status, durationMs: ms)
  }

  static let greet =
    "#!/bin/sh\n# Prints a greeting for each name given.\nfor name in \"$@\"; do\n  echo \"Hello, $name!\"\ndone\n"

  /// A session: files, a build with output, a failure, a denial, a running command.
  static func state(now: Double = 100) -> WorkbenchState {
    var state = WorkbenchState(space: space, connection: "embedded")
    state.setSpaces(["demo", "other", "scratch"])
    state.tree.setListing("", [entry("src", folder: true), entry("README.md", size: 40)])
    state.tree.setListing(
      "",
      [
        entry("src", folder: true), entry("README.md", size: 41, modified: 1001), entry("greet.sh", size: 80),
        entry("build.sh", size: 120),
      ])
    state.tree.expanded.insert("src")
    state.tree.setListing("src", [entry("src/main.swift"), entry("src/世界.txt")])
    func run(_ id: String, _ op: Op, actor: Event.Actor = .agent) {
      _ = state.apply(
        event(id, .received(actor: actor, op: op)), now: now - 20)
      _ = state.apply(
        event(id, .decision(Decision.allow("fine", rule: "preset:standard"))), now: now - 20)
    }
    func finish(
      _ id: String, _ kind: Op.Kind, _ status: OperationResult.Status, ms: Int,
      _ change: (inout OperationResult) -> Void = { _ in }
    ) {
      var result = result(id, kind, status, ms: ms)
      change(&result)
      let payload: Event.Payload =
        switch status {
        case .completed: .completed(result: result)
        case .failed: .failed(result: result)
        case .denied: .denied(result: result)
        }
      _ = state.apply(event(id, payload), now: now - 10)
    }
    run("op_msg", .message(text: "Hi! I'll build a greeting tool 👋"))
    _ = state.apply(event("op_msg", .message(text: "Hi! I'll build a greeting tool 👋")), now: now - 20)
    finish("op_msg", .message, .completed, ms: 0)
    run("op_create", .createFile(path: "greet.sh", content: greet, encoding: .utf8))
    finish("op_create", .createFile, .completed, ms: 2)
    run("op_build", .shell(command: "sh build.sh", timeoutMs: nil))
    _ = state.apply(event("op_build", .started), now: now - 19)
    for (stream, data): (Event.Stream, String) in [
      (.stdout, "building greet…\n  [lint] ok\n  [te"), (.stdout, "st] ok\n"), (.stderr, "warning: no license\n"),
      (.stdout, "Hello, 世界! 👋\n\u{1B}[31mred\u{1B}[0m done\n"),
    ] {
      _ = state.apply(
        event("op_build", .output(stream: stream, data: data)), now: now - 19)
    }
    finish("op_build", .shell, .completed, ms: 1234) { $0.exitCode = 0 }
    run("op_test", .shell(command: "sh test.sh", timeoutMs: nil))
    _ = state.apply(event("op_test", .started), now: now - 12)
    _ = state.apply(
      event("op_test", .output(stream: .stderr, data: "1 test failed\n")), now: now - 12)
    finish("op_test", .shell, .failed, ms: 80) { $0.exitCode = 1 }
    run("op_rm", .shell(command: "rm -rf /", timeoutMs: nil))
    finish("op_rm", .shell, .denied, ms: 1) {
      $0.reason = "deletes everything"
      $0.decidedBy = .policy
    }
    run("op_edit", .editFile(path: "README.md", oldText: "a", newText: "b"), actor: .person)
    finish("op_edit", .editFile, .completed, ms: 3)
    run("op_watch", .shell(command: "sh watch.sh --long-running", timeoutMs: 60_000))
    _ = state.apply(event("op_watch", .started), now: now - 3.5)
    _ = state.apply(
      event("op_watch", .output(stream: .stdout, data: "watching…\n")), now: now - 3)
    return state
  }

  static let shellRequest = request(
    "op_ask", .shell(command: "./dist/greet Ada Grace 世界", timeoutMs: nil),
    reasons: ["`./dist/greet` is not on the standard policy's list of commands"],
    rules: [
      PolicyRule(
        name: "allow ./dist/greet", kinds: [.shell], command: ["./dist/greet"], decision: .allow,
        reason: "approved in the workbench")
    ])

  static let editRequest = request(
    "op_ask_edit", .editFile(path: "greet.sh", oldText: "Hello, $name!", newText: "Hello, $name! 👋"),
    reasons: ["editing a shell script asks"],
    rules: [PolicyRule(name: "edit greet.sh", kinds: [.editFile], paths: ["greet.sh"], decision: .allow, reason: "ok")])

  /// The session with approval requests waiting (the first shown since `shownAt`).
  static func prompting(_ requests: [ApprovalRequest], now: Double = 100, shownAt: Double = 90) -> WorkbenchState {
    var state = state(now: now)
    for request in requests {
      _ = state.apply(event(request.id, .received(actor: .agent, op: request.op)), now: shownAt)
      _ = state.apply(event(request.id, .approvalRequested(request.decision)), now: shownAt)
      state.promptDetails[request.id] = PromptDetail.make(for: request.op, current: greet)
    }
    _ = state.setApprovals(
      requests + [request("op_elsewhere", .shell(command: "make", timeoutMs: nil), reasons: ["?"], space: "other")],
      now: shownAt)
    return state
  }
}

/// Compares text with a stored snapshot under `__Snapshots__`; `SNAPSHOT_RECORD=1` (or a
/// missing file) records it instead.
func assertSnapshot(_ text: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
  let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("__Snapshots__")
  let file = folder.appendingPathComponent(name + ".txt")
  let record = ProcessInfo.processInfo.environment["SNAPSHOT_RECORD"] == "1"
  let stored = try? String(contentsOf: file, encoding: .utf8)
  if record || stored == nil {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try? (text + "\n").write(to: file, atomically: true, encoding: .utf8)
    return
  }
  if stored != text + "\n" {
    let actual = folder.appendingPathComponent(name + ".actual.txt")
    try? (text + "\n").write(to: actual, atomically: true, encoding: .utf8)
    Issue.record(
      "snapshot \(name) differs; see \(actual.path) (SNAPSHOT_RECORD=1 re-records)\n\(text)",
      sourceLocation: sourceLocation)
  }
}
