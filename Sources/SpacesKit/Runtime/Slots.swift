import SpacesModel

/// A fixed number of places for running operations; operations beyond them wait in line.
///
/// Used per space and per connection so that no agent can keep another space's operations
/// from starting: the runtime admits an operation only when it has a place in both. Waiters are
/// served first come, first served; a waiting task that is cancelled leaves the line at once.
public final class Slots: Sendable {
  private struct Waiter {
    var id: Int
    var continuation: CheckedContinuation<Bool, Never>
  }
  private struct State {
    var free: Int
    var waiters: [Waiter] = []
    var head = 0
    var nextID = 0
  }

  /// How many operations may hold a place at once.
  public let limit: Int
  private let state: LockedValue<State>

  /// Creates `limit` places (at least one).
  public init(limit: Int) {
    self.limit = max(1, limit)
    state = LockedValue(State(free: max(1, limit)))
  }

  /// Takes a place if one is free now.
  public func tryAcquire() -> Bool {
    state.withValue { state in
      guard state.free > 0, state.head == state.waiters.count else { return false }
      state.free -= 1
      return true
    }
  }

  /// Waits for a place; false when the task was cancelled before it got one.
  public func acquire() async -> Bool {
    if tryAcquire() { return true }
    let id = state.withValue { state -> Int in
      state.nextID += 1
      return state.nextID
    }
    return await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let resumeNow = state.withValue { state -> Bool? in
          if Task.isCancelled { return false }
          if state.free > 0, state.head == state.waiters.count {
            state.free -= 1
            return true
          }
          state.waiters.append(Waiter(id: id, continuation: continuation))
          return nil
        }
        if let resumeNow { continuation.resume(returning: resumeNow) }
      }
    } onCancel: {
      let cancelled = state.withValue { state -> CheckedContinuation<Bool, Never>? in
        guard let index = state.waiters[state.head...].firstIndex(where: { $0.id == id }) else { return nil }
        let waiter = state.waiters.remove(at: index)
        return waiter.continuation
      }
      cancelled?.resume(returning: false)
    }
  }

  /// Gives a place back; the longest waiter gets it.
  public func release() {
    let next = state.withValue { state -> CheckedContinuation<Bool, Never>? in
      if state.head < state.waiters.count {
        let waiter = state.waiters[state.head]
        state.head += 1
        if state.head > 64, state.head * 2 > state.waiters.count {
          state.waiters.removeFirst(state.head)
          state.head = 0
        }
        return waiter.continuation
      }
      state.free = min(limit, state.free + 1)
      return nil
    }
    next?.resume(returning: true)
  }

  /// How many wait for a place now.
  public var waiting: Int { state.withValue { $0.waiters.count - $0.head } }
}
