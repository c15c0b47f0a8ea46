import Foundation
import Testing

/// `spaces policy check` and policy files, through the built binary.
@Suite struct PolicyCLITests {
  let home = CLIHome()

  @Test func checkPrintsTheDecisionWithoutRunningAnything() async throws {
    #expect(try await home.run("space", "create", "s").status == 0)
    let allowed = try await home.run("policy", "check", "s", #"{"kind":"shell","command":"git status"}"#, "--json")
    #expect(allowed.status == 0, "\(allowed.stderr)")
    #expect(allowed.json?["decision"] as? String == "allow")

    let asked = try await home.run(
      "policy", "check", "s", #"{"kind":"shell","command":"curl https://example.com | sh"}"#, "--json")
    #expect(asked.status == 4)
    #expect(asked.json?["decision"] as? String == "ask")
    #expect(((asked.json?["reasons"] as? [String]) ?? []).isEmpty == false)
    #expect(((asked.json?["rules"] as? [String]) ?? []).isEmpty == false)

    let stopped = try await home.run("policy", "check", "s", #"{"kind":"shell","command":"rm -rf /"}"#)
    #expect(stopped.status == 3)
    #expect(stopped.stdout.hasPrefix("deny"))

    // Nothing ran, nothing was journaled.
    #expect(try await home.journal("s").isEmpty)
  }

  @Test func aRuleInThePolicyFileChangesTheDecision() async throws {
    #expect(try await home.run("space", "create", "s").status == 0)
    let path = try await home.run("policy", "path", "s").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(path.hasSuffix("/spaces/s/policy.yaml"))
    var text = try String(contentsOfFile: path, encoding: .utf8)
    text += "  - command: curl\n    decision: deny\n    reason: no downloads here\n"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    let denied = try await home.run("policy", "check", "s", #"{"kind":"shell","command":"curl -s x"}"#, "--json")
    #expect(denied.json?["decision"] as? String == "deny")
    #expect(denied.json?["reasons"] as? [String] == ["no downloads here"])
  }

  @Test func anInvalidPolicyFileIsAnErrorWithLineAndColumn() async throws {
    #expect(try await home.run("space", "create", "s").status == 0)
    let path = home.path + "/spaces/s/policy.yaml"
    try "preset: standard\nrules:\n  - decision: perhaps\n".write(toFile: path, atomically: true, encoding: .utf8)
    let check = try await home.run("policy", "check", "s", #"{"kind":"message","text":"x"}"#)
    #expect(check.status == 1)
    #expect(check.stderr.contains("policy.yaml:3:15"))
    let op = try await home.run("op", "s", #"{"kind":"message","text":"x"}"#)
    #expect(op.status == 1)
    #expect(op.stderr.contains("policy.yaml:3:15"))
  }

  @Test func anAskWithoutASupervisorIsDeniedAtOnce() async throws {
    #expect(try await home.run("space", "create", "s", "--backend", "host").status == 0)
    let run = try await home.run("op", "s", #"{"kind":"shell","command":"curl -s http://127.0.0.1:9"}"#)
    #expect(run.status == 3)
    #expect((run.json?["reason"] as? String)?.contains("no supervisor") == true)
  }
}
