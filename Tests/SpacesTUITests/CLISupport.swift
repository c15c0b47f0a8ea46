import Foundation
import SpacesKit
import SpacesModel
import SpacesTestSupport
import Testing

/// The built `spaces` binary, next to the test bundle (or `SPACES_BIN`).
enum Binary {
  static var path: String {
    if let path = ProcessInfo.processInfo.environment["SPACES_BIN"] { return path }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundle, bundle.deletingLastPathComponent()] {
      let path = candidate.appendingPathComponent("spaces").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return bundle.appendingPathComponent("spaces").path
  }
}

/// What a finished `spaces` run printed and how it exited.
struct Run {
  var status: Int32
  var stdout: String
  var stderr: String

  /// The stdout parsed as one JSON object.
  var json: [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
  }
}

/// A SPACES_HOME of its own for one test, removed afterwards.
final class CLIHome: Sendable {
  let path: String

  init() {
    path = FileManager.default.temporaryDirectory.path + "/spaces-cli-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  var environment: [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["SPACES_HOME"] = path
    return environment
  }

  /// Starts `spaces serve` on this home and waits until its socket answers; stop it with
  /// `terminate()` and `waitUntilExit()`.
  func serve() async throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Binary.path)
    process.arguments = ["serve"]
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let socket = path + "/spaces.sock"
    try await eventually("the server's socket") { SocketProbe.isLive(socket) }
    return process
  }

  /// Runs `spaces` with `arguments` and waits (at most `deadline`) for it to exit.
  ///
  /// The wait happens on a dispatch thread: a test blocked in it must not hold one of the few
  /// threads that every task of the test process (the servers under test too) runs on.
  func run(_ arguments: String..., stdin: String? = nil, deadline: Duration = patience) async throws -> Run {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(with: Result { try self.runBlocking(arguments, stdin: stdin, deadline: deadline) })
      }
    }
  }

  private func runBlocking(_ arguments: [String], stdin: String?, deadline: Duration) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Binary.path)
    process.arguments = arguments
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    // Read both pipes fully before waiting, so a large output can't deadlock.
    let group = DispatchGroup()
    let collected = Collected()
    group.enter()
    DispatchQueue.global().async {
      collected.set(err: err.fileHandleForReading.readDataToEndOfFile())
      group.leave()
    }
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    let waited = group.wait(timeout: .now() + .seconds(Int(deadline.components.seconds)))
    if waited == .timedOut { process.terminate() }
    process.waitUntilExit()
    return Run(
      status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
      stderr: String(decoding: collected.err, as: UTF8.self))
  }

  /// Reads the journal of `space` through `spaces log --json`.
  func journal(_ space: String) async throws -> [[String: Any]] {
    let run = try await run("log", space, "--json")
    // A failed read is the test's failure, with what `spaces log` said, not an empty journal.
    guard run.status == 0 else {
      throw SpacesError(.ioError, "spaces log \(space) --json exited \(run.status): \(run.stderr)")
    }
    return run.stdout.split(separator: "\n").compactMap {
      (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
    }
  }
}

final class Collected: Sendable {
  private let data = LockedValue(Data())
  func set(err: Data) { data.withValue { $0 = err } }
  var err: Data { data.withValue { $0 } }
}
