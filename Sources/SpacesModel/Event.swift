import Foundation

/// Something the runtime reports: every event a space's journal holds and subscribers see.
///
/// Every event carries the space, the operation id, a per-space sequence number that only
/// grows, and a timestamp; the other fields depend on `type`.
public struct Event: Codable, Sendable, Equatable {
  /// What happened.
  public enum Kind: String, Codable, Sendable, CaseIterable {
    /// An operation arrived (`op`, `actor`, and `reason` when the agent gave one: its own words,
    /// see ``StatedReason``).
    case received
    /// The policy judged it (`decision`).
    case decision
    /// It waits for a person (`decision` carries the policy's reasons).
    case approvalRequested
    /// A person (or the timeout) answered (`resolution`, `reason`, `decidedBy`).
    case approvalResolved
    /// A person gave the request more time (`actor`, the new `deadline`, `seconds` added, and
    /// `reason` saying so).
    case approvalExtended
    /// It may run but waits for a place: the space or its connection already runs as many
    /// commands as allowed (`reason` says which).
    case queued
    /// It began to run.
    case started
    /// A chunk of shell output (`stream`, `data`).
    case output
    /// It ended well (`result`).
    case completed
    /// It ended with an error (`result` with `error`).
    case failed
    /// It was denied (`result` with `reason`, `decidedBy`).
    case denied
    /// The agent's message to the person (`text`).
    case message
    /// A shell command changed protected paths without a person's approval and the runtime put
    /// them back (`restored`, `reason`); recorded before the command's `completed` or `failed`.
    case protectedRestored
    /// A person undid an operation, or restored the workspace to before one (`undo`, `changes`,
    /// `actor`); its own change record can be undone in turn.
    case undone
  }

  /// Who sent an operation.
  public enum Actor: String, Codable, Sendable, CaseIterable {
    /// The agent working in the space.
    case agent
    /// The person supervising it (edits from the workbench or a supervisor client).
    case person
  }

  /// The per-space sequence number; starts at 1 and only grows.
  public var seq: Int
  /// When the event happened (ISO 8601, UTC, milliseconds).
  public var time: String
  /// The space's name.
  public var space: String
  /// The operation the event belongs to.
  public var opId: String
  /// What happened.
  public var type: Kind

  public var actor: Actor?
  public var op: Op?
  public var decision: Decision?
  public var resolution: String?
  /// Why: the agent's stated reason on `received`; the runtime's words on the other types.
  public var reason: String?
  public var decidedBy: OperationResult.DecidedBy?
  public var stream: String?
  public var data: String?
  public var text: String?
  public var result: OperationResult?
  /// `protectedRestored`: each protected path the command changed and what was done.
  public var restored: [ProtectedChange]?
  /// `approvalExtended`: the request's new deadline (ISO 8601).
  public var deadline: String?
  /// `approvalExtended`: the seconds this extension added.
  public var seconds: Int?
  /// `completed`, `failed` (of an operation that changed the workspace) and `undone`: the
  /// operation's change record (named by `record`, the operation id) and what it changed.
  public var changes: ChangeSummary?
  /// `undone`: what was taken back.
  public var undo: UndoOutcome?

  /// Creates an event that has not been sequenced yet (the journal assigns `seq`).
  public init(space: String, opId: String, type: Kind, time: Date = Date()) {
    self.seq = 0
    self.time = Event.timestamp(time)
    self.space = space
    self.opId = opId
    self.type = type
  }

  /// Formats a date the way events carry it: ISO 8601 in UTC with milliseconds,
  /// `2026-01-31T09:05:07.042Z` (written by hand: every event carries one, and a format style
  /// costs more than the rest of a small event's encoding).
  public static func timestamp(_ date: Date) -> String {
    // As Foundation's ISO 8601 style does: whole seconds, then the fraction truncated to ms.
    let interval = date.timeIntervalSince1970
    let seconds = interval.rounded(.down)
    let millis = min(999, Int((interval - seconds) * 1000))
    var time = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else {
      return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(24)
    func digits(_ value: Int, _ count: Int) {
      var divisor = 1
      for _ in 1..<count { divisor *= 10 }
      var value = value
      for _ in 0..<count {
        bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
        value %= divisor
        divisor /= 10
      }
    }
    digits(Int(parts.tm_year) + 1900, 4)
    bytes.append(UInt8(ascii: "-"))
    digits(Int(parts.tm_mon) + 1, 2)
    bytes.append(UInt8(ascii: "-"))
    digits(Int(parts.tm_mday), 2)
    bytes.append(UInt8(ascii: "T"))
    digits(Int(parts.tm_hour), 2)
    bytes.append(UInt8(ascii: ":"))
    digits(Int(parts.tm_min), 2)
    bytes.append(UInt8(ascii: ":"))
    digits(Int(parts.tm_sec), 2)
    bytes.append(UInt8(ascii: "."))
    digits(Int(millis), 3)
    bytes.append(UInt8(ascii: "Z"))
    return String(decoding: bytes, as: UTF8.self)
  }
}
