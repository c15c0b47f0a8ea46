import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesSandbox

/// Podman for the container backend's tests: the containers.conf and the busybox image that
/// `script/test-image` prepares (run here when `CONTAINERS_CONF` is not set).
enum ContainerTestSupport {
  static let image = "localhost/spaces-test:latest"
  /// The SPACES_HOME path the test containers are named after: one per test process, so runs
  /// in two checkouts at once never share a container name.
  static let home = "/tmp/spaces-container-tests-\(getpid())"

  /// Whether podman and the test image are there.
  static let available: Bool = {
    guard Sys.which("podman", path: Sys.environment("PATH")) != nil else { return false }
    if Sys.environment("CONTAINERS_CONF") == nil {
      let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      let process = Process()
      process.executableURL = root.appendingPathComponent("script/test-image")
      let pipe = Pipe()
      process.standardOutput = pipe
      guard (try? process.run()) != nil else { return false }
      let data = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      let conf = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      guard process.terminationStatus == 0, !conf.isEmpty else { return false }
      setenv("CONTAINERS_CONF", conf, 1)
    }
    guard podmanBlocking(["image", "exists", image]).status == 0 else { return false }
    // The containers of this process's home go with it (the suites share one per space name).
    atexit { ContainerTestSupport.removeContainers() }
    return true
  }()

  /// Removes every container named after this process's home.
  static func removeContainers() {
    for space in ["core"] {
      _ = ContainerBackend.removeContainer(space: space, home: home, engine: "podman")
    }
  }

  static func backend(space: String, home: String = home) -> ContainerBackend {
    ContainerBackend(space: space, home: home, image: image, engine: "podman")
  }

  /// Runs podman and returns its status and stdout (waiting on a dispatch thread, not a task's).
  @discardableResult
  static func podman(_ arguments: [String]) async -> (status: Int32, stdout: String) {
    await Sys.offloaded { podmanBlocking(arguments) }
  }

  static func podmanBlocking(_ arguments: [String]) -> (status: Int32, stdout: String) {
    let process = Process()
    process.executableURL = URL(
      fileURLWithPath: Sys.which("podman", path: Sys.environment("PATH")) ?? "/usr/bin/podman")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return (-1, "") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// The processes in a container other than its PID 1 keep-alive (`ps` inside).
  static func leftovers(_ container: String) async -> [String] {
    let out = await podman(["exec", container, "ps", "-o", "pid,args"]).stdout
    return out.split(separator: "\n").dropFirst().map { String($0) }.filter { line in
      !line.contains("sleep 86400") && !line.contains("while :") && !line.contains("ps -o")
    }
  }
}
