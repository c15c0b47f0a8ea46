import Foundation
import Testing

/// The shell session through the CLI: each `spaces op` is a process of its own, and
/// `spaces space show` prints where the session is.
@Suite struct SessionCLITests {
  let home = CLIHome()

  @Test func opsInSeparateProcessesShareTheSession() async throws {
    #expect(try await home.run("space", "create", "s", "--policy", "permissive").status == 0)
    let entered = try await home.run(
      "op", "s", #"{"kind":"shell","command":"mkdir -p src && cd src && export MODE=dev"}"#)
    #expect(entered.status == 0, "\(entered.stderr)")
    #expect(entered.json?["cwd"] as? String == "src")
    let shown = try await home.run("op", "s", #"{"kind":"shell","command":"pwd; echo $MODE"}"#)
    #expect(shown.json?["stdout"] as? String == "/workspace/src\ndev\n")

    let text = try await home.run("space", "show", "s")
    #expect(text.stdout.contains("shell:      in src, carrying MODE"), "\(text.stdout)")
    let json = try await home.run("space", "show", "s", "--json")
    let session = json.json?["session"] as? [String: Any]
    #expect(session?["cwd"] as? String == "src")
    #expect(session?["variables"] as? [String] == ["MODE"])
    #expect(json.json?["name"] as? String == "s")

    let fresh = try await home.run("op", "s", #"{"kind":"shell","command":"pwd","fresh":true}"#)
    #expect(fresh.json?["stdout"] as? String == "/workspace\n")
    #expect(try await home.run("space", "show", "s").stdout.contains("shell:      in the workspace root\n"))
    let typo = try await home.run("op", "s", #"{"kind":"shell","command":"pwd","fresh":"yes"}"#)
    #expect(typo.status == 2)
    #expect(typo.stderr.contains("\"fresh\" of shell must be true or false"))
  }
}
