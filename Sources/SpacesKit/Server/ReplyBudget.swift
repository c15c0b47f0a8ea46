import NIOCore
import SpacesModel

/// The server-wide budget for lines written to clients but not yet taken by them.
///
/// Each connection's ``Outbox`` counts its unwritten bytes here. Event notifications stop being
/// queued anywhere once half the budget is in use (subscriptions then catch up from the journal
/// as clients drain); a response that would take the server past the whole budget first
/// disconnects the connection holding the most unread bytes, with a last line that says why.
/// So however many clients stop reading, what waits for them stays under the budget.
///
/// Large contents on their way to or from an answer (the runtime's ``ByteGate``) and large
/// request lines being read (the server's inbound ``ByteGate``) count against the same budget:
/// while a 10 MiB read is being encoded, 50 MiB fewer of answers may wait.
final class ReplyBudget: Sendable {
  private struct State {
    var used = 0
    var peak = 0
    var dropped = 0
    var holders: [ObjectIdentifier: (outbox: Outbox, bytes: Int)] = [:]
  }

  /// The most bytes every connection's unwritten lines may take together.
  let limit: Int
  private let state = LockedValue(State())
  private let contents: [ByteGate]

  init(limit: Int, contents: [ByteGate] = []) {
    self.limit = max(1 << 20, limit)
    self.contents = contents
  }

  /// Bytes of large contents held for requests now.
  private var inFlight: Int { contents.reduce(0) { $0 + $1.taken } }

  /// Bytes in use now.
  var used: Int { state.withValue { $0.used } }
  /// The most bytes ever in use at once.
  var peak: Int { state.withValue { $0.peak } }
  /// How many connections were dropped to stay within the budget.
  var dropped: Int { state.withValue { $0.dropped } }

  /// Whether an event of `count` bytes may be queued (events give way early).
  func roomForEvent(_ count: Int) -> Bool {
    let inFlight = inFlight
    return state.withValue { $0.used + inFlight + count <= limit / 2 }
  }

  /// Counts `count` bytes for `outbox`; returns the connections to drop first so that they fit.
  func take(_ count: Int, for outbox: Outbox) -> [Outbox] {
    let inFlight = inFlight
    return state.withValue { state in
      var dropped: [Outbox] = []
      while state.used + inFlight + count > limit {
        // The slowest reader: the one with the most unread bytes (the sender itself if it is).
        guard
          let (key, victim) = state.holders.max(by: { $0.value.bytes < $1.value.bytes }),
          victim.bytes > 0
        else { break }
        state.used -= victim.bytes
        state.holders[key] = nil
        state.dropped += 1
        dropped.append(victim.outbox)
        if victim.outbox === outbox { break }
      }
      if !dropped.contains(where: { $0 === outbox }) {
        state.used += count
        state.peak = max(state.peak, state.used)
        state.holders[ObjectIdentifier(outbox), default: (outbox, 0)].bytes += count
      }
      return dropped
    }
  }

  /// Gives back `count` bytes that `outbox` wrote (or dropped).
  func give(_ count: Int, for outbox: Outbox) {
    state.withValue { state in
      let key = ObjectIdentifier(outbox)
      guard let holder = state.holders[key] else { return }
      let returned = min(count, holder.bytes)
      state.used -= returned
      if holder.bytes - returned <= 0 {
        state.holders[key] = nil
      } else {
        state.holders[key]?.bytes = holder.bytes - returned
      }
    }
  }

  /// Forgets `outbox` (its connection closed).
  func release(_ outbox: Outbox) {
    state.withValue { state in
      if let holder = state.holders.removeValue(forKey: ObjectIdentifier(outbox)) {
        state.used -= holder.bytes
      }
    }
  }
}
