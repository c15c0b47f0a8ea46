import Foundation
import SpacesTestSupport
import Synchronization
import Testing

@testable import SpacesSandbox

/// The threads commands' pumps run on: kept between pieces of work, never queued behind one.
/// (Idle threads wait 600 s where a test counts them: a starved test run can't see them end.)
struct WorkerThreadsTests {
  @Test func aThreadIsKeptForTheNextPieceOfWork() async throws {
    let threads = WorkerThreads(name: "test-worker", maxIdle: 2, idleSeconds: 600)
    let first = await withCheckedContinuation { continuation in
      threads.run { continuation.resume(returning: pthread_self()) }
    }
    try await eventually("the thread waits for work") { threads.idleCount == 1 }
    let second = await withCheckedContinuation { continuation in
      threads.run { continuation.resume(returning: pthread_self()) }
    }
    #expect(pthread_equal(first, second) != 0)
  }

  @Test func workIsNeverQueuedBehindWorkThatBlocks() async throws {
    let threads = WorkerThreads(name: "test-worker", maxIdle: 1, idleSeconds: 600)
    let release = DispatchSemaphore(value: 0)
    let done = Atomic<Int>(0)
    // Three pieces of work that block until released: each needs a thread of its own.
    for _ in 0..<3 {
      threads.run {
        release.wait()
        done.add(1, ordering: .relaxed)
      }
    }
    let ran = await withCheckedContinuation { continuation in
      threads.run { continuation.resume(returning: true) }
    }
    #expect(ran)
    for _ in 0..<3 { release.signal() }
    try await eventually("the blocked work ends") { done.load(ordering: .relaxed) == 3 }
    // At most `maxIdle` threads stay.
    try await eventually("one thread stays") { threads.idleCount == 1 }
  }

  @Test func anIdleThreadEndsAfterItsTime() async throws {
    let threads = WorkerThreads(name: "test-worker", maxIdle: 4, idleSeconds: 0.05)
    await withCheckedContinuation { continuation in threads.run { continuation.resume() } }
    try await eventually("the idle thread ends") { threads.idleCount == 0 }
  }
}
