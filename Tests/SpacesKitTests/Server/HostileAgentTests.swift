import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesClientKit
@testable import SpacesKit
@testable import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// What a hostile agent tried over a real socket (issue 11), each attempt made for real and
/// asserted to fail: a host shell, the supervisor token, a crash, a stall.
@Suite struct HostileAgentTests {
  /// An agent bound to one space creates a host space, rebinds to it and runs a script there.
  @Test func anAgentCantGetAnUnsandboxedShell() async throws {
    for allowAgentSpaces in [false, true] {
      let server = try await TestServer.start(policy: .standard) { $0.allowAgentSpaces = allowAgentSpaces }
      defer { Task { await server.stop() } }
      let marker = server.folder.path + "/escaped-\(allowAgentSpaces)"
      let agent = try await server.agent(space: "s")
      await expectRPCError(RPCErrorCode.forbidden) {
        _ = try await agent.createSpace(SpaceCreateParams(name: "x", policy: .permissive, backend: .host))
      }
      await expectRPCError(RPCErrorCode.forbidden) { try await agent.hello(space: "x") }
      #expect(!server.home.names().contains("x"))
      // Even a space made by the person can't be reached from this connection.
      _ = try server.home.create(name: "y", policy: .permissive, backend: .host)
      await expectRPCError(RPCErrorCode.forbidden) { try await agent.hello(space: "y") }
      await expectRPCError(RPCErrorCode.forbidden) {
        _ = try await agent.submit(.shell(command: "touch \(marker)", timeoutMs: nil), to: "y")
      }
      #expect(access(marker, F_OK) != 0)
      // The same connection may still say hello to its own space.
      try await agent.hello(space: "s")
    }
  }

  @Test func whatAnAgentMayCreateWithAllowAgentSpaces() async throws {
    let server = try await TestServer.start(policy: .standard) { $0.allowAgentSpaces = true }
    defer { Task { await server.stop() } }
    let agent = try await server.agent(space: "s")
    let refused: [(SpaceCreateParams, String)] = [
      (SpaceCreateParams(name: "a", backend: .host), "host backend"),
      (SpaceCreateParams(name: "b", workspace: server.folder.path), "workspace"),
      (SpaceCreateParams(name: "c", network: true), "network"),
      (SpaceCreateParams(name: "d", policy: .permissive), "wider than"),
    ]
    for (params, fragment) in refused {
      do throws(SpacesError) {
        _ = try await agent.createSpace(params)
        Issue.record("\(params.name) was created")
      } catch {
        #expect(error.rpcCode == RPCErrorCode.forbidden)
        #expect(error.message.contains(fragment), "\(error.message)")
      }
    }
    let made = try await agent.createSpace(SpaceCreateParams(name: "e", policy: .restrictive))
    #expect(made.backend == .bubblewrap && made.ownsWorkspace && !made.capabilities.network)
    // It stays bound to its own space all the same.
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.submit(.message(text: "x"), to: "e") }
    // Without the option, nothing.
    let plain = try await TestServer.start(policy: .standard)
    defer { Task { await plain.stop() } }
    let other = try await plain.agent(space: "s")
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await other.createSpace(SpaceCreateParams(name: "e")) }
  }

  /// Workspaces that contain what guards the agent are refused from the socket, even for a
  /// supervisor, whether named directly or through a symlink.
  @Test func aWorkspaceCantHoldTheRuntimesHome() async throws {
    let server = try await TestServer.start(policy: .standard)
    defer { Task { await server.stop() } }
    let supervisor = try await server.supervisor()
    let link = server.folder.path + "-link"
    symlink(server.folder.path, link)
    defer { unlink(link) }
    let parent = (server.folder.path as NSString).deletingLastPathComponent
    for (index, workspace) in ["/", parent, server.folder.path, link, "/etc", "/usr/bin", "/tmp"].enumerated() {
      do throws(SpacesError) {
        _ = try await supervisor.createSpace(SpaceCreateParams(name: "w\(index)", workspace: workspace))
        Issue.record("\(workspace) was accepted")
      } catch {
        #expect(error.code == .invalidPath, "\(workspace): \(error.message)")
        #expect(error.message.contains("can't be a workspace"), "\(error.message)")
      }
    }
    do throws(SpacesError) {
      _ = try await supervisor.createSpace(SpaceCreateParams(name: "f", workspace: "/etc/passwd"))
      Issue.record("a file was accepted")
    } catch {
      #expect(error.message.contains("is a file, not a folder"), "\(error.message)")
    }
  }

  /// A space.json edited by hand to point at `/` can't be opened: the agent reads nothing.
  @Test func aConfigEditedByHandIsCheckedOnOpen() async throws {
    let server = try await TestServer.start(policy: .standard)
    defer { Task { await server.stop() } }
    var config = try server.home.load("s")
    config.workspace = "/"
    config.ownsWorkspace = false
    try server.home.save(config)
    let agent = try await server.agent(space: "s")
    let read = try await agent.submit(.readFile(path: "etc/hostname"), to: "s")
    #expect(read.status == .failed)
    #expect(read.error?.code == "invalidPath")
    #expect(read.error?.message.contains("root of the whole machine") == true)
  }

  /// The token can't be read from a workspace, not even through a hard link to it.
  @Test func theTokenIsRefusedByIdentity() async throws {
    let server = try await TestServer.start(policy: .permissive)
    defer { Task { await server.stop() } }
    let workspace = try server.home.load("s").workspace
    let tokenPath = SupervisorToken.path(in: server.home)
    guard link(tokenPath, workspace + "/t") == 0 else {
      Issue.record("can't hard-link the token for the test: \(errno)")
      return
    }
    let agent = try await server.agent(space: "s")
    let read = try await agent.submit(.readFile(path: "t"), to: "s")
    #expect(read.status == .failed)
    #expect(read.content == nil)
    #expect(read.error?.code == "pathOutsideWorkspace")
  }

  /// Numbers from outside never trap the server: the operation is refused and the server answers.
  @Test func hugeNumbersAreRefusedNotCrashes() async throws {
    let server = try await TestServer.start(policy: .permissive)
    defer { Task { await server.stop() } }
    let path = server.socketPath
    try await blocking { try Self.hugeNumbers(path) }

    // A policy.yaml with a huge limit is refused with its line, and the space says so.
    try "preset: permissive\nlimits:\n  timeoutMs: 9223372036854775807\n".write(
      toFile: server.home.policyPath("s"), atomically: true, encoding: .utf8)
    let agent = try await server.agent(space: "s")
    let run = try await agent.submit(.shell(command: "echo hi", timeoutMs: nil), to: "s")
    #expect(run.status == .failed)
    #expect(run.error?.code == "invalidConfig")
    #expect(run.error?.message.contains("timeoutMs") == true)
  }

  static func hugeNumbers(_ path: String) throws {
    let raw = try RawSocket(unixPath: path)
    let huge = raw.request(
      #"{"jsonrpc":"2.0","id":1,"method":"op.submit","params":{"space":"s","op":{"kind":"shell","command":"echo hi","timeoutMs":9223372036854775807}}}"#
    )
    #expect(huge?.errorCode == RPCErrorCode.invalidParams)
    #expect(huge?.errorMessage.contains("from 1 to 86400000") == true)
    let float = raw.request(
      #"{"jsonrpc":"2.0","id":2,"method":"op.submit","params":{"space":"s","op":{"kind":"shell","command":"echo hi","timeoutMs":1e300}}}"#
    )
    #expect(float?.errorCode == RPCErrorCode.invalidParams)
    let negative = raw.request(
      #"{"jsonrpc":"2.0","id":3,"method":"events.subscribe","params":{"space":"s","fromSeq":-9}}"#)
    #expect(negative?.errorCode == RPCErrorCode.invalidParams)
    #expect(raw.request(#"{"jsonrpc":"2.0","id":4,"method":"space.list"}"#)?["result"] != nil)
  }

  /// A per-operation timeout can lower the space's limit, never raise it.
  @Test func anOperationCantRaiseTheSpacesTimeout() async throws {
    let server = try await TestServer.start(policy: .permissive)
    defer { Task { await server.stop() } }
    try "preset: permissive\nlimits:\n  timeoutMs: 300\n".write(
      toFile: server.home.policyPath("s"), atomically: true, encoding: .utf8)
    let agent = try await server.agent(space: "s")
    let run = try await agent.submit(.shell(command: "sleep 5", timeoutMs: 60_000), to: "s")
    #expect(run.error?.code == "timeout")
    #expect(run.error?.message.contains("300 ms") == true)
  }

  /// Agents pipelining long commands in four spaces (32 running, the rest queued) don't keep
  /// another space from being answered at once.
  @Test func agentsRunningLongCommandsCantStallTheOthers() async throws {
    let server = try await TestServer.start(policy: .permissive)
    defer { Task { await server.stop() } }
    _ = try server.home.create(name: "other", policy: .permissive, backend: .host)
    var hogs: [SpacesClient] = []
    for index in 0..<4 {
      _ = try server.home.create(name: "h\(index)", policy: .permissive, backend: .host)
      hogs.append(try await server.agent(space: "h\(index)"))
    }
    let agents = hogs
    let sleeps = Task {
      try await withThrowingTaskGroup(of: Void.self) { group in
        for (index, hog) in agents.enumerated() {
          for _ in 0..<10 {
            group.addTask { _ = try await hog.submit(.shell(command: "sleep 30", timeoutMs: nil), to: "h\(index)") }
          }
        }
        try await group.waitForAll()
      }
    }
    try await eventually("the hogs' commands to start and queue") {
      (0..<4).allSatisfy { index in
        let events = (try? Journal.read(path: server.home.journalPath("h\(index)")).events) ?? []
        return events.filter { $0.type == .started }.count == 8 && events.filter { $0.type == .queued }.count == 2
      }
    }
    let queued = try Journal.read(path: server.home.journalPath("h0")).events.first { $0.type == .queued }
    guard case .queued(let reason) = queued?.payload else {
      Issue.record("no queued event")
      return
    }
    #expect(reason.contains("already run in this space"))
    let other = try await server.agent(space: "other")
    let clock = ContinuousClock()
    let started = clock.now
    let message = try await other.submit(.message(text: "still here"), to: "other")
    let echo = try await other.submit(.shell(command: "echo fine", timeoutMs: nil), to: "other")
    let took = clock.now - started
    #expect(message.status == .completed)
    #expect(echo.stdout == "fine\n")
    // Seconds, not the 30 of a sleep: the message and the echo didn't wait for the hogs.
    #expect(took < .seconds(10), "took \(took)")
    sleeps.cancel()
    for hog in hogs { await hog.close() }
    _ = try? await sleeps.value
  }

  /// A connection's commands beyond its share wait as `queued`, and say why.
  @Test func aConnectionsCommandsBeyondItsShareQueue() async throws {
    let server = try await TestServer.start(policy: .permissive) { $0.maxRunningPerConnection = 2 }
    defer { Task { await server.stop() } }
    let agent = try await server.agent(space: "s")
    let sleeps = Task {
      try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<5 {
          group.addTask { _ = try await agent.submit(.shell(command: "sleep 30", timeoutMs: nil), to: "s") }
        }
        try await group.waitForAll()
      }
    }
    try await eventually("two to start and three to queue") {
      let events = (try? Journal.read(path: server.home.journalPath("s")).events) ?? []
      return events.filter { $0.type == .started }.count == 2 && events.filter { $0.type == .queued }.count == 3
    }
    let queued = try Journal.read(path: server.home.journalPath("s")).events.first { $0.type == .queued }
    guard case .queued(let reason) = queued?.payload else {
      Issue.record("no queued event")
      return
    }
    #expect(reason.contains("its connection already runs 2"))
    // Disconnecting ends the running ones and the queued ones, each journaled once.
    await agent.close()
    sleeps.cancel()
    _ = try? await sleeps.value
    try await eventually("every command to end") {
      let events = (try? Journal.read(path: server.home.journalPath("s")).events) ?? []
      return events.filter { $0.type == .failed }.count == 5
    }
    let events = try Journal.read(path: server.home.journalPath("s")).events
    #expect(events.filter { $0.type == .failed }.allSatisfy { $0.result?.error?.code == "cancelled" })
  }
}

/// The server's memory for unread answers stays within its budget however many clients stop
/// reading (issue 11, finding 5).
@Suite struct ReplyBudgetTests {
  @Test func clientsThatDontReadAreDroppedBeforeTheBudgetIsExceeded() async throws {
    let budget = 1 << 20
    let server = try await TestServer.start(policy: .permissive) {
      $0.replyBudgetBytes = budget
      $0.pauseReadingBytes = 512 << 10
    }
    defer { Task { await server.stop() } }
    let workspace = try server.home.load("s").workspace
    try String(repeating: "a", count: 256 << 10).write(
      toFile: workspace + "/big.txt", atomically: true, encoding: .utf8)
    let path = server.socketPath
    let sockets = try (0..<4).map { _ in try RawSocket(unixPath: path, timeoutSeconds: 5) }
    let request = (1...8).map {
      #"{"jsonrpc":"2.0","id":\#($0),"method":"op.submit","params":{"space":"s","events":false,"op":{"kind":"readFile","path":"big.txt"}}}"#
        + "\n"
    }.joined()
    for socket in sockets { socket.send(request) }
    var peak = 0
    try await eventually("a connection that doesn't read to be dropped") {
      peak = max(peak, server.server.budget.used)
      return server.server.budget.dropped >= 1
    }
    #expect(peak <= budget)
    #expect(server.server.budget.peak <= budget)
    // The dropped ones see the end of their stream; a new client is served as before.
    let ended = try await blocking {
      sockets.map { socket -> Bool in
        while socket.readLine() != nil {}
        return !socket.timedOut
      }
    }
    #expect(ended.contains(true))
    let agent = try await server.agent(space: "s")
    let read = try await agent.submit(.readFile(path: "big.txt"), to: "s")
    #expect(read.content?.count == 256 << 10)
  }
}

/// Smaller findings of issue 11.
@Suite struct HostileInputMessagesTests {
  @Test func anInvalidNameIsNotEchoedWithItsControlCharacters() {
    do {
      try SpacesHome.validate(name: "x\u{1B}[2J\u{07}\nname")
      Issue.record("accepted")
    } catch {
      #expect(!error.message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
      #expect(error.message.contains("x^[[2J^G^Jname"))
    }
  }

  /// A burst of 2,000 non-blocking connects (as asyncio clients make them) is not refused for
  /// a full listen backlog (it was 256), and the server still answers afterwards.
  @Test func aBurstOfConnectionsIsAccepted() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let path = server.socketPath
    let refused = try await blocking { () -> Int in
      var descriptors: [Int32] = []
      defer { for fd in descriptors { close(fd) } }
      var refused = 0
      var address = sockaddr_un()
      address.sun_family = sa_family_t(AF_UNIX)
      withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
      }
      for _ in 0..<2000 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SpacesError(.ioError, "socket() failed: \(errno)") }
        descriptors.append(fd)
        let result = withUnsafePointer(to: &address) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
          }
        }
        if result != 0 { refused += 1 }
      }
      return refused
    }
    #expect(refused == 0)
    let agent = try await server.agent(space: "s")
    #expect(try await agent.submit(.message(text: "after the burst"), to: "s").status == .completed)
  }
}
