import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesClientKit
@testable import SpacesKit
@testable import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

@Suite struct ProtocolConformanceTests {
  @Test func everyErrorCodeKeepsTheConnectionOpen() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let path = server.socketPath
    try await blocking { try Self.conformance(path) }
  }

  static func conformance(_ path: String) throws {
    let socket = try RawSocket(unixPath: path)
    #expect(socket.request("{not json")?.errorCode == RPCErrorCode.parseError)
    #expect(socket.request("[1,2]")?.errorCode == RPCErrorCode.invalidRequest)
    #expect(socket.request("42")?.errorCode == RPCErrorCode.invalidRequest)
    #expect(socket.request(#"{"id":1,"method":"hello"}"#)?.errorCode == RPCErrorCode.invalidRequest)
    #expect(socket.request(#"{"jsonrpc":"2.0","id":{},"method":"hello"}"#)?.errorCode == RPCErrorCode.invalidRequest)
    let unknown = socket.request(#"{"jsonrpc":"2.0","id":2,"method":"op.nope"}"#)
    #expect(unknown?.errorCode == RPCErrorCode.methodNotFound)
    #expect(unknown?["id"] as? Int == 2)
    let missing = socket.request(#"{"jsonrpc":"2.0","id":"x","method":"op.submit","params":{"space":"s"}}"#)
    #expect(missing?.errorCode == RPCErrorCode.invalidParams)
    #expect(missing?.errorMessage.contains("\"op\"") == true)
    #expect(missing?["id"] as? String == "x")
    let badOp = socket.request(
      #"{"jsonrpc":"2.0","id":3,"method":"op.submit","params":{"space":"s","op":{"kind":"shell"}}}"#)
    #expect(badOp?.errorCode == RPCErrorCode.invalidParams)
    #expect(badOp?.errorMessage.contains("command") == true)
    #expect(
      socket.request(#"{"jsonrpc":"2.0","id":4,"method":"space.get","params":[1]}"#)?.errorCode
        == RPCErrorCode.invalidParams)
    let failed = socket.request(#"{"jsonrpc":"2.0","id":5,"method":"space.get","params":{"name":"nope"}}"#)
    #expect(failed?.errorCode == RPCErrorCode.failed)
    #expect((failed?["error"] as? [String: Any])?["data"] as? [String: String] == ["code": "spaceNotFound"])
    #expect(
      socket.request(#"{"jsonrpc":"2.0","id":6,"method":"space.delete","params":{"name":"s"}}"#)?.errorCode
        == RPCErrorCode.forbidden)

    // Still open and working.
    let hello = socket.request(#"{"jsonrpc":"2.0","id":7,"method":"hello","params":{"role":"agent"}}"#)
    #expect((hello?["result"] as? [String: Any])?["role"] as? String == "agent")
    let submitted = socket.request(
      #"{"jsonrpc":"2.0","id":8,"method":"op.submit","params":{"space":"s","op":{"kind":"message","text":"hi"}}}"#)
    #expect((submitted?["result"] as? [String: Any])?["status"] as? String == "completed")
  }

  @Test func anOversizeMessageIsRefusedWithBoundedMemory() async throws {
    let server = try await TestServer.start { $0.maxMessageBytes = 64 * 1024 }
    defer { Task { await server.stop() } }
    let path = server.socketPath
    try await blocking { try Self.oversize(path) }
  }

  static func oversize(_ path: String) throws {
    let socket = try RawSocket(unixPath: path)
    let before = residentBytes()
    // 96 MiB in one line, streamed: the server answers once and drops the rest.
    let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
    socket.send(#"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"client":""#)
    for _ in 0..<96 { socket.sendBytes(chunk) }
    socket.send("\"}}\n")
    let refused = try #require(socket.readLine())
    #expect(refused.contains("\(RPCErrorCode.invalidRequest)"))
    #expect(refused.contains("limit"))
    let grown = residentBytes() - before
    // Holding the line would take all of its 96 MiB. The measure is the whole test process's,
    // and the tests running beside this one allocate too (53 MiB were seen on a fresh machine).
    #expect(grown < 72 << 20, "resident memory grew by \(grown >> 20) MiB")
    let hello = socket.request(#"{"jsonrpc":"2.0","id":2,"method":"hello"}"#)
    #expect(hello?["result"] != nil)
  }

  @Test func manyRequestsInFlightAreMatchedByID() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let client = try await server.agent()
    // A slow command does not hold back the quick requests sent after it.
    async let slow = client.submit(.shell(command: "sleep 1; echo slow", timeoutMs: nil), to: "s")
    try await withThrowingTaskGroup(of: Void.self) { group in
      for index in 0..<20 {
        group.addTask {
          let result = try await client.submit(
            .createFile(path: "f\(index)", content: "\(index)", encoding: .utf8), to: "s")
          #expect(result.status == .completed)
          let read = try await client.submit(.readFile(path: "f\(index)"), to: "s")
          #expect(read.content == "\(index)")
        }
      }
      try await group.waitForAll()
    }
    #expect(try await slow.stdout == "slow\n")
  }
}

@Suite struct RoleTests {
  @Test func anAgentCantResolveDeleteOrTouchFiles() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let agent = try await server.agent()
    await expectRPCError(RPCErrorCode.forbidden) { try await agent.resolveApproval("op_x", .once) }
    await expectRPCError(RPCErrorCode.forbidden) { try await agent.deleteSpace("s") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.listFiles(in: "s") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.readFile("a", in: "s") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.writeFile("a", content: "x", in: "s") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.deleteFile("a", in: "s") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.subscribe(space: nil) }
    await expectRPCError(RPCErrorCode.forbidden) {
      let client = try await SpacesClient.connect(unixPath: server.socketPath)
      try await client.hello(role: .supervisor, token: "wrong")
    }
    await expectRPCError(RPCErrorCode.forbidden) {
      let client = try await SpacesClient.connect(unixPath: server.socketPath)
      try await client.hello(role: .supervisor)
    }
    // After submitting to a space, an agent may follow it, and is bound to it.
    _ = try await agent.submit(.message(text: "hi"), to: "s")
    _ = try await agent.subscribe(space: "s")
    _ = try server.home.create(name: "third")
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.submit(.message(text: "x"), to: "third") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.subscribe(space: "third") }

    // An agent bound to a space stays in it.
    _ = try server.home.create(name: "other", policy: .permissive, backend: .host)
    let bound = try await server.agent(space: "other")
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await bound.submit(.message(text: "x"), to: "s") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await bound.subscribe(space: "s") }
    _ = try await bound.subscribe(space: "other", fromSeq: 1)
  }

  @Test func aSupervisorEditsFilesAsThePerson() async throws {
    let server = try await TestServer.start(policy: .restrictive)
    defer { Task { await server.stop() } }
    let supervisor = try await server.supervisor()
    let written = try await supervisor.writeFile("notes/a.txt", content: "hello", in: "s")
    #expect(written.status == .completed)
    #expect(try await supervisor.readFile("notes/a.txt", in: "s").content == "hello")
    #expect(try await supervisor.listFiles(in: "s", path: "notes").map(\.name) == ["a.txt"])
    #expect(try await supervisor.deleteFile("notes/a.txt", in: "s").status == .completed)
    let events = try Journal.read(path: server.home.journalPath("s")).events
    #expect(
      events.allSatisfy {
        if case .received(let actor, _, _) = $0.payload { return actor == .person }
        return true
      })
    #expect(events.filter { $0.type == .completed }.count == 3)
    #expect(
      try await supervisor.checkPolicy(.createFile(path: "b", content: "", encoding: .utf8), in: "s").decision == .deny)
    try await supervisor.deleteSpace("s")
    #expect(try await supervisor.spaces().isEmpty)
  }
}

@Suite struct ServerOperationTests {
  @Test func fiftyConcurrentAgentsAreEachJournaledOnce() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let ids = try await withThrowingTaskGroup(of: String.self) { group in
      for index in 0..<50 {
        group.addTask {
          let agent = try await server.agent(space: "s")
          let result = try await agent.submit(
            .createFile(path: "agent\(index).txt", content: "\(index)", encoding: .utf8), to: "s")
          #expect(result.status == .completed, "\(result)")
          await agent.close()
          return result.id
        }
      }
      return try await group.reduce(into: [String]()) { $0.append($1) }
    }
    #expect(Set(ids).count == 50)
    let events = try Journal.read(path: server.home.journalPath("s")).events
    for id in ids {
      #expect(events.filter { $0.opId == id && $0.type == .received }.count == 1)
      #expect(events.filter { $0.opId == id && $0.type == .completed }.count == 1)
    }
    #expect(events.map(\.seq) == Array(1...events.count))
  }

  @Test func anApprovalBlocksTheAgentUntilASupervisorResolvesIt() async throws {
    let server = try await TestServer.start(policy: .standard)
    defer { Task { await server.stop() } }
    let agent = try await server.agent(space: "s")
    let supervisor = try await server.supervisor()
    let seen = LockedValue<[Event.Kind]>([])
    async let result = agent.submit(.shell(command: "echo 'export A=1' > .envrc", timeoutMs: nil), to: "s") { event in
      seen.withValue { $0.append(event.type) }
    }
    var pending: [ApprovalRequest] = []
    try await eventually("the approval request") {
      pending = try await supervisor.approvals()
      return !pending.isEmpty
    }
    #expect(try await agent.approvals().map(\.id) == pending.map(\.id))
    try await supervisor.resolveApproval(try #require(pending.first).id, .once)
    let finished = try await result
    #expect(finished.status == .completed)
    #expect(seen.withValue { $0 }.starts(with: [.received, .decision, .approvalRequested, .approvalResolved]))
    await expectRPCError(RPCErrorCode.failed) { try await supervisor.resolveApproval(finished.id, .once) }

    // Denied with feedback: the agent gets the reason.
    async let denied = agent.submit(.shell(command: "echo 'export B=2' > .envrc", timeoutMs: nil), to: "s")
    try await eventually("the second request") { !(try await supervisor.approvals().isEmpty) }
    let second = try #require(try await supervisor.approvals().first)
    try await supervisor.resolveApproval(second.id, .deny, feedback: "not now")
    let answer = try await denied
    #expect(answer.status == .denied)
    #expect(answer.reason == "not now")
  }

  /// A file change that ends before it ever waits (its path leaves the workspace) is answered
  /// like any other, one that waits for an approval can be cancelled, and the connection goes on.
  @Test func aFileChangeIsAnsweredWhenRefusedAndCancelledWhileItWaits() async throws {
    let server = try await TestServer.start(policy: .standard)
    defer { Task { await server.stop() } }
    let agent = try await server.agent(space: "s")
    let supervisor = try await server.supervisor()
    for round in 0..<20 {
      do {
        let result = try await agent.submit(
          .createFile(path: "../outside-\(round)", content: "x", encoding: .utf8), to: "s")
        #expect(result.status != .completed, "\(result)")
      } catch {
        #expect(error.code == .invalidPath || error.code == .invalidRequest, "\(error)")
      }
    }
    #expect(!FileManager.default.fileExists(atPath: server.folder.path + "/spaces/s/outside-0"))

    let waiting = Task {
      try await agent.submit(.createFile(path: ".envrc", content: "export A=1\n", encoding: .utf8), to: "s")
    }
    try await eventually("the approval request") { !(try await supervisor.approvals().isEmpty) }
    waiting.cancel()
    let error = await #expect(throws: SpacesError.self) { try await waiting.value }
    #expect(error?.code == .cancelled)
    try await eventually("the approval withdrawn") { try await supervisor.approvals().isEmpty }
    #expect(!FileManager.default.fileExists(atPath: server.folder.path + "/spaces/s/workspace/.envrc"))
    let written = try await agent.submit(.createFile(path: "ok.txt", content: "ok\n", encoding: .utf8), to: "s")
    #expect(written.status == .completed)
  }

  /// How a client stops waiting for a shell operation.
  enum Stop: String, CaseIterable, Sendable {
    /// It disconnects.
    case disconnect
    /// Its call is cancelled (an MCP client's `notifications/cancelled`, an SDK's abort): the
    /// client sends `request.cancel`, and the connection goes on.
    case cancel
  }

  /// Either way the operation stops on the server: the command and its children are killed
  /// and the operation is journaled as cancelled.
  @Test(arguments: Stop.allCases)
  func aClientThatStopsWaitingMidShellKillsTheShell(_ stop: Stop) async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let agent = try await server.agent()
    let pidFile = server.folder.path + "/spaces/s/workspace/pid"
    let running = Task {
      try await agent.submit(.shell(command: "echo $$ > pid; sleep 300; echo done", timeoutMs: 600_000), to: "s")
    }
    var pid: Int32 = 0
    try await eventually("the shell to start") {
      let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
      pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
      return pid > 0
    }
    var tree = [pid]
    try await eventually("the shell to start sleep") {
      tree = [pid] + childProcesses(of: pid)
      return tree.count > 1
    }
    switch stop {
    case .disconnect:
      await agent.close()
      await #expect(throws: SpacesError.self) { try await running.value }
    case .cancel:
      running.cancel()
      let error = await #expect(throws: SpacesError.self) { try await running.value }
      #expect(error?.code == .cancelled)
    }
    try await eventually("the shell and its children to be killed") {
      tree.allSatisfy { kill($0, 0) != 0 }
    }
    try await eventually("the operation to be journaled as cancelled") {
      let events = try Journal.read(path: server.home.journalPath("s")).events
      return events.contains { $0.type == .failed && $0.result?.error?.code == "cancelled" }
    }
    if stop == .cancel {
      // The connection is still good.
      #expect(try await agent.submit(.shell(command: "echo still", timeoutMs: nil), to: "s").stdout == "still\n")
    }
  }
}

@Suite struct SubscriptionTests {
  /// Runs `count` operations in `space` from `agents` concurrent clients.
  static func load(_ server: TestServer, count: Int, agents: Int = 4) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      for agent in 0..<agents {
        group.addTask {
          let client = try await server.agent(space: "s")
          for index in 0..<(count / agents) {
            _ = try await client.submit(.shell(command: "echo \(agent)-\(index)", timeoutMs: nil), to: "s")
          }
          await client.close()
        }
      }
      try await group.waitForAll()
    }
  }

  @Test(arguments: [4 << 20, 512])
  func replayThenLiveHasNoGapAndNoDuplicate(eventBuffer: Int) async throws {
    let server = try await TestServer.start { $0.eventBufferBytes = eventBuffer }
    defer { Task { await server.stop() } }
    try await Self.load(server, count: 8)
    let supervisor = try await server.supervisor()
    let stream = try await supervisor.subscribe(space: "s", fromSeq: 1)
    // More operations while the replay runs, then the total is known.
    try await Self.load(server, count: 16)
    let total = try Journal.read(path: server.home.journalPath("s")).events.count
    let events = try await collect(stream, count: total)
    #expect(events.map(\.seq) == Array(1...total))
    try await Self.load(server, count: 4)
    let more = try Journal.read(path: server.home.journalPath("s")).events.count
    let live = try await collect(stream, count: more - total)
    #expect(live.map(\.seq) == Array((total + 1)...more))
  }

  @Test func fromSeqContinuesAcrossARestart() async throws {
    let first = try await TestServer.start()
    try await Self.load(first, count: 4, agents: 2)
    let supervisor = try await first.supervisor()
    let stream = try await supervisor.subscribe(space: "s", fromSeq: 1)
    let total = try Journal.read(path: first.home.journalPath("s")).events.count
    let before = try await collect(stream, count: total)
    await first.stop()
    // The old connection ends cleanly.
    for await _ in stream {}
    await expectDisconnected { _ = try await supervisor.spaces() }

    let server = try await SpacesServer.start(runtime: SpacesRuntime(home: first.home))
    defer { Task { await server.shutdown() } }
    let again = try await SpacesClient.connect(home: first.home.path)
    try await again.hello(role: .supervisor, token: server.token)
    _ = try await again.submit(.message(text: "after restart"), to: "s")
    let resumed = try await again.subscribe(space: "s", fromSeq: (before.last?.seq ?? 0) + 1)
    let after = try await collect(resumed, count: 4)
    #expect((before + after).map(\.seq) == Array(1...(total + 4)))
    #expect(after.contains { $0.payload == .message(text: "after restart") })
  }

  func expectDisconnected(_ body: () async throws -> Void) async {
    do {
      try await body()
      Issue.record("expected a disconnected error")
    } catch let error as SpacesError {
      #expect(error.code == .disconnected)
    } catch {
      Issue.record("expected a disconnected error, got \(error)")
    }
  }

  @Test func aSecondServerRefusesALiveSocketAndReplacesAStaleOne() async throws {
    let server = try await TestServer.start()
    await #expect(throws: SpacesError.self) {
      _ = try await SpacesServer.start(runtime: SpacesRuntime(home: server.home))
    }
    await server.stop()
    // A socket file nobody listens on.
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in server.socketPath.utf8.enumerated() { raw[index] = byte }
    }
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    close(fd)
    #expect(FileManager.default.fileExists(atPath: server.socketPath))
    let replaced = try await SpacesServer.start(runtime: SpacesRuntime(home: server.home))
    let client = try await SpacesClient.connect(home: server.home.path)
    #expect(try await client.hello().role == .agent)
    var info = stat()
    #expect(stat(server.socketPath, &info) == 0 && info.st_mode & 0o777 == 0o600)
    // It was bound in a private folder and moved into place; the folder is gone.
    let staging = try FileManager.default.contentsOfDirectory(atPath: server.home.path)
      .filter { $0.hasPrefix(".spaces-bind-") }
    #expect(staging.isEmpty)
    await replaced.shutdown()
  }
}

/// The resident memory of this process, in bytes.
func residentBytes() -> Int {
  let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
  let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
  return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite struct SlowReaderAndTCPTests {
  @Test func aClientThatNeverReadsStallsNobodyAndLaterGetsEveryEventOnce() async throws {
    let server = try await TestServer.start { $0.eventBufferBytes = 16 * 1024 }
    defer { Task { await server.stop() } }
    let (path, token) = (server.socketPath, server.token)
    let socket = try await blocking { () -> RawSocketBox in
      let socket = try RawSocket(unixPath: path)
      _ = socket.request(
        #"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"role":"supervisor","token":"\#(token)"}}"#)
      _ = socket.request(#"{"jsonrpc":"2.0","id":2,"method":"events.subscribe","params":{"space":"s","fromSeq":1}}"#)
      return RawSocketBox(socket)
    }
    // The subscriber reads nothing while others produce far more than its buffers hold.
    let agent = try await server.agent()
    let clock = ContinuousClock()
    let start = clock.now
    for index in 0..<40 {
      let result = try await agent.submit(
        .shell(command: "head -c 20000 /dev/zero | tr '\\0' 'x'; echo \(index)", timeoutMs: nil), to: "s")
      #expect(result.status == .completed)
    }
    #expect(clock.now - start < .seconds(60))
    let total = try Journal.read(path: server.home.journalPath("s")).events.count
    let seqs = try await blocking { () -> [Int] in
      var seqs: [Int] = []
      while seqs.last != total, let line = socket.socket.readLine() {
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        if let event = (object?["params"] as? [String: Any])?["event"] as? [String: Any], let seq = event["seq"] as? Int
        {
          seqs.append(seq)
        }
      }
      return seqs
    }
    #expect(seqs == Array(1...total))
  }

  @Test func tcpNeedsTheTokenAndLoopback() async throws {
    await #expect(throws: SpacesError.self) {
      _ = try await TestServer.start {
        $0.tcpHost = "0.0.0.0"
        $0.tcpPort = 0
      }
    }
    let server = try await TestServer.start { $0.tcpPort = 0 }
    defer { Task { await server.stop() } }
    let port = try #require(server.server.tcpPort)
    let client = try await SpacesClient.connect(host: "127.0.0.1", port: port)
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await client.spaces() }
    await expectRPCError(RPCErrorCode.forbidden) { try await client.hello(role: .agent) }
    #expect(try await client.hello(role: .agent, token: server.token).role == .agent)
    #expect(try await client.spaces().map(\.name) == ["s"])
    await expectRPCError(RPCErrorCode.forbidden) { try await client.deleteSpace("s") }
  }
}

/// Hands a raw socket between GCD threads (used by one at a time).
final class RawSocketBox: @unchecked Sendable {
  let socket: RawSocket
  init(_ socket: RawSocket) { self.socket = socket }
}
