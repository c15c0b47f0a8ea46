import NIOCore
import SpacesModel

/// A connection's bounded outgoing buffer: lines go straight to the channel, and the bytes not
/// yet written to the socket are counted, here and in the server's ``ReplyBudget``.
///
/// Nothing that sends ever waits: event notifications are dropped once `eventLimit` bytes are
/// unwritten or the server's budget is half used (a subscription then catches up from the
/// journal), and a client that lets responses pile up past `hardLimit`, or holds the most when
/// the budget runs out, is disconnected with a last `disconnected` notification saying why.
/// The connection stops reading requests while `pauseLimit` bytes wait for it.
final class Outbox: Sendable {
  enum Kind { case response, event }

  private struct State {
    var bytes = 0
    var closed = false
    var roomWaiters: [CheckedContinuation<Bool, Never>] = []
    var readWaiters: [CheckedContinuation<Void, Never>] = []
  }

  private let state = LockedValue(State())
  private let channel: Channel
  private let eventLimit: Int
  private let hardLimit: Int
  private let pauseLimit: Int
  private let budget: ReplyBudget?

  init(channel: Channel, eventLimit: Int, hardLimit: Int, pauseLimit: Int = .max, budget: ReplyBudget? = nil) {
    self.channel = channel
    self.eventLimit = eventLimit
    self.hardLimit = hardLimit
    self.pauseLimit = pauseLimit
    self.budget = budget
  }

  /// Writes one line; returns false if it was dropped (or the connection is closed).
  @discardableResult
  func send(_ line: ByteBuffer, _ kind: Kind) -> Bool {
    let count = line.readableBytes
    var overflow = false
    let accepted = state.withValue { state -> Bool in
      if state.closed { return false }
      switch kind {
      case .event where state.bytes >= eventLimit: return false
      case .event where !(budget?.roomForEvent(count) ?? true): return false
      case .response where state.bytes >= hardLimit:
        overflow = true
        return false
      default:
        state.bytes += count
        return true
      }
    }
    if overflow {
      drop("it let \(hardLimit >> 20) MiB of answers pile up unread; read the socket as you write to it")
    }
    guard accepted else { return false }
    if let budget {
      var droppedSelf = false
      for victim in budget.take(count, for: self) {
        if victim === self { droppedSelf = true }
        victim.drop(
          "the server's memory budget for unread answers (\(budget.limit >> 20) MiB) ran out and this connection held the most of it; read the socket as you write to it"
        )
      }
      if droppedSelf { return false }
    }
    channel.writeAndFlush(line).whenComplete { _ in self.written(count) }
    return true
  }

  /// Disconnects a client that doesn't read: a last notification says why (it arrives when the
  /// socket has room for it), then the connection closes at once, so that the answers queued for
  /// it leave memory now (the budget stopped counting them as it dropped the connection).
  func drop(_ why: String) {
    let wasOpen = state.withValue { state -> Bool in
      defer { state.closed = true }
      return !state.closed
    }
    guard wasOpen else { return }
    close()
    let notice = Wire.request("disconnected", DisconnectedNotice(reason: why), id: nil)
    channel.writeAndFlush(notice, promise: nil)
    channel.close(promise: nil)
  }

  /// Whether the server's budget takes event notifications now (it stops at half).
  var budgetHasRoomForEvents: Bool { budget?.roomForEvent(0) ?? true }

  /// Whether an event notification would be taken now (by this connection and the server).
  var hasRoomForEvents: Bool {
    state.withValue { !$0.closed && $0.bytes < eventLimit } && budgetHasRoomForEvents
  }

  /// Whether the connection may read its next request now: fewer than the pause limit's bytes
  /// wait for the client (or it closed).
  var mayRead: Bool {
    state.withValue { Self.mayRead($0, pauseLimit) }
  }

  private static func mayRead(_ state: State, _ pauseLimit: Int) -> Bool {
    state.closed || state.bytes < pauseLimit
  }

  /// Waits until ``mayRead``.
  func waitToRead() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let ready = state.withValue { state -> Bool in
        if Self.mayRead(state, pauseLimit) { return true }
        state.readWaiters.append(continuation)
        return false
      }
      if ready { continuation.resume() }
    }
  }

  /// Waits until events fit again; returns false if the connection closed meanwhile.
  func waitForRoom() async -> Bool {
    await withCheckedContinuation { continuation in
      let ready = state.withValue { state -> Bool? in
        if state.closed { return false }
        if state.bytes < eventLimit / 2 { return true }
        state.roomWaiters.append(continuation)
        return nil
      }
      if let ready { continuation.resume(returning: ready) }
    }
  }

  /// Stops accepting lines.
  func close() {
    let (waiters, readers) = state.withValue { state in
      state.closed = true
      defer {
        state.roomWaiters = []
        state.readWaiters = []
      }
      return (state.roomWaiters, state.readWaiters)
    }
    budget?.release(self)
    for waiter in waiters { waiter.resume(returning: false) }
    for reader in readers { reader.resume() }
  }

  private func written(_ count: Int) {
    budget?.give(count, for: self)
    let (waiters, readers) = state.withValue {
      state -> ([CheckedContinuation<Bool, Never>], [CheckedContinuation<Void, Never>]) in
      state.bytes -= count
      var readers: [CheckedContinuation<Void, Never>] = []
      if state.bytes < pauseLimit {
        readers = state.readWaiters
        state.readWaiters = []
      }
      guard state.bytes < eventLimit / 2 else { return ([], readers) }
      defer { state.roomWaiters = [] }
      return (state.roomWaiters, readers)
    }
    for waiter in waiters { waiter.resume(returning: true) }
    for reader in readers { reader.resume() }
  }
}
