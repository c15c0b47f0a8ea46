import Foundation
import SpacesModel

/// A space's approval requests, first in, first out.
///
/// ``wait(for:timeout:)`` suspends an operation until ``resolve(_:with:)`` is called for it or
/// its deadline passes; ``extend(_:by:)`` moves the deadline (by an hour at most over the
/// request's life). The first resolution wins; a second one, or one after the deadline, gets a
/// clear error.
public final class ApprovalQueue: Sendable {
  /// The most a request's deadline can be moved in all, by every extension together (an hour).
  public static let maxExtensionSeconds = ApprovalExtension.maxSeconds

  private struct Waiter {
    var request: ApprovalRequest
    var continuation: CheckedContinuation<ApprovalResolution, Never>
    /// The time the request was given first.
    var timeout: Duration
    /// When it times out; only ever moved later, and only by `extend`.
    var deadline: ContinuousClock.Instant
    /// Seconds added by extensions so far.
    var added = 0
    /// Which timer may time it out: an extension starts a new one and the old one, should it
    /// fire, finds the generation changed and does nothing.
    var generation = 0
    var timer: Task<Void, Never>?
  }

  private struct State {
    var waiting: [String: Waiter] = [:]
    var order: [String] = []
    var finished: [String: String] = [:]
  }

  private let state = LockedValue(State())

  /// Creates an empty queue.
  public init() {}

  /// The requests waiting now, oldest first (each with its current deadline).
  public var pending: [ApprovalRequest] {
    state.withValue { state in state.order.compactMap { state.waiting[$0]?.request } }
  }

  /// Waits for a person's answer to `request`, or returns ``ApprovalResolution/timedOut``
  /// when its deadline passes: `timeout` from now, moved by each ``extend(_:by:)``.
  ///
  /// Cancelling the waiting task ends the wait at once with ``ApprovalResolution/cancelled``
  /// and takes the request out of the queue.
  public func wait(for request: ApprovalRequest, timeout: Duration) async -> ApprovalResolution {
    let id = request.id
    return await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        state.withValue { state in
          var waiter = Waiter(
            request: request, continuation: continuation, timeout: timeout, deadline: .now + timeout)
          // Started only now, so even a zero timeout finds the request registered.
          arm(&waiter, id: id)
          state.waiting[id] = waiter
          state.order.append(id)
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

  /// Starts the timer for the waiter's current deadline and generation (stopping the last one).
  private func arm(_ waiter: inout Waiter, id: String) {
    waiter.timer?.cancel()
    let (deadline, generation) = (waiter.deadline, waiter.generation)
    let total = waiter.timeout + .seconds(waiter.added)
    waiter.timer = Task {
      guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
      self.finish(
        id, with: .timedOut, note: "it timed out after \(total) without a decision", generation: generation)
    }
  }

  /// Moves the deadline of the request with `id` later by `seconds` (1 to
  /// ``maxExtensionSeconds``), or by the time it was given first when `nil`.
  ///
  /// Over a request's life its deadline moves by ``maxExtensionSeconds`` at most: an extension
  /// that would pass that adds what is left (the answer says how much), and one when nothing is
  /// left is refused with `limitExceeded`. A request that is no longer waiting is
  /// `approvalClosed` (or `notFound` when it never was).
  public func extend(_ id: String, by seconds: Int? = nil) throws(SpacesError) -> ApprovalExtension {
    if let seconds, !(1...Self.maxExtensionSeconds).contains(seconds) {
      throw SpacesError(
        .invalidRequest,
        "\"seconds\" must be a whole number from 1 to \(Self.maxExtensionSeconds) (an hour), not \(seconds)")
    }
    let outcome = state.withValue { state -> Result<ApprovalExtension, SpacesError> in
      guard var waiter = state.waiting[id] else {
        if let why = state.finished[id] {
          return .failure(SpacesError(.approvalClosed, "the request \(id) can't be given more time: \(why)"))
        }
        return .failure(SpacesError(.notFound, "no approval request \(id) is waiting; see the pending list"))
      }
      let room = Self.maxExtensionSeconds - waiter.added
      guard room > 0 else {
        return .failure(
          SpacesError(
            .limitExceeded,
            "the request \(id) has had \(Self.maxExtensionSeconds / 60) minutes more already, "
              + "the most a request can have; answer it"))
      }
      let first = max(1, Int(waiter.timeout.components.seconds))
      let added = min(seconds ?? first, room)
      waiter.added += added
      waiter.deadline = waiter.deadline + .seconds(added)
      waiter.generation += 1
      let left = ContinuousClock.now.duration(to: waiter.deadline)
      let wall = Date().addingTimeInterval(
        Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
      waiter.request.deadline = Event.timestamp(wall)
      arm(&waiter, id: id)
      state.waiting[id] = waiter
      return .success(
        ApprovalExtension(id: id, deadline: waiter.request.deadline, seconds: added, totalSeconds: waiter.added))
    }
    return try outcome.get()
  }

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

  /// Completes a waiting request (when `generation` is given, only if its deadline is still
  /// the one that timer was started for); returns false if it wasn't waiting.
  @discardableResult
  private func finish(
    _ id: String, with resolution: ApprovalResolution, note: String, generation: Int? = nil
  ) -> Bool {
    let waiter = state.withValue { state -> Waiter? in
      guard let waiter = state.waiting[id], generation == nil || generation == waiter.generation else { return nil }
      state.waiting[id] = nil
      state.order.removeAll { $0 == id }
      state.finished[id] = note
      if state.finished.count > 10_000 { state.finished.removeAll() }
      return waiter
    }
    guard let waiter else { return false }
    waiter.timer?.cancel()
    var resolution = resolution
    resolution.extendedSeconds = waiter.added
    waiter.continuation.resume(returning: resolution)
    return true
  }
}
