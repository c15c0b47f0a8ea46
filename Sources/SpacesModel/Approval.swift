import Foundation

/// An operation waiting for a person's decision.
public struct ApprovalRequest: Codable, Sendable, Equatable {
  /// The operation's id (also the request's id).
  public var id: String
  /// The space.
  public var space: String
  /// The operation, exactly as it will run.
  public var op: Op
  /// Why the policy asks.
  public var decision: Decision
  /// When it was asked (ISO 8601).
  public var requested: String
  /// When it will be denied if nobody decides (ISO 8601); a person may move it later
  /// (``ApprovalQueue/extend(_:by:)``).
  public var deadline: String
  /// The rules an `always` answer would save, shown to the person before saving; empty when
  /// the operation can't be covered by a narrow rule (then only once, session or deny).
  public var suggestedRules: [PolicyRule]
  /// A shell command's folder, relative to the workspace, when the shell session is not in its
  /// root (relative paths in the command are from there).
  public var cwd: String? = nil
  /// The agent's own reason for the operation, as it sent it (``StatedReason``); show it only
  /// through ``StatedReason/display(_:)`` and as the agent's words.
  public var reason: String?

  /// Creates the value from its fields.
  package init(
    id: String, space: String, op: Op, decision: Decision, requested: String, deadline: String,
    suggestedRules: [PolicyRule], cwd: String? = nil, reason: String? = nil
  ) {
    self.id = id
    self.space = space
    self.op = op
    self.decision = decision
    self.requested = requested
    self.deadline = deadline
    self.suggestedRules = suggestedRules
    self.cwd = cwd
    self.reason = reason
  }
}

/// How a person answers an approval request.
public enum ApprovalChoice: String, Codable, Sendable, CaseIterable {
  /// Run it this once.
  case once
  /// Allow this command (or file) for this space until the runtime restarts.
  case session
  /// Save a narrow rule to the space's policy file, then run it.
  case always
  /// Don't run it; the feedback goes back to the agent as the reason.
  case deny
}

/// The answer to one approval request.
public struct ApprovalResolution: Sendable, Equatable {
  /// The choice; `nil` means nobody decided: the deadline passed, or the wait was cancelled.
  public var choice: ApprovalChoice?
  /// Feedback for the agent (with `deny`).
  public var feedback: String?
  /// The rules to save (with `always`), possibly edited by the person.
  public var rules: [PolicyRule]
  /// True when the wait ended because the waiting task was cancelled (the agent disconnected
  /// or cancelled its request) before anyone decided; `choice` is then `nil`.
  public var cancelled: Bool
  /// The seconds a person added to the request's deadline before it ended (set by the queue).
  public var extendedSeconds: Int

  /// Creates a resolution.
  public init(choice: ApprovalChoice?, feedback: String? = nil, rules: [PolicyRule] = []) {
    self.choice = choice
    self.feedback = feedback
    self.rules = rules
    self.cancelled = false
    self.extendedSeconds = 0
  }

  /// Nobody decided in time.
  public static let timedOut = ApprovalResolution(choice: nil)

  /// The waiting operation was cancelled before anyone decided.
  public static let cancelled: ApprovalResolution = {
    var resolution = ApprovalResolution(choice: nil)
    resolution.cancelled = true
    return resolution
  }()
}

/// How `approval.extend` moved a request's deadline.
public struct ApprovalExtension: Codable, Sendable, Equatable {
  /// The approval request (operation) id.
  public var id: String
  /// The request's new deadline (ISO 8601).
  public var deadline: String
  /// The seconds this extension added (less than asked when it reached the bound,
  /// ``ApprovalQueue/maxExtensionSeconds`` over the request's life).
  public var seconds: Int
  /// The seconds added to the request's first deadline so far, this extension included.
  public var totalSeconds: Int

  /// The most a request's deadline can be moved in all, by every extension together (an hour).
  public static let maxSeconds = 3600

  /// Creates the description of an extension.
  public init(id: String, deadline: String, seconds: Int, totalSeconds: Int) {
    self.id = id
    self.deadline = deadline
    self.seconds = seconds
    self.totalSeconds = totalSeconds
  }
}
