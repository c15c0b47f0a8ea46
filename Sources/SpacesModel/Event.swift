import Foundation

/// Something the runtime reports: every event a space's journal holds and subscribers see.
///
/// Every event carries the space, the operation id, a per-space sequence number that only
/// grows, and a timestamp; ``payload`` holds the fields of its `type`.
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

  /// Which stream of a command an `output` chunk came from.
  public typealias Stream = OutputStreamKind

  /// How an approval request was answered: a person's choice, or none (`timeout`,
  /// `cancelled`).
  public enum Resolution: String, Codable, Sendable, CaseIterable {
    /// Run it this once.
    case once
    /// Allowed for the space until the runtime restarts.
    case session
    /// A rule was saved to the policy.
    case always
    /// A person denied it.
    case deny
    /// Nobody answered in time.
    case timeout
    /// The agent went away or cancelled it before anyone answered.
    case cancelled

    /// The resolution of a person's choice.
    public init(_ choice: ApprovalChoice) {
      switch choice {
      case .once: self = .once
      case .session: self = .session
      case .always: self = .always
      case .deny: self = .deny
      }
    }
  }

  /// What an event of each kind carries beyond the common fields: exactly the fields the wire
  /// schema (`schema/protocol.schema.json`, `Event`'s `oneOf`) gives that kind.
  public enum Payload: Sendable, Equatable {
    /// An operation arrived; `reason` is the agent's own words (see ``StatedReason``).
    case received(actor: Actor, op: Op, reason: String? = nil)
    /// The policy judged it.
    case decision(Decision)
    /// It waits for a person; the decision carries the policy's reasons.
    case approvalRequested(Decision)
    /// A person (or the timeout) answered; `decidedBy` is nil when the request was cancelled.
    case approvalResolved(resolution: Resolution, decidedBy: OperationResult.DecidedBy? = nil, reason: String? = nil)
    /// A person gave the request `seconds` more, until `deadline` (ISO 8601).
    case approvalExtended(actor: Actor, deadline: String, seconds: Int, reason: String? = nil)
    /// It waits for a place; `reason` says which.
    case queued(reason: String)
    /// It began to run.
    case started
    /// A chunk of shell output.
    case output(stream: Stream, data: String)
    /// It ended well; `changes` names the change record of an operation that changed the workspace.
    case completed(result: OperationResult, changes: ChangeSummary? = nil)
    /// It ended with an error (`result.error`); `actor` is set when the runtime closes a command
    /// it was killed during (the command's sender).
    case failed(result: OperationResult, changes: ChangeSummary? = nil, actor: Actor? = nil)
    /// It was denied (`result.reason`, `result.decidedBy`).
    case denied(result: OperationResult)
    /// The agent's message to the person.
    case message(text: String)
    /// A shell command changed protected paths and the runtime put them back.
    case protectedRestored(restored: [ProtectedChange], reason: String)
    /// A person undid an operation (or restored to before one); `changes` is its own record.
    case undone(actor: Actor, undo: UndoOutcome, changes: ChangeSummary)

    /// The kind of event this payload belongs to.
    public var kind: Kind {
      switch self {
      case .received: .received
      case .decision: .decision
      case .approvalRequested: .approvalRequested
      case .approvalResolved: .approvalResolved
      case .approvalExtended: .approvalExtended
      case .queued: .queued
      case .started: .started
      case .output: .output
      case .completed: .completed
      case .failed: .failed
      case .denied: .denied
      case .message: .message
      case .protectedRestored: .protectedRestored
      case .undone: .undone
      }
    }
  }

  /// The per-space sequence number; starts at 1 and only grows.
  public var seq: Int { didSet { written.bytes = nil } }
  /// When the event happened (ISO 8601, UTC, milliseconds).
  public var time: String { didSet { written.bytes = nil } }
  /// The space's name.
  public var space: String { didSet { written.bytes = nil } }
  /// The operation the event belongs to.
  public var opId: String { didSet { written.bytes = nil } }
  /// What happened, with the fields of its kind.
  public var payload: Payload { didSet { written.bytes = nil } }
  /// The event's JSON as the journal wrote it, so the wire sends those bytes instead of
  /// encoding the event again (output is encoded once); any change to the event drops it.
  package var written = WrittenJSON()

  /// What happened.
  public var type: Kind { payload.kind }

  /// Creates an event that has not been sequenced yet (the journal assigns `seq`).
  public init(space: String, opId: String, _ payload: Payload, time: Date = Date()) {
    self.seq = 0
    self.time = Event.timestamp(time)
    self.space = space
    self.opId = opId
    self.payload = payload
  }

  /// The operation's result, on the events that end it (`completed`, `failed`, `denied`).
  public var result: OperationResult? {
    switch payload {
    case .completed(let result, _), .failed(let result, _, _), .denied(let result): result
    default: nil
    }
  }

  /// The change record the event names: on `completed` and `failed` of an operation that
  /// changed the workspace, and on `undone` (the undo's own).
  public var changes: ChangeSummary? {
    switch payload {
    case .completed(_, let changes), .failed(_, let changes, _): changes
    case .undone(_, _, let changes): changes
    default: nil
    }
  }

  /// The chunk an `output` event carries.
  public var output: (stream: Stream, data: String)? {
    if case .output(let stream, let data) = payload { (stream, data) } else { nil }
  }

  /// The event with its result replaced (an event that carries none is returned as it is).
  public func replacingResult(_ result: OperationResult) -> Event {
    var copy = self
    switch payload {
    case .completed(_, let changes): copy.payload = .completed(result: result, changes: changes)
    case .failed(_, let changes, let actor): copy.payload = .failed(result: result, changes: changes, actor: actor)
    case .denied: copy.payload = .denied(result: result)
    default: break
    }
    return copy
  }

  private enum CodingKeys: String, CodingKey {
    case seq, time, space, opId, type, actor, op, decision, resolution, reason, decidedBy, stream, data, text, result
    case restored, deadline, seconds, changes, undo
  }

  /// Reads an event: the common fields, then the fields its `type` has (required ones must be
  /// there; fields another kind has are ignored).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    seq = try c.decode(Int.self, forKey: .seq)
    time = try c.decode(String.self, forKey: .time)
    space = try c.decode(String.self, forKey: .space)
    opId = try c.decode(String.self, forKey: .opId)
    switch try c.decode(Kind.self, forKey: .type) {
    case .received:
      payload = .received(
        actor: try c.decode(Actor.self, forKey: .actor), op: try c.decode(Op.self, forKey: .op),
        reason: try c.decodeIfPresent(String.self, forKey: .reason))
    case .decision: payload = .decision(try c.decode(Decision.self, forKey: .decision))
    case .approvalRequested: payload = .approvalRequested(try c.decode(Decision.self, forKey: .decision))
    case .approvalResolved:
      payload = .approvalResolved(
        resolution: try c.decode(Resolution.self, forKey: .resolution),
        decidedBy: try c.decodeIfPresent(OperationResult.DecidedBy.self, forKey: .decidedBy),
        reason: try c.decodeIfPresent(String.self, forKey: .reason))
    case .approvalExtended:
      payload = .approvalExtended(
        actor: try c.decode(Actor.self, forKey: .actor), deadline: try c.decode(String.self, forKey: .deadline),
        seconds: try c.decode(Int.self, forKey: .seconds), reason: try c.decodeIfPresent(String.self, forKey: .reason))
    case .queued: payload = .queued(reason: try c.decode(String.self, forKey: .reason))
    case .started: payload = .started
    case .output:
      payload = .output(
        stream: try c.decode(Stream.self, forKey: .stream), data: try c.decode(String.self, forKey: .data))
    case .completed:
      payload = .completed(
        result: try c.decode(OperationResult.self, forKey: .result),
        changes: try c.decodeIfPresent(ChangeSummary.self, forKey: .changes))
    case .failed:
      payload = .failed(
        result: try c.decode(OperationResult.self, forKey: .result),
        changes: try c.decodeIfPresent(ChangeSummary.self, forKey: .changes),
        actor: try c.decodeIfPresent(Actor.self, forKey: .actor))
    case .denied: payload = .denied(result: try c.decode(OperationResult.self, forKey: .result))
    case .message: payload = .message(text: try c.decode(String.self, forKey: .text))
    case .protectedRestored:
      payload = .protectedRestored(
        restored: try c.decode([ProtectedChange].self, forKey: .restored),
        reason: try c.decode(String.self, forKey: .reason))
    case .undone:
      payload = .undone(
        actor: try c.decode(Actor.self, forKey: .actor), undo: try c.decode(UndoOutcome.self, forKey: .undo),
        changes: try c.decode(ChangeSummary.self, forKey: .changes))
    }
  }

  /// Writes the common fields and the fields of the event's kind (absent optionals are left out).
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(seq, forKey: .seq)
    try c.encode(time, forKey: .time)
    try c.encode(space, forKey: .space)
    try c.encode(opId, forKey: .opId)
    try c.encode(type, forKey: .type)
    switch payload {
    case .received(let actor, let op, let reason):
      try c.encode(actor, forKey: .actor)
      try c.encode(op, forKey: .op)
      try c.encodeIfPresent(reason, forKey: .reason)
    case .decision(let decision), .approvalRequested(let decision):
      try c.encode(decision, forKey: .decision)
    case .approvalResolved(let resolution, let decidedBy, let reason):
      try c.encode(resolution, forKey: .resolution)
      try c.encodeIfPresent(decidedBy, forKey: .decidedBy)
      try c.encodeIfPresent(reason, forKey: .reason)
    case .approvalExtended(let actor, let deadline, let seconds, let reason):
      try c.encode(actor, forKey: .actor)
      try c.encode(deadline, forKey: .deadline)
      try c.encode(seconds, forKey: .seconds)
      try c.encodeIfPresent(reason, forKey: .reason)
    case .queued(let reason):
      try c.encode(reason, forKey: .reason)
    case .started:
      break
    case .output(let stream, let data):
      try c.encode(stream, forKey: .stream)
      try c.encode(data, forKey: .data)
    case .completed(let result, let changes):
      try c.encode(result, forKey: .result)
      try c.encodeIfPresent(changes, forKey: .changes)
    case .failed(let result, let changes, let actor):
      try c.encode(result, forKey: .result)
      try c.encodeIfPresent(changes, forKey: .changes)
      try c.encodeIfPresent(actor, forKey: .actor)
    case .denied(let result):
      try c.encode(result, forKey: .result)
    case .message(let text):
      try c.encode(text, forKey: .text)
    case .protectedRestored(let restored, let reason):
      try c.encode(restored, forKey: .restored)
      try c.encode(reason, forKey: .reason)
    case .undone(let actor, let undo, let changes):
      try c.encode(actor, forKey: .actor)
      try c.encode(undo, forKey: .undo)
      try c.encode(changes, forKey: .changes)
    }
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

/// JSON bytes kept beside the value they encode. Not part of that value: any two are equal.
package struct WrittenJSON: Sendable, Equatable {
  /// The bytes, when they are kept.
  package var bytes: ArraySlice<UInt8>?

  package init(_ bytes: ArraySlice<UInt8>? = nil) { self.bytes = bytes }

  package static func == (_: WrittenJSON, _: WrittenJSON) -> Bool { true }
}
