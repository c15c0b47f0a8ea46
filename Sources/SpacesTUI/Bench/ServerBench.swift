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
