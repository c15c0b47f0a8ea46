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
  /// When it will be denied if nobody decides (ISO 8601).
  public var deadline: String
  /// The rules an `always` answer would save, shown to the person before saving; empty when
  /// the operation can't be covered by a narrow rule (then only once, session or deny).
  public var suggestedRules: [PolicyRule]
  /// A shell command's folder, relative to the workspace, when the shell session is not in its
  /// root (relative paths in the command are from there).
  public var cwd: String? = nil
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

  /// Creates a resolution.
  public init(choice: ApprovalChoice?, feedback: String? = nil, rules: [PolicyRule] = []) {
    self.choice = choice
    self.feedback = feedback
    self.rules = rules
    self.cancelled = false
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

/// A space's approval requests, first in, first out.
///
/// ``wait(for:timeout:)`` suspends an operation until ``resolve(_:with:)`` is called for it or
/// the timeout passes. The first resolution wins; a second one, or one after the timeout, gets
/// a clear error.
public final class ApprovalQueue: Sendable {
  private struct Waiter {
    var request: ApprovalRequest
    var continuation: CheckedContinuation<ApprovalResolution, Never>
  }

  private struct State {
    var waiting: [String: Waiter] = [:]
    var order: [String] = []
    var finished: [String: String] = [:]
  }

  private let state = LockedValue(State())

  /// Creates an empty queue.
  public init() {}

  /// The requests waiting now, oldest first.
  public var pending: [ApprovalRequest] {
    state.withValue { state in state.order.compactMap { state.waiting[$0]?.request } }
  }

  /// Waits for a person's answer to `request`, or returns ``ApprovalResolution/timedOut``
  /// after `timeout`.
  ///
  /// Cancelling the waiting task ends the wait at once with ``ApprovalResolution/cancelled``
  /// and takes the request out of the queue.
  public func wait(for request: ApprovalRequest, timeout: Duration) async -> ApprovalResolution {
    let id = request.id
    let timer = LockedValue<Task<Void, Never>?>(nil)
    defer { timer.withValue { $0?.cancel() } }
    return await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        state.withValue { state in
          state.waiting[id] = Waiter(request: request, continuation: continuation)
          state.order.append(id)
        }
        // Started only now, so even a zero timeout finds the request registered.
        timer.withValue {
          $0 = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self.finish(id, with: .timedOut, note: "it timed out after \(timeout) without a decision")
          }
        }
        if Task.isCancelled {
          finish(id, with: .cancelled, note: Self.cancelledNote)
        }
      }
    } onCancel: {
      finish(id, with: .cancelled, note: Self.cancelledNote)
    }
  }

  private static let cancelledNote =
    "the operation was cancelled before anyone decided (its agent disconnected or cancelled the request)"

  /// Answers the request with `id`.
  public func resolve(_ id: String, with resolution: ApprovalResolution) throws(SpacesError) {
    guard let choice = resolution.choice else {
      throw SpacesError(.invalidRequest, "a resolution needs a choice: once, session, always or deny")
    }
    if !finish(id, with: resolution, note: "it was already resolved (\(choice.rawValue))") {
      let why = state.withValue { $0.finished[id] }
      if let why {
        throw SpacesError(.approvalClosed, "the request \(id) can't be resolved: \(why)")
      }
      throw SpacesError(.notFound, "no approval request \(id) is waiting; see the pending list")
    }
  }

  /// Completes a waiting request; returns false if it wasn't waiting.
  @discardableResult
  private func finish(_ id: String, with resolution: ApprovalResolution, note: String) -> Bool {
    let waiter = state.withValue { state -> Waiter? in
      guard let waiter = state.waiting.removeValue(forKey: id) else { return nil }
      state.order.removeAll { $0 == id }
      state.finished[id] = note
      if state.finished.count > 10_000 { state.finished.removeAll() }
      return waiter
    }
    waiter?.continuation.resume(returning: resolution)
    return waiter != nil
  }
}
