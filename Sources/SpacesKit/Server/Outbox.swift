import NIOCore

/// A connection's bounded queue of outgoing lines, drained by one writer task.
///
/// Nothing that sends ever waits: event notifications are dropped once `eventLimit` bytes are
/// queued and not yet written (a subscription then catches up from the journal), and a client
/// that lets responses pile up past `hardLimit` is disconnected.
final class Outbox: Sendable {
  enum Kind { case response, event }

  private struct State {
    var queue: [ByteBuffer] = []
    var bytes = 0
    var closed = false
    var writer: CheckedContinuation<[ByteBuffer]?, Never>?
    var roomWaiters: [CheckedContinuation<Bool, Never>] = []
  }

  private let state = LockedValue(State())
  private let eventLimit: Int
  private let hardLimit: Int
  private let onOverflow: @Sendable () -> Void

  init(eventLimit: Int, hardLimit: Int, onOverflow: @escaping @Sendable () -> Void) {
    self.eventLimit = eventLimit
    self.hardLimit = hardLimit
    self.onOverflow = onOverflow
  }

  /// Queues one line; returns false if it was dropped (or the connection is closed).
  @discardableResult
  func send(_ line: ByteBuffer, _ kind: Kind) -> Bool {
    var overflow = false
    let writer = state.withValue { state -> CheckedContinuation<[ByteBuffer]?, Never>?? in
      if state.closed { return nil }
      switch kind {
      case .event where state.bytes >= eventLimit: return nil
      case .response where state.bytes >= hardLimit:
        overflow = true
        return nil
      default: break
      }
      state.bytes += line.readableBytes
      if let writer = state.writer {
        state.writer = nil
        return writer
      }
      state.queue.append(line)
      return .some(nil)
    }
    if overflow {
      close()
      onOverflow()
    }
    guard let writer else { return false }
    writer?.resume(returning: [line])
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

  /// Stops accepting lines and ends the writer.
  func close() {
    let (writer, waiters) = state.withValue { state in
      state.closed = true
      defer {
        state.writer = nil
        state.roomWaiters = []
      }
      return (state.writer, state.roomWaiters)
    }
    writer?.resume(returning: nil)
    for waiter in waiters { waiter.resume(returning: false) }
  }

  /// Writes queued lines to `outbound` until the outbox is closed or the channel fails.
  func drain(into outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async {
    while let batch = await next() {
      do {
        try await outbound.write(contentsOf: batch)
      } catch {
        close()
        return
      }
      written(batch.reduce(0) { $0 + $1.readableBytes })
    }
  }

  private func next() async -> [ByteBuffer]? {
    await withCheckedContinuation { continuation in
      let ready = state.withValue { state -> [ByteBuffer]?? in
        if !state.queue.isEmpty {
          defer { state.queue = [] }
          return .some(state.queue)
        }
        if state.closed { return .some(nil) }
        state.writer = continuation
        return nil
      }
      if let ready { continuation.resume(returning: ready) }
    }
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
