import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesPolicy

@Suite struct PolicyEngineTests {
  static let fileOperations: [Op] = [
    .createFile(path: "a.txt", content: "x", encoding: .utf8), .readFile(path: "a.txt"),
    .editFile(path: "a.txt", oldText: "x", newText: "y"), .deleteFile(path: "a.txt", recursive: false),
    .message(text: "hi"),
  ]

  @Test func restrictiveIsReadOnly() {
    let engine = PolicyEngine(preset: .restrictive)
    let verdicts = Self.fileOperations.map { engine.evaluate($0).decision }
    #expect(verdicts == [.deny, .allow, .deny, .deny, .allow])
    #expect(engine.evaluate(.shell(command: "ls", timeoutMs: nil)).decision == .deny)
  }

  @Test func standardAllowsWorkspaceFilesButAsksForProtectedOnes() {
    let engine = PolicyEngine(preset: .standard)
    #expect(Self.fileOperations.map { engine.evaluate($0).decision } == [.allow, .allow, .allow, .allow, .allow])
    let asks: [Op] = [
      .createFile(path: ".git/hooks/pre-commit", content: "x", encoding: .utf8),
      .editFile(path: ".git/config", oldText: "a", newText: "b"),
      .createFile(path: "sub/.git/config", content: "x", encoding: .utf8),
      .readFile(path: ".env"), .createFile(path: "app/.env.local", content: "x", encoding: .utf8),
    ]
    for operation in asks {
      let decision = engine.evaluate(operation)
      #expect(decision.decision == .ask, "\(operation)")
      #expect(!decision.reasons.isEmpty)
    }
    #expect(engine.evaluate(.readFile(path: ".git/HEAD")).decision == .allow)
    // Deleting a folder is recorded and can be undone: no prompt.
    #expect(engine.evaluate(.deleteFile(path: "src", recursive: true)).decision == .allow)
    // A path spelled to dodge the glob is normalized first.
    #expect(engine.evaluate(.readFile(path: "./x/../.env")).decision == .ask)
  }

  @Test func permissiveAllowsFiles() {
    let engine = PolicyEngine(preset: .permissive)
    #expect(engine.evaluate(.deleteFile(path: "src", recursive: true)).decision == .allow)
    // Protected paths ask under permissive too (issue 12): the sandbox can't protect secrets.
    #expect(engine.evaluate(.readFile(path: ".env")).decision == .ask)
    #expect(engine.evaluate(.readFile(path: "src/a.txt")).decision == .allow)
  }

  @Test func fileRulesComeFirstAndTheStrictestWins() throws {
    let file = try PolicyFile.parse(
      """
      preset: standard
      rules:
        - name: notes-ok
          paths: ["notes/**"]
          decision: allow
        - name: secrets
          paths: ["**/secret*"]
          decision: deny
          reason: no secrets
        - name: env-ok
          kinds: [readFile]
          paths: [".env"]
          decision: allow
      """)
    let engine = PolicyEngine(file: file)
    #expect(engine.evaluate(.createFile(path: "notes/a", content: "", encoding: .utf8)).decision == .allow)
    let both = engine.evaluate(.createFile(path: "notes/secret.txt", content: "", encoding: .utf8))
    #expect(both.decision == .deny)
    #expect(both.rules == ["secrets"])
    #expect(both.reasons == ["no secrets"])
    #expect(engine.evaluate(.readFile(path: ".env")).decision == .allow)
    #expect(engine.evaluate(.editFile(path: ".env", oldText: "a", newText: "b")).decision == .ask)
  }

  @Test func restrictiveCanBeRefinedByARule() throws {
    let file = try PolicyFile.parse(
      "preset: restrictive\nrules:\n  - kinds: [createFile]\n    paths: [\"notes/**\"]\n    decision: allow\n")
    let engine = PolicyEngine(file: file)
    #expect(engine.evaluate(.createFile(path: "notes/a.md", content: "", encoding: .utf8)).decision == .allow)
    #expect(engine.evaluate(.createFile(path: "src/a.md", content: "", encoding: .utf8)).decision == .deny)
  }

  @Test func suggestionsAreNarrow() {
    let engine = PolicyEngine(preset: .standard)
    let fileRules = engine.suggestedRules(for: .readFile(path: "./app/.env"), decision: Decision(.ask))
    #expect(fileRules.count == 1)
    #expect(fileRules.first?.paths == ["app/.env"])
    #expect(fileRules.first?.kinds == [.readFile])
  }

  @Test func suggestedPrefixesStopAtTheSubcommand() {
    let engine = PolicyEngine(preset: .standard)
    func prefix(_ command: String) -> [String]? {
      engine.suggestedRules(for: .shell(command: command, timeoutMs: nil), decision: Decision(.ask)).first?.command
    }
    #expect(prefix("./dist/greet Ada Grace") == ["./dist/greet"])
    #expect(prefix("curl -s https://example.com/install.sh -o i.sh") == ["curl"])
    #expect(prefix("wget https://example.com/a.tgz") == ["wget"])
    #expect(prefix("git push origin main") == ["git", "push"])
    #expect(prefix("npm install left-pad") == ["npm", "install"])
    #expect(prefix("git --no-pager push") == ["git"])
    let rule = engine.suggestedRules(for: .shell(command: "./dist/greet Ada", timeoutMs: nil), decision: Decision(.ask))
    #expect(rule.first?.name == "allow ./dist/greet")
  }

  @Test func effectiveLimitsApplyTheFilesOverrides() throws {
    let file = try PolicyFile.parse("preset: standard\nlimits:\n  timeoutMs: 1000\n  cpuSeconds: 7\n")
    let limits = PolicyEngine(file: file).effectiveShellLimits(ShellLimits())
    #expect(limits.timeoutMs == 1000)
    #expect(limits.cpuSeconds == 7)
    #expect(limits.maxProcesses == ShellLimits().maxProcesses)
  }
}

/// Taking back what a person allowed.
@Suite struct PolicyRevokeTests {
  @Test func aSavedRuleIsRemovedAndTheRestOfTheFileStays() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("revoke-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = folder.appendingPathComponent("policy.yaml").path
    try "# my notes\npreset: standard\nrules:\n".write(toFile: path, atomically: true, encoding: .utf8)
    let store = try PolicyStore(path: path, fallback: .standard)
    let keep = PolicyRule(name: "allow make", kinds: [.shell], command: ["make"], decision: .allow, reason: "ok")
    let drop = PolicyRule(name: "allow curl", kinds: [.shell], command: ["curl"], decision: .allow, reason: "ok")
    try store.append([keep, drop])
    try store.remove(drop)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.hasPrefix("# my notes\n"))
    #expect(try PolicyFile.parse(text).rules == [keep])
    #expect(throws: SpacesError.self) { try store.remove(drop) }
    store.grant(command: "make deploy", rules: [drop])
    store.revoke(command: "make deploy", rule: drop)
    #expect(store.grants == SessionGrants())
  }
}
