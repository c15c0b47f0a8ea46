import Dispatch
import SpacesModel

/// A value being made on a dispatch thread from the moment it is started, awaited later: work
/// that can go on beside the caller's own (a command's change recording beside its sandbox's
/// preparation).
final class Started<Value: Sendable>: Sendable {
  private struct State {
    var value: Value?
    var waiters: [CheckedContinuation<Value, Never>] = []
  }

  private let state: LockedValue<State>

  /// A value there is already.
  init(value: Value) {
    state = LockedValue(State(value: value))
  }

  /// Starts `work` on a dispatch thread now.
  init(making work: @escaping @Sendable () -> Value) {
    let state = LockedValue(State())
    self.state = state
    DispatchQueue.global().async {
      let value = work()
      let waiters = state.withValue { state in
        state.value = value
        defer { state.waiters = [] }
        return state.waiters
      }
      for waiter in waiters { waiter.resume(returning: value) }
    }
  }

  /// The value, once it is made (at once when it is).
  var value: Value {
    get async {
      if let made = state.withValue({ $0.value }) { return made }
      return await withCheckedContinuation { continuation in
        let made = state.withValue { state -> Value? in
          if let made = state.value { return made }
          state.waiters.append(continuation)
          return nil
        }
        if let made { continuation.resume(returning: made) }
      }
    }
  }
}
