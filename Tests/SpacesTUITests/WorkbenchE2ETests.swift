import CSpacesSys
import Foundation
import SpacesTestSupport
import Testing

/// One tmux server (a private socket) running a shell in a window of a given size.
final class Tmux: @unchecked Sendable {
  let socket = "spaces-e2e-\(UUID().uuidString.prefix(8))"
  private var shellChecks = 0
  let home = CLIHome()

  init(width: Int = 120, height: Int = 40) throws {
    let shell = "env TERM=tmux-256color SPACES_HOME='\(home.path)' PS1='$ ' bash --norc --noprofile"
    // The server the first command forks keeps its stdout: don't read it.
    try tmux(["-f", "/dev/null", "new-session", "-d", "-x", "\(width)", "-y", "\(height)", shell])
  }

  deinit { try? tmux(["kill-server"]) }

  @discardableResult
  func tmux(_ arguments: String...) throws -> String {
    try spawn(arguments, capture: true)
  }

  func send(_ keys: String...) throws { try tmux(["send-keys", "-t", "0"] + keys) }
  func type(_ text: String) throws { try tmux("send-keys", "-t", "0", "-l", text) }
  func screen() throws -> String { try tmux("capture-pane", "-p", "-t", "0") }

  /// Runs tmux with a clean signal mask and default handlers: a server started by a thread
  /// that blocks signals would inherit the mask and hang.
  func tmux(_ arguments: [String]) throws {
    _ = try spawn(arguments, capture: false)
  }

  func spawn(_ arguments: [String], capture: Bool) throws -> String {
    let argv = ["tmux", "-L", socket] + arguments
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var all = sigset_t()
    sigfillset(&all)
    sigdelset(&all, SIGKILL)
    sigdelset(&all, SIGSTOP)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("tmux-out-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, capture ? output : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    // The tmux server lives on: it must not keep the test process's sockets open (a server
    // under test would never see its clients' connections end).
    _ = cspaces_spawn_closefrom(&actions, 3)
    var pid: pid_t = 0
    let cArguments = argv.map { strdup($0) } + [nil]
    defer { for pointer in cArguments { free(pointer) } }
    let status = posix_spawnp(&pid, "tmux", &actions, &attributes, cArguments, environ)
    guard status == 0 else { throw CancellationError() }
    var exit: Int32 = 0
    while waitpid(pid, &exit, 0) < 0 && errno == EINTR {}
    return capture ? ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "") : ""
  }

  /// Waits until the screen contains `text`.
  func waitFor(_ text: String, deadline: Duration = patience, sourceLocation: SourceLocation = #_sourceLocation)
    async throws
  {
    var last = ""
    let clock = ContinuousClock()
    let end = clock.now + deadline
    while clock.now < end {
      last = try screen()
      if last.contains(text) { return }
      try await Task.sleep(for: .milliseconds(50))
    }
    // Once more: the deadline may have passed while this task waited for a thread.
    last = try screen()
    if last.contains(text) { return }
    Issue.record("timed out waiting for \"\(text)\"; the screen was:\n\(last)", sourceLocation: sourceLocation)
    throw CancellationError()
  }

  /// Waits until the shell answers again (the workbench has quit): a marker it echoes appears.
  /// (capture-pane drops trailing spaces, and a reflow can hide earlier prompts.)
  func waitForShell(sourceLocation: SourceLocation = #_sourceLocation) async throws {
    // Type only once the workbench process is gone (the pane's foreground command is the shell
    // again), or the keys would go to it; the screen alone can't say, it may be mid-redraw.
    let clock = ContinuousClock()
    let end = clock.now + patience
    while clock.now < end, try tmux("display-message", "-p", "-t", "0", "#{pane_current_command}") != "bash\n" {
      try await Task.sleep(for: .milliseconds(50))
    }
    if try tmux("display-message", "-p", "-t", "0", "#{pane_current_command}") != "bash\n" {
      Issue.record("the workbench did not quit; the screen was:\n\(try screen())", sourceLocation: sourceLocation)
      throw CancellationError()
    }
    shellChecks += 1
    try type("echo shell-\(shellChecks)-$((6*7))")
    try send("Enter")
    try await waitFor("shell-\(shellChecks)-42", sourceLocation: sourceLocation)
  }

  /// Starts the workbench with `arguments` in the shell.
  func start(_ arguments: String = "") throws {
    try type("'\(Binary.path)' \(arguments)")
    try send("Enter")
  }
}

@Suite(.serialized) struct WorkbenchE2ETests {
  @Test func demoApproveDenyAndFindBothInTheJournal() async throws {
    let tmux = try Tmux()
    try tmux.start("--demo --demo-pause-ms 150")
    try await tmux.waitFor("rm -rf dist/old")
    try await tmux.waitFor("[y] once")
    try await Task.sleep(for: .milliseconds(400))  // keys are ignored for 300 ms
    try tmux.send("y")
    // The curl prompt (it can't be saved as a rule); the queue may show the command earlier.
    try await tmux.waitFor("[p] always (no rule)")
    try await Task.sleep(for: .milliseconds(400))
    try tmux.send("n")
    try await tmux.waitFor("feedback for the agent")
    try tmux.type("use shellcheck from apt instead")
    try tmux.send("Enter")
    try await tmux.waitFor("demo: done")
    let screen = try tmux.screen()
    #expect(screen.contains("Hello, 世界! 👋"))
    #expect(screen.contains("denied"))

    let journal = try await tmux.home.journal("default")
    let resolved = journal.filter { $0["type"] as? String == "approvalResolved" }
    #expect(resolved.count == 2)
    #expect(resolved.contains { $0["resolution"] as? String == "once" && $0["decidedBy"] as? String == "person" })
    #expect(
      resolved.contains {
        $0["resolution"] as? String == "deny" && $0["reason"] as? String == "use shellcheck from apt instead"
      })
    let denied = journal.filter { $0["type"] as? String == "denied" }
    #expect(denied.count == 2)  // the person's and the policy's (rm -rf /)

    try tmux.send("q")
    try await tmux.waitForShell()
    try tmux.type("echo ok-$((40+2))")
    try tmux.send("Enter")
    try await tmux.waitFor("ok-42")
  }

  /// The `--agent` process gets stdin, stdout and stderr and nothing else: not the listening
  /// socket, not another client's connection.
  @Test func anAgentInheritsNoDescriptorOfTheRuntime() async throws {
    let tmux = try Tmux()
    let listing = tmux.home.path + "/agent-fds.txt"
    try tmux.start(
      "--space work --agent 'ls -l /proc/self/fd > \(listing).tmp; mv \(listing).tmp \(listing); sleep 30'")
    try await eventually("the agent's listing") { FileManager.default.fileExists(atPath: listing) }
    let text = try String(contentsOfFile: listing, encoding: .utf8)
    let open = text.split(separator: "\n").compactMap { line -> String? in
      guard let arrow = line.range(of: " -> ") else { return nil }
      return String(line[..<arrow.lowerBound].split(separator: " ").last ?? "") + " -> " + line[arrow.upperBound...]
    }
    // 0, 1, 2 and the folder ls itself reads.
    #expect(open.count == 4, "\(open)")
    #expect(!text.contains("socket:"), "\(open)")
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  @Test func anAgentOnTheSocketIsSupervisedInTheWorkbench() async throws {
    let tmux = try Tmux()
    try tmux.start("--space work")
    try await tmux.waitFor("serving spaces.sock")
    // An agent outside the workbench submits through the socket the workbench serves.
    try await approveAnAgentsAsk(tmux, file: "x")
    try tmux.send("q")
    try await tmux.waitForShell()
    #expect(!FileManager.default.fileExists(atPath: tmux.home.path + "/spaces.sock"))
  }

  @Test func itAttachesToARunningServerAndAnswersItsApprovals() async throws {
    let tmux = try Tmux()
    #expect(try await tmux.home.run("space", "create", "work").status == 0)
    let server = try await tmux.home.serve()
    defer {
      server.terminate()
      server.waitUntilExit()
    }
    try tmux.start("--space work")
    try await tmux.waitFor("attached to spaces serve")
    try await approveAnAgentsAsk(tmux, file: "y")
    try await tmux.waitFor("ok")
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  /// An agent deletes files (no prompt: it can be undone); in Operations the command shows what
  /// it changed, `u` shows what undoing it will do, and `y` brings the files back.
  @Test func undoingADeleteInTheWorkbenchBringsTheFilesBack() async throws {
    let tmux = try Tmux()
    #expect(try await tmux.home.run("space", "create", "work").status == 0)
    let seed = try await tmux.home.run(
      "op", "work", #"{"kind":"shell","command":"mkdir -p keep && echo one > keep/a.txt && echo two > keep/b.txt"}"#)
    #expect(seed.status == 0, "\(seed.stderr)")
    let workspace = tmux.home.path + "/spaces/work/workspace"
    try tmux.start("--space work")
    try await tmux.waitFor("serving spaces.sock")
    let deleted = try await tmux.home.run("op", "work", #"{"kind":"shell","command":"rm -r keep && echo gone"}"#)
    #expect(deleted.status == 0, "\(deleted.stderr)")
    #expect(!FileManager.default.fileExists(atPath: workspace + "/keep/a.txt"))
    try await tmux.waitFor("±3")
    try tmux.send("3")
    try tmux.send("u")
    try await tmux.waitFor("Undo?")
    try await tmux.waitFor("3 deleted")
    try tmux.send("y")
    try await tmux.waitFor("undid op_")
    try await eventually("the files back") {
      FileManager.default.contents(atPath: workspace + "/keep/b.txt") == Data("two\n".utf8)
    }
    #expect(FileManager.default.contents(atPath: workspace + "/keep/a.txt") == Data("one\n".utf8))
    try await tmux.waitFor("undo op_")
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  /// An agent (`spaces op` in the space `work`) runs a command the policy asks about; the person
  /// approves it once with `y`, and the agent gets its result.
  func approveAnAgentsAsk(_ tmux: Tmux, file: String) async throws {
    // Writing a protected path asks (direnv runs .envrc on the person's machine); deleting
    // inside the workspace no longer does: it can be undone.
    let command = "echo export \(file)=1 >> .envrc && echo ok"
    let agent = Task { try await tmux.home.run("op", "work", #"{"kind":"shell","command":"\#(command)"}"#) }
    try await tmux.waitFor("[y] once")
    try await Task.sleep(for: .milliseconds(400))  // keys are ignored for 300 ms
    try tmux.send("y")
    let run = try await agent.value
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.json?["stdout"] as? String == "ok\n")
    // The agent's answer can arrive before the workbench's event does; `q` with an operation
    // still running asks to confirm, so wait until the workbench shows it finished.
    try await tmux.waitFor("done · exit 0")
  }

  /// Presses `key` until `text` leaves the screen (a key pressed while the prompt's guard
  /// holds is not taken, and the status line says so).
  func press(_ tmux: Tmux, _ key: String, until text: String) async throws {
    let clock = ContinuousClock()
    let end = clock.now + patience
    while clock.now < end {
      try tmux.send(key)
      let settle = clock.now + .milliseconds(500)
      while clock.now < settle {
        if !(try tmux.screen()).contains(text) { return }
        try await Task.sleep(for: .milliseconds(50))
      }
    }
    Issue.record("\(key) never took \(text) away; the screen was:\n\(try tmux.screen())")
    throw CancellationError()
  }

  /// A docked prompt leaves the panes usable: `2` focuses the log and `j`/`k` scroll it, then
  /// `y` approves; `]` goes to a request waiting in another space.
  @Test func aDockedPromptLeavesThePanesUsable() async throws {
    let tmux = try Tmux()
    for space in ["work", "other"] {
      #expect(try await tmux.home.run("space", "create", space).status == 0)
    }
    try tmux.start("--space work --run 'seq 1 300'")
    try await tmux.waitFor("serving spaces.sock")
    try await tmux.waitFor("300")
    let first = Task {
      // Writing a protected path asks in a sandbox.
      try await tmux.home.run("op", "work", #"{"kind":"shell","command":"echo export X=1 >> .envrc && echo ok-x"}"#)
    }
    try await tmux.waitFor("[y] once")
    try tmux.send("2")
    try await tmux.waitFor("F follow")
    try tmux.send("k")
    try await tmux.waitFor("paused · F follows")
    try tmux.send("j")
    try await tmux.waitFor("─ follow ─")
    #expect(try tmux.screen().contains("[y] once"))
    try await press(tmux, "y", until: "[y] once")
    let x = try await first.value
    #expect(x.json?["stdout"] as? String == "ok-x\n", "\(x.stderr)")

    let second = Task {
      try await tmux.home.run("op", "other", #"{"kind":"shell","command":"echo export Z=1 >> .envrc && echo ok-z"}"#)
    }
    try await tmux.waitFor("⚠ 1")
    try tmux.send("]")
    try await tmux.waitFor("echo export Z=1 >> .envrc")
    try await tmux.waitFor(" other ")
    try await press(tmux, "y", until: "[y] once")
    let z = try await second.value
    #expect(z.json?["stdout"] as? String == "ok-z\n", "\(z.stderr)")
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  /// The seconds the prompt's title counts down to ("1:59 left", "42s left"), if it shows.
  static func countdown(_ screen: String) -> Int? {
    for line in screen.split(separator: "\n") where line.contains("Approval needed") {
      guard let left = line.range(of: " left") else { continue }
      let before = line[..<left.lowerBound]
      let word = before.split(separator: " ").last.map(String.init) ?? ""
      if word.hasSuffix("s"), let seconds = Int(word.dropLast()) { return seconds }
      let parts = word.split(separator: ":").compactMap { Int($0) }
      if parts.count == 2 { return parts[0] * 60 + parts[1] }
    }
    return nil
  }

  /// `+` on the docked prompt gives the request more time: the countdown grows by the time it
  /// was first given (60 s here), embedded or attached to a `spaces serve`, and the journal
  /// says who extended it.
  func plusExtendsTheDeadline(attached: Bool) async throws {
    let tmux = try Tmux()
    #expect(try await tmux.home.run("space", "create", "work").status == 0)
    try "preset: standard\napprovalTimeoutSeconds: 60\n".write(
      toFile: tmux.home.path + "/spaces/work/policy.yaml", atomically: true, encoding: .utf8)
    var server: Process?
    if attached { server = try await tmux.home.serve() }
    defer {
      server?.terminate()
      server?.waitUntilExit()
    }
    try tmux.start("--space work")
    try await tmux.waitFor(attached ? "attached to spaces serve" : "serving spaces.sock")
    let agent = Task {
      try await tmux.home.run(
        "op", "work", "--reason", "let direnv set up the build's variables",
        // Writing a protected path asks (a recursive delete no longer does: it can be undone).
        #"{"kind":"shell","command":"echo export T=1 >> .envrc && echo ok-t"}"#)
    }
    try await tmux.waitFor("[y] once")
    try await tmux.waitFor("agent says: “let direnv set up")
    let shown = try tmux.screen()
    let before = try #require(Self.countdown(shown), "no countdown: \(shown)")
    #expect(before <= 60)
    try tmux.send("+")
    var after = before
    let clock = ContinuousClock()
    let end = clock.now + .seconds(20)
    while clock.now < end {
      after = Self.countdown(try tmux.screen()) ?? after
      if after > before + 30 { break }
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(after >= before + 50 && after <= 120, "\(before) → \(after)")
    try await press(tmux, "y", until: "[y] once")
    let run = try await agent.value
    #expect(run.json?["stdout"] as? String == "ok-t\n", "\(run.stderr)")
    try await tmux.waitFor("done · exit 0")
    let journal = try await tmux.home.journal("work")
    let extended = journal.filter { $0["type"] as? String == "approvalExtended" }
    #expect(extended.count == 1)
    #expect(extended.first?["actor"] as? String == "person")
    #expect(extended.first?["seconds"] as? Int == 60)
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  @Test func plusExtendsTheDeadlineEmbedded() async throws {
    try await plusExtendsTheDeadline(attached: false)
  }

  @Test func plusExtendsTheDeadlineAttached() async throws {
    try await plusExtendsTheDeadline(attached: true)
  }

  /// Reopening the workbench on a space with history shows it, with what happened since.
  @Test func reopeningShowsTheSpacesHistory() async throws {
    let tmux = try Tmux()
    let created = try await tmux.home.run("space", "create", "hist", "--policy", "permissive", "--backend", "host")
    #expect(created.status == 0, "\(created.stderr)")
    for index in 1...3 {
      let run = try await tmux.home.run(
        "op", "hist", #"{"kind":"shell","command":"echo before-\#(index); exit \#(index - 1)"}"#)
      #expect(run.status == 0, "\(run.stderr)")
    }
    try tmux.start("--space hist")
    try await tmux.waitFor("before-3")
    try await tmux.waitFor("from the journal: the last 3 operations")
    #expect(try tmux.screen().contains("✘ $ echo before-3"))
    try tmux.send("q")
    try await tmux.waitForShell()
    _ = try await tmux.home.run("op", "hist", #"{"kind":"shell","command":"echo after-1"}"#)
    try tmux.start("--space hist")
    try await tmux.waitFor("after-1")
    try await tmux.waitFor("since you were last here: 1 operation")
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  @Test func resizeReflows() async throws {
    let tmux = try Tmux(width: 120, height: 40)
    try tmux.start()
    try await tmux.waitFor("[3] Operations")
    try tmux.tmux(["resize-window", "-t", "0", "-x", "60", "-y", "20"])
    try await tmux.waitFor("1 Files  2 Log  3 Ops")
    try tmux.tmux(["resize-window", "-t", "0", "-x", "26", "-y", "6"])
    try await tmux.waitFor("too small")
    try tmux.tmux(["resize-window", "-t", "0", "-x", "100", "-y", "30"])
    try await tmux.waitFor("[3] Operations")
    let screen = try tmux.screen()
    let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.contains { $0.hasPrefix("╭─ [1] Files") || $0.hasPrefix("╭─ [4] Spaces") })
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  @Test func quitLeavesTheTerminalUsable() async throws {
    let tmux = try Tmux(width: 80, height: 24)
    try tmux.start("--theme mono")
    try await tmux.waitFor("[2] Shell log")
    try tmux.send("?")
    try await tmux.waitFor("focus Files")
    try tmux.send("Escape")
    try tmux.send("q")
    try await tmux.waitForShell()
    try tmux.type("echo usable-$((1+1))")
    try tmux.send("Enter")
    try await tmux.waitFor("usable-2")
    #expect(!(try tmux.screen()).contains("[2] Shell log"))
  }

  /// Closing the terminal (the window, an ssh session) while a command runs: the workbench
  /// exits on its own, saying why on stderr without trapping on the dead terminal, and the
  /// command is stopped and journaled as cancelled.
  @Test func aTerminalThatGoesAwayEndsTheWorkbenchCleanly() async throws {
    let tmux = try Tmux()
    let created = try await tmux.home.run(
      "space", "create", "default", "--policy", "permissive", "--backend", "host")
    #expect(created.status == 0, "\(created.stderr)")
    let status = tmux.home.path + "/exit-status"
    // A shell that outlives the terminal records how the workbench ended.
    try tmux.type(
      "sh -c 'trap \"\" HUP; \"$0\" --run \"echo begun-\\$((6*7)); sleep 300\"; echo $? > \(status)' '\(Binary.path)'")
    try tmux.send("Enter")
    // The command's own output in the shell log (the typed line says `$((6*7))`, not 42).
    try await tmux.waitFor("begun-42")
    try tmux.tmux(["kill-server"])
    let clock = ContinuousClock()
    let end = clock.now + patience
    while clock.now < end, !FileManager.default.fileExists(atPath: status) {
      try await Task.sleep(for: .milliseconds(50))
    }
    let code = try #require(
      (try? String(contentsOfFile: status, encoding: .utf8)).flatMap {
        Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
      },
      "the workbench did not end")
    #expect(code < 128, "the workbench died of a signal (exit status \(code))")
    let log = try await tmux.home.run("log", "default", "--json")
    #expect(log.stdout.contains(#""code":"cancelled""#), "\(log.stdout)")
  }

  /// A click focuses the pane under it (the terminal reports it as X10 mouse bytes, as
  /// tmux-256color's terminfo says).
  @Test func aClickFocusesThePaneUnderIt() async throws {
    let tmux = try Tmux()
    try tmux.start()
    try await tmux.waitFor("[3] Operations")
    let lines = try tmux.screen().split(separator: "\n", omittingEmptySubsequences: false)
    let row = try #require(lines.firstIndex { $0.contains("[3] Operations") }) + 2
    #expect(!(try tmux.screen()).contains("⏎ details"))
    let x = 6
    let bytes =
      "\u{1B}[M" + String(UnicodeScalar(UInt8(32))) + String(UnicodeScalar(UInt8(33 + x)))
      + String(UnicodeScalar(UInt8(33 + row)))
    try tmux.type(bytes)
    try await tmux.waitFor("⏎ details")
    try tmux.send("q")
    try await tmux.waitForShell()
  }

  /// A terminal that can't draw panes (TERM=dumb): the workbench refuses, pointing to the
  /// commands that work there, and the shell stays usable.
  @Test func aDumbTerminalIsRefusedWithAWayForward() async throws {
    let tmux = try Tmux(width: 100, height: 20)
    try tmux.type("TERM=dumb '\(Binary.path)'; echo status-$?")
    try tmux.send("Enter")
    try await tmux.waitFor("status-2")
    let screen = try tmux.screen()
    #expect(screen.contains("TERM=dumb"))
    #expect(screen.contains("spaces log -f SPACE"))
    #expect(screen.contains("spaces approvals"))
  }

  @Test func withoutATerminalItSaysSo() async throws {
    let home = CLIHome()
    let run = try await home.run()
    #expect(run.status == 2)
    #expect(run.stderr.contains("needs a terminal"))
  }
}
