import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// What one misbehaving agent did: how often it tried, how often the server refused it, what got
/// through (a breach: an escape or a crash), and counts of what it saw.
struct MisbehaverReport: Codable, Sendable {
  var kind: String
  var attempts = 0
  var refused = 0
  var breaches: [String] = []
  var counts: [String: Int] = [:]
}

/// The running account of one misbehaving agent, shared with the benchmark that reads it.
final class Misbehaver: Sendable {
  private let report: LockedValue<MisbehaverReport>
  private let engagedFlag = LockedValue(false)

  init(_ kind: String) {
    report = LockedValue(MisbehaverReport(kind: kind))
  }

  /// Counts one attempt and whether the server refused it; an attempt that got through is a
  /// breach, described by `what`.
  func attempt(refused: Bool, _ what: @autoclosure () -> String) {
    report.withValue { report in
      report.attempts += 1
      if refused {
        report.refused += 1
      } else if report.breaches.count < 20 {
        report.breaches.append(what())
      }
    }
  }

  /// Records something that must not happen (the server crashed, didn't answer…).
  func breach(_ what: String) {
    report.withValue { if $0.breaches.count < 20 { $0.breaches.append(what) } }
  }

  /// Adds to a named count.
  func count(_ name: String, by value: Int = 1) {
    report.withValue { $0.counts[name, default: 0] += value }
  }

  /// Keeps the largest value seen under a name.
  func record(max name: String, _ value: Int) {
    report.withValue { $0.counts[name] = max($0.counts[name] ?? 0, value) }
  }

  /// Says the agent is now doing what it came to do (the well-behaved agents start after that).
  func engage() { engagedFlag.withValue { $0 = true } }

  var engaged: Bool { engagedFlag.withValue { $0 } }
  var snapshot: MisbehaverReport { report.withValue { $0 } }
}

/// What the misbehaving agents share: where the server is, what they may not get, and when to stop.
struct SoakTargets: Sendable {
  var home: SpacesHome
  var runFolder: String
  var token: String
  var stop: StopFlag
  var settings: SoakSettings

  var socketPath: String { home.path + "/" + SpacesProtocol.socketName }
  var tokenPath: String { home.path + "/supervisor.token" }
  /// Files an escaped command would write on the host.
  var markers: [String] {
    ["/tmp/spaces-soak-escaped-\(getpid())", runFolder + "/escaped", home.path + "/escaped"]
  }
}

/// The names of the misbehavers' spaces.
enum SoakSpace {
  static let escape = "m-escape"
  static let host = "m-host"
  static let supervisor = "m-super"
  static let numbers = "m-numbers"
  static let sleeper = "m-sleep"
  static let edit = "m-edit"
  static let big = "m-big"
  static let bigFile = "big.txt"
  static let editFile = "edit.txt"
}

/// The misbehaving agents of issue 11, one of each kind, each running until told to stop.
enum Misbehavers {
  /// Runs `body` on a thread of its own (it blocks on sockets), and waits for it.
  static func onThread(_ name: String, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let thread = Thread {
        body()
        continuation.resume()
      }
      thread.name = name
      thread.start()
    }
  }

  /// Calls `body`, which must be refused with -32003 (forbidden); anything else that isn't an
  /// error is a breach.
  static func expectForbidden(_ tally: Misbehaver, _ what: String, _ body: () async throws(SpacesError) -> Void)
    async
  {
    do throws(SpacesError) {
      try await body()
      tally.attempt(refused: false, "\(what) was allowed")
    } catch  where error.rpcCode != nil {
      tally.attempt(
        refused: error.rpcCode == RPCErrorCode.forbidden, "\(what): \(error.rpcCode ?? 0) \(error.message)")
    } catch {
      tally.count("call errors")
      tally.attempt(refused: true, "")
    }
  }

  /// Kind 1: an agent trying to get an unsandboxed shell — a host space of its own, a hello that
  /// rebinds it to the person's host space, a command there, and a script in its own sandboxed
  /// (permissive) space that writes to the host and reads the token: the policy lets it run (the
  /// analyzer can't see into a script file), so only the sandbox stands in its way.
  static func unsandboxedShell(_ targets: SoakTargets, _ tally: Misbehaver) async {
    guard let client = try? await SpacesClient.connect(home: targets.home.path) else {
      tally.breach("couldn't connect")
      return
    }
    defer { Task { await client.close() } }
    let markers = targets.markers
    let script =
      markers.map { "echo escaped > \($0)" }.joined(separator: "\n")
      + "\ncat \(targets.tokenPath)\nls -a \(targets.home.path)\ntouch \(targets.home.path)/spaces.sock\n"
    do {
      try await client.hello(space: SoakSpace.escape, client: "escapee")
      let written = try await client.submit(
        .createFile(path: "escape.sh", content: script, encoding: .utf8), to: SoakSpace.escape)
      if written.status != .completed { tally.breach("couldn't write its script: \(written.status.rawValue)") }
    } catch {
      tally.breach("set-up: \(error)")
    }
    var round = 0
    while !targets.stop.isSet, round < 1_000_000 {
      round += 1
      await expectForbidden(tally, "space.create with the host backend") { () throws(SpacesError) in
        _ = try await client.createSpace(
          SpaceCreateParams(name: "esc-\(round)", policy: .permissive, backend: .host))
      }
      await expectForbidden(tally, "space.create of a workspace of its choosing") { () throws(SpacesError) in
        _ = try await client.createSpace(SpaceCreateParams(name: "esc-w\(round)", workspace: targets.runFolder))
      }
      await expectForbidden(tally, "hello rebinding to the host space") { () throws(SpacesError) in
        try await client.hello(space: SoakSpace.host)
      }
      await expectForbidden(tally, "a command in the host space") { () throws(SpacesError) in
        _ = try await client.submit(.shell(command: "echo escaped > \(markers[0])", timeoutMs: nil), to: SoakSpace.host)
      }
      for command in ["sh escape.sh", "echo escaped > \(markers[1])"] {
        do {
          let result = try await client.submit(.shell(command: command, timeoutMs: nil), to: SoakSpace.escape)
          let leaked = [result.stdout, result.stderr].contains { $0?.contains(targets.token) == true }
          let written = markers.filter { access($0, F_OK) == 0 }
          tally.attempt(
            refused: !leaked && written.isEmpty,
            "`\(command)` in the sandbox: wrote \(written), read the token: \(leaked)")
          tally.count("`\(command.prefix(12))` \(result.status.rawValue)")
        } catch {
          tally.count("call errors")
        }
      }
      tally.engage()
    }
  }

  /// Kind 2: an agent trying to become the supervisor — hello with a made-up token, spaces whose
  /// workspace is `/` or SPACES_HOME's parent, the token read as a file and by a command, and
  /// the supervisor's methods.
  static func becomeSupervisor(_ targets: SoakTargets, _ tally: Misbehaver) async {
    guard let client = try? await SpacesClient.connect(home: targets.home.path) else {
      tally.breach("couldn't connect")
      return
    }
    defer { Task { await client.close() } }
    do { try await client.hello(space: SoakSpace.supervisor, client: "usurper") } catch {
      tally.breach("hello: \(error)")
    }
    let parent = (targets.home.path as NSString).deletingLastPathComponent
    let workspace = targets.home.ownWorkspace(SoakSpace.supervisor)
    // The token's path relative to the workspace: up out of it, then down.
    let relative =
      String(
        repeating: "../",
        count: workspace.split(separator: "/").count
          - targets.home.path.split(separator: "/").count) + "supervisor.token"
    let token = targets.token
    func leaks(_ result: OperationResult) -> Bool {
      [result.content, result.stdout, result.stderr].contains { $0?.contains(token) == true }
    }
    var round = 0
    while !targets.stop.isSet, round < 1_000_000 {
      round += 1
      await expectForbidden(tally, "hello as supervisor with a made-up token") { () throws(SpacesError) in
        try await client.hello(role: .supervisor, token: String(repeating: "0", count: 64))
      }
      await expectForbidden(tally, "hello as supervisor without a token") { () throws(SpacesError) in
        try await client.hello(role: .supervisor)
      }
      await expectForbidden(tally, "space.create with workspace /") { () throws(SpacesError) in
        _ = try await client.createSpace(SpaceCreateParams(name: "root-\(round)", workspace: "/"))
      }
      await expectForbidden(tally, "space.create with SPACES_HOME's parent") { () throws(SpacesError) in
        _ = try await client.createSpace(SpaceCreateParams(name: "parent-\(round)", workspace: parent))
      }
      for path in [targets.tokenPath, relative] {
        do {
          let result = try await client.submit(.readFile(path: path), to: SoakSpace.supervisor)
          tally.attempt(refused: result.status != .completed && !leaks(result), "readFile \(path) returned the token")
        } catch {
          tally.count("call errors")
        }
      }
      do {
        let result = try await client.submit(
          .shell(command: "cat \(targets.tokenPath) \(relative)", timeoutMs: nil), to: SoakSpace.supervisor)
        tally.attempt(refused: !leaks(result), "`cat` printed the supervisor token")
      } catch {
        tally.count("call errors")
      }
      await expectForbidden(tally, "approval.resolve") { () throws(SpacesError) in
        try await client.resolveApproval("op_0000000000000000", .once)
      }
      await expectForbidden(tally, "approval.extend") { () throws(SpacesError) in
        try await client.extendApproval("op_0000000000000000", seconds: 3600)
      }
      await expectForbidden(tally, "file.read") { () throws(SpacesError) in
        _ = try await client.readFile("x", in: SoakSpace.supervisor)
      }
      await expectForbidden(tally, "events.subscribe to every space") { () throws(SpacesError) in
        _ = try await client.subscribe(space: nil)
      }
      await expectForbidden(tally, "space.delete") { () throws(SpacesError) in
        try await client.deleteSpace(SoakSpace.big)
      }
      tally.engage()
    }
  }

  /// Kind 3: huge numbers and malformed lines on a raw connection; each must be answered with an
  /// error and leave the connection serving.
  static func hugeNumbers(_ targets: SoakTargets, _ tally: Misbehaver) {
    let space = SoakSpace.numbers
    func submit(_ id: Int, _ op: String) -> String {
      #"{"jsonrpc":"2.0","id":\#(id),"method":"op.submit","params":{"space":"\#(space)","op":\#(op)}}"#
    }
    // Lines with an id: the answer must be this error code.
    let withID: [(String, Int)] = [
      (submit(1, #"{"kind":"shell","command":"echo hi","timeoutMs":9223372036854775807}"#), RPCErrorCode.invalidParams),
      (submit(2, #"{"kind":"shell","command":"echo hi","timeoutMs":1e300}"#), RPCErrorCode.invalidParams),
      (submit(3, #"{"kind":"shell","command":"echo hi","timeoutMs":-1}"#), RPCErrorCode.invalidParams),
      (
        submit(4, #"{"kind":"shell","command":"echo hi","timeoutMs":18446744073709551616}"#), RPCErrorCode.invalidParams
      ),
      (
        #"{"jsonrpc":"2.0","id":5,"method":"events.subscribe","params":{"space":"\#(space)","fromSeq":-9}}"#,
        RPCErrorCode.invalidParams
      ),
      (
        #"{"jsonrpc":"2.0","id":6,"method":"events.subscribe","params":{"space":"\#(space)","fromSeq":1e300}}"#,
        RPCErrorCode.invalidParams
      ),
      (#"{"jsonrpc":"2.0","id":7,"method":"hello","params":"not an object"}"#, RPCErrorCode.invalidParams),
      (#"{"jsonrpc":"1.0","id":8,"method":"hello"}"#, RPCErrorCode.invalidRequest),
      (#"{"jsonrpc":"2.0","id":9}"#, RPCErrorCode.invalidRequest),
      (#"{"jsonrpc":"2.0","id":10,"method":"no.such.method"}"#, RPCErrorCode.methodNotFound),
    ]
    // Lines whose id can't be read: the answer is an error with a null id.
    let nested = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    let withoutID: [[UInt8]] = [
      Array(#"{"jsonrpc":"2.0","id":1e400,"method":"hello"}"#.utf8),
      Array("{not json".utf8),
      Array("[1,2,3]".utf8),
      [0xFF, 0xFE, 0x7B, 0x22, 0xC3, 0x28, 0x7D],
      Array(nested.utf8),
      Array(("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hello\",\"params\":{\"client\":" + nested + "}}").utf8),
    ]
    var round = 0
    while !targets.stop.isSet, round < 1_000_000 {
      round += 1
      let socket: SoakSocket
      do {
        socket = try SoakSocket(path: targets.socketPath)
      } catch {
        tally.breach("couldn't connect: \(error)")
        return
      }
      defer { socket.close() }
      // A connection serves many rounds; a new one every 50 rounds.
      rounds: for _ in 0..<50 where !targets.stop.isSet {
        for (line, code) in withID {
          socket.send(line: line)
          guard let id = idOf(line), let answer = socket.answer(id: id) else {
            // Not a breach by itself (a crash shows as one at the end): a new connection.
            tally.count("no answer within 10 s")
            break rounds
          }
          let got = (answer["error"] as? [String: Any])?["code"] as? Int
          tally.attempt(refused: got == code, "\(line.prefix(120)) answered \(got.map(String.init) ?? "a result")")
        }
        for line in withoutID {
          socket.send(line + [0x0A])
          guard let reply = socket.readLine(),
            let answer = (try? JSONSerialization.jsonObject(with: Data(reply))) as? [String: Any]
          else {
            tally.count("no answer within 10 s")
            break rounds
          }
          let error = answer["error"] as? [String: Any]
          tally.attempt(
            refused: error != nil && answer["id"] is NSNull,
            "a malformed line of \(line.count) bytes was answered \(String(decoding: reply.prefix(200), as: UTF8.self))"
          )
        }
        // Once a round: a line over the size limit, then the connection must still serve.
        if round % 10 == 1 {
          var oversize = Array(#"{"jsonrpc":"2.0","id":11,"method":"hello","params":{"client":""#.utf8)
          oversize += [UInt8](repeating: 0x61, count: SpacesProtocol.defaultMaxMessageBytes)
          oversize += Array("\"}}\n".utf8)
          socket.send(oversize)
          let reply = socket.readLine().flatMap {
            (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any]
          }
          let code = (reply?["error"] as? [String: Any])?["code"] as? Int
          tally.attempt(
            refused: code == RPCErrorCode.invalidRequest, "a line over the size limit was answered \(code ?? 0)")
        }
        socket.send(line: #"{"jsonrpc":"2.0","id":99,"method":"space.list"}"#)
        guard socket.answer(id: 99)?["result"] != nil else {
          tally.count("no answer within 10 s")
          break rounds
        }
        tally.count("rounds")
        tally.engage()
        round += 1
      }
    }
  }

  private static func idOf(_ line: String) -> Int? {
    guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return nil }
    return object["id"] as? Int
  }

  /// Kind 4a: one connection keeping `count` `sleep` commands in flight (allowed by the policy;
  /// the connection's and the space's running limits queue them).
  static func sleepers(_ targets: SoakTargets, _ tally: Misbehaver) async {
    guard let client = try? await SpacesClient.connect(home: targets.home.path) else {
      tally.breach("couldn't connect")
      return
    }
    do { try await client.hello(space: SoakSpace.sleeper, client: "sleeper") } catch { tally.breach("hello: \(error)") }
    let command = "sleep \(targets.settings.sleepSeconds)"
    await withTaskGroup(of: Void.self) { group in
      for _ in 0..<targets.settings.sleepers {
        group.addTask {
          var submitted = 0
          while !targets.stop.isSet, submitted < 100_000 {
            submitted += 1
            tally.count("sleeps submitted")
            guard let result = try? await client.submit(.shell(command: command, timeoutMs: nil), to: SoakSpace.sleeper)
            else { return }
            tally.count("sleeps \(result.status.rawValue)")
          }
        }
      }
      tally.engage()
      // Closing the connection ends what still sleeps or waits (the server cancels it).
      group.addTask {
        while !targets.stop.isSet { try? await Task.sleep(for: .milliseconds(20)) }
        await client.close()
      }
    }
  }

  /// Kind 4b: `editFile` on a 10 MiB file with a long `oldText`: one edit that matches (it
  /// swaps a region back and forth) and one made to be slow for a naive search (the file is
  /// mostly one letter, the text that letter then another).
  static func longEdits(_ targets: SoakTargets, _ tally: Misbehaver) async {
    guard let client = try? await SpacesClient.connect(home: targets.home.path) else {
      tally.breach("couldn't connect")
      return
    }
    defer { Task { await client.close() } }
    do { try await client.hello(space: SoakSpace.edit, client: "editor") } catch { tally.breach("hello: \(error)") }
    let chars = targets.settings.oldTextChars
    let regions = EditRegions(chars: chars)
    let naive = String(repeating: "a", count: chars - 1) + "b"
    var current = 0
    let clock = ContinuousClock()
    var round = 0
    while !targets.stop.isSet, round < 1_000_000 {
      round += 1
      let start = clock.now
      do {
        let swap = try await client.submit(
          .editFile(path: SoakSpace.editFile, oldText: regions.text[current], newText: regions.text[1 - current]),
          to: SoakSpace.edit)
        if swap.status == .completed {
          current = 1 - current
          tally.count("edits completed")
        } else {
          tally.count("edits \(swap.status.rawValue) \(swap.error?.code ?? "")")
        }
        tally.record(max: "slowest edit ms", Int((clock.now - start).milliseconds))
        let miss = clock.now
        let search = try await client.submit(
          .editFile(path: SoakSpace.editFile, oldText: naive, newText: "x"), to: SoakSpace.edit)
        tally.count("searches \(search.error?.code ?? search.status.rawValue)")
        tally.record(max: "slowest no-match search ms", Int((clock.now - miss).milliseconds))
      } catch {
        tally.count("call errors")
        return
      }
      tally.engage()
    }
  }

  /// Kind 5a: connections that each pipeline reads of a 10 MiB file and never read the answers.
  /// One the server drops (past its per-connection limit or the reply budget) comes back, a few
  /// times over.
  static func slowReaders(_ targets: SoakTargets, _ tally: Misbehaver) {
    let settings = targets.settings
    let hello = #"{"jsonrpc":"2.0","id":0,"method":"hello","params":{"space":"\#(SoakSpace.big)"}}"#
    let reads = (1...settings.readsPerReader).map {
      #"{"jsonrpc":"2.0","id":\#($0),"method":"op.submit","params":{"space":"\#(SoakSpace.big)","op":{"kind":"readFile","path":"\#(SoakSpace.bigFile)"}}}"#
    }
    let request = ([hello] + reads).joined(separator: "\n") + "\n"
    func open() -> SoakSocket? {
      guard let socket = try? SoakSocket(path: targets.socketPath) else {
        tally.count("connect errors")
        return nil
      }
      socket.send(Array(request.utf8))
      tally.count("connections")
      tally.count("reads sent", by: reads.count)
      return socket
    }
    var sockets = (0..<settings.slowReaders).map { _ in open() }
    var lives = Array(repeating: 1, count: sockets.count)
    tally.engage()
    var ticks = 0
    while !targets.stop.isSet, ticks < 36_000 {
      ticks += 1
      usleep(100_000)
      for index in sockets.indices where sockets[index]?.hungUp ?? false {
        tally.count("dropped by the server")
        sockets[index]?.close()
        sockets[index] = nil
        if lives[index] < settings.slowReaderLives {
          lives[index] += 1
          sockets[index] = open()
        }
      }
    }
    tally.record(max: "still connected at the end", sockets.filter { $0 != nil }.count)
    for socket in sockets { socket?.close() }
  }

  /// Kind 5b: subscribers replaying the big space's journal (of large events) from `seq` 1 and
  /// never reading; they start once the journal holds a few large records. Reads journal only
  /// a hash, so the large records are written here: `createFile`s of the big file's size, whose
  /// `received` events carry their content.
  static func subscribers(_ targets: SoakTargets, _ tally: Misbehaver) {
    let journal = targets.home.journalPath(SoakSpace.big)
    let wanted = 4 * targets.settings.bigFileBytes
    if let writer = try? SoakSocket(path: targets.socketPath) {
      let content = String(repeating: "y", count: targets.settings.bigFileBytes)
      var lines = #"{"jsonrpc":"2.0","id":0,"method":"hello","params":{"space":"\#(SoakSpace.big)"}}"# + "\n"
      for index in 1...4 {
        lines +=
          #"{"jsonrpc":"2.0","id":\#(index),"method":"op.submit","params":{"space":"\#(SoakSpace.big)","events":false,"op":{"kind":"createFile","path":"replayed-\#(index).txt","content":"\#(content)"}}}"#
          + "\n"
      }
      _ = writer.send(Array(lines.utf8))
      for index in 1...4 where writer.answer(id: index)?["result"] == nil { tally.count("large writes not answered") }
      writer.close()
    }
    var ticks = 0
    while !targets.stop.isSet, ticks < 6000 {
      var info = stat()
      if stat(journal, &info) == 0, Int(info.st_size) >= wanted { break }
      ticks += 1
      usleep(20_000)
    }
    var info = stat()
    if stat(journal, &info) == 0 { tally.record(max: "journal MiB when they subscribed", Int(info.st_size) >> 20) }
    let request =
      #"{"jsonrpc":"2.0","id":0,"method":"hello","params":{"space":"\#(SoakSpace.big)"}}"# + "\n"
      + #"{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"space":"\#(SoakSpace.big)","fromSeq":1}}"#
      + "\n"
    var sockets: [SoakSocket] = []
    for _ in 0..<targets.settings.subscribers {
      guard let socket = try? SoakSocket(path: targets.socketPath) else {
        tally.count("connect errors")
        continue
      }
      socket.send(Array(request.utf8))
      sockets.append(socket)
      tally.count("subscriptions")
    }
    tally.engage()
    ticks = 0
    while !targets.stop.isSet, ticks < 360_000 {
      ticks += 1
      usleep(10_000)
    }
    tally.count("dropped by the server", by: sockets.filter(\.hungUp).count)
    for socket in sockets { socket.close() }
  }

  /// Kind 7: bursts of connections: `burst` connects as fast as they go, a hello on each, every
  /// answer read, all closed, a pause, again.
  static func bursts(_ targets: SoakTargets, _ tally: Misbehaver) {
    let hello = Array((#"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"client":"burst"}}"# + "\n").utf8)
    var rounds = 0
    while !targets.stop.isSet, rounds < 100_000 {
      rounds += 1
      var sockets: [SoakSocket] = []
      for _ in 0..<targets.settings.burst {
        do {
          sockets.append(try SoakSocket(path: targets.socketPath))
        } catch {
          tally.count("connect errors")
        }
      }
      for socket in sockets { socket.send(hello) }
      let answered = sockets.filter { $0.answer(id: 1)?["result"] != nil }.count
      tally.count("connections", by: sockets.count)
      tally.count("answered", by: answered)
      tally.count("not answered within 10 s", by: sockets.count - answered)
      for socket in sockets { socket.close() }
      tally.count("bursts")
      tally.engage()
      var waited = 0
      while !targets.stop.isSet, waited < targets.settings.burstPauseMs {
        usleep(10_000)
        waited += 10
      }
    }
  }
}

/// The two regions `longEdits` swaps: each `chars` long, each found once in the file.
struct EditRegions {
  var text: [String]

  init(chars: Int) {
    let body = String(repeating: "x", count: max(0, chars - 5))
    text = [body + "AAAAA", body + "BBBBB"]
  }

  /// The 10 MiB file: one letter, a newline, then the first region.
  static func file(bytes: Int, chars: Int) -> String {
    String(repeating: "a", count: max(0, bytes - chars - 1)) + "\n" + EditRegions(chars: chars).text[0]
  }
}
