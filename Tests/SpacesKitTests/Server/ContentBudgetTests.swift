import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// The runtime's budget for large contents (``ByteGate``) and the holds requests keep on it.
@Suite struct ContentBudgetTests {
  @Test func takersBeyondTheBudgetWaitInLineAndCancelledOnesLeaveIt() async throws {
    let gate = ByteGate(limit: 4 << 20)
    let first = await gate.acquire(3 << 20)
    #expect(first == 3 << 20)
    let order = LockedValue<[String]>([])
    let waiting = Task {
      let taken = await gate.acquire(2 << 20)
      order.withValue { $0.append("second") }
      return taken
    }
    let cancelled = Task { await gate.acquire(2 << 20) }
    try await eventually("the second taker waits") { gate.available == 1 << 20 }
    cancelled.cancel()
    #expect(await cancelled.value == nil)
    #expect(order.withValue { $0 }.isEmpty)
    gate.release(3 << 20)
    #expect(await waiting.value == 2 << 20)
    #expect(gate.available == 2 << 20)
    // One larger than the whole budget takes all of it.
    gate.release(2 << 20)
    #expect(await gate.acquire(100 << 20) == 4 << 20)
    #expect(gate.available == 0)
  }

  @Test func aHoldGivesBackWhatItTookOnceWhenReleasedOrDropped() async throws {
    let gate = ByteGate(limit: 8 << 20)
    do {
      let hold = ContentHold()
      #expect(await hold.take(2 << 20, from: gate))
      hold.keep(1 << 20, of: gate)  // not taken from the gate: given back with the rest
      #expect(hold.bytes == 3 << 20)
      #expect(gate.available == 6 << 20)
    }
    #expect(gate.available == 8 << 20)
    let hold = ContentHold()
    #expect(await hold.take(5 << 20, from: gate))
    hold.release()
    hold.release()
    #expect(gate.available == 8 << 20)
  }

  @Test func holdsSharingATurnTakeOneAtATime() async throws {
    let gate = ByteGate(limit: 64 << 20)
    let turn = Slots(limit: 1)
    let first = ContentHold(turn: turn)
    #expect(await first.take(2 << 20, from: gate))
    let second = ContentHold(turn: turn)
    let waiting = Task { await second.take(2 << 20, from: gate) }
    // Room in the gate, but the turn is taken: the second waits without taking anything.
    try await Task.sleep(for: .milliseconds(50))
    #expect(gate.taken == 2 << 20)
    first.release()
    #expect(await waiting.value)
    #expect(gate.taken == 2 << 20)
    second.release()
    #expect(gate.taken == 0)
    #expect(turn.tryAcquire())
  }

  /// Large lines and large answers take their turn in the budget and give all of it back once
  /// answered: nothing stays taken after reads and writes of large files, concurrent ones too.
  @Test func largeContentsThroughTheSocketGiveTheirShareBack() async throws {
    let server = try await TestServer.start()
    let client = try await server.supervisor()
    let gate = server.server.runtime.contents
    // 1.25 MiB: large, and light for the tests running beside it.
    let text = String(repeating: "0123456789abcdef\n", count: (5 << 18) / 17) + "the end\n"
    let written = try await client.writeFile("big.txt", content: text, in: "s")
    #expect(written.status == .completed)
    let reads = try await withThrowingTaskGroup(of: OperationResult.self) { group in
      for _ in 0..<3 { group.addTask { try await client.readFile("big.txt", in: "s") } }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(reads.count == 3)
    #expect(reads.allSatisfy { $0.status == .completed && $0.content == text })
    let edited = try await client.submit(
      .editFile(path: "big.txt", oldText: "the end", newText: "THE END"), to: "s")
    #expect(edited.status == .completed)
    try await eventually("every share is given back") { gate.available == gate.limit }
    await client.close()
    await server.stop()
  }
}
