import Foundation

/// Threads for long blocking work (a command's whole life), kept for the next piece of work
/// once they are done: starting a thread for each command cost more than a `true` itself.
///
/// A piece of work runs on an idle thread when there is one, else on a new thread, so work is
/// never queued behind other work. At most `maxIdle` threads wait for work, each for at most
/// `idleSeconds`.
final class WorkerThreads: @unchecked Sendable {
  // @unchecked: `condition` guards `work` and `idle`; it is where an idle thread sleeps until work comes.
  private let condition = NSCondition()
  private var work: [@Sendable () -> Void] = []
  private var idle = 0
  private let maxIdle: Int
  private let idleSeconds: Double
  private let name: String

  /// The threads commands' pumps run on.
  static let shared = WorkerThreads(name: "spaces-command", maxIdle: 16, idleSeconds: 30)

  init(name: String, maxIdle: Int, idleSeconds: Double) {
    self.name = name
    self.maxIdle = maxIdle
    self.idleSeconds = idleSeconds
  }

  /// Runs `job` on an idle thread, or on a new one when none is idle.
  func run(_ job: @escaping @Sendable () -> Void) {
    condition.lock()
    // Each queued piece of work has an idle thread already promised to it.
    if idle > work.count {
      work.append(job)
      condition.signal()
      condition.unlock()
      return
    }
    condition.unlock()
    let thread = Thread { [self] in serve(first: job) }
    thread.stackSize = 512 << 10
    thread.name = name
    thread.start()
  }

  /// The number of threads waiting for work now (for tests).
  var idleCount: Int {
    condition.lock()
    defer { condition.unlock() }
    return idle
  }

  private func serve(first: @escaping @Sendable () -> Void) {
    var next: (@Sendable () -> Void)? = first
    while let job = next {
      job()
      next = nil
      condition.lock()
      guard idle < maxIdle else {
        condition.unlock()
        return
      }
      idle += 1
      while work.isEmpty {
        if !condition.wait(until: Date(timeIntervalSinceNow: idleSeconds)) && work.isEmpty { break }
      }
      idle -= 1
      if !work.isEmpty { next = work.removeFirst() }
      condition.unlock()
    }
  }
}
