import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

/// What only the container backend does, against real Podman (skipped, visibly, only when
/// podman is not installed).
@Suite(
  .serialized, .timeLimit(.minutes(3)),
  .enabled(if: ContainerTestSupport.available, "podman or the test image is not available"))
struct ContainerTests {
  /// A backend with a space and SPACES_HOME of its own; `done` removes its container.
  struct Subject {
    let ws = TempFolder("container-ws")
    let home = TempFolder("container-home")
    let backend: ContainerBackend
    init(_ space: String) {
      backend = ContainerTestSupport.backend(space: space, home: home.path)
    }
    func done() {
      ContainerBackend.removeContainer(space: backend.space, home: backend.home, engine: "podman")
      ws.cleanup()
      home.cleanup()
    }
    func run(_ command: String, network: Bool = false, limits: ShellLimits = ShellLimits())
      async throws -> ShellOutcome
    {
      try await backend.run(
        ShellRequest(command: command, workspace: ws.path, limits: limits, network: network),
        onOutput: { _, _ in })
    }
  }

  @Test func networkIsOffUnlessGranted() async throws {
    let subject = Subject("net")
    defer { subject.done() }
    let listener = try #require(Listener())
    defer { listener.close() }
    let probe =
      "if echo hi | nc -w 2 127.0.0.1 \(listener.port) 2>/dev/null; then echo connected; else echo refused; fi; "
      + "cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '"
    let off = try await subject.run(probe)
    let lines = off.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first == "refused")
    #expect(Array(lines.dropFirst()) == ["lo"])

    // Granted: the engine's default network (its own loopback, plus an interface outside).
    let on = try await subject.run(probe, network: true)
    let interfaces = on.stdout.split(separator: "\n").dropFirst().map(String.init)
    #expect(interfaces.contains("lo"))
    #expect(interfaces.count >= 2)
  }

  @Test func rootIsReadOnlyAndHostIsInvisible() async throws {
    let subject = Subject("ro")
    defer { subject.done() }
    let command = """
      for p in /etc/x /x /bin/x /usr/x; do touch $p 2>/dev/null && echo "wrote $p"; done
      grep -q '^root:[^*!x]' /etc/shadow 2>/dev/null && echo shadow-readable
      ls \(subject.home.path) 2>/dev/null && echo home-visible
      ls /root/.ssh /home/* 2>/dev/null && echo user-home-visible
      touch /tmp/t && echo tmp-ok
      echo hello > made.txt
      echo "home=$HOME pwd=$(pwd) term=$TERM lang=$LANG"
      env | cut -d= -f1 | sort | tr '\\n' ' '; echo
      grep CapEff /proc/self/status
      """
    let outcome = try await subject.run(command)
    #expect(!outcome.stdout.contains("wrote"))
    #expect(!outcome.stdout.contains("visible"))
    #expect(!outcome.stdout.contains("readable"))
    #expect(outcome.stdout.contains("tmp-ok"))
    #expect(outcome.stdout.contains("home=/workspace pwd=/workspace term=dumb lang=C.UTF-8"))
    #expect(outcome.stdout.contains("HOME LANG PATH PWD SHLVL SPACES_OPERATION TERM"))
    #expect(outcome.stdout.contains("CapEff:\t0000000000000000"))
    #expect(subject.ws.read("made.txt") == "hello\n")
  }

  @Test func nothingIsLeftInsideAfterTimeoutAndBackgroundJobs() async throws {
    let subject = Subject("left")
    defer { subject.done() }
    var limits = ShellLimits()
    limits.timeoutMs = 800
    let trapped = try await subject.run(
      "trap '' TERM; (setsid sleep 1011 &); env -i sleep 1012 & sleep 1013", limits: limits)
    #expect(trapped.timedOut)
    let background = try await subject.run("sleep 1014 & (setsid sleep 1015 &) ; echo ok")
    #expect(background.stdout == "ok\n")
    #expect(await ContainerTestSupport.leftovers(subject.backend.containerName).isEmpty)
    #expect(processes { $0.first == "sleep" && ($0.last ?? "").hasPrefix("101") }.isEmpty)
  }

  @Test func vanishedOrStoppedContainerIsMadeAgain() async throws {
    let subject = Subject("gone")
    defer { subject.done() }
    let name = subject.backend.containerName
    #expect(try await subject.run("echo one").stdout == "one\n")
    await ContainerTestSupport.podman(["rm", "-f", name])
    let after = try await subject.run("echo two")
    #expect(after.stdout == "two\n")
    #expect(after.exitCode == 0)
    await ContainerTestSupport.podman(["stop", "-t", "0", name])
    let restarted = try await subject.run("echo three")
    #expect(restarted.stdout == "three\n")
    let labels = await ContainerTestSupport.podman([
      "inspect", "--format", "{{index .Config.Labels \"agent-spaces.space\"}}", name,
    ])
    #expect(labels.stdout == "gone\n")
  }

  @Test func missingEngineIsReported() async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let backend = ContainerBackend(space: "x", home: "/tmp", engine: "/nonexistent/podman")
    do throws(SpacesError) {
      _ = try await backend.run(ShellRequest(command: "true", workspace: ws.path), onOutput: { _, _ in })
      Issue.record("expected backendUnavailable")
    } catch {
      #expect(error.code == .backendUnavailable)
      #expect(error.message.contains("apt-get install podman"))
    }
  }

  @Test func missingImageIsReported() async throws {
    let ws = TempFolder()
    let home = TempFolder()
    defer {
      ws.cleanup()
      home.cleanup()
    }
    let backend = ContainerBackend(
      space: "img", home: home.path, image: "localhost/spaces-no-such-image:1", engine: "podman")
    do throws(SpacesError) {
      _ = try await backend.run(ShellRequest(command: "true", workspace: ws.path), onOutput: { _, _ in })
      Issue.record("expected backendUnavailable")
    } catch {
      #expect(error.code == .backendUnavailable)
      #expect(error.message.contains("podman pull localhost/spaces-no-such-image:1"))
      #expect(error.message.contains("--image"))
    }
  }

  @Test func spaceThroughTheRuntimeAndRemoval() async throws {
    let folder = TempFolder("container-space")
    defer { folder.cleanup() }
    let home = SpacesHome(path: folder.path)
    var config = try home.create(
      name: "box", policy: .permissive, backend: .container, image: ContainerTestSupport.image,
      engine: "podman")
    config.limits.shell.timeoutMs = 20_000
    try home.save(config)
    let runtime = SpacesRuntime(home: home, supervised: false)
    let space = try runtime.space("box")
    let made = await space.submit(.shell(command: "echo inside > f.txt", timeoutMs: nil))
    #expect(made.status == .completed, "\(made.reason ?? "")")
    // The policy would not let an agent run this one; the sandbox runs it, readFile refuses it.
    let linked = try await space.backend.run(
      ShellRequest(command: "ln -s /etc/passwd link", workspace: config.workspace),
      onOutput: { _, _ in })
    #expect(linked.exitCode == 0)
    #expect(await space.submit(.readFile(path: "f.txt")).content == "inside\n")
    let link = await space.submit(.readFile(path: "link"))
    #expect(link.status == .failed)
    #expect(link.error?.code == "pathOutsideWorkspace")

    let name = ContainerBackend.containerName(space: "box", home: home.path)
    #expect(await ContainerTestSupport.podman(["container", "exists", name]).status == 0)
    try home.delete("box")
    #expect(await ContainerTestSupport.podman(["container", "exists", name]).status != 0)
  }

  @Test func deletingWorksWithoutAnEngine() throws {
    let folder = TempFolder("container-space")
    defer { folder.cleanup() }
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "noengine", backend: .container, engine: "/nonexistent/podman")
    try home.delete("noengine")
    #expect(home.names().isEmpty)
  }
}
