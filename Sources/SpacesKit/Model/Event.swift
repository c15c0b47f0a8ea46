import Foundation

/// Something the runtime reports: every event a space's journal holds and subscribers see.
///
/// Every event carries the space, the operation id, a per-space sequence number that only
/// grows, and a timestamp; the other fields depend on `type`.
public struct Event: Codable, Sendable, Equatable {
  /// What happened.
  public enum Kind: String, Codable, Sendable {
    /// An operation arrived (`op`, `actor`).
    case received
    /// The policy judged it (`decision`).
    case decision
    /// It waits for a person (`decision` carries the policy's reasons).
    case approvalRequested
    /// A person (or the timeout) answered (`resolution`, `reason`, `decidedBy`).
    case approvalResolved
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
  }

  /// Who sent an operation.
  public enum Actor: String, Codable, Sendable {
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
  public var reason: String?
  public var decidedBy: OperationResult.DecidedBy?
  public var stream: String?
  public var data: String?
  public var text: String?
  public var result: OperationResult?

  /// Creates an event that has not been sequenced yet (the journal assigns `seq`).
  public init(space: String, opId: String, type: Kind, time: Date = Date()) {
    self.seq = 0
    self.time = Event.timestamp(time)
    self.space = space
    self.opId = opId
    self.type = type
  }

  /// Formats a date the way events carry it.
  public static func timestamp(_ date: Date) -> String {
    date.formatted(
      Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
  }
}
