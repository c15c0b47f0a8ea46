import Foundation
import SpacesModel

/// Hands events to live subscribers without ever blocking the sender.
///
/// Each subscriber has a bounded buffer; when a slow subscriber's buffer is full the oldest
/// events are dropped for it (it sees a gap in `seq` and can read them from the journal).
public final class EventHub: Sendable {
  private let subscribers = LockedValue<[UUID: AsyncStream<Event>.Continuation]>([:])
  private let observers = LockedValue<[UUID: @Sendable (Event) -> Void]>([:])
  private let bufferSize: Int

  /// Creates a hub whose subscribers each buffer up to `bufferSize` events.
  public init(bufferSize: Int = 4096) {
    self.bufferSize = bufferSize
  }

  /// A stream of the events published from now on.
  public func subscribe() -> AsyncStream<Event> {
    let (stream, continuation) = AsyncStream.makeStream(
      of: Event.self, bufferingPolicy: .bufferingNewest(bufferSize))
    let id = UUID()
    subscribers.withValue { $0[id] = continuation }
    continuation.onTermination = { [weak self] _ in
      self?.subscribers.withValue { _ = $0.removeValue(forKey: id) }
    }
    return stream
  }

  /// Calls `handler` with every event published from now on, synchronously and in order.
  ///
  /// The handler runs on the publishing thread while the space orders its events, so it must
  /// return quickly and never wait. Returns a token for ``removeObserver(_:)``.
  public func observe(_ handler: @escaping @Sendable (Event) -> Void) -> UUID {
    let id = UUID()
    observers.withValue { $0[id] = handler }
    return id
  }

  /// Stops calling the handler registered with `token`.
  public func removeObserver(_ token: UUID) {
    _ = observers.withValue { $0.removeValue(forKey: token) }
  }

  /// Sends events to every subscriber and observer.
  ///
  /// Observers (called now) get the JSON the journal wrote with each event, to send it as it
  /// is; subscribers (whose buffers may hold events a while) get the events without it.
  public func publish(_ events: [Event]) {
    let targets = subscribers.withValue { Array($0.values) }
    if !targets.isEmpty {
      let bare = events.map { event in
        var event = event
        event.written.bytes = nil
        return event
      }
      for continuation in targets {
        for event in bare { continuation.yield(event) }
      }
    }
    let handlers = observers.withValue { Array($0.values) }
    for handler in handlers {
      for event in events { handler(event) }
    }
  }
}
