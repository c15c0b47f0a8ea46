import Foundation
import Glibc
import Testing

@testable import SpacesKit
@testable import SpacesSandbox

/// A temp folder with a workspace `ws/` and a sibling `outside/` holding `secret.txt`.
struct Sandbox: Sendable {
  let base: String
  let ws: ConfinedWorkspace

  var root: String { base + "/ws" }
  var outside: String { base + "/outside" }

  /// The absolute path of `relative` inside the workspace.
  func path(_ relative: String) -> String { root + "/" + relative }

  /// Creates a file (and its parents) inside the workspace without going through `ConfinedWorkspace`.
  func make(_ relative: String, _ text: String) throws {
    let url = URL(fileURLWithPath: path(relative))
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
  }

  /// Creates a symlink inside the workspace ("$WS" and "$OUT" in `target` expand to absolute paths).
  func link(_ relative: String, to target: String) throws {
    let url = URL(fileURLWithPath: path(relative))
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    let expanded = target.replacingOccurrences(of: "$WS", with: root).replacingOccurrences(
      of: "$OUT", with: outside)
    #expect(symlink(expanded, url.path) == 0)
  }

  /// The names and contents of the files in `outside/`.
  func outsideFiles() throws -> [String: String] {
    var result: [String: String] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: outside) {
      result[name] = try String(contentsOfFile: outside + "/" + name, encoding: .utf8)
    }
    return result
  }
}

/// Runs `body` with a fresh sandbox and removes it afterwards.
func withSandbox(
  fallback: Bool = false, maxFileSize: Int = 1 << 20, _ body: (Sandbox) throws -> Void
) throws {
  let base = FileManager.default.temporaryDirectory.appendingPathComponent(
    "confinedfs-\(UUID().uuidString)"
  ).path
  // removeItem deletes symlinks themselves, never their targets.
  defer { try? FileManager.default.removeItem(atPath: base) }
  try FileManager.default.createDirectory(atPath: base + "/ws", withIntermediateDirectories: true)
  try FileManager.default.createDirectory(
    atPath: base + "/outside", withIntermediateDirectories: true)
  try Data("secret".utf8).write(to: URL(fileURLWithPath: base + "/outside/secret.txt"))
  let ws = try ConfinedWorkspace(
    root: base + "/ws", maxFileSize: maxFileSize, forceFallback: fallback)
  #expect(ws.usesOpenat2 == !fallback)
  try body(Sandbox(base: base, ws: ws))
}

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
