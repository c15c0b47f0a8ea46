import Foundation
import MCP
import SpacesKit
import SpacesModel

/// The six operations as MCP tools: their schemas, and how a call becomes an operation.
enum SpaceTools {
  static let all: [Tool] = [
    Tool(
      name: "createFile",
      description:
        "Create or replace a file in the workspace (parent folders are created). Paths are relative to the workspace root. Use encoding \"base64\" for binary content.",
      inputSchema: schema(
        [
          "path": string("Path relative to the workspace, e.g. src/app.ts"), "content": string("The whole new content"),
          "encoding": .object([
            "type": "string", "enum": ["utf8", "base64"], "description": "utf8 (default) or base64",
          ]),
        ],
        required: ["path", "content"]),
      annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false)),
    Tool(
      name: "readFile",
      description: "Read a whole file from the workspace. Binary files come back as base64.",
      inputSchema: schema(["path": string("Path relative to the workspace")], required: ["path"]),
      annotations: .init(readOnlyHint: true, openWorldHint: false)),
    Tool(
      name: "editFile",
      description:
        "Replace the one occurrence of oldText in a file with newText. oldText must match exactly once, including whitespace; include surrounding lines to make it unique.",
      inputSchema: schema(
        [
          "path": string("Path relative to the workspace"), "oldText": string("The exact text to replace"),
          "newText": string("The replacement"),
        ],
        required: ["path", "oldText", "newText"]),
      annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false)),
    Tool(
      name: "deleteFile",
      description: "Delete a file. A folder only with recursive: true.",
      inputSchema: schema(
        [
          "path": string("Path relative to the workspace"),
          "recursive": .object(["type": "boolean", "description": "Delete a folder and everything in it"]),
        ],
        required: ["path"]),
      annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false)),
    Tool(
      name: "shell",
      description:
        "Run a shell command (/bin/sh) inside the space's sandbox. Like a terminal, the shell session carries over between calls: a command starts in the folder where the previous one ended (e.g. `cd src` in one call, `npm test` in the next) with the variables it exported; the result's `cwd` is the folder afterwards, relative to the workspace. Returns the exit code, stdout, stderr and cwd. Commands the policy flags wait for a person's approval.",
      inputSchema: schema(
        [
          "command": string("The command line, e.g. `npm test`"),
          "timeoutMs": .object([
            "type": "integer", "minimum": 1, "description": "Time limit in milliseconds (default 120000)",
          ]),
          "fresh": .object([
            "type": "boolean",
            "description":
              "Start in a fresh shell: the workspace root, no variables exported by earlier commands (default false: continue the session)",
          ]),
        ],
        required: ["command"]),
      annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true)),
    Tool(
      name: "message",
      description: "Send a message to the person supervising this workspace.",
      inputSchema: schema(["text": string("The message")], required: ["text"]),
      annotations: .init(readOnlyHint: true, openWorldHint: false)),
  ]

  /// Turns a tool call into an operation and the agent's stated reason, through the same JSON
  /// decoding as every client: `reason` is taken out of the arguments first (it goes beside the
  /// operation, as in `op.submit`; the operation itself has no such field).
  static func operation(name: String, arguments: [String: Value]?) throws(SpacesError) -> (op: Op, reason: String?) {
    var object: [String: Value] = arguments ?? [:]
    var reason: String?
    switch object.removeValue(forKey: "reason") {
    case nil, .null?: reason = nil
    case .string(let text)?: reason = try StatedReason.validate(text)
    case _?: throw SpacesError(.invalidRequest, "\"reason\" must be a string (why you need this)")
    }
    object["kind"] = .string(name)
    return (try Op.parse(SpacesJSON.line(Value.object(object))), reason)
  }

  /// The tool result for an operation's result: denials and failures are tool errors carrying
  /// the reason.
  static func result(_ result: OperationResult) -> CallTool.Result {
    switch result.status {
    case .denied:
      let head =
        switch result.decidedBy {
        case .person: "Denied by the person supervising"
        case .timeout: "Not approved"
        case .policy, nil: "Denied by the space's policy"
        }
      return .init(
        content: [.text(text: "\(head): \(result.reason ?? "")", annotations: nil, _meta: nil)], isError: true)
    case .failed:
      var text = "Failed (\(result.error?.code ?? "error")): \(result.error?.message ?? "")"
      if result.kind == .shell { text += "\n" + shellText(result) }
      return .init(content: [.text(text: text, annotations: nil, _meta: nil)], isError: true)
    case .completed:
      let text: String
      switch result.kind {
      case .readFile: text = result.content ?? ""
      case .shell: text = shellText(result)
      case .createFile, .editFile: text = "ok: wrote \(result.size ?? 0) bytes"
      case .deleteFile: text = "ok: deleted"
      case .message: text = "ok: delivered"
      }
      return .init(content: [.text(text: text, annotations: nil, _meta: nil)], isError: false)
    }
  }

  private static func shellText(_ result: OperationResult) -> String {
    var parts: [String] = []
    if let code = result.exitCode { parts.append("exit code \(code)") }
    if let signal = result.signal { parts.append("killed by signal \(signal)") }
    if result.truncated == true { parts.append("output truncated") }
    var text = parts.joined(separator: ", ")
    if let out = result.stdout, !out.isEmpty { text += "\n--- stdout ---\n" + out }
    if let err = result.stderr, !err.isEmpty { text += "\n--- stderr ---\n" + err }
    return text
  }

  private static func string(_ description: String) -> Value {
    .object(["type": "string", "description": .string(description)])
  }

  /// Every tool's input: its own fields and the optional `reason` (``StatedReason``).
  private static func schema(_ properties: [String: Value], required: [String]) -> Value {
    var properties = properties
    properties["reason"] = .object([
      "type": "string", "maxLength": .int(StatedReason.maxLength), "description": .string(StatedReason.description),
    ])
    return .object([
      "type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
      "additionalProperties": false,
    ])
  }
}
