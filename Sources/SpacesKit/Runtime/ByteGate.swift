import SpacesModel

/// A budget of bytes for large file contents held in memory at once; takers beyond it wait in line.
///
/// A `readFile` of a large file holds its content from the read until its result has been
/// journaled and returned: without a bound, clients pipelining reads of large files (and not
/// reading the answers) make the process hold all of them at once, before any answer is queued
/// and counted by the server's reply budget. Takers are served first come, first served; one
/// larger than the whole budget takes all of it; a waiting task that is cancelled leaves the
/// line at once.
public final class ByteGate: Sendable {
  private struct Waiter {
    var id: Int
    var bytes: Int
    var continuation: CheckedContinuation<Bool, Never>
  }
  private struct State {
    var free: Int
    var waiters: [Waiter] = []
    var nextID = 0
  }

  /// How many bytes may be taken at once.
  public let limit: Int
  /// The size from which a file's content takes from the gate (smaller ones never wait).
  public static let largeFile = 1 << 20
  /// The runtime's default budget for large contents in memory at once (with the server's reply
  /// budget, what a server may hold for clients; see `spaces bench soak`).
  public static let defaultLimit = 64 << 20
  /// How many times its size a large request line is in memory at once, at worst: its bytes,
  /// their copy, the decoded text, the bytes written, and the journal record being encoded
  /// (the encoder's growing buffer and its copy).
  public static let lineCopies = 6
  /// How many times its size a large file read or edited is in memory at once, at worst: the
  /// content, and the answer being encoded from it (or the new content and the search's work).
  public static let fileCopies = 5
  /// How many times its size a batch of large journal records replayed to a subscriber is in
  /// memory at once: the bytes read, the decoded events, and the notification being encoded.
  public static let replayCopies = 4
  private let state: LockedValue<State>

  /// Creates a budget of `limit` bytes (at least 1 MiB).
  public init(limit: Int) {
    self.limit = max(1 << 20, limit)
    state = LockedValue(State(free: max(1 << 20, limit)))
  }

  /// Waits until `bytes` (at most the whole budget) are free and takes them; returns what was
  /// taken (give it back with ``release(_:)``), or nil when the task was cancelled first.
  public func acquire(_ bytes: Int) async -> Int? {
    let wanted = min(max(0, bytes), limit)
    let id = state.withValue { state -> Int in
      state.nextID += 1
      return state.nextID
    }
    let granted = await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let now = state.withValue { state -> Bool? in
          if Task.isCancelled { return false }
          if state.waiters.isEmpty, state.free >= wanted {
            state.free -= wanted
            return true
          }
          state.waiters.append(Waiter(id: id, bytes: wanted, continuation: continuation))
          return nil
        }
        if let now { continuation.resume(returning: now) }
      }
    } onCancel: {
      let (cancelled, ready) = state.withValue { state -> (CheckedContinuation<Bool, Never>?, [Waiter]) in
        guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return (nil, []) }
        let waiter = state.waiters.remove(at: index)
        // The one that left may have held up smaller ones behind it.
        return (waiter.continuation, Self.admit(&state))
      }
      cancelled?.resume(returning: false)
      for waiter in ready { waiter.continuation.resume(returning: true) }
    }
    return granted ? wanted : nil
  }

  /// Gives back bytes taken by ``acquire(_:)``; the waiters first in line that now fit get them.
  public func release(_ bytes: Int) {
    guard bytes > 0 else { return }
    let ready = state.withValue { state -> [Waiter] in
      state.free = min(limit, state.free + bytes)
      return Self.admit(&state)
    }
    for waiter in ready { waiter.continuation.resume(returning: true) }
  }

  /// Bytes free now.
  public var available: Int { state.withValue { $0.free } }

  /// Bytes taken now.
  public var taken: Int { limit - available }

  /// Takes the waiters from the front of the line while they fit.
  private static func admit(_ state: inout State) -> [Waiter] {
    var ready: [Waiter] = []
    while let first = state.waiters.first, state.free >= first.bytes {
      state.free -= first.bytes
      ready.append(state.waiters.removeFirst())
    }
    return ready
  }
}

/// Bytes taken from a ``ByteGate`` for one request, given back once: by ``release()`` or when the
/// hold goes away.
///
/// A request's large content outlives the operation that produced or consumed it (the answer is
/// encoded after the operation ends, a request line is held from the moment it is read), so its
/// holder keeps the bytes until then instead of the operation giving them back early.
///
/// With a `turn`, a hold waits for one of its places before it takes from a gate: a connection
/// gives all its holds one turn of size 1, so its large contents wait one at a time and a
/// client pipelining many large reads doesn't queue them all ahead of everyone else's.
public final class ContentHold: Sendable {
  private let taken = LockedValue<(turnHeld: Bool, bytes: [(gate: ByteGate, bytes: Int)])>((false, []))
  private let turn: Slots?

  /// An empty hold; with `turn`, it waits for one of its places before taking anything.
  public init(turn: Slots? = nil) {
    self.turn = turn
  }

  /// Bytes held now.
  public var bytes: Int { taken.withValue { $0.bytes.reduce(0) { $0 + $1.bytes } } }

  /// Waits for the turn (if any, once) and for `bytes` of `gate` (as ``ByteGate/acquire(_:)``)
  /// and keeps them; false when the task was cancelled first.
  public func take(_ bytes: Int, from gate: ByteGate) async -> Bool {
    if let turn, !taken.withValue({ $0.turnHeld }) {
      guard await turn.acquire() else { return false }
      taken.withValue { $0.turnHeld = true }
    }
    guard let granted = await gate.acquire(bytes) else { return false }
    keep(granted, of: gate)
    return true
  }

  /// Keeps `bytes` already taken from `gate`, to be given back with the rest.
  public func keep(_ bytes: Int, of gate: ByteGate) {
    guard bytes > 0 else { return }
    taken.withValue { $0.bytes.append((gate, bytes)) }
  }

  /// Gives back everything held, and the turn (again: nothing).
  public func release() {
    let (turnHeld, all) = taken.withValue { taken in
      defer { taken = (false, []) }
      return taken
    }
    for (gate, bytes) in all { gate.release(bytes) }
    if turnHeld { turn?.release() }
  }

  deinit { release() }
}
