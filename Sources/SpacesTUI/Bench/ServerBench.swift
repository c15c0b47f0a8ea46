import ArgumentParser
import Foundation
import SpacesKit

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
  let client = try await SpacesClient.connect(home: home)
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

  try await measure("socket hello (bare round trip)", iterations) {
    try await client.hello()
  }
  try await measure("socket policy.check", iterations) {
    _ = try await client.checkPolicy(.readFile(path: "one-kib"), in: "host")
  }
  try await measure("socket readFile 1 KiB", iterations, target: "≤ 200 µs", limit: 200) {
    _ = try await client.submit(.readFile(path: "one-kib"), to: "host")
  }
  try await measure("socket createFile 1 KiB", iterations, target: "≤ 200 µs", limit: 200) {
    _ = try await client.submit(.createFile(path: "w", content: kib, encoding: .utf8), to: "host")
  }
  let space = try runtime.space("host")
  await measure("embedded readFile 1 KiB (no socket)", iterations) {
    _ = await space.submit(.readFile(path: "one-kib"))
  }
  try await measure("socket shell true (host)", iterations / 5) {
    _ = try await client.submit(.shell(command: "true", timeoutMs: nil), to: "host")
  }
  if FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") {
    _ = try home.create(name: "bwrap", policy: .permissive, backend: .bubblewrap)
    let probe = try await client.submit(.shell(command: "true", timeoutMs: nil), to: "bwrap")
    if probe.exitCode == 0 {
      try await measure("socket shell true (bwrap)", iterations / 5) {
        _ = try await client.submit(.shell(command: "true", timeoutMs: nil), to: "bwrap")
      }
      let sandboxed = try runtime.space("bwrap")
      await measure("embedded shell true (bwrap)", iterations / 5) {
        _ = await sandboxed.submit(.shell(command: "true", timeoutMs: nil))
      }
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
    let extra = try await SpacesClient.connect(home: home)
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
