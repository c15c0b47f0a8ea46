import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesPolicy
@testable import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

/// Whether the tools the protected-path tests run are here.
enum ProtectedSupport {
  static let available =
    Sys.which("bwrap", path: Sys.environment("PATH")) != nil && Sys.which("git", path: Sys.environment("PATH")) != nil
}

/// A space with the permissive preset whose workspace is a git repository holding every default
/// protected path, for commands that try to change them.
final class ProtectedFixture: Sendable {
  let folder: TempFolder
  let space: Space
  let workspace: String
  let journalPath: String

  /// The repository and protected files every route starts from.
  static let seed = """
    set -e
    git init -q .
    git config user.email a@example.com
    git config user.name A
    echo hi > f
    git add f
    git commit -qm one
    printf '#!/bin/sh\\necho original hook\\n' > .git/hooks/pre-commit
    chmod 755 .git/hooks/pre-commit
    printf '[submodule "lib"]\\n\\tpath = lib\\n\\turl = ./lib\\n' > .gitmodules
    echo 'export A=1' > .envrc
    mkdir -p .vscode .github/workflows
    echo '{"tasks":[]}' > .vscode/tasks.json
    echo '{"configurations":[]}' > .vscode/launch.json
    printf 'on: push\\njobs: {}\\n' > .github/workflows/ci.yml
    echo 'TOKEN=s3cr3t-value' > .env
    """

  init(
    label: String = "protect", preset: PolicyPreset = .permissive, backend: BackendKind = .bubblewrap,
    seed: String? = ProtectedFixture.seed
  ) throws {
    folder = TempFolder(label)
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "p", policy: preset, backend: backend)
    space = try SpacesRuntime(home: home).space("p")
    workspace = space.config.workspace
    journalPath = home.journalPath("p")
    if let seed { try host(seed) }
  }

  /// Runs `script` with /bin/sh on the host, in the workspace.
  func host(_ script: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.currentDirectoryURL = URL(fileURLWithPath: workspace)
    var environment = ProcessInfo.processInfo.environment
    environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
    environment["GIT_CONFIG_NOSYSTEM"] = "1"
    process.environment = environment
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "host script failed: \(script)")
  }

  /// Runs `script` as the agent: written to a file first, so the policy judges `sh FILE` and
  /// the point is what the sandbox and the runtime do, not what the policy reads.
  func agent(_ script: String) async throws -> OperationResult {
    let name = "attack-\(UUID().uuidString.prefix(8)).sh"
    let written = await space.submit(.createFile(path: name, content: script, encoding: .utf8))
    try #require(written.status == .completed, "\(written)")
    return await space.submit(.shell(command: "sh \(name)", timeoutMs: 60_000))
  }

  /// What is at `path` now (not followed).
  func state(_ path: String) -> FileState {
    FileState(workspace + "/" + path)
  }

  /// The events of one operation, from the journal.
  func events(_ opId: String) throws -> [Event] {
    var reader = try JournalReader(path: journalPath)
    var found: [Event] = []
    while true {
      let batch = try reader.readAvailable(final: true)
      if batch.events.isEmpty { break }
      found += batch.events.filter { $0.opId == opId }
    }
    return found
  }

  /// The paths the journal says were put back for an operation.
  func journaledRestores(_ opId: String) throws -> [ProtectedChange] {
    try events(opId).flatMap { event -> [ProtectedChange] in
      if case .protectedRestored(let restored, _) = event.payload { restored } else { [] }
    }
  }

  /// The risky keys of `.git/config` now.
  var riskyConfig: [String] {
    GitConfigRisk.riskyEntries(in: Sys.readFile(workspace + "/.git/config") ?? "")
  }
}

/// A file's kind, mode and content, for comparing before and after.
struct FileState: Equatable, CustomStringConvertible {
  enum Kind: Equatable { case missing, file, symlink, directory, other }
  var kind: Kind
  var mode: UInt32 = 0
  var content: [UInt8] = []

  init(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      kind = .missing
      return
    }
    mode = UInt32(info.st_mode & 0o7777)
    switch info.st_mode & S_IFMT {
    case S_IFREG:
      kind = .file
      content = FileManager.default.contents(atPath: path).map { Array($0) } ?? []
    case S_IFLNK:
      kind = .symlink
      content = Array((Sys.symlinkTarget(path) ?? "").utf8)
    case S_IFDIR: kind = .directory
    default: kind = .other
    }
  }

  var description: String {
    "\(kind) \(String(mode, radix: 8)) \(String(decoding: content.prefix(60), as: UTF8.self).debugDescription)"
  }
}
