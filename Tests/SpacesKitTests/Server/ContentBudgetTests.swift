import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesClientKit
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
    let inbound = server.server.inbound
    try await eventually("every share is given back") {
      gate.available == gate.limit && inbound.available == inbound.limit
    }
    await client.close()
    await server.stop()
  }

  /// A line being read takes its share of the inbound budget as it grows past 1 MiB (reading
  /// stops until it is granted), hands it on with the line, and an untrusted connection (TCP
  /// before the token) takes nothing and reads no further until it is trusted.
  @Test func aLargeLineTakesItsShareWhileItIsRead() async throws {
    let gate = ByteGate(limit: 8 << 20)
    let resumed = LockedValue(0)
    let account = InboundAccount(gate: gate, trusted: false) { resumed.withValue { $0 += 1 } }
    account.reading(100)
    #expect(account.mayRead)
    account.reading(2 << 20)
    #expect(!account.mayRead)
    #expect(gate.taken == 0)
    account.trust()
    try await eventually("the step is granted") { account.mayRead && resumed.withValue { $0 } == 1 }
    #expect(gate.taken >= 2 << 20)
    // Larger than the whole budget: it takes all of it and reads on.
    account.reading(9 << 20)
    try await eventually("the whole budget is granted") { account.mayRead && gate.available == 0 }
    let hold = try #require(account.lineEnded() as? ContentHold)
    #expect(hold.bytes == 8 << 20)
    #expect(account.mayRead)
    // The next line waits until the server took the first one, then for the budget it holds;
    // a dropped line gives its share back.
    account.reading(3 << 20)
    #expect(!account.mayRead)
    hold.release()
    #expect(!account.mayRead)
    account.lineTaken()
    try await eventually("the next line's step is granted") { account.mayRead }
    #expect(gate.taken > 0)
    account.lineDropped()
    #expect(gate.taken == 0)
    // A dropped line leaves nothing read ahead: the next large line is read without waiting.
    account.reading(2 << 20)
    try await eventually("a line after a dropped one is granted") { account.mayRead }
    account.lineDropped()
    #expect(gate.taken == 0)
    // A closed connection abandons its wait and gives back what it took.
    let other = InboundAccount(gate: gate, trusted: true) {}
    let first = try #require(await gate.acquire(8 << 20))
    other.reading(4 << 20)
    #expect(!other.mayRead)
    other.close()
    gate.release(first)
    try await eventually("nothing stays taken") { gate.available == gate.limit }
  }

  /// Over TCP, a large line sent after hello with the token is read and answered, and its
  /// share of the inbound budget is given back.
  @Test func aLargeLineOverTCPIsReadOnceTheTokenIsProved() async throws {
    let server = try await TestServer.start { $0.tcpPort = 0 }
    let port = try #require(server.server.tcpPort)
    let client = try await SpacesClient.connect(host: "127.0.0.1", port: port)
    try await client.hello(role: .supervisor, token: server.token)
    let text = String(repeating: "x", count: (5 << 18))
    let written = try await client.writeFile("big.txt", content: text, in: "s")
    #expect(written.status == .completed)
    let inbound = server.server.inbound
    try await eventually("the share is given back") { inbound.available == inbound.limit }
    await client.close()
    await server.stop()
  }
}
