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

/// One way a command may try to change a protected file.
struct ProtectedRoute: Sendable, CustomStringConvertible {
  var name: String
  var script: @Sendable (_ target: String) -> String

  var description: String { name }

  /// The parent folder of a workspace path ("" at the root) and its first component.
  static func parts(_ target: String) -> (parent: String, top: String, name: String) {
    let components = target.split(separator: "/").map(String.init)
    let parent = components.dropLast().joined(separator: "/")
    return (parent, components.first ?? target, components.last ?? target)
  }

  /// Routes that write a file without naming it in the command the policy reads.
  static let generic: [ProtectedRoute] = [
    ProtectedRoute(name: "redirect >") { "echo evil > '\($0)'" },
    ProtectedRoute(name: "append >>") { "echo evil >> '\($0)'" },
    ProtectedRoute(name: "cp") { "echo evil > /tmp/e; cp /tmp/e '\($0)'" },
    ProtectedRoute(name: "mv") { "echo evil > e.txt; mv -f e.txt '\($0)'" },
    ProtectedRoute(name: "ln -sf") { "echo evil > e.txt; ln -sf \"$PWD/e.txt\" '\($0)'" },
    ProtectedRoute(name: "ln -f (hard link)") { "echo evil > e.txt; ln -f e.txt '\($0)'" },
    ProtectedRoute(name: "tee") { "echo evil | tee '\($0)'" },
    ProtectedRoute(name: "sed -i") { "sed -i 's/.*/evil/' '\($0)'" },
    ProtectedRoute(name: "truncate :>") { ": > '\($0)'" },
    ProtectedRoute(name: "chmod") { "chmod 777 '\($0)'" },
    ProtectedRoute(name: "shell script file") {
      "printf 'printf evil > \"$1\"\\n' > w.sh; sh w.sh '\($0)'"
    },
    ProtectedRoute(name: "python3 open().write") {
      "python3 -c \"open('\($0)', 'w').write('evil')\""
    },
    ProtectedRoute(name: "perl") { "perl -e 'open(F, \">\", \"\($0)\") or die \"$!\"; print F \"evil\"'" },
    ProtectedRoute(name: "rm and recreate") { "rm -f '\($0)'; echo evil > '\($0)'" },
    ProtectedRoute(name: "rename away and recreate") { "mv '\($0)' moved-away; echo evil > '\($0)'" },
    ProtectedRoute(name: "rename the parent folder away and recreate it") { target in
      let (parent, top, _) = parts(target)
      guard !parent.isEmpty else { return "mv '\(target)' moved-away; echo evil > '\(target)'" }
      return "mv '\(top)' '\(top).old'; mkdir -p '\(parent)'; echo evil > '\(target)'"
    },
    ProtectedRoute(name: "symlink swap of the parent folder") { target in
      let (parent, top, _) = parts(target)
      guard !parent.isEmpty else { return "echo evil > decoy; ln -sfn decoy '\(target)'" }
      return
        "mkdir -p 'evil/\(parent)'; echo evil > 'evil/\(target)'; mv '\(top)' '\(top).old'; rm -rf '\(top)'; ln -sfn 'evil/\(top)' '\(top)'"
    },
  ]
}

/// Commands that try to change each protected path, in a real bubblewrap sandbox (and, for the
/// runtime's check alone, on the host): each ends with the file as it was, and the journal says
/// what was put back.
@Suite(
  .serialized, .timeLimit(.minutes(10)),
  .enabled(if: ProtectedSupport.available, "bwrap or git is not installed"))
struct ProtectedEnforcementTests {
  static let targets = [
    ".git/hooks/pre-commit", ".gitmodules", ".envrc", ".vscode/tasks.json", ".vscode/launch.json",
    ".github/workflows/ci.yml", ".env",
  ]
  /// Paths that don't exist yet: the sandbox has nothing to bind, so the runtime removes them.
  static let newTargets = [".git/hooks/post-checkout", ".github/workflows/evil.yml", ".env.local"]

  @Test(arguments: [BackendKind.bubblewrap, .host])
  func everyRouteToEveryProtectedFileEndsUnchangedOrRestored(backend: BackendKind) async throws {
    var report: [String] = []
    for target in Self.targets + Self.newTargets {
      for route in ProtectedRoute.generic {
        let fixture = try ProtectedFixture(backend: backend)
        let before = fixture.state(target)
        let ancestors = Self.ancestors(of: target).map { ($0, fixture.state($0)) }
        let result = try await fixture.agent(route.script(target))
        let context = "\(backend) \(target) via \(route)"
        try #require(result.status == .completed, "\(context): \(result)")
        #expect(fixture.state(target) == before, "\(context): \(fixture.state(target)) != \(before)")
        for (path, state) in ancestors {
          #expect(
            fixture.state(path) == state || state.kind == .directory && fixture.state(path).kind == .directory,
            "\(context): \(path) is \(fixture.state(path))")
        }
        let journaled = try fixture.journaledRestores(result.id)
        #expect(journaled.map(\.path) == (result.restored ?? []), "\(context)")
        #expect(journaled.allSatisfy { $0.action != .failed }, "\(context): \(journaled)")
        let stderr = result.stderr ?? ""
        if journaled.isEmpty {
          // Unchanged because the sandbox refused it: the command's own error is in the journal.
          #expect(backend == .bubblewrap && !stderr.isEmpty || before.kind == .missing, "\(context): nothing on stderr")
          report.append("\(context): blocked by the sandbox")
        } else {
          #expect(
            journaled.contains { $0.path == target || target.hasPrefix($0.path + "/") }, "\(context): \(journaled)")
          #expect(stderr.contains("[spaces] "), "\(context)")
          #expect(stderr.contains("protected paths change only with a person's approval"), "\(context)")
          report.append("\(context): put back \(journaled.map(\.path))")
        }
        if target.hasPrefix(".env") {
          #expect(!(result.stdout ?? "").contains("s3cr3t"), "\(context)")
        }
      }
    }
    print(report.joined(separator: "\n"))
  }

  static func ancestors(of target: String) -> [String] {
    let components = target.split(separator: "/").map(String.init)
    return (1..<max(1, components.count)).map { components[..<$0].joined(separator: "/") }
  }

  /// Risky keys written to .git/config by every route: the keys are as they were afterwards.
  @Test(arguments: [BackendKind.bubblewrap, .host])
  func gitConfigKeepsItsRiskyKeys(backend: BackendKind) async throws {
    let routes = [
      "git config core.fsmonitor 'sh -c \"echo evil\"'",
      "git config alias.x '!sh -c evil'",
      "git config core.hooksPath evil-hooks",
      "git config core.pager 'sh evil.sh'",
      "git config credential.helper '!evil'",
      "git config include.path ../evil.cfg",
      "git config filter.x.clean evil",
      "git config diff.x.textconv evil",
      "printf '[core]\\n\\teditor = evil\\n' >> .git/config",
      "sed -i 's/^\\[core\\]/[core]\\n\\tsshCommand = evil/' .git/config",
      "python3 -c \"open('.git/config', 'a').write('[includeIf \\\"gitdir:/\\\"]\\\\n\\\\tpath = /tmp/x\\\\n')\"",
      "cp .git/config c && echo '[core] fsmonitor = evil' >> c && mv -f c .git/config",
      "echo '[alias] y = !evil' > evil.cfg && ln -sf ../evil.cfg .git/config",
      "mv .git .git-old && cp -r .git-old .git && git config core.editor evil",
      "mkdir -p /tmp/tpl && cp .git/config /tmp/tpl/config && echo '[core] pager = evil' >> /tmp/tpl/config && git init -q --template=/tmp/tpl",
    ]
    for route in routes {
      let fixture = try ProtectedFixture(backend: backend)
      let risky = fixture.riskyConfig
      #expect(risky.isEmpty)
      let result = try await fixture.agent(route)
      try #require(result.status == .completed, "\(route): \(result)")
      #expect(fixture.riskyConfig == risky, "\(backend) \(route): \(fixture.riskyConfig)")
      #expect(fixture.state(".git/config").kind == .file, "\(backend) \(route)")
      let journaled = try fixture.journaledRestores(result.id)
      #expect(journaled.map(\.path) == (result.restored ?? []))
      if !journaled.isEmpty {
        #expect(journaled.contains { $0.path == ".git/config" || $0.path == ".git" }, "\(route): \(journaled)")
      }
      // git itself still works on the repository afterwards.
      let log = try await fixture.agent("git log --oneline | wc -l")
      #expect(log.stdout?.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(backend) \(route): \(log)")
    }
  }

  /// Hooks by git's own routes: a template, a sample renamed, core.hooksPath.
  @Test func hooksWrittenByGitAreRemoved() async throws {
    let routes = [
      "mkdir -p tpl/hooks && printf '#!/bin/sh\\necho evil\\n' > tpl/hooks/post-checkout && chmod +x tpl/hooks/post-checkout && git init -q --template=tpl",
      "cp .git/hooks/pre-push.sample .git/hooks/pre-push",
      "mv .git/hooks/pre-push.sample .git/hooks/pre-push",
      "chmod +x .git/hooks/pre-commit.sample && ln -s pre-commit.sample .git/hooks/post-merge",
    ]
    for route in routes {
      let fixture = try ProtectedFixture()
      let result = try await fixture.agent(route)
      try #require(result.status == .completed)
      for hook in ["post-checkout", "pre-push", "post-merge"] {
        #expect(fixture.state(".git/hooks/" + hook).kind == .missing, "\(route): \(hook)")
      }
      #expect(fixture.state(".git/hooks/pre-commit").content == Array("#!/bin/sh\necho original hook\n".utf8))
    }
    // In a workspace without a repository, nothing is bound: the runtime removes the hook.
    let fresh = try ProtectedFixture(seed: nil)
    let result = try await fresh.agent(
      "mkdir -p /tmp/tpl/hooks && printf '#!/bin/sh\\necho evil\\n' > /tmp/tpl/hooks/pre-commit && chmod +x /tmp/tpl/hooks/pre-commit && git init -q --template=/tmp/tpl && ls .git/hooks"
    )
    #expect(result.exitCode == 0)
    #expect(fresh.state(".git/hooks/pre-commit").kind == .missing)
    #expect(fresh.state(".git/config").kind == .file)
    #expect(result.restored == [".git/hooks/pre-commit"])
    let journaled = try fresh.journaledRestores(result.id)
    #expect(
      journaled == [
        ProtectedChange(path: ".git/hooks/pre-commit", change: .created, action: .removed, rule: "git-hooks")
      ])
    #expect(result.stderr?.contains("[spaces] removed .git/hooks/pre-commit (created by the command)") == true)
    // The journal orders it before the end of the operation.
    let types = try fresh.events(result.id).map(\.type)
    #expect(types.suffix(2) == [.protectedRestored, .completed])
  }

  /// `.env*` can't be read inside the sandbox by any route.
  @Test func envFilesCantBeReadInTheSandbox() async throws {
    let fixture = try ProtectedFixture()
    let routes = [
      "cat .env", "cat < .env", "cp .env leak1; cat leak1", "ln -s .env leak2; cat leak2",
      "python3 -c \"print(open('.env').read())\"", "grep -r TOKEN= . ", "base64 .env", "tar cf - .env | cat",
      "dd if=.env 2>/dev/null", "mv .env leak3; cat leak3", "git add -f .env && git show :.env",
    ]
    for route in routes {
      let result = try await fixture.agent(route)
      let seen = (result.stdout ?? "") + (result.stderr ?? "")
      #expect(!seen.contains("s3cr3t"), "\(route): \(seen)")
    }
    #expect(fixture.state(".env").content == Array("TOKEN=s3cr3t-value\n".utf8))
  }
}

/// What keeps working without a prompt, and what an approval allows.
@Suite(
  .serialized, .timeLimit(.minutes(5)),
  .enabled(if: ProtectedSupport.available, "bwrap or git is not installed"))
struct ProtectedWorkflowTests {
  @Test func gitKeepsWorkingAndNothingIsPutBack() async throws {
    let fixture = try ProtectedFixture(seed: nil)
    try fixture.host(
      "set -e; mkdir upstream; cd upstream; git init -q; git -c user.email=u@x -c user.name=U commit -q --allow-empty -m up"
    )
    let steps = [
      "git init",
      "git config user.email agent@example.com && git config user.name Agent",
      "echo a > a && git add a && git commit -qm first && git log --oneline | wc -l",
      "git remote add origin https://example.com/r.git && git remote -v",
      "git init",
      "git clone -q upstream clone && git -C clone log --oneline | wc -l",
      "git branch topic && git checkout -q topic && echo b > b && git add b && git commit -qm second",
      "git config --unset user.name && git config user.name Agent2",
    ]
    for step in steps {
      let result = try await fixture.agent(step)
      #expect(result.exitCode == 0, "\(step): \(result.stderr ?? "")")
      #expect(result.restored == nil, "\(step): \(result.restored ?? [])")
      #expect(try fixture.journaledRestores(result.id).isEmpty)
    }
    let config = Sys.readFile(fixture.workspace + "/.git/config") ?? ""
    #expect(config.contains("agent@example.com"))
    #expect(config.contains("https://example.com/r.git"))
    #expect(config.contains("Agent2"))
    #expect(fixture.state("clone/.git/config").kind == .file)

    // Cloning into the (empty) workspace itself.
    let empty = try ProtectedFixture(seed: nil)
    let cloned = try await empty.agent(
      "set -e; git init -q /tmp/up; git -C /tmp/up -c user.email=u@x -c user.name=U commit -q --allow-empty -m up; rm -f attack-*.sh; git clone -q /tmp/up . && git log --oneline | wc -l"
    )
    #expect(cloned.exitCode == 0, "\(cloned.stderr ?? "")")
    #expect(cloned.restored == nil)
    #expect(empty.state(".git/config").kind == .file)
  }

  /// `rm -rf .git` in the sandbox can't take the hooks (a read-only mount): a person approves it.
  @Test func removingGitInTheSandboxLeavesTheHooks() async throws {
    let fixture = try ProtectedFixture()
    let result = try await fixture.agent("rm -rf .git")
    #expect(result.exitCode != 0)
    #expect(fixture.state(".git/hooks/pre-commit").kind == .file)
  }

  @Test func anApprovedCommandsChangeIsKept() async throws {
    let fixture = try ProtectedFixture(preset: .standard)
    let space = fixture.space
    // chmod asks under the standard preset; the person approves it once.
    let running = Task {
      await space.submit(
        .shell(
          command: "chmod 700 .git/hooks/pre-commit && echo approved > .git/hooks/pre-commit && echo x=1 > .env",
          timeoutMs: nil))
    }
    let clock = ContinuousClock()
    let deadline = clock.now + patience
    while space.approvals.pending.isEmpty, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
    let request = try #require(space.approvals.pending.first)
    try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .once))
    let result = await running.value
    #expect(result.exitCode == 0, "\(result.stderr ?? "")")
    #expect(result.restored == nil)
    #expect(fixture.state(".git/hooks/pre-commit").content == Array("approved\n".utf8))
    #expect(fixture.state(".git/hooks/pre-commit").mode == 0o700)
    #expect(fixture.state(".env").content == Array("x=1\n".utf8))
    // The next command, not approved, keeps what the approved one did.
    let after = try await fixture.agent("true")
    #expect(after.restored == nil)
    #expect(fixture.state(".git/hooks/pre-commit").content == Array("approved\n".utf8))
  }

  /// A person's edit of a protected file while a command runs is not put back when it ends.
  @Test func aPersonsEditDuringACommandIsKept() async throws {
    let fixture = try ProtectedFixture()
    let space = fixture.space
    let running = Task {
      try await fixture.agent(
        "touch .ready; i=0; while [ ! -e .go ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done; echo i=$i")
    }
    let clock = ContinuousClock()
    let deadline = clock.now + patience
    while fixture.state(".ready").kind == .missing, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
    let edit = await space.submit(.createFile(path: ".envrc", content: "export B=2\n", encoding: .utf8), actor: .person)
    #expect(edit.status == .completed)
    // The signal that lets the command end, made from outside the space.
    #expect(FileManager.default.createFile(atPath: fixture.workspace + "/.go", contents: Data()))
    let result = try await running.value
    #expect(result.exitCode == 0)
    #expect(result.stdout?.hasPrefix("i=") == true)
    #expect(result.stdout != "i=2000\n")
    #expect(result.restored == nil)
    #expect(fixture.state(".envrc").content == Array("export B=2\n".utf8))
  }
}

/// What the check costs around every shell command.
@Suite(.serialized, .enabled(if: ProtectedSupport.available, "git is not installed"))
struct ProtectedCostTests {
  @Test func checkingARealRepositoryCostsWellUnderAMillisecond() async throws {
    let fixture = try ProtectedFixture()
    try fixture.host(
      "set -e; for i in 1 2 3 4 5 6 7 8; do echo $i > f$i; git add f$i; git commit -qm c$i; done; for i in $(seq 1 40); do touch src-$i; done"
    )
    let checker = try #require(ProtectedGuard(root: fixture.workspace))
    let paths = ProtectedPaths()
    #expect(await checker.begin(paths, writable: false))
    #expect(checker.end(writable: false).isEmpty)
    let clock = ContinuousClock()
    var samples: [Duration] = []
    var binds: [Duration] = []
    for _ in 0..<500 {
      let start = clock.now
      _ = await checker.begin(paths, writable: false)
      let changes = checker.end(writable: false)
      samples.append(clock.now - start)
      #expect(changes.isEmpty)
      let bindStart = clock.now
      _ = ProtectedBinds.arguments(workspace: fixture.workspace, paths: paths)
      binds.append(clock.now - bindStart)
    }
    samples.sort()
    binds.sort()
    let median = samples[samples.count / 2]
    print(
      "protected check (begin+end), nothing changed: median \(median), p90 \(samples[samples.count * 9 / 10]); "
        + "bubblewrap binds: median \(binds[binds.count / 2])")
    #expect(median < .milliseconds(1))
    let arguments = ProtectedBinds.arguments(workspace: fixture.workspace, paths: paths)
    print(arguments.joined(separator: " "))
    #expect(arguments.contains("/workspace/.git/hooks"))
    #expect(!arguments.contains("/workspace/.git/config"))
  }
}
