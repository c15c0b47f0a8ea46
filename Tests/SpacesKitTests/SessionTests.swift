import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesPolicy
@testable import SpacesSandbox

/// The shell session of a space: the folder and exported variables carry from one shell
/// operation to the next, in real sandboxes.
@Suite(.enabled(if: ProtectedSupport.available, "bwrap is not installed"))
struct SessionTests {
  let folder = TempFolder("session")
  var home: SpacesHome { SpacesHome(path: folder.path) }

  func makeSpace(_ backend: BackendKind = .bubblewrap, policy: PolicyPreset = .standard) throws -> (
    SpacesRuntime, Space
  ) {
    _ = try home.create(name: "s", policy: policy, backend: backend)
    let runtime = SpacesRuntime(home: home, supervised: false)
    return (runtime, try runtime.space("s"))
  }

  func shell(_ space: Space, _ command: String, fresh: Bool = false) async -> OperationResult {
    await space.submit(.shell(command: command, timeoutMs: 20_000, fresh: fresh))
  }

  @Test func theFolderCarriesToTheNextCommand() async throws {
    let (_, space) = try makeSpace()
    try folder.write("spaces/s/workspace/src/lib/a.txt", "a\n")
    let entered = await shell(space, "cd src")
    #expect(entered.status == .completed)
    #expect(entered.cwd == "src")
    let shown = await shell(space, "pwd")
    #expect(shown.stdout == "/workspace/src\n")
    #expect(shown.cwd == "src")
    #expect(await shell(space, "cd lib && cat a.txt").stdout == "a\n")
    #expect(await shell(space, "pwd").stdout == "/workspace/src/lib\n")
    // It is kept with the space: another runtime (another process) continues from it.
    let again = try SpacesRuntime(home: home, supervised: false).space("s")
    #expect(await shell(again, "pwd").stdout == "/workspace/src/lib\n")
    #expect(ShellSessionStore(path: home.sessionPath("s")).load().cwd == "src/lib")
  }

  @Test func valuesWithQuotesAndNewlinesCarryExactly() async throws {
    let (_, space) = try makeSpace()
    let set = await shell(space, #"export Q="it's \"quoted\"" NL='a"# + "\n" + #"b' D='$HOME `x` \'"#)
    #expect(set.status == .completed)
    let shown = await shell(space, #"printf '%s|%s|%s' "$Q" "$NL" "$D""#)
    #expect(shown.stdout == "it's \"quoted\"|a\nb|$HOME `x` \\")
  }

  /// A carried value's newlines don't move the command's line numbers (the session's variables
  /// are set on the command's first line).
  @Test func newlinesInCarriedValuesKeepLineNumbers() async throws {
    let (_, space) = try makeSpace()
    #expect(await shell(space, "export NL='one\ntwo\n\nthree\n' PLAIN=x").status == .completed)
    let shown = await shell(space, "printf '%s|' \"$NL\" \"$PLAIN\"\necho second\nno_such_command_q")
    #expect(shown.stdout == "one\ntwo\n\nthree\n|x|second\n")
    #expect(shown.stderr?.contains(": 3: no_such_command_q: not found") == true, "\(shown.stderr ?? "")")
    // The helper that carried the newline is not left in the command's shell.
    #expect(await shell(space, "echo \"[${spaces_nl-unset}]\"").stdout == "[unset]\n")
  }

  /// A command a person runs goes in a sandbox of its own (bwrap binds the session's state
  /// file in, made for it): the session carries through it as through an agent's.
  @Test func aPersonsCommandCarriesTheSessionToo() async throws {
    let (_, space) = try makeSpace()
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    let entered = await space.submit(
      .shell(command: "cd src && export BY=person", timeoutMs: 20_000, fresh: false), actor: .person)
    #expect(entered.status == .completed, "\(entered)")
    #expect(entered.cwd == "src")
    #expect(await shell(space, "cat a.txt; echo \"$BY\"").stdout == "a\nperson\n")
  }

  @Test func stateFilesGoAndOnlyOldLeftoversAreSwept() async throws {
    let (_, space) = try makeSpace()
    let shellFolder = folder.file("spaces/s/shell")
    try FileManager.default.createDirectory(atPath: shellFolder, withIntermediateDirectories: true)
    // One left by a process that ended two days ago, one by a command another runtime runs now.
    try folder.write("spaces/s/shell/op_old", "")
    try folder.write("spaces/s/shell/op_recent", "")
    try FileManager.default.setAttributes(
      [.modificationDate: Date(timeIntervalSinceNow: -2 * 86_400)], ofItemAtPath: shellFolder + "/op_old")
    #expect(await shell(space, "true").status == .completed)
    #expect(await shell(space, "true").status == .completed)
    // The operations' own files are removed once they are answered.
    try await eventually("only the recent leftover stays") {
      (try? FileManager.default.contentsOfDirectory(atPath: shellFolder)) == ["op_recent"]
    }
  }

  @Test func exportedVariablesCarry() async throws {
    let (_, space) = try makeSpace()
    #expect(await shell(space, "export FOO=1 'BAR=two words'; QUIET=1").status == .completed)
    #expect(await shell(space, #"echo "$FOO|$BAR|${QUIET:-unset}""#).stdout == "1|two words|unset\n")
    #expect(await shell(space, "unset FOO").status == .completed)
    #expect(await shell(space, #"echo "[$FOO]""#).stdout == "[]\n")
    // What the runtime sets itself never carries: HOME stays the workspace.
    _ = await shell(space, "export HOME=/tmp SPACES_X=1 PATH=/workspace/bin:$PATH")
    let after = await shell(space, #"echo "$HOME|${SPACES_X:-none}|$PATH""#)
    #expect(after.stdout == "/workspace|none|/workspace/bin:/usr/local/bin:/usr/bin:/bin\n")
    let saved = ShellSessionStore(path: home.sessionPath("s")).load()
    #expect(saved.environment["HOME"] == nil)
    #expect(saved.environment["PATH"] == "/workspace/bin:/usr/local/bin:/usr/bin:/bin")
  }

  @Test func aSessionFileEditedByHandIsWhatTheNextCommandStartsFrom() async throws {
    let (_, space) = try makeSpace()
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    try folder.write("spaces/s/workspace/library/b.txt", "b\n")
    #expect(await shell(space, "cd src").cwd == "src")
    let path = home.sessionPath("s")
    // Replaced by another file (an editor's save), then rewritten in place.
    let edited = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
      of: "\"src\"", with: "\"library\"")
    try edited.write(toFile: path + ".new", atomically: false, encoding: .utf8)
    #expect(rename(path + ".new", path) == 0)
    #expect(await shell(space, "pwd").stdout == "/workspace/library\n")
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    try handle.truncate(atOffset: 0)
    try handle.write(contentsOf: Data(edited.replacingOccurrences(of: "\"library\"", with: "\"src\"").utf8))
    try handle.close()
    #expect(await shell(space, "pwd").stdout == "/workspace/src\n")
    // Gone: a fresh session.
    try FileManager.default.removeItem(atPath: path)
    #expect(await shell(space, "pwd").stdout == "/workspace\n")
  }

  @Test func aFreshShellStartsClean() async throws {
    let (_, space) = try makeSpace()
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    _ = await shell(space, "cd src && export FOO=1")
    let fresh = await shell(space, #"pwd; echo "[$FOO]""#, fresh: true)
    #expect(fresh.stdout == "/workspace\n[]\n")
    #expect(fresh.cwd == ".")
    // …and the session goes on from the fresh one.
    #expect(await shell(space, #"pwd; echo "[$FOO]""#).stdout == "/workspace\n[]\n")
  }

  @Test func theCommandsOutputAndExitStatusAreItsOwn() async throws {
    let (_, space) = try makeSpace()
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    let result = await shell(space, "cd src; echo out; echo err >&2; exit 7")
    #expect(result.exitCode == 7)
    #expect(result.stdout == "out\n")
    #expect(result.stderr == "err\n")
    #expect(result.cwd == "src")
    let failed = await shell(space, "false")
    #expect(failed.exitCode == 1)
    #expect(failed.stderr == "")
    let timedOut = await space.submit(.shell(command: "cd .. && sleep 5", timeoutMs: 300))
    #expect(timedOut.error?.code == "timeout")
    // A command that was stopped records nothing: the session is where it was.
    #expect(await shell(space, "pwd").stdout == "/workspace/src\n")
  }

  @Test func aDeletedFolderFallsBackToTheRootWithANote() async throws {
    let (_, space) = try makeSpace()
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    _ = await shell(space, "cd src")
    try FileManager.default.removeItem(atPath: folder.file("spaces/s/workspace/src"))
    let result = await shell(space, "pwd")
    #expect(result.stdout == "/workspace\n")
    #expect(result.stderr?.contains("[spaces] the session's folder \"src\" is no longer a folder") == true)
    #expect(result.cwd == ".")
    #expect(await shell(space, "pwd").stderr == "")
    // A folder the command itself removed while in it.
    let removed = await shell(space, "mkdir x && cd x && rmdir ../x")
    #expect(removed.cwd == ".")
    #expect(removed.stderr?.contains("[spaces] the command's folder was gone") == true)
  }

  @Test func theSessionCantLeaveTheWorkspace() async throws {
    let (_, space) = try makeSpace(policy: .permissive)
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    for command in ["cd /", "cd ..", "cd /tmp", "cd ../..", "ln -s /etc out && cd out", "ln -s .. up && cd up"] {
      let result = await shell(space, command)
      #expect(result.status == .completed, "\(command)")
      #expect(result.cwd == ".", "\(command)")
      #expect(result.stderr?.contains("outside the workspace; the next command starts in the workspace root") == true)
      #expect(await shell(space, "pwd").stdout == "/workspace\n", "\(command)")
      _ = await shell(space, "rm -f out up")
    }
    // A symlink inside the workspace to a folder inside it is the folder itself.
    _ = await shell(space, "ln -s src link && cd link")
    #expect(await shell(space, "pwd").stdout == "/workspace/src\n")
    // A folder swapped for a symlink between commands is not followed.
    _ = await shell(space, "cd /workspace && mkdir -p d && cd d")
    try FileManager.default.removeItem(atPath: folder.file("spaces/s/workspace/d"))
    try FileManager.default.createSymbolicLink(atPath: folder.file("spaces/s/workspace/d"), withDestinationPath: "/etc")
    let swapped = await shell(space, "pwd")
    #expect(swapped.stdout == "/workspace\n")
    #expect(swapped.cwd == ".")
  }

  @Test func garbageInTheStateFileCantHurtTheRuntime() async throws {
    let (_, space) = try makeSpace()
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    let start = ContinuousClock.now
    for command in [
      "cd src; trap - EXIT; printf 'garbage' > /run/spaces/session",
      "cd src; trap - EXIT; printf '/etc\\n\\0HOME=/x\\0SPACES_OPERATION=x\\0' > /run/spaces/session",
      "cd src; trap - EXIT; head -c 3000000 /dev/zero > /run/spaces/session",
      "cd src; trap - EXIT; rm -f /run/spaces/session; mkfifo /run/spaces/session",
      "cd src; exec true",
    ] {
      let result = await shell(space, command)
      #expect(result.status == .completed, "\(command)")
      #expect(result.cwd == ".", "\(command)")
      #expect(await shell(space, #"pwd; echo "${PATH}""#).stdout == "/workspace\n/usr/local/bin:/usr/bin:/bin\n")
    }
    // Too much to carry is dropped with a note; the folder still carries.
    let big = await shell(space, "cd src; export BIG=$(head -c 40000 /dev/zero | tr '\\0' x) SMALL=1")
    #expect(big.cwd == "src")
    #expect(big.stderr?.contains("exported variable(s) were not carried") == true)
    #expect(await shell(space, #"echo "${#BIG} $SMALL""#).stdout == "0 1\n")
    #expect(ContinuousClock.now - start < .seconds(180), "a stalled read would take far longer; the machine is shared")
  }

  @Test func theStateFileReaderRefusesWhatIsNotAPlainSmallFile() throws {
    let dir = TempFolder("state")
    let fifo = dir.file("fifo")
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(ShellSessionScript.read(fifo) == nil)
    try dir.write("big", String(repeating: "x", count: ShellSession.maxStateBytes + 1))
    #expect(ShellSessionScript.read(dir.file("big")) == nil)
    try dir.write("ok", "/workspace/a\n\0export FOO='1'\n")
    try FileManager.default.createSymbolicLink(atPath: dir.file("link"), withDestinationPath: dir.file("ok"))
    #expect(ShellSessionScript.read(dir.file("link")) == nil)
    let bytes = try #require(ShellSessionScript.read(dir.file("ok")))
    let parsed = try #require(ShellSessionScript.parse(bytes))
    #expect(ShellSessionScript.relative(parsed.folder, root: "/workspace") == "a")
    #expect(parsed.exported == ["FOO": "1"])
    #expect(ShellSessionScript.recordedStatus(bytes) == nil)
    // The exit status ends a complete record, after its last NUL: 0 to 255, in digits only.
    let ended = Array("/workspace/a\n\0export FOO='1'\n\0".utf8)
    #expect(ShellSessionScript.recordedStatus(ended + Array("0".utf8)) == 0)
    #expect(ShellSessionScript.recordedStatus(ended + Array("255".utf8)) == 255)
    #expect(ShellSessionScript.parse(ended + Array("42".utf8))?.exported == ["FOO": "1"])
    for bad in ["", "256", "1000", "-1", " 1", "1\n", "x"] {
      #expect(ShellSessionScript.recordedStatus(ended + Array(bad.utf8)) == nil, "\(bad)")
    }
    // `export -p` as dash, busybox and bash print it; a name without a value is not exported.
    let shells = """
      export A='x'"'"'y'
      export B='two
      lines'
      export C="bash \\"q\\" \\$HOME \\\\ end"
      declare -x D="declared"
      export E
      export F=''
      export G=plain\\ word
      export H='unterminated
      """
    #expect(
      ShellSessionScript.exports(ArraySlice(shells.utf8)) == [
        "A": "x'y", "B": "two\nlines", "C": #"bash "q" $HOME \ end"#, "D": "declared", "F": "", "G": "plain word",
      ])
    for outside in ["/", "/workspacex", "/workspace/../etc", "/workspace//a", "/workspace/./a", "relative"] {
      #expect(ShellSessionScript.relative(Array(outside.utf8), root: "/workspace") == nil, "\(outside)")
    }
  }

  @Test func thePolicyJudgesPathsFromTheSessionsFolder() async throws {
    let (_, space) = try makeSpace()
    try FileManager.default.createDirectory(
      atPath: folder.file("spaces/s/workspace/.git/hooks"), withIntermediateDirectories: true)
    #expect(await shell(space, "cd .git").cwd == ".git")
    // Relative to the session's folder, this writes .git/hooks/pre-commit: a person decides
    // (and none is connected here).
    let hook = await shell(space, "echo x > hooks/pre-commit")
    #expect(hook.status == .denied)
    #expect(hook.reason?.contains("no supervisor") == true)
    #expect(!FileManager.default.fileExists(atPath: folder.file("spaces/s/workspace/.git/hooks/pre-commit")))
    #expect(await shell(space, "echo x > hooks/pre-commit", fresh: true).status == .completed)

    // Without a sandbox, `..` is judged from the session's folder.
    let engine = PolicyEngine(preset: .standard, profile: .host(network: false))
    let inSrc = ShellSession(cwd: "src/lib")
    let up = engine.evaluate(.shell(command: "cat ../a.txt", timeoutMs: nil), session: inSrc)
    #expect(up.decision == .allow, "\(up.reasons)")
    let out = engine.evaluate(.shell(command: "cat ../../../etc/passwd", timeoutMs: nil), session: inSrc)
    #expect(out.decision == .ask)
    #expect(out.reasons.contains { $0.contains("outside the workspace") })
    let atRoot = engine.evaluate(.shell(command: "cat ../a.txt", timeoutMs: nil), session: .fresh)
    #expect(atRoot.decision == .ask)
    let hooks = engine.evaluate(
      .shell(command: "cp x ../hooks/pre-commit", timeoutMs: nil), session: ShellSession(cwd: ".git/info"))
    #expect(hooks.rules.contains("protected:git-hooks"))
    // Carried variables change how programs run: without a sandbox a person decides.
    let carried = engine.evaluate(
      .shell(command: "ls", timeoutMs: nil), session: ShellSession(environment: ["PATH": "/workspace/bin"]))
    #expect(carried.decision == .ask)
    #expect(carried.reasons.contains { $0.contains("carries exported variables") })
    let fresh = engine.evaluate(
      .shell(command: "ls", timeoutMs: nil, fresh: true), session: ShellSession(environment: ["PATH": "/x"]))
    #expect(fresh.decision == .allow)
  }

  @Test func theHostBackendCarriesTheSessionToo() async throws {
    let (_, space) = try makeSpace(.host)
    try folder.write("spaces/s/workspace/src/a.txt", "a\n")
    let workspace = Sys.realPath(folder.file("spaces/s/workspace"))
    #expect(await shell(space, "cd src").cwd == "src")
    #expect(await shell(space, "pwd").stdout == workspace + "/src\n")
    // (The person's commands skip the policy, which asks about these on the host.)
    let outside = await space.submit(.shell(command: "cd ../..", timeoutMs: nil), actor: .person)
    #expect(outside.cwd == ".")
    // A variable carried on the host makes the next command ask (denied: nobody is there).
    #expect(await space.submit(.shell(command: "export FOO=1", timeoutMs: nil), actor: .person).status == .completed)
    #expect(await shell(space, "ls").status == .denied)
    #expect(await shell(space, "ls", fresh: true).status == .completed)
  }

  @Test func opDecodesFresh() throws {
    #expect(
      try Op.parse(#"{"kind":"shell","command":"ls","fresh":true}"#)
        == .shell(command: "ls", timeoutMs: nil, fresh: true))
    #expect(try Op.parse(#"{"kind":"shell","command":"ls"}"#) == .shell(command: "ls", timeoutMs: nil))
    #expect(throws: SpacesError.self) { try Op.parse(#"{"kind":"shell","command":"ls","fresh":1}"#) }
    let encoded = String(
      decoding: try SpacesJSON.encoder.encode(Op.shell(command: "ls", timeoutMs: nil, fresh: true)), as: UTF8.self)
    #expect(encoded.contains(#""fresh":true"#))
  }
}

/// The shell session in the container backend (podman and the test image).
@Suite(.enabled(if: ContainerTestSupport.available, "podman or the test image is not available"))
struct ContainerSessionTests {
  @Test func theFolderAndVariablesCarryInAContainer() async throws {
    let folder = TempFolder("container-session")
    defer { folder.cleanup() }
    let home = SpacesHome(path: folder.path)
    _ = try home.create(
      name: "sess", policy: .permissive, backend: .container, image: ContainerTestSupport.image, engine: "podman")
    defer { try? home.delete("sess") }
    let space = try SpacesRuntime(home: home, supervised: false).space("sess")
    func shell(_ command: String, fresh: Bool = false) async -> OperationResult {
      await space.submit(.shell(command: command, timeoutMs: 60_000, fresh: fresh))
    }
    let entered = await shell("mkdir -p src && cd src && export FOO=1")
    #expect(entered.status == .completed, "\(entered.error?.message ?? "")")
    #expect(entered.cwd == "src")
    let shown = await shell(#"pwd; echo "$FOO""#)
    #expect(shown.stdout == "/workspace/src\n1\n")
    let out = await shell("cd /")
    #expect(out.cwd == ".")
    #expect(await shell(#"pwd; echo "[$FOO]""#, fresh: true).stdout == "/workspace\n[]\n")
  }
}
