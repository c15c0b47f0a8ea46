import ArgumentParser
import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel
import SpacesSandbox

/// Round trips over the `spaces serve` socket, against the same operations embedded.
///
/// Starts an in-process server on a temporary SPACES_HOME with a host-backend space (and a
/// bubblewrap one when `bwrap` works), and measures readFile and createFile of 1 KiB, shell
/// `true`, and operations per second with 8 concurrent clients.
func runServerBench(iterations: Int = 300) async throws -> [BenchRow] {
  let folder = FileManager.default.temporaryDirectory.path + "/spaces-bench-\(UUID().uuidString.prefix(8))"
  defer { try? FileManager.default.removeItem(atPath: folder) }
  let home = SpacesHome(path: folder)
  _ = try home.create(name: "host", policy: .permissive, backend: .host)
  let runtime = SpacesRuntime(home: home, logger: CLI.logger)
  let server = try await SpacesServer.start(runtime: runtime, logger: CLI.logger)
  let client = try await SpacesClient.connect(home: home.path)
  try await client.hello(space: nil)
  let kib = String(repeating: "x", count: 1024)
  _ = try await client.submit(.createFile(path: "one-kib", content: kib, encoding: .utf8), to: "host")

  var rows: [BenchRow] = []
  func measure(
    _ name: String, _ count: Int, target: String? = nil, limit: Double? = nil, _ body: () async throws -> Void
  ) async rethrows {
    for _ in 0..<min(20, count) { try await body() }
    var samples: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<count {
      let start = clock.now
      try await body()
      let elapsed = clock.now - start
      samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
    }
    let row = BenchRow(name, unit: "µs", samples: samples, target: target)
    rows.append(
      BenchRow(name, unit: "µs", samples: samples, target: target, met: limit.map { row.median <= $0 }))
  }

  // The encoders: an output event of 64 KiB of `seq` output and a readFile's `completed`, by
  // Foundation's JSONEncoder (the previous encoder, here the reference) and by hand.
  var chunk = Event(
    space: "host", opId: "op_0123456789abcdef",
    .output(stream: .stdout, data: String((1...20_000).map { "\($0)\n" }.joined().prefix(65_536))))
  chunk.seq = 123_456
  var readResult = OperationResult(id: "op_0123456789abcdef", space: "host", kind: .readFile, status: .completed)
  readResult.size = 1024
  readResult.encoding = .utf8
  readResult.sha256 = String(repeating: "a", count: 64)
  let completed = Event(space: "host", opId: "op_0123456789abcdef", .completed(result: readResult))
  for (name, event) in [("output event 64 KiB", chunk), ("readFile completed event", completed)] {
    let slow = BenchRow(
      "encode \(name): Foundation JSONEncoder", unit: "µs",
      samples: BenchReference.samples(iterations) { _ = try? SpacesJSON.encoder.encode(event) })
    let fast = BenchRow(
      "encode \(name): hand-written", unit: "µs", samples: BenchReference.samples(iterations) { _ = event.jsonBytes })
    rows.append(slow)
    rows.append(fast.against(slow))
  }
  // The Swift client's reading of the same output event, as it arrives.
  let chunkLine = Data(String(buffer: Wire.event(chunk, requestId: .number(7))).utf8.dropLast())
  let slowRead = BenchRow(
    "decode output event 64 KiB (client): Foundation JSONDecoder", unit: "µs",
    samples: BenchReference.samples(iterations) {
      _ = try? SpacesJSON.decoder.decode(ParamsBox<EventNotification>.self, from: chunkLine)
    })
  let fastRead = BenchRow(
    "decode output event 64 KiB (client): one pass", unit: "µs",
    samples: BenchReference.samples(iterations) { _ = OutputEventDecoder.decode(chunkLine) })
  rows.append(slowRead)
  rows.append(fastRead.against(slowRead))
  // The server's reading of `op.submit` params, as the socket rows below send them.
  let submits = [
    ("readFile", #"{"events":false,"op":{"kind":"readFile","path":"one-kib"},"space":"host"}"#),
    ("shell", #"{"events":false,"op":{"command":"true","kind":"shell","timeoutMs":30000},"space":"bwrap"}"#),
  ]
  for (kind, params) in submits {
    let data = Data(params.utf8)
    let slow = BenchRow(
      "decode \(kind) op.submit params (server): Foundation JSONDecoder", unit: "µs",
      samples: BenchReference.samples(iterations) { _ = try? SpacesJSON.decoder.decode(SubmitParams.self, from: data) })
    let fast = BenchRow(
      "decode \(kind) op.submit params (server): one pass", unit: "µs",
      samples: BenchReference.samples(iterations) { _ = SubmitParams.scan(data) })
    rows.append(slow)
    rows.append(fast.against(slow))
  }

  try await measure("socket hello (bare round trip)", iterations) {
    try await client.hello()
  }
  try await measure("socket policy.check", iterations) {
    _ = try await client.checkPolicy(.readFile(path: "one-kib"), in: "host")
  }

  // The references, measured from the same raw client as the rows they are compared with: a
  // minimal line-echo server on a Unix socket, and the bare system calls of a durable write.
  let echo = try LineEchoServer(path: folder + "/echo.sock")
  defer { echo.stop() }
  let socketPath = server.socketPath
  let raw = try await BenchReference.onThread { () throws -> RawSamples in
    let echoClient = try SoakSocket(path: echo.path)
    let agent = try SoakSocket(path: socketPath)
    agent.send(line: #"{"jsonrpc":"2.0","id":0,"method":"hello","params":{"space":"host"}}"#)
    _ = agent.readLine()
    let ping =
      #"{"jsonrpc":"2.0","id":1,"method":"op.submit","params":{"events":false,"op":{"kind":"readFile","path":"one-kib"},"space":"host"}}"#
    let read = Array((ping + "\n").utf8)
    // A createFile writes a new content each time (as an agent does): its change is recorded
    // (the earlier content kept for undo, a change record) as well as written. The same content
    // written again is measured too: the file is rewritten, and nothing is recorded.
    func create(_ content: String) -> [UInt8] {
      Array(
        (#"{"jsonrpc":"2.0","id":2,"method":"op.submit","params":{"events":false,"op":{"content":"\#(content)","kind":"createFile","path":"w"},"space":"host"}}"#
          + "\n").utf8)
    }
    let journal = open(folder + "/durable.jsonl", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    defer { close(journal) }
    let line = Array(String(repeating: "j", count: 300).utf8) + [0x0A]
    let content = Array(kib.utf8)
    var samples = RawSamples()
    // One request's round trip, in microseconds (one sample).
    func roundTrip(_ socket: SoakSocket, _ request: [UInt8]) -> [Double] {
      BenchReference.samples(1, warmUp: 0) {
        socket.send(request)
        _ = socket.readLine()
      }
    }
    // Interleaved, so that the machine's load falls on a measurement and its reference alike:
    // first reads beside the echo, then creates beside the echo and the durable write (a read
    // right after a create's `fsync` waits for the file system's journal commit in its own
    // append, which is the create's cost, not the read's).
    for round in 0..<(iterations + 20) {
      let e = roundTrip(echoClient, read)
      let r = roundTrip(agent, read)
      if round >= 20 {
        samples.echo += e
        samples.read += r
      }
    }
    // The same reads 30 ms apart, as an agent that thinks between operations sends them: each
    // finds the server (and the echo) idle, its caches cold, its cores asleep.
    for round in 0..<(min(iterations, 100) + 5) {
      usleep(30_000)
      let e = roundTrip(echoClient, read)
      usleep(30_000)
      let r = roundTrip(agent, read)
      if round >= 5 {
        samples.pacedEcho += e
        samples.pacedRead += r
      }
    }
    for round in 0..<(iterations + 20) {
      let e = roundTrip(echoClient, read)
      let counter = String(round)
      let changed = create(String(kib.dropLast(counter.count)) + counter)
      let c = roundTrip(agent, changed)
      let d = try BenchReference.samples(1, warmUp: 0) {
        try BenchReference.durableWrite(folder: folder, content: content, journal: journal, line: line)
      }
      let again = roundTrip(agent, changed)
      if round >= 20 {
        samples.echo += e
        samples.create += c
        samples.same += again
        samples.durable += d
      }
    }
    return samples
  }
  let durable = raw.durable
  let echoRow = BenchRow("line-echo server round trip (raw client)", unit: "µs", samples: raw.echo)
  let durableRow = BenchRow(
    "bare durable write 1 KiB (write+fsync+rename+append+fdatasync)", unit: "µs", samples: durable)
  rows.append(echoRow)
  rows.append(durableRow)
  let rawRead = BenchRow("socket readFile 1 KiB (raw client)", unit: "µs", samples: raw.read).against(echoRow)
  rows.append(rawRead.target("≤ echo + 100 µs", met: rawRead.median <= echoRow.median + 100))
  let pacedEcho = BenchRow("line-echo server round trip, 30 ms apart (raw client)", unit: "µs", samples: raw.pacedEcho)
  rows.append(pacedEcho)
  rows.append(
    BenchRow("socket readFile 1 KiB, 30 ms apart (raw client)", unit: "µs", samples: raw.pacedRead).against(pacedEcho))
  let createReference = BenchRow(
    "durable write + echo", unit: "µs", samples: zip(durable.sorted(), raw.echo.sorted()).map { $0 + $1 })
  let rawCreate = BenchRow("socket createFile 1 KiB, new content (raw client)", unit: "µs", samples: raw.create)
    .against(createReference)
  rows.append(
    rawCreate.target(
      "≤ durable write + echo + 150 µs", met: rawCreate.median <= durableRow.median + echoRow.median + 150))
  let rawSame = BenchRow("socket createFile 1 KiB, same content again (raw client)", unit: "µs", samples: raw.same)
    .against(createReference)
  rows.append(
    rawSame.target(
      "≤ durable write + echo + 150 µs", met: rawSame.median <= durableRow.median + echoRow.median + 150))

  let hello = rows.first { $0.name == "socket hello (bare round trip)" }
  try await measure("socket readFile 1 KiB", iterations) {
    _ = try await client.submit(.readFile(path: "one-kib"), to: "host")
  }
  rows[rows.count - 1] = rows[rows.count - 1].against(hello)
  var written = 0
  try await measure("socket createFile 1 KiB, new content", iterations) {
    written += 1
    let counter = String(written)
    let content = String(kib.dropLast(counter.count)) + counter
    _ = try await client.submit(.createFile(path: "w", content: content, encoding: .utf8), to: "host")
  }
  rows[rows.count - 1] = rows[rows.count - 1].against(hello)
  // The same, 30 ms apart as an agent that pauses between operations, in a space at its
  // retention (the oldest record dropped at every change, the store swept every 25 records
  // dropped: the dropping is done after the answer) beside one far below it.
  var kept = try home.create(name: "kept", policy: .permissive, backend: .host)
  kept.undo.keepOperations = 50
  try home.save(kept)
  _ = try home.create(name: "paced", policy: .permissive, backend: .host)
  // An agent is bound to one space: a connection for each.
  var agents: [String: SpacesClient] = [:]
  for name in ["paced", "kept"] {
    let agent = try await SpacesClient.connect(home: home.path)
    try await agent.hello(space: name)
    agents[name] = agent
  }
  defer { for agent in agents.values { Task { await agent.close() } } }
  var paced: (below: [Double], at: [Double]) = ([], [])
  for round in 0..<(iterations / 2 + 60) {
    let counter = String(round)
    let content = String(kib.dropLast(counter.count)) + counter
    for space in ["paced", "kept"] {
      let start = ContinuousClock.now
      _ = try await agents[space]?.submit(
        .createFile(path: "k\(round % 10)", content: content, encoding: .utf8), to: space)
      let took = BenchReference.microseconds(ContinuousClock.now - start)
      if round >= 60 {
        if space == "kept" { paced.at.append(took) } else { paced.below.append(took) }
      }
      try await Task.sleep(for: .milliseconds(30))
    }
  }
  let below = BenchRow("socket createFile 1 KiB, new content, 30 ms apart", unit: "µs", samples: paced.below)
  rows.append(below)
  rows.append(
    BenchRow("socket createFile 1 KiB, new content, 30 ms apart, at retention (50 kept)", unit: "µs", samples: paced.at)
      .against(below))
  let space = try runtime.space("host")
  await measure("embedded readFile 1 KiB (no socket)", iterations) {
    _ = await space.submit(.readFile(path: "one-kib"))
  }
  // The bare fork/exec of /bin/true, interleaved with the shell operations compared with it.
  var bareTrue: [Double] = []
  func spawnTrue() throws {
    let start = ContinuousClock.now
    try BenchReference.spawnAndWait(["/bin/true"])
    bareTrue.append(BenchReference.microseconds(ContinuousClock.now - start))
  }
  try await measure("socket shell true (host)", iterations / 5) {
    try spawnTrue()
    _ = try await client.submit(.shell(command: "true", timeoutMs: nil), to: "host")
  }
  if FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") {
    var config = try home.create(name: "bwrap", policy: .permissive, backend: .bubblewrap)
    // All of `seq 1 200000` (1.3 MB) is output, as the bare run reads it all.
    config.limits.shell.outputCapBytes = 4 << 20
    try home.save(config)
    // An agent is bound to one space: the sandboxed space gets a connection of its own.
    let sandboxClient = try await SpacesClient.connect(home: home.path)
    defer { Task { await sandboxClient.close() } }
    try await sandboxClient.hello(space: "bwrap")
    let probe = try await sandboxClient.submit(.shell(command: "true", timeoutMs: nil), to: "bwrap")
    if probe.exitCode == 0 {
      var shellSamples: [Double] = []
      for round in 0..<(iterations / 5 + 10) {
        try spawnTrue()
        let start = ContinuousClock.now
        _ = try await sandboxClient.submit(.shell(command: "true", timeoutMs: nil), to: "bwrap")
        if round >= 10 { shellSamples.append(BenchReference.microseconds(ContinuousClock.now - start)) }
      }
      let bareRow = BenchRow("bare fork/exec /bin/true", unit: "µs", samples: bareTrue)
      rows.append(bareRow)
      let shellRow = BenchRow("socket shell true (bwrap)", unit: "µs", samples: shellSamples).against(bareRow)
      // The target is the raw client's row below (this one adds the Swift client's decoding).
      rows.append(shellRow)
      let sandboxed = try runtime.space("bwrap")
      await measure("embedded shell true (bwrap)", iterations / 5) {
        _ = await sandboxed.submit(.shell(command: "true", timeoutMs: nil))
      }
      rows[rows.count - 1] = rows[rows.count - 1].against(bareRow)

      // `seq 1 200000` through the socket, all output received, against a bare bwrap running it.
      let bwrap = BubblewrapBackend(hiddenPaths: [home.path])
      let line = try await bwrap.commandLine(
        for: ShellRequest(
          command: "seq 1 200000", workspace: sandboxed.config.workspace, limits: sandboxed.config.limits.shell,
          network: false))
      let bareSeq = Array(line.prefix { $0 != "/bin/sh" }) + ["/usr/bin/seq", "1", "200000"]
      var bareSeqSamples: [Double] = []
      var seqSamples: [Double] = []
      var received = 0
      for round in 0..<(iterations / 10 + 3) {
        let bareStart = ContinuousClock.now
        let bytes = try await BenchReference.onThread { try BenchReference.spawnAndWait(bareSeq, readOutput: true) }
        let bareTime = BenchReference.microseconds(ContinuousClock.now - bareStart) / 1000
        let start = ContinuousClock.now
        let result = try await sandboxClient.submit(
          .shell(command: "seq 1 200000", timeoutMs: nil), to: "bwrap"
        ) { _ in }
        let time = BenchReference.microseconds(ContinuousClock.now - start) / 1000
        received = result.stdout?.utf8.count ?? 0
        if round >= 3, bytes == 1_288_895 {
          bareSeqSamples.append(bareTime)
          seqSamples.append(time)
        }
      }
      let bareSeqRow = BenchRow("bare bwrap seq 1 200000 (output read)", samples: bareSeqSamples)
      rows.append(bareSeqRow)
      let seqRow = BenchRow("socket shell seq 1 200000 (\(received) bytes received)", samples: seqSamples).against(
        bareSeqRow)
      rows.append(seqRow)

      // The first output byte of `echo x` through the socket.
      var firstSamples: [Double] = []
      for round in 0..<(iterations / 5 + 10) {
        let start = ContinuousClock.now
        let first = LockedValue<Double?>(nil)
        _ = try await sandboxClient.submit(.shell(command: "echo x", timeoutMs: nil), to: "bwrap") { event in
          guard event.type == .output else { return }
          let elapsed = BenchReference.microseconds(ContinuousClock.now - start)
          first.withValue { if $0 == nil { $0 = elapsed } }
        }
        if round >= 10, let value = first.withValue({ $0 }) { firstSamples.append(value) }
      }
      // Its target is the raw client's row below, as for `true` and `seq`.
      rows.append(
        BenchRow("socket first output byte (echo x)", unit: "µs", samples: firstSamples).against(bareRow))

      // The same commands from a raw client (a socket that reads lines and decodes none), so
      // the rows measure the runtime and not the Swift client's decoding, which runs in this same
      // process; interleaved with their bare references.
      let raw = try await BenchReference.onThread { () throws -> RawShellSamples in
        try rawShellSamples(socket: server.socketPath, folder: folder, bareSeq: bareSeq, iterations: iterations)
      }
      let rawBareTrue = BenchRow("bare fork/exec /bin/true (beside the raw client)", unit: "µs", samples: raw.bareTrue)
      rows.append(rawBareTrue)
      let rawTrue = BenchRow("socket shell true (bwrap, raw client)", unit: "µs", samples: raw.shellTrue).against(
        rawBareTrue)
      rows.append(rawTrue.target("≤ 2× bare /bin/true", met: (rawTrue.ratio ?? .infinity) <= 2))
      // What no journaled command can go below: the process, and its record on disk.
      let floor = BenchRow("bare fork/exec /bin/true + journal append+fdatasync", unit: "µs", samples: raw.floorTrue)
      rows.append(floor)
      rows.append(
        BenchRow("  socket shell true (bwrap, raw client) against that floor", unit: "µs", samples: raw.shellTrue)
          .against(floor))
      let rawFirst = BenchRow("socket first output byte (echo x, raw client)", unit: "µs", samples: raw.firstOutput)
        .against(rawBareTrue)
      rows.append(rawFirst.target("≤ bare /bin/true + 1 ms", met: rawFirst.median <= rawBareTrue.median + 1000))
      let rawBareSeq = BenchRow("bare bwrap seq 1 200000 (beside the raw client)", samples: raw.bareSeq)
      rows.append(rawBareSeq)
      let rawSeq = BenchRow(
        "socket shell seq 1 200000 (raw client, \(raw.seqBytes) bytes of events)", samples: raw.seq
      ).against(rawBareSeq)
      rows.append(rawSeq.target("≤ 1.5× bare bwrap", met: (rawSeq.ratio ?? .infinity) <= 1.5))
    }
  }

  // MCP: the same readFile as a `tools/call` through `spaces mcp`, which forwards to the socket.
  if let mcp = try? MCPPipe(home: folder, space: "host") {
    defer { mcp.close() }
    try mcp.initialize()
    let socket = rows.first { $0.name == "socket readFile 1 KiB" }?.median ?? 0
    var samples: [Double] = []
    let clock = ContinuousClock()
    for index in 0..<(iterations + 20) {
      let start = clock.now
      try mcp.call(id: index + 10, tool: "readFile", arguments: #"{"path":"one-kib"}"#)
      let elapsed = clock.now - start
      if index >= 20 {
        samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
      }
    }
    rows.append(BenchRow("MCP tools/call readFile 1 KiB", unit: "µs", samples: samples))
    let row = BenchRow("  MCP overhead over the socket call", unit: "µs", samples: samples.map { $0 - socket })
    rows.append(
      BenchRow(
        "  MCP overhead over the socket call", unit: "µs", samples: samples.map { $0 - socket }, target: "≤ 1000 µs",
        met: row.median <= 1000))
  }

  // Throughput: 8 clients, each submitting createFile 1 KiB back to back.
  var clients: [SpacesClient] = []
  for _ in 0..<8 {
    let extra = try await SpacesClient.connect(home: home.path)
    try await extra.hello()
    clients.append(extra)
  }
  let perClient = iterations / 2
  let clock = ContinuousClock()
  let start = clock.now
  try await withThrowingTaskGroup(of: Void.self) { group in
    for (index, extra) in clients.enumerated() {
      group.addTask {
        for round in 0..<perClient {
          _ = try await extra.submit(
            .createFile(path: "c\(index)-\(round % 10)", content: kib, encoding: .utf8), to: "host")
        }
      }
    }
    try await group.waitForAll()
  }
  let seconds =
    Double((clock.now - start).components.attoseconds) / 1e18 + Double((clock.now - start).components.seconds)
  let rate = Double(perClient * clients.count) / seconds
  rows.append(BenchRow("8 clients, createFile 1 KiB", unit: "ops/s", samples: [rate]))

  for extra in clients { await extra.close() }
  await client.close()
  await server.shutdown()
  return rows
}

/// A `spaces mcp` child process spoken to over its stdio, one JSON line at a time.
final class MCPPipe {
  private let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private var pending: [UInt8] = []

  init(home: String, space: String) throws {
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    process.arguments = ["mcp", "--space", space]
    var environment = ProcessInfo.processInfo.environment
    environment["SPACES_HOME"] = home
    process.environment = environment
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
  }

  func initialize() throws {
    try send(
      #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#
    )
    _ = try line()
    try send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
  }

  func call(id: Int, tool: String, arguments: String) throws {
    try send(
      #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(tool)","arguments":\#(arguments)}}"#)
    _ = try line()
  }

  func close() {
    try? input.fileHandleForWriting.close()
    process.terminate()
    process.waitUntilExit()
  }

  private func send(_ text: String) throws {
    try input.fileHandleForWriting.write(contentsOf: Data((text + "\n").utf8))
  }

  private func line() throws -> [UInt8] {
    let fd = output.fileHandleForReading.fileDescriptor
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      if let newline = pending.firstIndex(of: 0x0A) {
        let line = Array(pending[..<newline])
        pending.removeFirst(newline + 1)
        return line
      }
      let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      guard count > 0 else { throw SpacesError(.ioError, "spaces mcp closed its output") }
      pending += buffer[..<count]
    }
  }
}

/// What ``rawShellSamples(socket:bareSeq:iterations:)`` measured.
struct RawShellSamples: Sendable {
  var bareTrue: [Double] = []
  /// A bare fork/exec of `/bin/true`, then a line appended to a journal file and `fdatasync`ed:
  /// the system calls a journaled command can't do without.
  var floorTrue: [Double] = []
  var shellTrue: [Double] = []
  /// When the first `output` event of `echo x` arrived.
  var firstOutput: [Double] = []
  var bareSeq: [Double] = []
  var seq: [Double] = []
  /// The bytes of event lines the last `seq` sent before its answer.
  var seqBytes = 0
}

/// Shell `true`, the first output of `echo x` and `seq 1 200000` through the socket from a raw client that streams output
/// (`streamsOutput`) and reads lines until the answer's, interleaved with a bare fork/exec of
/// `/bin/true` (alone, and followed by a journal append made durable in `folder`) and a bare
/// bwrap running `seq`.
func rawShellSamples(socket: String, folder: String, bareSeq: [String], iterations: Int) throws -> RawShellSamples {
  let journal = open(folder + "/floor.jsonl", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
  guard journal >= 0 else {
    throw SpacesError(.ioError, "open \(folder)/floor.jsonl: \(String(cString: strerror(errno)))")
  }
  defer { close(journal) }
  let record = Array((String(repeating: "x", count: 300) + "\n").utf8)
  let agent = try SoakSocket(path: socket, timeoutSeconds: 60)
  agent.send(line: #"{"jsonrpc":"2.0","id":0,"method":"hello","params":{"space":"bwrap"}}"#)
  _ = agent.readLine()
  var samples = RawShellSamples()
  var id = 0
  /// Sends the command and reads to its answer; the bytes of event lines before it, and how
  /// long the first `output` event took to arrive (µs).
  @discardableResult
  func run(_ command: String) throws -> (bytes: Int, firstOutput: Double?) {
    let start = ContinuousClock.now
    var firstOutput: Double?
    id += 1
    agent.send(
      line:
        #"{"jsonrpc":"2.0","id":\#(id),"method":"op.submit","params":{"op":{"command":"\#(command)","kind":"shell"},"space":"bwrap","streamsOutput":true}}"#
    )
    let answer = Array(#"{"id":\#(id),"#.utf8)
    var events = 0
    while let line = agent.readLine() {
      if line.starts(with: answer) {
        guard line.contains(Array(#""status":"completed""#.utf8)) else {
          throw SpacesError(
            .ioError,
            "the benchmark's command \(command) did not complete: \(String(decoding: line.prefix(300), as: UTF8.self))")
        }
        return (events, firstOutput)
      }
      if firstOutput == nil, line.contains(Array(#""type":"output""#.utf8)) {
        firstOutput = BenchReference.microseconds(ContinuousClock.now - start)
      }
      events += line.count + 1
    }
    throw SpacesError(.ioError, "the server closed the benchmark's connection")
  }
  for round in 0..<(iterations / 5 + 10) {
    let bare = try BenchReference.samples(1, warmUp: 0) { _ = try BenchReference.spawnAndWait(["/bin/true"]) }
    let floor = try BenchReference.samples(1, warmUp: 0) {
      _ = try BenchReference.spawnAndWait(["/bin/true"])
      let appended = record.withUnsafeBytes { write(journal, $0.baseAddress, $0.count) }
      guard appended == record.count, fdatasync(journal) == 0 else { throw SpacesError(.ioError, "append the journal") }
    }
    let shell = try BenchReference.samples(1, warmUp: 0) { try run("true") }
    let first = try run("echo x").firstOutput
    if round >= 10 {
      samples.bareTrue += bare
      samples.floorTrue += floor
      samples.shellTrue += shell
      if let first { samples.firstOutput.append(first) }
    }
  }
  for round in 0..<(iterations / 10 + 3) {
    var bytes = 0
    let bare = try BenchReference.samples(1, warmUp: 0) {
      bytes = try BenchReference.spawnAndWait(bareSeq, readOutput: true)
    }
    let shell = try BenchReference.samples(1, warmUp: 0) { samples.seqBytes = try run("seq 1 200000").bytes }
    if round >= 3, bytes == 1_288_895, samples.seqBytes > bytes {
      samples.bareSeq += bare.map { $0 / 1000 }
      samples.seq += shell.map { $0 / 1000 }
    }
  }
  return samples
}

/// What the raw client measured: the references and the rows compared with them.
private struct RawSamples {
  var echo: [Double] = []
  var read: [Double] = []
  var create: [Double] = []
  var same: [Double] = []
  var durable: [Double] = []
  var pacedEcho: [Double] = []
  var pacedRead: [Double] = []
}
