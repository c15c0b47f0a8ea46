import Foundation
import Testing

/// A fresh folder for one test, removed when the value goes away (or at `cleanup()`).
public final class TempFolder: Sendable {
  /// The folder's absolute path.
  public let path: String

  /// Makes a new folder whose name starts with `label`.
  public init(_ label: String = "t") {
    let base = FileManager.default.temporaryDirectory.path
    path = base + "/spaces-test-\(label)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { cleanup() }

  /// Removes the folder and everything in it now.
  public func cleanup() { try? FileManager.default.removeItem(atPath: path) }

  /// The path of `name` inside the folder.
  public func file(_ name: String) -> String { path + "/" + name }

  /// Writes `text` to `name`, making the folders on the way.
  public func write(_ name: String, _ text: String) throws {
    let target = file(name)
    try FileManager.default.createDirectory(
      atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: target))
  }

  /// The text of `name`, or nil when it can't be read.
  public func read(_ name: String) -> String? {
    FileManager.default.contents(atPath: file(name)).map { String(decoding: $0, as: UTF8.self) }
  }
}

/// How long a test waits for something before it calls it a hang.
///
/// Long on purpose: the whole suite runs at once on two cores, and CPU-bound tests hold the
/// concurrency pool's threads for tens of seconds at a time, so a server or a task under test
/// can go that long without running at all. A wait ends as soon as what it waits for holds;
/// this bounds a hang, it is not a speed target (those live in `spaces bench`).
public let patience: Duration = .seconds(120)

/// Waits until `condition` holds, checking every 10 ms, or records an issue and throws after
/// `deadline`.
public func eventually(
  _ what: String, deadline: Duration = patience, sourceLocation: SourceLocation = #_sourceLocation,
  _ condition: () async throws -> Bool
) async throws {
  let clock = ContinuousClock()
  let end = clock.now + deadline
  while clock.now < end {
    if try await condition() { return }
    try await Task.sleep(for: .milliseconds(10))
  }
  // Once more: the deadline may have passed while this task waited for a thread.
  if try await condition() { return }
  Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
  throw CancellationError()
}
