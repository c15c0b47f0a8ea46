import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesClientKit
@testable import SpacesKit
@testable import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// What the journal says matches what happened, seen over a real socket.
@Suite struct JournalTruthTests {
  /// How an agent stops waiting for an approval.
  enum Stop: String, CaseIterable, Sendable {
    /// Its connection goes away without a word (the agent process died).
    case disconnect
    /// It sends `request.cancel` for the call and stays connected.
    case cancel
  }

  /// An agent that goes away while its operation waits for a person is journaled at once as
  /// cancelled, not as denied by the timeout 300 s later; the request leaves the queue.
  @Test(arguments: Stop.allCases)
  func anApprovalWaitEndedByTheAgentIsJournaledAsCancelledAtOnce(_ stop: Stop) async throws {
    let server = try await TestServer.start(policy: .standard)
    defer { Task { await server.stop() } }
    let supervisor = try await server.supervisor()
    let journalPath = server.home.journalPath("s")
    let command = "echo x > .envrc"  // the standard policy asks about it (a protected path)
    let op = Op.shell(command: command, timeoutMs: nil)
    #expect(try await supervisor.checkPolicy(op, in: "s").decision == .ask)

    var agent: SpacesClient?
    var running: Task<OperationResult, any Error>?
    let raw: RawSocket?
    switch stop {
    case .disconnect:
      let socket = try RawSocket(unixPath: server.socketPath)
      raw = socket
      let opJSON = #"{"kind":"shell","command":"\#(command)"}"#
      socket.send(#"{"jsonrpc":"2.0","id":1,"method":"op.submit","params":{"space":"s","op":\#(opJSON)}}"# + "\n")
    case .cancel:
      raw = nil
      let client = try await server.agent(space: "s")
      agent = client
      running = Task { try await client.submit(op, to: "s") }
    }

    var pending: [ApprovalRequest] = []
    try await eventually("the approval request") {
      pending = try await supervisor.approvals()
      return !pending.isEmpty
    }
    let id = try #require(pending.first).id
    let timeout = try #require(pending.first.map { ISO8601Parse.date($0.deadline) })
    #expect(timeout.timeIntervalSinceNow > 200, "the approval timeout is the default 300 s")

    let clock = ContinuousClock()
    let stopped = clock.now
    switch stop {
    case .disconnect:
      // Like a process that dies: the socket closes, nothing is said first.
      if let raw { shutdown(raw.fd, Int32(SHUT_RDWR)) }
    case .cancel:
      running?.cancel()
      let error = await #expect(throws: SpacesError.self) { try await running?.value }
      #expect(error?.code == .cancelled)
    }

    var events: [Event] = []
    try await eventually("the operation to be journaled as cancelled") {
      events = try Journal.read(path: journalPath).events.filter { $0.opId == id }
      return events.contains { $0.type == .failed }
    }
    let waited = clock.now - stopped
    #expect(waited < .seconds(20), "journaled \(waited) after the agent stopped, long before the 300 s timeout")

    #expect(events.map(\.type) == [.received, .decision, .approvalRequested, .approvalResolved, .failed])
    let resolved = try #require(events.first { $0.type == .approvalResolved })
    guard case .approvalResolved(.cancelled, nil, let reason?) = resolved.payload else {
      Issue.record("not cancelled with a reason: \(resolved)")
      return
    }
    #expect(reason.contains("agent disconnected or cancelled the request"))
    let result = try #require(events.last?.result)
    #expect(result.status == .failed)
    #expect(result.error?.code == "cancelled")
    #expect(result.decidedBy == nil)
    #expect(
      !events.contains {
        if case .approvalResolved(_, .timeout, _) = $0.payload { return true }
        return $0.type == .denied
      })

    // Out of the queue; a late answer is refused as closed, not run.
    #expect(try await supervisor.approvals().isEmpty)
    do throws(SpacesError) {
      try await supervisor.resolveApproval(id, .once)
      Issue.record("a cancelled request was resolved")
    } catch {
      #expect(error.code == .approvalClosed, "\(error.message)")
    }

    if stop == .cancel, let agent {
      // The connection still works.
      let message = try await agent.submit(.message(text: "still here"), to: "s")
      #expect(message.status == .completed)
    }
  }

  /// A read's content goes to the caller only: the journal and every event carry its size and
  /// SHA-256 instead, so one read of a large file doesn't write it into the journal again.
  @Test func aReadIsJournaledByHashAndSizeNotContent() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let workspace = try server.home.load("s").workspace
    // 2 MiB that don't repeat in a way a journal line could hide.
    var generator = SystemRandomNumberGenerator()
    let big = (0..<(2 << 20)).map { _ in UInt8.random(in: 0x61...0x7A, using: &generator) }
    try Data(big).write(to: URL(fileURLWithPath: workspace + "/big.txt"))
    try Data("abc".utf8).write(to: URL(fileURLWithPath: workspace + "/abc.txt"))

    let agent = try await server.agent(space: "s")
    let live = LockedValue<[Event]>([])
    let read = try await agent.submit(.readFile(path: "big.txt"), to: "s") { event in
      live.withValue { $0.append(event) }
    }
    #expect(read.status == .completed)
    #expect(read.content?.utf8.count == big.count)
    #expect(read.content.map { Array($0.utf8) == big } == true)
    #expect(read.size == big.count)
    #expect(read.sha256?.count == 64)

    // A known vector (FIPS 180-2, "abc"), from the agent and from the person's file.read.
    let abc = try await agent.submit(.readFile(path: "abc.txt"), to: "s")
    let abcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    #expect(abc.sha256 == abcDigest)
    #expect(abc.content == "abc")
    let supervisor = try await server.supervisor()
    let personal = try await supervisor.readFile("abc.txt", in: "s")
    #expect(personal.content == "abc")
    #expect(personal.sha256 == abcDigest)

    // The live completed event (sent before the answer) has no content either.
    let liveCompleted = try #require(live.withValue { $0 }.first { $0.type == .completed })
    #expect(liveCompleted.result?.content == nil)
    #expect(liveCompleted.result?.sha256 == read.sha256)

    let lines = try String(contentsOfFile: server.home.journalPath("s"), encoding: .utf8).split(separator: "\n")
    let longest = lines.map(\.utf8.count).max() ?? 0
    #expect(longest < 4096, "the longest journal line is \(longest) bytes")
    let events = try Journal.read(path: server.home.journalPath("s")).events
    for (id, digest, size) in [(read.id, read.sha256, big.count), (abc.id, abcDigest, 3), (personal.id, abcDigest, 3)] {
      let completed = try #require(events.first { $0.opId == id && $0.type == .completed }?.result)
      #expect(completed.content == nil)
      #expect(completed.encoding == .utf8)
      #expect(completed.size == size)
      #expect(completed.sha256 == digest)
    }
    let byPerson = events.first { $0.opId == personal.id && $0.type == .received }
    guard case .received(.person, _, _) = byPerson?.payload else {
      Issue.record("the person's operation is not journaled as theirs: \(String(describing: byPerson))")
      return
    }
  }
}

/// Parses the runtime's timestamps (`2026-01-31T09:05:07.042Z`).
enum ISO8601Parse {
  static func date(_ text: String) -> Date {
    (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? .distantPast
  }
}
