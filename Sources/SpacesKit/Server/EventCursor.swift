import Foundation
import NIOCore
import SpacesModel

/// One space's part of an `events.subscribe` subscription: a cursor over the space's journal
/// that takes live events as a fast path.
///
/// The cursor knows the last `seq` it sent. Live events come from the space's hub in `seq`
/// order (the space publishes while holding its ordering lock). While the cursor is *live* it
/// sends an event only if it is exactly the next one and the connection has room; anything
/// else (a gap, a full outbox) switches it to *catching up*: a task reads the journal from the
/// last sent `seq`, sends what follows as the connection drains, and goes live again only
/// while the space is quiesced and the journal holds nothing newer than what was sent. So the
/// client sees every event once, in order: no gap, no duplicate, and memory stays bounded.
final class EventCursor: Sendable {
  private struct State {
    var lastSent: Int
    /// The first `seq` this subscription sends: an operation's result that refers to `output`
    /// events from before it (which this client never got) is sent whole.
    var firstSeq: Int
    var live = false
    var cancelled = false
    var observer: UUID?
    var catchUp: Task<Void, Never>?
  }

  private let space: Space
  private let subscription: String
  private let outbox: Outbox
  private let state: LockedValue<State>
  /// The connection's turn for large contents (see ``ContentHold``).
  private let turn: Slots?

  /// Starts following `space` from `fromSeq` (inclusive): it catches up from the journal, then
  /// goes live. Large records replayed from the journal take their turn in the runtime's budget
  /// for contents, one at a time for the connection owning `turn`.
  init(space: Space, subscription: String, outbox: Outbox, fromSeq: Int, turn: Slots? = nil) {
    self.space = space
    self.subscription = subscription
    self.outbox = outbox
    self.turn = turn
    let start = max(0, fromSeq - 1)
    state = LockedValue(State(lastSent: start, firstSeq: start + 1))
    let token = space.hub.observe { [weak self] event in self?.receive(event) }
    state.withValue { state in
      state.observer = token
      state.catchUp = Task { await self.catchUp() }
    }
  }

  /// Stops the cursor.
  func cancel() {
    let (token, task) = state.withValue { state in
      state.cancelled = true
      return (state.observer, state.catchUp)
    }
    if let token { space.hub.removeObserver(token) }
    task?.cancel()
  }

  /// A live event (called on the publishing thread, in `seq` order).
  private func receive(_ event: Event) {
    state.withValue { state in
      guard state.live, !state.cancelled, event.seq > state.lastSent else { return }
      if event.seq == state.lastSent + 1, outbox.send(line(event, firstSeq: state.firstSeq), .event) {
        state.lastSent = event.seq
        return
      }
      state.live = false
      state.catchUp = Task { await self.catchUp() }
    }
  }

  /// Sends what the journal holds after the last sent event, then goes live again.
  ///
  /// While the client's buffer is full the cursor holds nothing — no reader, no decoded event,
  /// no encoded line — and reads again from the last sent `seq` once there is room, so a
  /// subscriber that stops reading costs what its buffer holds, not a batch of large events.
  private func catchUp() async {
    var lastSent = state.withValue { $0.lastSent }
    let firstSeq = state.withValue { $0.firstSeq }
    while !Task.isCancelled {
      // Start near the first event not sent, and read in bounded batches: a long journal is
      // neither read from its start nor held in memory.
      guard
        var reader = try? JournalReader(path: space.journal.path, from: space.journal.startOffset(forSeq: lastSent + 1))
      else { return }
      switch await sendBatches(&reader, lastSent: &lastSent, firstSeq: firstSeq) {
      case .caughtUp, .stopped: return
      case .full:
        guard await outbox.waitForRoom(), !Task.isCancelled else { return }
        // The server's budget, not this client's buffer, may be what is full: give it a moment.
        if !outbox.budgetHasRoomForEvents { try? await Task.sleep(for: .milliseconds(50)) }
      }
    }
  }

  private enum Progress { case caughtUp, full, stopped }

  /// Sends batches from `reader` until the cursor caught up (and went live) or the client's
  /// buffer is full. Nothing is read while nothing would be taken: a batch read only to be
  /// dropped would be read again, over and over, while the client or the server is full.
  private func sendBatches(_ reader: inout JournalReader, lastSent: inout Int, firstSeq: Int) async -> Progress {
    while !Task.isCancelled {
      guard outbox.hasRoomForEvents else { return .full }
      let events: [Event]
      do {
        events = try reader.readAvailable(final: false, limit: Self.batch, byteLimit: Self.batchBytes).events
      } catch {
        return .stopped
      }
      // A batch of large records is held decoded and encoded again: it takes its turn first.
      var hold: ContentHold?
      if reader.lastBytes >= ByteGate.largeFile, let contents = space.contents {
        let taken = ContentHold(turn: turn)
        guard await taken.take(ByteGate.replayCopies * reader.lastBytes, from: contents) else { return .stopped }
        hold = taken
      }
      for event in events where event.seq > lastSent {
        guard outbox.send(line(event, firstSeq: firstSeq), .event) else { return .full }
        lastSent = event.seq
      }
      hold?.release()
      let sent = lastSent
      let caughtUp = space.quiesced {
        state.withValue { state -> Bool in
          state.lastSent = sent
          guard space.journal.lastSeq <= sent || events.isEmpty else { return false }
          state.live = !state.cancelled
          state.catchUp = nil
          return true
        }
      }
      if caughtUp { return .caughtUp }
    }
    return .stopped
  }

  /// The most events read from the journal at once while catching up.
  static let batch = 512
  /// About the most journal bytes read at once while catching up (a batch ends after the
  /// record that passes it), so a journal of large records is read a few at a time.
  static let batchBytes = 1 << 20

  private func line(_ event: Event, firstSeq: Int) -> ByteBuffer {
    if let streamed = event.result?.streamed, streamed.fromSeq < firstSeq {
      return Wire.event(space.journal.withWholeOutput(event), subscription: subscription)
    }
    return Wire.event(event, subscription: subscription)
  }
}
