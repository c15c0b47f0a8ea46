import SpacesModel

/// One operation as the queue shows it.
public struct OperationRecord: Equatable, Sendable {
  /// Where an operation is in its life.
  public enum State: String, Sendable {
    case queued, awaitingApproval, running, completed, failed, denied

    /// Whether it has ended.
    public var finished: Bool { self == .completed || self == .failed || self == .denied }
  }

  /// The operation id.
  public var id: String
  /// The space.
  public var space: String
  /// The operation, when the `received` event was seen.
  public var op: Op?
  /// Who sent it.
  public var actor: Event.Actor = .agent
  /// Its state.
  public var state: State = .queued
  /// When it arrived (workbench clock, seconds).
  public var receivedAt: Double
  /// When it started running (workbench clock, seconds).
  public var startedAt: Double?
  /// How long it took (when finished).
  public var durationMs: Int?
  /// The shell exit code.
  public var exitCode: Int32?
  /// The signal that ended the shell command.
  public var signal: Int32?
  /// The error (failed).
  public var error: String?
  /// Why it was denied, or what the approval said.
  public var reason: String?
  /// The agent's own reason for it, as sent (``StatedReason``; shown as the agent's words).
  public var agentReason: String?
  /// How much more time a person gave its approval request (seconds, in all).
  public var extendedSeconds = 0
  /// Why it waits to start (the space or its connection runs as many commands as allowed).
  public var queuedBecause: String?
  /// Who decided a denial.
  public var decidedBy: String?
  /// The policy's verdict and reasons.
  public var policy: Decision?
  /// The approval's answer (`once`, `session`, `always`, `deny`, `timeout`).
  public var resolution: String?
  /// The protected paths the command changed without approval, which the runtime put back.
  public var restored: [ProtectedChange] = []
  /// When it was answered or denied (the journal's time, ISO 8601).
  public var decidedAt: String?
  /// What it changed in the workspace (its change record's summary), when it changed anything.
  public var changes: ChangeSummary?
  /// For an undo or restore by the person: what was taken back.
  public var undo: UndoOutcome?
  /// The output lines kept for the details view (bounded).
  public var output: [LogLine] = []
  /// Output lines dropped from the front of `output`.
  public var droppedOutput = 0

  /// Whether a shell command ran to its end with a non-zero exit code (the operation completed,
  /// the command failed): shown as a failure.
  public var exitedNonZero: Bool { state == .completed && (exitCode ?? 0) != 0 }

  /// One line for the queue.
  public var summary: String {
    if let undo {
      return undo.action == "restore" ? "restore to before \(undo.target)" : "undo \(undo.target)"
    }
    guard let op else { return id }
    switch op {
    case .shell(let command, _, _): return "$ " + EventText.sanitize(command).replacingOccurrences(of: "\n", with: " ")
    case .createFile(let path, _, _): return "create " + EventText.sanitize(path)
    case .editFile(let path, _, _): return "edit " + EventText.sanitize(path)
    case .readFile(let path): return "read " + EventText.sanitize(path)
    case .deleteFile(let path, _): return "delete " + EventText.sanitize(path)
    case .message(let text): return "message: " + EventText.sanitize(text).replacingOccurrences(of: "\n", with: " ")
    }
  }
}

/// One line of the shell log.
public struct LogLine: Equatable, Sendable {
  /// What the line is.
  public enum Kind: Sendable { case stdout, stderr, header, footer, message, notice }
  /// The kind.
  public var kind: Kind
  /// The operation it belongs to ("" for notices).
  public var opId: String
  /// The text (sanitized, tabs expanded).
  public var text: String
  /// Whether more output may still join this line (no newline yet).
  public var open = false
  /// How the operation ended (footers only): the footer's look, carried as data rather than
  /// read back from its text.
  public var ending: Ending?

  /// How an operation ended, as its footer shows it.
  public enum Ending: Sendable {
    /// Succeeded, and no protected path was put back.
    case ok
    /// Failed, exited non-zero, or had protected paths put back.
    case failed
    /// Denied, by the policy or a person.
    case denied
  }

  /// Creates a line.
  public init(kind: Kind, opId: String, text: String, open: Bool = false, ending: Ending? = nil) {
    self.kind = kind
    self.opId = opId
    self.text = text
    self.open = open
    self.ending = ending
  }
}

/// A bounded list of log lines: the oldest are dropped past `capacity`.
public struct LogBuffer: Sendable {
  /// The most lines kept.
  public let capacity: Int
  private var storage: [LogLine] = []
  private var start = 0
  /// Lines dropped since the start.
  public private(set) var dropped = 0

  /// Creates an empty buffer.
  public init(capacity: Int) { self.capacity = max(1, capacity) }

  /// The number of lines held.
  public var count: Int { storage.count }

  /// The line at `index` (0 is the oldest held).
  public subscript(index: Int) -> LogLine {
    get { storage[(start + index) % storage.count] }
    set { storage[(start + index) % storage.count] = newValue }
  }

  /// The newest line.
  public var last: LogLine? { storage.isEmpty ? nil : self[count - 1] }

  /// Adds a line, dropping the oldest when full.
  public mutating func append(_ line: LogLine) {
    if storage.count < capacity {
      storage.append(line)
    } else {
      storage[start] = line
      start = (start + 1) % capacity
      dropped += 1
    }
  }

  /// Replaces the newest line.
  public mutating func replaceLast(_ line: LogLine) {
    guard !storage.isEmpty else { return }
    self[count - 1] = line
  }
}

/// Splits streamed output into lines, joining a chunk to the line the last chunk left open.
enum OutputLines {
  /// Sanitizes a chunk and expands tabs; keeps newlines.
  static func clean(_ chunk: String) -> String {
    var text = chunk.replacingOccurrences(of: "\r\n", with: "\n")
    if text.contains("\t") { text = text.replacingOccurrences(of: "\t", with: "    ") }
    return EventText.sanitize(text).replacingOccurrences(of: "^M", with: "")
  }
}
