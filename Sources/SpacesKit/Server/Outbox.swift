import NIOCore

/// A connection's bounded outgoing buffer: lines go straight to the channel, and the bytes not
/// yet written to the socket are counted.
///
/// Nothing that sends ever waits: event notifications are dropped once `eventLimit` bytes are
/// unwritten (a subscription then catches up from the journal), and a client that lets
/// responses pile up past `hardLimit` is disconnected.
final class Outbox: Sendable {
  enum Kind { case response, event }

  private struct State {
    var bytes = 0
    var closed = false
    var roomWaiters: [CheckedContinuation<Bool, Never>] = []
  }

  private let state = LockedValue(State())
  private let channel: Channel
  private let eventLimit: Int
  private let hardLimit: Int

  init(channel: Channel, eventLimit: Int, hardLimit: Int) {
    self.channel = channel
    self.eventLimit = eventLimit
    self.hardLimit = hardLimit
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
      case .response where state.bytes >= hardLimit:
        overflow = true
        return false
      default:
        state.bytes += count
        return true
      }
    }
    if overflow {
      close()
      channel.close(promise: nil)
    }
    guard accepted else { return false }
    channel.writeAndFlush(line).whenComplete { _ in self.written(count) }
    return true
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
    let waiters = state.withValue { state in
      state.closed = true
      defer { state.roomWaiters = [] }
      return state.roomWaiters
    }
    for waiter in waiters { waiter.resume(returning: false) }
  }

  private func written(_ count: Int) {
    let waiters = state.withValue { state -> [CheckedContinuation<Bool, Never>] in
      state.bytes -= count
      guard state.bytes < eventLimit / 2 else { return [] }
      defer { state.roomWaiters = [] }
      return state.roomWaiters
    }
    for waiter in waiters { waiter.resume(returning: true) }
  }
}
