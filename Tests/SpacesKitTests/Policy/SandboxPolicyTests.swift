import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesPolicy
@testable import SpacesSandbox

/// The decision for `command` under `preset` with `profile`: what the runtime and
/// `spaces policy check` compute.
func judged(_ command: String, _ profile: IsolationProfile, preset: PolicyPreset = .standard) -> Decision {
  PolicyEngine(preset: preset, profile: profile).evaluate(.shell(command: command, timeoutMs: nil))
}

let sandboxes: [IsolationProfile] = [.bubblewrap(network: false), .container(network: false)]

/// What must run without asking in a sandbox (no network) under the standard preset.
let containedCommands: [String] = [
  "node x.ts", "python3 -c 'print(1)'", "node -e 'console.log(1)'", "npm start", "npm run build", "npx tsx src/a.ts",
  "make", "swift build", "cargo build", "go build ./...", "pytest -q", "./build.sh", "sh build.sh", "cd .. && ls",
  "cd /tmp && ls", "sed -i s/a/b/ f.txt", "chmod +x run.sh", "pkill -f node", "kill 123",
  "git commit -m \"$(cat <<'EOF'\nfix: a thing\n\nmore\nEOF\n)\"", "git checkout -b feature", "git stash",
  "git stash pop", "git switch main", "git restore src/a.swift", "git init", "git init sub",
  "git remote add origin https://example.com/x.git", "git config user.email a@b.c", "git config user.name 'A B'",
  "git add -A && git commit -m wip", "find . -name '*.ts' | xargs grep -l foo", "find . -name '*.o' -exec rm {} \\;",
  "find . -type f -exec grep -n TODO {} +", "echo $HOME", "echo ${PATH}", "ls $(pwd)", "cat <(ls)",
  "for f in *.txt; do wc -l \"$f\"; done", "FOO=1 node x.js", "awk '{print $1}' f", "awk 'BEGIN{system(\"ls\")}'",
  "ls ~", "cat /etc/os-release", "eval \"$CMD\"", "source venv/bin/activate", "tar xf a.tar", "cp -r src dst",
  "rm build/a.o", "mv a b", "ln -s ../x y", "docker ps", "git -c core.pager=cat log",
  "git clone ../other copy", "cat .github/workflows/ci.yml", "git diff .git/config", "ls .git/hooks",
  "cp .git/hooks/pre-commit.sample /tmp/x", "sort -o /tmp/x a", "date", "xargs -0 -n1 echo < list",
]

/// What must still ask in a sandbox without network under the standard preset, with a rule
/// name the decision must carry.
let sandboxAsks: [(String, String)] = [
  ("curl https://example.com", "sandbox:network"), ("wget x", "sandbox:network"), ("git push", "sandbox:network"),
  ("git clone https://github.com/a/b", "sandbox:network"), ("npm install", "sandbox:network"),
  ("pip install requests", "sandbox:network"), ("cat < /dev/tcp/example.com/80", "sandbox:network"),
  ("ls | xargs curl", "sandbox:network"), ("find . -exec curl {} \\;", "sandbox:network"),
  ("echo x > .git/hooks/pre-commit", "protected:git-hooks"),
  ("cd .git && echo x > hooks/pre-commit", "protected:git-hooks"),
  ("cd .git/hooks && tee post-checkout < x", "protected:git-hooks"),
  ("cp evil .git/hooks/pre-push", "protected:git-hooks"),
  ("cp evil .git/hooks", "protected:git-hooks"), ("mv x .git/hooks/pre-commit", "protected:git-hooks"),
  ("ln -s /tmp/x .git/hooks/pre-commit", "protected:git-hooks"),
  ("chmod +x .git/hooks/pre-commit", "protected:git-hooks"),
  ("sed -i s/a/b/ .git/config", "protected:git-config"), ("git config core.fsmonitor 'sh x'", "protected:git-config"),
  ("git config core.hooksPath .h", "protected:git-config"), ("git config alias.st '!sh -c x'", "protected:git-config"),
  ("git config --edit", "protected:git-config"), ("git init --template=t", "protected:git-hooks"),
  ("echo 'use flake' >> .envrc", "protected:envrc"), ("touch .vscode/tasks.json", "protected:editor-tasks"),
  ("cat x > .github/workflows/ci.yml", "protected:ci-workflows"),
  ("echo x > ~/.git/hooks/pre-commit", "protected:git-hooks"),
  ("echo x > $HOME/.envrc", "protected:envrc"), ("echo x > /workspace/.envrc", "protected:envrc"),
  ("echo x > .git/hook?/pre-commit", "protected:git-hooks"), ("rm .git/hooks/pre-commit", "protected:git-hooks"),
  ("cat .env", "protected:env-files"), ("cp .env x", "protected:env-files"),
  ("node x.js < .env", "protected:env-files"),
  ("source .env", "protected:env-files"), (". ./.env.local", "protected:env-files"),
  ("head -5 app/.env", "protected:env-files"),
  ("git config -f .gitmodules submodule.x.url y", "protected:gitmodules"),
  ("python3 gen.py > .envrc", "protected:envrc"),
  ("echo 'unbalanced", "analyzer:parseError"),
]

/// What must ask without a sandbox (host) under the standard preset.
let hostAsks: [String] = [
  "python3 -c 'print(1)'", "node -e 1", "perl -e 1", "ruby -e 1", "python3 x.py", "node x.ts", "npm start",
  "npm run build", "npx tsx a.ts", "make", "swift build", "cargo build", "go build ./...", "pytest",
  "rg --pre cat x", "rg --hostname-bin=./h x", "awk '{print $1}' f", "gawk '@f()'", "awk -v f=system '{@f(\"id\")}'",
  "cat /etc/passwd", "ls /", "grep -r key ~", "cat ~/.ssh/id_rsa", "ls ~/.aws", "cat ~/.config/gcloud/credentials.db",
  "cat /etc/shadow", "cat .env", "cat ../x", "git init /tmp/x", "go build -o /tmp/x", "tsc --outDir /tmp/x",
  "tsc --outDir=/tmp/x", "cd .. && ls", "git commit -m x", "echo $HOME", "ls $(pwd)", "xargs grep x",
  "find . -exec grep x {} \\;", "sed -i s/a/b/ f", "./build.sh", "curl x", "rm -rf build", "chmod +x a",
  "pkill node", "git checkout -b x",
]

/// What runs without asking on the host: reading and searching inside the workspace.
let hostAllowed: [String] = [
  "ls", "ls -la src", "cat README.md", "grep -rn foo src", "rg foo", "head -20 a.txt", "wc -l a b", "git status",
  "git diff", "git log --oneline -5", "find . -name '*.swift'", "sed -n 1,20p a.txt", "diff a b", "mkdir -p out",
  "touch out/a", "cp a b", "echo hi > out.txt", "git add -A", "jq . package.json", "cat .git/config",
]

@Suite struct SandboxPolicyTests {
  @Test(arguments: containedCommands)
  func containedCommandRunsInEverySandbox(_ command: String) {
    for profile in sandboxes {
      let decision = judged(command, profile)
      #expect(decision.decision == .allow, "\(profile.backend): \(decision)")
    }
  }

  @Test func containedCommandsSayWhatProtectsThePerson() {
    let decision = judged("python3 -c 'print(1)'", .bubblewrap(network: false))
    #expect(decision.reasons == [IsolationProfile.bubblewrap(network: false).summary])
    #expect(decision.reasons.first?.hasPrefix("runs in the sandbox: no network, writes only the workspace") == true)
    #expect(decision.rules == ["sandbox:contained"])
  }

  @Test(arguments: sandboxAsks)
  func sandboxStillAsks(_ command: String, _ rule: String) {
    for profile in sandboxes {
      let decision = judged(command, profile)
      #expect(decision.decision == .ask, "\(profile.backend): \(decision)")
      #expect(decision.rules.contains(rule), "\(profile.backend): \(decision)")
      #expect(!decision.reasons.isEmpty)
    }
  }

  @Test func protectedReasonsNameThePathAndTheRoute() {
    let decision = judged("cd .git && echo x > hooks/pre-commit", .bubblewrap(network: false))
    #expect(decision.reasons.contains { $0.contains("`.git/hooks/pre-commit`") && $0.contains("> hooks/pre-commit") })
    #expect(decision.reasons.contains { $0.contains("the sandbox can't protect you") })
    // With undo, deleting inside the workspace no longer asks in a sandbox.
    #expect(judged("rm -rf build", .bubblewrap(network: false)).decision == .allow)
    #expect(judged("rm -r src && rm -f x", .bubblewrap(network: false)).decision == .allow)
  }

  @Test func networkAsksOnlyWhenTheSpaceHasNone() {
    let online = IsolationProfile.bubblewrap(network: true)
    for command in ["curl https://example.com", "git clone https://github.com/a/b", "npm install", "git push"] {
      #expect(judged(command, online).decision == .allow, "\(command)")
    }
    let engine = PolicyEngine(preset: .standard, profile: .bubblewrap(network: false))
    let asked = engine.evaluate(.shell(command: "curl https://example.com", timeoutMs: nil))
    #expect(engine.approvalGrantsNetwork(asked))
    #expect(asked.reasons.first?.contains("approving runs this one operation with the network on") == true)
    let protected = engine.evaluate(.shell(command: "echo x > .envrc", timeoutMs: nil))
    #expect(!engine.approvalGrantsNetwork(protected))
    // The policy file's `network:` decides the engine's network; restrictive has none.
    let file = try? PolicyFile.parse("preset: standard\nnetwork: true\n")
    #expect(file.map { PolicyEngine(file: $0, profile: .bubblewrap(network: false)).profile.network } == true)
    #expect(PolicyEngine(preset: .restrictive, profile: .bubblewrap(network: true)).profile.network == false)
  }

  @Test func gitKeepsWorkingWithoutAPrompt() {
    let profile = IsolationProfile.bubblewrap(network: true)
    for command in [
      "git init", "git commit -m x", "git remote add origin git@github.com:a/b.git", "git config user.email a@b.c",
      "git clone https://github.com/a/b", "git clone https://github.com/a/b sub && cd sub && git log",
      "git config --get core.hooksPath", "git config --unset core.hooksPath", "git config --list",
    ] {
      #expect(judged(command, profile).decision == .allow, "\(command)")
    }
    #expect(judged("git clone -c core.hooksPath=x https://h/r d", profile).rules.contains("protected:git-config"))
    #expect(judged("git submodule add https://h/r", profile).rules.contains("protected:gitmodules"))
  }

  @Test(arguments: hostAsks)
  func hostAsksForWhatItCantSeeInto(_ command: String) {
    let decision = judged(command, .host())
    #expect(decision.decision == .ask, "\(decision)")
    #expect(!decision.reasons.isEmpty)
  }

  @Test(arguments: hostAllowed)
  func hostRunsReadingInsideTheWorkspace(_ command: String) {
    let decision = judged(command, .host())
    #expect(decision.decision == .allow, "\(decision)")
  }

  @Test func hostNamesSecrets() {
    #expect(judged("cat ~/.ssh/id_rsa", .host()).reasons.contains { $0.contains("SSH keys") })
    #expect(judged("cat $HOME/.aws/credentials", .host()).reasons.contains { $0.contains("AWS") })
    #expect(judged("cat .env", .host()).rules.contains("protected:env-files"))
    #expect(!judged("ls", .host()).reasons.contains { $0.contains("sandbox:") })
  }

  @Test(arguments: bypassAttempts)
  func bypassIsNotAllowedOnTheHost(_ command: String) {
    #expect(judged(command, .host()).decision != .allow)
  }

  @Test(arguments: [
    "rm -rf ${HOME}/*", "rm -rf \"$HOME\"", "rm -rf ~/", "rm -rf $HOME", "rm -rf '${HOME}'", "rm -rf ~/*",
    "rm -rf //", "rm -rf /.", "rm -fr /usr/", "rm -r -f -- /", "/sbin/mkfs.ext4 /dev/sda1",
    "/usr/bin/dd if=/dev/zero of=/dev/sda",
    "mkfs.xfs /dev/nvme0n1", "sudo rm -rf /", "chmod -R 777 ${HOME}/",
  ])
  func hardStopsMatchEverySpelling(_ command: String) {
    for profile in sandboxes + [.host()] {
      for preset in PolicyPreset.allCases {
        #expect(judged(command, profile, preset: preset).decision == .deny, "\(profile.backend) \(preset): \(command)")
      }
    }
  }

  @Test func permissiveSandboxAsksOnlyForRulesAndProtectedPaths() throws {
    let profile = IsolationProfile.bubblewrap(network: false)
    for command in ["echo $HOME", "eval \"$X\"", "curl x", "rm -rf build", "bash -c \"$X\"", "xargs rm"] {
      #expect(judged(command, profile, preset: .permissive).decision == .allow, "\(command)")
    }
    #expect(judged("echo x > .git/hooks/pre-commit", profile, preset: .permissive).decision == .ask)
    #expect(judged("echo 'unbalanced", profile, preset: .permissive).decision == .ask)
    let file = try PolicyFile.parse(
      "preset: permissive\nrules:\n  - command: git push\n    decision: ask\n    reason: review first\n")
    let engine = PolicyEngine(file: file, profile: profile)
    #expect(engine.evaluate(.shell(command: "git push", timeoutMs: nil)).decision == .ask)
    // Without a sandbox, permissive still asks about what it can't parse or see.
    #expect(judged("echo $HOME", .host(), preset: .permissive).decision == .ask)
  }

  @Test func fileOperationsProtectWhatRunsCodeNotTheWholeGitFolder() throws {
    let engine = PolicyEngine(preset: .standard, profile: .bubblewrap(network: false))
    #expect(engine.evaluate(.createFile(path: ".git/HEAD", content: "x", encoding: .utf8)).decision == .allow)
    #expect(engine.evaluate(.createFile(path: ".git/hooks/x.sample", content: "x", encoding: .utf8)).decision == .allow)
    for operation: Op in [
      .createFile(path: ".git/hooks/pre-commit", content: "x", encoding: .utf8),
      .editFile(path: ".git/config", oldText: "a", newText: "b"),
      .createFile(path: ".envrc", content: "", encoding: .utf8),
      .editFile(path: ".github/workflows/ci.yml", oldText: "a", newText: "b"), .readFile(path: ".env"),
      .deleteFile(path: ".gitmodules", recursive: false),
    ] {
      let decision = engine.evaluate(operation)
      #expect(decision.decision == .ask, "\(operation)")
      #expect(decision.rules.first?.hasPrefix("protected:") == true)
    }
    #expect(engine.evaluate(.readFile(path: ".github/workflows/ci.yml")).decision == .allow)
  }

  @Test func policyFileProtectAddsPaths() throws {
    let file = try PolicyFile.parse(
      """
      preset: standard
      protect:
        - deploy/**
        - {path: "secrets/*.key", read: true}
      """)
    #expect(file.protected.entries.count == ProtectedPaths.defaults.count + 2)
    let engine = PolicyEngine(file: file, profile: .bubblewrap(network: false))
    #expect(engine.evaluate(.createFile(path: "deploy/run.sh", content: "", encoding: .utf8)).decision == .ask)
    #expect(engine.evaluate(.readFile(path: "deploy/run.sh")).decision == .allow)
    #expect(engine.evaluate(.readFile(path: "secrets/a.key")).decision == .ask)
    #expect(engine.evaluate(.shell(command: "echo x > deploy/run.sh", timeoutMs: nil)).decision == .ask)
    #expect(engine.evaluate(.shell(command: "cat secrets/a.key", timeoutMs: nil)).decision == .ask)
    #expect(engine.evaluate(.shell(command: "cat deploy/run.sh", timeoutMs: nil)).decision == .allow)
  }

  @Test(arguments: [
    ("preset: standard\nprotect: deploy\n", "policy.yaml:2:10"),
    ("preset: standard\nprotect:\n  - /etc/x\n", "policy.yaml:3:5"),
    ("preset: standard\nprotect:\n  - {path: a, read: maybe}\n", "policy.yaml:3:21"),
    ("preset: standard\nprotect:\n  - {glob: a}\n", "policy.yaml:3:6"),
    ("preset: standard\nprotect:\n  - ../x\n", "policy.yaml:3:5"),
  ])
  func protectErrorsNameLineAndColumn(_ text: String, _ place: String) {
    #expect {
      try PolicyFile.parse(text)
    } throws: { error in
      (error as? SpacesError)?.message.hasPrefix(place) == true
    }
  }

  @Test func everyBackendReportsItsProfile() {
    #expect(BubblewrapBackend().isolationProfile(network: false) == .bubblewrap(network: false))
    #expect(ContainerBackend(space: "s", home: "/h").isolationProfile(network: true).network)
    #expect(ContainerBackend(space: "s", home: "/h").isolationProfile(network: true).sandboxed)
    #expect(!HostBackend().isolationProfile(network: true).sandboxed)
    #expect(HostBackend().isolationProfile(network: true).summary.contains("UNISOLATED"))
  }
}

/// The prompt-rate benchmark's corpus, replayed through the same decision function.
@Suite struct PromptRateTests {
  static func corpus() throws -> [PromptRate.Sample] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(
      contentsOf: root.appendingPathComponent("Tests/Fixtures/transcripts/ops.jsonl"), encoding: .utf8)
    return try PromptRate.parse(text)
  }

  @Test func corpusIsLargeAndFromSeveralSources() throws {
    let samples = try Self.corpus()
    #expect(samples.count >= 300)
    #expect(Set(samples.map { $0.source.split(separator: ":")[0] }).count >= 4)
  }

  @Test func standardAsksRarelyInTheSandbox() throws {
    let samples = try Self.corpus()
    let report = PromptRate.report(
      samples, engine: PolicyEngine(preset: .standard, profile: .bubblewrap(network: false)))
    #expect(report.askShare <= 0.05, "\(report.asked) of \(report.total): \(report.askRules)")
    let host = PromptRate.report(samples, engine: PolicyEngine(preset: .standard, profile: .host()))
    #expect(host.asked > report.asked)
  }

  /// Every operation in the corpus that writes a protected path asks, on every backend.
  @Test func noProtectedWriteInTheCorpusIsAllowed() throws {
    let samples = try Self.corpus()
    let marks = [".git/hooks/", ".git/config", ".gitmodules", ".envrc", ".vscode/tasks.json", ".github/workflows/"]
    var writes = 0
    for sample in samples {
      let writesProtected: Bool
      switch sample.operation {
      case .createFile(let path, _, _), .editFile(let path, _, _), .deleteFile(let path, _):
        writesProtected = ProtectedPaths().writeEntry(for: path) != nil
      case .shell(let command, _, _):
        writesProtected = marks.contains { mark in
          command.contains(">" + mark) || command.contains("> " + mark) || command.contains("tee " + mark)
            || command.contains("sed -i") && command.contains(mark)
        }
      default: writesProtected = false
      }
      guard writesProtected else { continue }
      writes += 1
      for profile in sandboxes + [.host()] {
        #expect(
          PolicyEngine(preset: .standard, profile: profile).evaluate(sample.operation).decision != .allow,
          "\(sample.source): \(sample.operation)")
      }
    }
    // The corpus holds no protected write today; the synthetic ones below keep the check honest.
    let synthetic = try PromptRate.parse(
      #"{"source":"synthetic","kind":"shell","command":"echo x > .git/hooks/pre-commit"}"# + "\n"
        + #"{"source":"synthetic","kind":"editFile","path":".git/config"}"#)
    for sample in synthetic {
      #expect(
        PolicyEngine(preset: .standard, profile: .bubblewrap(network: false)).evaluate(sample.operation).decision
          == .ask)
    }
    #expect(writes >= 0)
  }
}
