import Testing

@testable import SpacesKit
@testable import SpacesPolicy

/// What the runtime protects in a workspace (issue 12): one list, and the git config keys that
/// run programs.
@Suite struct ProtectedPathsTests {
  let paths = ProtectedPaths()

  /// An entry's globs are compiled once, and again when they are changed.
  @Test func anEntryMatchesItsGlobsAsChanged() {
    var entry = ProtectedPaths.Entry(name: "x", globs: ["a/**"], reason: "r")
    #expect(entry.covers("a/b"))
    entry.globs = ["b/**"]
    #expect(!entry.covers("a/b"))
    #expect(entry.covers("b/c"))
    entry.except = ["b/c"]
    #expect(!entry.covers("b/c"))
    #expect(entry.covers("b/d"))
    #expect(ProtectedPaths(extra: [entry]).writeEntry(for: "b/d")?.name == "x")
  }

  @Test(arguments: [
    (".git/hooks/pre-commit", "git-hooks"),
    ("vendor/lib/.git/hooks/post-checkout", "git-hooks"),
    (".git/config", "git-config"),
    (".gitmodules", "gitmodules"),
    (".envrc", "envrc"),
    (".vscode/tasks.json", "editor-tasks"),
    (".github/workflows/ci.yml", "ci-workflows"),
    (".env", "env-files"),
    ("app/.env.local", "env-files"),
  ])
  func theDefaultsCoverWhatRunsLater(path: String, name: String) {
    #expect(paths.writeEntry(for: path)?.name == name)
  }

  @Test(arguments: [
    ".git/hooks/pre-commit.sample", ".git/HEAD", ".git/objects/ab/cdef", "src/main.ts", ".github/x.yml",
  ])
  func theRestIsTheAgents(path: String) {
    #expect(paths.writeEntry(for: path) == nil)
  }

  @Test(arguments: [".env.example", "app/.env.sample", ".env.template"])
  func envTemplatesAreNotSecrets(path: String) {
    #expect(paths.writeEntry(for: path) == nil)
    #expect(paths.readEntry(for: path) == nil)
  }

  @Test func onlySecretsAreReadProtected() {
    #expect(paths.readEntry(for: ".env")?.name == "env-files")
    #expect(paths.readEntry(for: ".git/config") == nil)
  }

  @Test func extraEntriesAreAdded() {
    let more = ProtectedPaths(extra: [.init(name: "deploy", globs: ["deploy/**"], reason: "deploys")])
    #expect(more.writeEntry(for: "deploy/prod.sh")?.name == "deploy")
  }

  @Test func riskyGitConfigKeysAreFound() {
    let text = """
      [core]
      \trepositoryformatversion = 0
      \tfsmonitor = ./x.sh ; a comment
      [user]
      \temail = a@b.c
      [alias]
      \tst = status
      \tboom = !sh -c 'id'
      [filter "lfs"]
      \tclean = git-lfs clean -- %f
      [remote "origin"]
      \turl = https://example.com/r.git
      [includeIf "gitdir:~/"]
      \tpath = ~/.evil
      [diff "pdf"]
      \ttextconv = pdftotext
      [credential]
      \thelper = store
      [CORE]
      \tPager = less -R \\
      --quit
      """
    let risky = GitConfigRisk.riskyEntries(in: text)
    #expect(
      risky == [
        "core.fsmonitor=./x.sh", "alias.boom=!sh -c 'id'", "filter.lfs.clean=git-lfs clean -- %f",
        "includeif.gitdir:~/.path=~/.evil", "diff.pdf.textconv=pdftotext", "credential.helper=store",
        "core.pager=less -R --quit",
      ])
    #expect(!risky.contains { $0.hasPrefix("user.") || $0.hasPrefix("remote.origin.url") || $0.hasPrefix("alias.st") })
  }
}
