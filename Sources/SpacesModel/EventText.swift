/// Renders events as one line of text for a person (used by `spaces log`).
public enum EventText {
  /// One readable line for an event, without a trailing newline.
  public static func line(_ event: Event) -> String {
    let time = event.time.split(separator: "T").last.map { String($0.dropLast()) } ?? event.time
    let head = "#\(event.seq) \(time) \(event.opId)"
    return "\(head) \(body(event))"
  }

  /// The part of the line after the sequence number, time and operation id.
  public static func body(_ event: Event) -> String {
    switch event.payload {
    case .received(let actor, let op, let reason):
      let said = reason.map { " — agent says: \"" + StatedReason.display($0) + "\"" } ?? ""
      return "received by \(actor.rawValue): " + summary(op) + said
    case .decision(let decision):
      return "policy: \(decision.decision.rawValue) (\(decision.rules.joined(separator: ", ")))"
    case .approvalRequested(let decision):
      return "waiting for approval: " + decision.reasons.joined(separator: "; ")
    case .approvalResolved(let resolution, let decidedBy, let reason):
      let reason = reason.map { ": \($0)" } ?? ""
      if decidedBy == .timeout { return "approval: no decision\(reason)" }
      return "approval: \(resolution.rawValue) by \(decidedBy?.rawValue ?? "?")\(reason)"
    case .approvalExtended(_, let deadline, _, let reason):
      return "approval: more time, deadline now \(deadline)" + (reason.map { ": \($0)" } ?? "")
    case .queued(let reason):
      return "queued: \(reason)"
    case .started:
      return "started"
    case .output(let stream, let data):
      let trimmed = data.hasSuffix("\n") ? String(data.dropLast()) : data
      let prefix = stream == .stderr ? "stderr| " : "stdout| "
      return prefix + sanitize(trimmed).replacingOccurrences(of: "\n", with: "\n" + prefix)
    case .completed(let result, let changes):
      return "completed" + outcome(result) + changed(changes)
    case .failed(let result, let changes, _):
      let error = result.error
      return "failed: \(error?.code ?? "?"): \(error?.message ?? "")" + outcome(result) + changed(changes)
    case .denied(let result):
      return "denied by \(result.decidedBy?.rawValue ?? "?"): \(result.reason ?? "")"
    case .message(let text):
      return "message: " + sanitize(text)
    case .protectedRestored(let restored, _):
      let changes = restored.map { sanitize($0.summary).replacingOccurrences(of: "\n", with: "^J") }
      return "protected paths put back: " + changes.joined(separator: "; ")
    case .undone(_, let undo, _):
      let what = undo.action == "restore" ? "restored to before \(undo.target)" : "undid \(undo.target)"
      return "\(what) by the person: \(undo.changes.text)"
        + (undo.undid.count > 1 ? " (took back \(undo.undid.count) operations)" : "")
        + (undo.recovered == true ? " (finished after a crash)" : "")
    }
  }

  /// ` — 3 changed, 1 added (record op_…)` for an event with a change summary.
  private static func changed(_ changes: ChangeSummary?) -> String {
    guard let changes else { return "" }
    return " — \(changes.text)"
  }

  /// A short description of an operation.
  public static func summary(_ operation: Op) -> String {
    switch operation {
    case .createFile(let path, let content, let encoding):
      let size = encoding == .utf8 ? "\(content.utf8.count) bytes" : "base64"
      return "createFile \(sanitize(path)) (\(size))"
    case .readFile(let path): return "readFile \(sanitize(path))"
    case .editFile(let path, _, _): return "editFile \(sanitize(path))"
    case .deleteFile(let path, let recursive):
      return "deleteFile \(sanitize(path))" + (recursive ? " (recursive)" : "")
    case .shell(let command, _, _): return "shell: " + sanitize(command)
    case .message(let text): return "message: " + sanitize(text)
    }
  }

  private static func outcome(_ result: OperationResult) -> String {
    var parts: [String] = []
    if let code = result.exitCode { parts.append("exit \(code)") }
    if let signal = result.signal { parts.append("signal \(signal)") }
    if result.truncated == true { parts.append("output truncated") }
    parts.append("\(result.durationMs) ms")
    return " (" + parts.joined(separator: ", ") + ")"
  }

  /// `text` in double quotes for an error message: control characters shown as visible text
  /// (newlines and tabs too), and cut after 80 characters.
  public static func quoted(_ text: String) -> String {
    let shown = sanitize(text).replacingOccurrences(of: "\n", with: "^J").replacingOccurrences(of: "\t", with: "^I")
    return "\"" + (shown.count > 80 ? String(shown.prefix(80)) + "…" : shown) + "\""
  }

  /// Replaces control characters (escape sequences among them) with visible placeholders,
  /// keeping newlines and tabs; characters that reorder text become `�`, so a command is shown
  /// in the order it runs.
  public static func sanitize(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      switch scalar.value {
      case 0x0A, 0x09: out.append(scalar)
      case 0x00..<0x20, 0x7F:
        out.append(contentsOf: "^\(Character(Unicode.Scalar(UInt8(scalar.value ^ 0x40))))".unicodeScalars)
      case _ where hidesOrReorders(scalar): out.append("\u{FFFD}")
      default: out.append(scalar)
      }
    }
    return String(out)
  }

  /// Whether `scalar` is a C1 control or changes the order text is shown in (bidirectional
  /// marks, embeddings, overrides and isolates): never shown as itself.
  public static func hidesOrReorders(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x80..<0xA0, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
    default: return false
    }
  }
}
