import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesClientKit
@testable import SpacesKit
@testable import SpacesModel

/// Requests answered on the event loop that read them (``Space/submitNow(_:actor:id:reason:readingAtMost:)``),
/// and the order and back-pressure of the lines the loop hands on, over a real socket.
@Suite struct EventLoopAnswerTests {
  private static func submit(_ id: Int, _ op: String, space: String = "s", events: Bool = true) -> String {
    #"{"jsonrpc":"2.0","id":\#(id),"method":"op.submit","params":{"space":"\#(space)","events":\#(events),"op":\#(op)}}"#
      + "\n"
  }

  private static func json(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
  }

  /// Reads lines up to the response to `id` (the last line, when it came).
  private static func linesUntilAnswer(to id: Int, on socket: RawSocket) -> [String] {
    var lines: [String] = []
    while let line = socket.readLine() {
      lines.append(line)
      if let object = json(line), object["method"] == nil, object["id"] as? Int == id { break }
    }
    return lines
  }

  /// The notifications before the response to `id`, and the response.
  private static func answer(to id: Int, in lines: [String]) -> (notes: [[String: Any]], response: [String: Any]?) {
    let objects = lines.compactMap(json)
    let response = objects.last.flatMap { $0["method"] == nil && $0["id"] as? Int == id ? $0 : nil }
    return (objects.filter { $0["method"] != nil }, response)
  }

  /// Which operations `submitNow` takes, and that it journals nothing for one it leaves.
  @Test func submitNowTakesSmallReadsAndMessagesOnly() async throws {
    let folder = TempFolder("now")
    let home = SpacesHome(path: folder.path)
    let config = try home.create(name: "s", policy: .standard, backend: .host)
    try "hello".write(toFile: config.workspace + "/a.txt", atomically: true, encoding: .utf8)
    try String(repeating: "x", count: ByteGate.largeFile).write(
      toFile: config.workspace + "/big.txt", atomically: true, encoding: .utf8)
    try """
    preset: standard
    rules:
      - name: no-secret
        paths: ["secret.txt"]
        kinds: [readFile]
        decision: deny
        reason: not for agents
      - name: careful
        paths: ["careful.txt"]
        kinds: [readFile]
        decision: ask
        reason: ask first
    """.write(toFile: home.policyPath("s"), atomically: true, encoding: .utf8)
    let space = try SpacesRuntime(home: home).space("s")
    let before = space.journal.lastSeq
    #expect(space.submitNow(.shell(command: "true", timeoutMs: nil, fresh: false)) == nil)
    #expect(space.submitNow(.readFile(path: "big.txt")) == nil)
    #expect(space.submitNow(.createFile(path: "n.txt", content: "x", encoding: .utf8)) == nil)
    #expect(space.submitNow(.readFile(path: "careful.txt")) == nil)
    #expect(space.journal.lastSeq == before, "an operation left to `submit` is journaled only there")

    let read = try #require(space.submitNow(.readFile(path: "a.txt")))
    #expect(read.status == .completed && read.content == "hello")
    let denied = try #require(space.submitNow(.readFile(path: "secret.txt")))
    #expect(denied.status == .denied && denied.decidedBy == .policy)
    let missing = try #require(space.submitNow(.readFile(path: "none.txt")))
    #expect(missing.status == .failed && missing.error?.code == "notFound")
    let message = try #require(space.submitNow(.message(text: "hi"), actor: .person))
    #expect(message.status == .completed)

    let events = try Journal.read(path: home.journalPath("s")).events
    #expect(events.filter { $0.opId == read.id }.map(\.type) == [.received, .decision, .started, .completed])
    #expect(events.filter { $0.opId == denied.id }.map(\.type) == [.received, .decision, .denied])
    #expect(events.filter { $0.opId == missing.id }.map(\.type) == [.received, .decision, .started, .failed])
    #expect(
      events.filter { $0.opId == message.id }.map(\.type) == [.received, .decision, .started, .message, .completed])
  }

  /// A read answered on the loop journals the same four events as before, in order, and its
  /// client gets them before the answer.
  @Test func aReadAnsweredOnTheLoopJournalsItsEventsInOrder() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let workspace = try server.home.load("s").workspace
    try "1 KiB?".write(toFile: workspace + "/a.txt", atomically: true, encoding: .utf8)
    let socket = try RawSocket(unixPath: server.socketPath)
    let read = #"{"kind":"readFile","path":"a.txt"}"#
    // The first opens the space (in a task); the second finds it open and is answered on the loop.
    let (first, second) = try await blocking {
      socket.send(Self.submit(1, read))
      let first = Self.linesUntilAnswer(to: 1, on: socket)
      socket.send(Self.submit(2, read))
      return (first, Self.linesUntilAnswer(to: 2, on: socket))
    }
    for (notes, response) in [Self.answer(to: 1, in: first), Self.answer(to: 2, in: second)] {
      let result = try #require(response?["result"] as? [String: Any])
      #expect(result["content"] as? String == "1 KiB?")
      let opId = try #require(result["id"] as? String)
      let journaled = try Journal.read(path: server.home.journalPath("s")).events.filter { $0.opId == opId }
      #expect(journaled.map(\.type) == [.received, .decision, .started, .completed])
      let sent = notes.compactMap { (($0["params"] as? [String: Any])?["event"] as? [String: Any])?["type"] as? String }
      #expect(sent == ["received", "decision", "started", "completed"])
    }
  }

  /// `hello` and the requests after it, sent in one write, are handled in order: the second
  /// request already sees the space the agent was bound to.
  @Test func helloThenSubmitInOneWriteKeepTheirOrder() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    _ = try server.home.create(name: "t", policy: .permissive, backend: .host)
    let workspace = try server.home.load("s").workspace
    try "mine".write(toFile: workspace + "/a.txt", atomically: true, encoding: .utf8)
    // Open both spaces first, so the reads below are answered on the loop.
    let supervisor = try await server.supervisor()
    _ = try await supervisor.submit(.message(text: "open"), to: "s")
    _ = try await supervisor.submit(.message(text: "open"), to: "t")
    let socket = try RawSocket(unixPath: server.socketPath)
    let hello = #"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"role":"agent","space":"s"}}"# + "\n"
    let raw = try await blocking { () -> [String] in
      socket.send(
        hello + Self.submit(2, #"{"kind":"message","text":"x"}"#, space: "t", events: false)
          + Self.submit(3, #"{"kind":"readFile","path":"a.txt"}"#, events: false))
      return (0..<3).compactMap { _ in socket.readLine() }
    }
    let lines = raw.compactMap(Self.json)
    #expect(lines.map { $0["id"] as? Int } == [1, 2, 3])
    #expect(lines.count == 3 && lines[1].errorCode == RPCErrorCode.forbidden, "\(lines)")
    #expect(((lines.last?["result"] as? [String: Any])?["content"] as? String) == "mine")
  }

  /// A batch of requests in one write, more than the loop handles in one turn: every one is
  /// answered, in order (the rest of the batch waits for the loop's next round, not for more
  /// bytes from the client).
  @Test func aPipelinedBatchLongerThanATurnIsAnsweredWholeAndInOrder() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let workspace = try server.home.load("s").workspace
    try "mine".write(toFile: workspace + "/a.txt", atomically: true, encoding: .utf8)
    let agent = try await server.agent(space: "s")
    _ = try await agent.submit(.message(text: "open the space"), to: "s")
    let count = 3 * RequestReader.linesPerTurn + 1
    let socket = try RawSocket(unixPath: server.socketPath)
    let raw = try await blocking { () -> [String] in
      socket.send(
        (1...count).map { Self.submit($0, #"{"kind":"readFile","path":"a.txt"}"#, events: false) }.joined())
      return (0..<count).compactMap { _ in socket.readLine() }
    }
    let lines = raw.compactMap(Self.json)
    #expect(lines.map { $0["id"] as? Int } == Array(1...count))
    #expect(lines.allSatisfy { (($0["result"] as? [String: Any])?["content"] as? String) == "mine" }, "\(lines)")
  }

  /// While more answers than the pause limit wait for a client, its next request is not read;
  /// once it reads them, the request is answered.
  @Test func aRequestWaitsWhileAnswersAreUnread() async throws {
    // Reads up to 1 MiB answered on the loop, so the first answer is queued before the next
    // line is looked at.
    let server = try await TestServer.start {
      $0.pauseReadingBytes = 64 << 10
      $0.readNowBytes = ByteGate.largeFile
    }
    defer { Task { await server.stop() } }
    let workspace = try server.home.load("s").workspace
    // Under 1 MiB (answered on the loop), and far more than a socket buffer holds.
    try String(repeating: "a", count: 900 << 10).write(
      toFile: workspace + "/big.txt", atomically: true, encoding: .utf8)
    let agent = try await server.agent(space: "s")
    _ = try await agent.submit(.message(text: "open the space"), to: "s")
    let journalPath = server.home.journalPath("s")
    func messages(_ text: String) throws -> Int {
      try Journal.read(path: journalPath).events.filter {
        if case .message(let said) = $0.payload { said == text } else { false }
      }.count
    }

    let socket = try RawSocket(unixPath: server.socketPath)
    let read = #"{"kind":"readFile","path":"big.txt"}"#
    socket.send(
      Self.submit(1, read, events: false) + Self.submit(2, read, events: false)
        + Self.submit(3, #"{"kind":"message","text":"after"}"#, events: false))
    // The first answer fills the socket and the outbox past the limit: the second is not read
    // (its read would be journaled before its answer is queued).
    try await eventually("the first read to be answered") {
      try Journal.read(path: journalPath).events.filter { $0.type == .completed && $0.result?.kind == .readFile }.count
        == 1
    }
    // Another client's request, handled meanwhile, is answered as usual.
    _ = try await agent.submit(.message(text: "other"), to: "s")
    #expect(try messages("other") == 1)
    let reads = try Journal.read(path: journalPath).events.filter {
      if case .received(_, let op, _) = $0.payload { op.kind == .readFile } else { false }
    }
    #expect(reads.count == 1, "the second request was read while the first answer waited")
    #expect(try messages("after") == 0)

    let answered = try await blocking {
      (1...3).map { Self.answer(to: $0, in: Self.linesUntilAnswer(to: $0, on: socket)).response != nil }
    }
    #expect(answered == [true, true, true])
    #expect(try messages("after") == 1)
  }

  /// What is not answered on the loop still works: a large file's read and a shell command.
  @Test func largeReadsAndCommandsStillRunInTasks() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let workspace = try server.home.load("s").workspace
    let large = String(repeating: "b", count: ByteGate.largeFile + 4096)
    try large.write(toFile: workspace + "/large.txt", atomically: true, encoding: .utf8)
    let agent = try await server.agent(space: "s")
    _ = try await agent.submit(.message(text: "open the space"), to: "s")
    let read = try await agent.submit(.readFile(path: "large.txt"), to: "s")
    #expect(read.status == .completed && read.content == large)
    let shell = try await agent.submit(.shell(command: "echo hi", timeoutMs: nil, fresh: false), to: "s")
    #expect(shell.status == .completed && shell.stdout == "hi\n" && shell.exitCode == 0)
  }
}
