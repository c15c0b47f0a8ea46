import Synchronization

/// A value guarded by a lock: the project's one way to guard shared mutable state.
///
/// A thin class over the standard library's `Mutex` (from Synchronization), so one lock can
/// be held by reference: shared by closures and tasks that outlive the function that made it,
/// stored in `static let`s and in classes alike. Use it for every piece of state more than one
/// thread touches; a lock that guards no value but a critical section (events appended and
/// published in order) is a `LockedValue<Void>` (``init()``, ``withLock(_:)``).
///
/// The lock is not recursive: `body` must not take the same lock again, and should not call
/// out to code that might (a callback, a publish to observers that can call back in). A
/// condition variable (`NSCondition`) is used only where a thread really sleeps until there
/// is work: the journal's flusher thread and the spawner's reply thread (see
/// docs/architecture.md).
public final class LockedValue<Value>: Sendable {
  private let mutex: Mutex<Value>

  /// Wraps `value`.
  public init(_ value: sending Value) { mutex = Mutex(value) }

  /// Runs `body` with exclusive access to the value.
  public func withValue<T, E: Error>(_ body: (inout sending Value) throws(E) -> sending T) throws(E) -> T {
    try mutex.withLock(body)
  }
}

extension LockedValue where Value == Void {
  /// A lock that guards a critical section rather than a value.
  public convenience init() { self.init(()) }

  /// Runs `body` while holding the lock.
  public func withLock<T, E: Error>(_ body: () throws(E) -> sending T) throws(E) -> T {
    try mutex.withLock { _ throws(E) -> sending T in try body() }
  }
}
