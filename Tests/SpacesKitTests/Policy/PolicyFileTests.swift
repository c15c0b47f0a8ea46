import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesPolicy

@Suite struct PolicyFileTests {
  @Test func parsesTheDocumentedExample() throws {
    let policy = try PolicyFile.parse(
      """
      preset: standard
      network: true
      approvalTimeoutSeconds: 60
      limits:
        timeoutMs: 5000
        maxProcesses: 64
      rules:
        - name: no-push
          kinds: [shell]
          command: git push
          decision: deny
          reason: pushing happens after review
        - paths: ["migrations/**"]
          decision: ask
          reason: migrations change production data
      """)
    #expect(policy.preset == .standard)
    #expect(policy.network == true)
    #expect(policy.approvalTimeoutSeconds == 60)
    #expect(policy.shellLimits == ["timeoutMs": 5000, "maxProcesses": 64])
    #expect(policy.rules.count == 2)
    #expect(
      policy.rules[0]
        == PolicyRule(
          name: "no-push", kinds: [.shell], command: ["git", "push"], decision: .deny,
          reason: "pushing happens after review"))
    #expect(policy.rules[1].kinds == [.createFile, .readFile, .editFile, .deleteFile])
    #expect(policy.rules[1].name.hasPrefix("rule 2"))
  }

  @Test func theTemplateParses() throws {
    for preset in PolicyPreset.allCases {
      let policy = try PolicyFile.parse(PolicyFile.template(preset: preset, space: "x"))
      #expect(policy.preset == preset)
      #expect(policy.rules.isEmpty)
    }
  }

  @Test(arguments: [
    ("preset: standard\nrules:\n  - decision: maybe\n", "3:15", "allow, ask or deny"),
    ("preset: lax\n", "1:9", "restrictive, standard or permissive"),
    ("preset: standard\nnetwrok: true\n", "2:1", "unknown key `netwrok`"),
    ("preset: standard\nrules:\n  - kinds: [shel]\n    decision: allow\n", "3:12", "unknown operation kind `shel`"),
    ("preset: standard\nrules:\n  - reason: x\n", "3:5", "no `decision:`"),
    ("preset: standard\napprovalTimeoutSeconds: -1\n", "2:25", "from 0 to 86400"),
    ("preset: standard\napprovalTimeoutSeconds: 9223372036854775807\n", "2:25", "from 0 to 86400"),
    ("preset: standard\nlimits:\n  timeoutMs: 9223372036854775807\n", "3:14", "from 0 to 86400000"),
    ("preset: standard\nlimits:\n  timeoutMs: soon\n", "3:14", "whole number"),
    ("preset: standard\nlimits:\n  speed: 3\n", "3:3", "unknown limit"),
    ("preset: standard\nrules:\n  - paths: [\"/etc/**\"]\n    decision: deny\n", "3:12", "workspace-relative"),
    ("preset: [unclosed\n", "2:1", "not valid YAML"),
    ("network: true\n", "1:1", "needs a preset"),
    ("", "", "empty"),
  ])
  func errorsNameLineAndColumn(text: String, place: String, fragment: String) {
    let error = expectError(.invalidConfig) { try PolicyFile.parse(text, file: "policy.yaml") }
    #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
    if !place.isEmpty {
      #expect(error?.message.hasPrefix("policy.yaml:\(place):") == true, "\(error?.message ?? "")")
    }
  }

  @Test func aRuleRoundTripsThroughItsYAML() throws {
    let rule = PolicyRule(
      name: "allow \"odd\" name", kinds: [.shell], command: ["npm", "install"], decision: .allow,
      reason: "approved: by a person\\with backslash")
    let file = try PolicyFile.parse("preset: standard\nrules:\n" + rule.yaml)
    #expect(file.rules == [rule])
    let pathRule = PolicyRule(name: "p", kinds: [.editFile], paths: ["src/*.ts"], decision: .ask, reason: "r")
    #expect(try PolicyFile.parse("preset: standard\nrules:\n" + pathRule.yaml).rules == [pathRule])
  }
}

@Suite struct GlobTests {
  @Test(arguments: [
    ("src/**", "src/a/b.ts", true), ("src/**", "src", true), ("src/**", "lib/a", false),
    ("*.ts", "a.ts", true), ("*.ts", "src/a.ts", false), ("**/*.ts", "src/a.ts", true),
    ("**/*.ts", "a.ts", true), (".env*", ".env.local", true), ("**/.env*", "app/.env", true),
    (".git/**", ".git/hooks/pre-commit", true), ("a?c", "abc", true), ("a?c", "ac", false),
    ("a/*/c", "a/b/c", true), ("a/*/c", "a/b/d/c", false), ("**", "anything/at/all", true),
    ("*", "", false), ("x*y*z", "xaaybbz", true), ("x*y*z", "xaaybb", false),
  ])
  func matches(pattern: String, path: String, expected: Bool) {
    #expect(Glob(pattern).matches(path) == expected)
  }

  @Test func manyStarsStayFast() {
    let pattern = Glob(String(repeating: "**/", count: 30) + "x")
    #expect(!pattern.matches(String(repeating: "a/", count: 200) + "y"))
  }
}
