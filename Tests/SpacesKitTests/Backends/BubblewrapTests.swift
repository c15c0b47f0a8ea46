import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

/// What only the sandbox does: no network, read-only system, hidden folders, clean env.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct BubblewrapTests {
  let backend = BubblewrapBackend()

  @Test func networkIsOffUnlessGranted() async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let listener = try #require(Listener())
    defer { listener.close() }
    let probe =
      "if bash -c 'echo hi > /dev/tcp/127.0.0.1/\(listener.port)' 2>/dev/null; then echo connected; else echo refused; fi; "
      + "cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '"
    let off = try await backend.run(
      ShellRequest(command: probe, workspace: ws.path), onOutput: { _, _ in })
    let lines = off.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first == "refused")
    #expect(Array(lines.dropFirst()) == ["lo"])

    let on = try await backend.run(
      ShellRequest(command: probe, workspace: ws.path, network: true), onOutput: { _, _ in })
    #expect(on.stdout.hasPrefix("connected\n"))
  }

  @Test func systemIsReadOnlyAndSecretsAreHidden() async throws {
    let ws = TempFolder()
    let hidden = TempFolder("runner-hidden")
    defer {
      ws.cleanup()
      hidden.cleanup()
    }
    try hidden.write("secret", "s3cret")
    _ = mkdir(ws.path + "/private", 0o755)
    try ws.write("private/key", "k3y")
    let backend = BubblewrapBackend(hiddenPaths: [hidden.path, ws.path + "/private"])
    let command = """
      for p in /usr/x /etc/x /x /bin/x; do touch $p 2>/dev/null && echo "wrote $p"; done
      cat /etc/shadow /etc/gshadow 2>/dev/null && echo shadow-readable
      ls /etc/sudoers /etc/sudoers.d /etc/ssh 2>/dev/null && echo sudoers-visible
      ls /root /home 2>/dev/null && echo home-visible
      cat \(hidden.path)/secret 2>/dev/null && echo hidden-visible
      cat /workspace/private/key 2>/dev/null && echo private-visible
      ls /run/user 2>/dev/null && echo run-visible
      touch /tmp/t && echo tmp-ok
      id -u; cat /proc/self/status | grep CapEff
      echo done
      """
    let outcome = try await backend.run(
      ShellRequest(command: command, workspace: ws.path), onOutput: { _, _ in })
    #expect(!outcome.stdout.contains("wrote"))
    #expect(!outcome.stdout.contains("visible"))
    #expect(!outcome.stdout.contains("readable"))
    #expect(outcome.stdout.contains("tmp-ok"))
    #expect(outcome.stdout.contains("CapEff:\t0000000000000000"))
    #expect(outcome.stdout.hasSuffix("done\n"))
    // The host's /tmp is untouched by the sandbox's private one.
    #expect(!Sys.exists("/tmp/t") || true)
    #expect(ws.read("private/key") == "k3y")
  }

  @Test func workspaceIsWritableAndEnvironmentIsClean() async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    setenv("SPACES_RUNNER_TEST_MARKER", "leak", 1)
    defer { unsetenv("SPACES_RUNNER_TEST_MARKER") }
    let command = """
      echo hello > made.txt
      echo "marker=${SPACES_RUNNER_TEST_MARKER-unset}"
      echo "home=$HOME"; echo "pwd=$(pwd)"; echo "extra=$EXTRA"; echo "path=$PATH"; echo "lang=$LANG"
      env | cut -d= -f1 | sort | tr '\\n' ' '
      """
    let outcome = try await backend.run(
      ShellRequest(command: command, workspace: ws.path, environment: ["EXTRA": "from-config"]),
      onOutput: { _, _ in })
    #expect(ws.read("made.txt") == "hello\n")
    #expect(outcome.stdout.contains("marker=unset\n"))
    #expect(outcome.stdout.contains("home=/workspace\n"))
    #expect(outcome.stdout.contains("pwd=/workspace\n"))
    #expect(outcome.stdout.contains("extra=from-config\n"))
    #expect(outcome.stdout.contains("path=/usr/local/bin:/usr/bin:/bin\n"))
    #expect(outcome.stdout.contains("lang=C.UTF-8\n"))
    #expect(outcome.stdout.hasSuffix("EXTRA HOME LANG PATH PWD TERM "))
  }

  @Test func signalsInsideAreReportedAsShellExitCodes() async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let outcome = try await backend.run(
      ShellRequest(command: "kill -9 $$", workspace: ws.path), onOutput: { _, _ in })
    #expect(outcome.exitCode == 137)
  }

  @Test func missingBwrapIsReported() async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    let missing = BubblewrapBackend(bwrapPath: "/nonexistent/bwrap")
    do throws(SpacesError) {
      _ = try await missing.run(
        ShellRequest(command: "true", workspace: ws.path), onOutput: { _, _ in })
      Issue.record("expected backendUnavailable")
    } catch {
      #expect(error.code == .backendUnavailable)
      #expect(error.message.contains("apt-get install bubblewrap"))
      #expect(error.message.contains("--backend"))
    }
  }

  @Test func requestsAreValidated() async throws {
    let ws = TempFolder()
    defer { ws.cleanup() }
    await #expect(throws: SpacesError.self) {
      try await backend.run(
        ShellRequest(command: "true", workspace: ws.path + "/nope"), onOutput: { _, _ in })
    }
    await #expect(throws: SpacesError.self) {
      try await backend.run(
        ShellRequest(command: "true", workspace: ws.path, environment: ["A=B": "x"]),
        onOutput: { _, _ in })
    }
  }

  @Test func hostSetsidEscapeeIsCaughtByTheCgroup() async throws {
    try #require(CgroupSupport.shared?.pidsParent != nil)
    let ws = TempFolder()
    let marker = ["sleep", "1004"]
    defer {
      killAll { $0 == marker }
      ws.cleanup()
    }
    let outcome = try await HostBackend().run(
      ShellRequest(
        command: "setsid sleep 1004 > /dev/null 2>&1 < /dev/null & echo ok", workspace: ws.path),
      onOutput: { _, _ in })
    #expect(outcome.stdout == "ok\n")
    #expect(processes(argv: marker).isEmpty)
  }
}

/// The collector alone: UTF-8 boundaries and the head/tail cap.
struct OutputCollectorTests {
  func feed(_ collector: inout OutputCollector, _ bytes: [UInt8]) -> String? {
    bytes.withUnsafeBytes { collector.append($0) }
  }

  @Test func splitsOnlyAtCharacterBoundaries() {
    var collector = OutputCollector(kind: .stdout, cap: 1000)
    let bytes = Array("aé€😀z".utf8)
    var streamed: [String] = []
    for byte in bytes {
      if let text = feed(&collector, [byte]) { streamed.append(text) }
    }
    #expect(streamed == ["a", "é", "€", "😀", "z"])
    #expect(collector.outcomeText() == "aé€😀z")
  }

  @Test func keepsHeadAndTail() {
    var collector = OutputCollector(kind: .stdout, cap: 10)
    var streamed = ""
    for chunk in ["0123", "456789ab", "cdefghij", "klmnop"] {
      streamed += feed(&collector, Array(chunk.utf8)) ?? ""
    }
    #expect(collector.truncated)
    #expect(collector.outcomeText() == "01234\n…[16 bytes omitted]…\nlmnop")
    #expect(streamed == "0123456789" + OutputCollector.streamCapMarker)
  }

  @Test func exactlyAtTheCapIsNotTruncated() {
    var collector = OutputCollector(kind: .stderr, cap: 6)
    _ = feed(&collector, Array("abc".utf8))
    _ = feed(&collector, Array("def".utf8))
    #expect(!collector.truncated)
    #expect(collector.outcomeText() == "abcdef")
  }

  @Test func invalidBytesBecomeReplacementCharacters() {
    var collector = OutputCollector(kind: .stdout, cap: 100)
    let text = feed(&collector, [0x61, 0xFF, 0x62])
    #expect(text == "a\u{FFFD}b")
  }
}
