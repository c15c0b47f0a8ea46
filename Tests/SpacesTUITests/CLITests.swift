import Foundation
import SpacesTestSupport
import Testing

/// The scripting CLI, run as the built binary.
@Suite struct CLITests {
  let home = CLIHome()

  @Test func spaceLifecycle() async throws {
    let created = try await home.run("space", "create", "alpha", "--policy", "restrictive", "--backend", "host")
    #expect(created.status == 0, "\(created.stderr)")
    #expect(created.stdout.contains("created space alpha"))

    let duplicate = try await home.run("space", "create", "alpha")
    #expect(duplicate.status == 1)
    #expect(duplicate.stderr.contains("already exists"))

    let bad = try await home.run("space", "create", "Not OK")
    #expect(bad.status == 2)
    #expect(bad.stderr.contains("not a valid space name"))

    let list = try await home.run("space", "list", "--json")
    let spaces = try #require((try? JSONSerialization.jsonObject(with: Data(list.stdout.utf8))) as? [[String: Any]])
    #expect(spaces.count == 1)
    #expect(spaces.first?["policy"] as? String == "restrictive")
    #expect(spaces.first?["backend"] as? String == "host")

    let table = try await home.run("space", "list")
    #expect(table.stdout.contains("UNISOLATED"))

    let show = try await home.run("space", "show", "alpha", "--json")
    #expect(show.json?["name"] as? String == "alpha")
    let missing = try await home.run("space", "show", "beta")
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("no space called \"beta\""))

    #expect(try await home.run("space", "rm", "alpha").status == 0)
    #expect(try await home.run("space", "rm", "alpha").status == 1)
  }

  /// The CLI refuses the same workspaces as the socket (issue 11): `/`, SPACES_HOME's parent,
  /// a system folder, a file.
  @Test func workspacesThatHoldTheRuntimeAreRefused() async throws {
    let parent = (home.path as NSString).deletingLastPathComponent
    for (index, workspace) in ["/", parent, "/etc", "/usr/lib"].enumerated() {
      let made = try await home.run("space", "create", "w\(index)", "--workspace", workspace, "--backend", "host")
      #expect(made.status == 1, "\(workspace): \(made.stdout)")
      #expect(made.stderr.contains("can't be a workspace"), "\(made.stderr)")
    }
    let file = try await home.run("space", "create", "f", "--workspace", "/etc/passwd")
    #expect(file.status == 1)
    #expect(file.stderr.contains("is a file, not a folder"), "\(file.stderr)")
    let list = try await home.run("space", "list", "--json")
    #expect(list.stdout.filter { !$0.isWhitespace } == "[]")
  }

  @Test func subcommandOptionsAreTheSubcommandsOwn() async throws {
    // The workbench's options (--space, --home) must not swallow a subcommand's.
    let other = CLIHome()
    #expect(try await home.run("space", "create", "mine", "--backend", "host", "--home", other.path).status == 0)
    #expect(try await other.run("space", "list", "--json").stdout.contains("\"mine\""))
    #expect(!(try await home.run("space", "list", "--json").stdout.contains("\"mine\"")))
    let demo = try await home.run("demo", "--space", "elsewhere", "--pause-ms", "0")
    #expect(demo.status == 0, "\(demo.stderr)")
    #expect(try await home.run("space", "show", "elsewhere").status == 0)
  }

  /// `-` reads the operation from stdin (a script pipes it in).
  @Test func opReadsTheOperationFromStandardInput() async throws {
    #expect(try await home.run("space", "create", "s", "--backend", "host").status == 0)
    let piped = try await home.run("op", "s", "-", stdin: #"{"kind":"createFile","path":"p.txt","content":"piped\n"}"#)
    #expect(piped.status == 0, "\(piped.stderr)")
    #expect(try #require(piped.json)["status"] as? String == "completed")
    let read = try await home.run("op", "s", #"{"kind":"readFile","path":"p.txt"}"#)
    #expect(try #require(read.json)["content"] as? String == "piped\n")
  }

  @Test func opPrintsResultJSONAndExitStatus() async throws {
    #expect(try await home.run("space", "create", "s", "--backend", "host").status == 0)
    let created = try await home.run("op", "s", #"{"kind":"createFile","path":"dir/a.txt","content":"hello\n"}"#)
    #expect(created.status == 0, "\(created.stderr)")
    let result = try #require(created.json)
    #expect(result["status"] as? String == "completed")
    #expect(result["kind"] as? String == "createFile")
    #expect(result["space"] as? String == "s")
    #expect((result["id"] as? String)?.hasPrefix("op_") == true)
    #expect(result["durationMs"] is Int)

    let read = try await home.run("op", "s", #"{"kind":"readFile","path":"dir/a.txt"}"#)
    #expect(read.json?["content"] as? String == "hello\n")

    let failed = try await home.run("op", "s", #"{"kind":"readFile","path":"../../etc/passwd"}"#)
    #expect(failed.status == 1)
    let error = try #require(failed.json?["error"] as? [String: Any])
    #expect(error["code"] as? String == "pathOutsideWorkspace")

    let fromStdin = try await home.run("op", "s", "-", stdin: #"{"kind":"message","text":"from stdin"}"#)
    #expect(fromStdin.status == 0)
  }

  @Test func badInputExitsTwoAndChangesNothing() async throws {
    #expect(try await home.run("space", "create", "s", "--backend", "host").status == 0)
    for bad in ["not json", "{}", #"{"kind":"createFile","path":"a"}"#, #"{"kind":"rm","path":"a"}"#] {
      let run = try await home.run("op", "s", bad)
      #expect(run.status == 2, "\(bad)")
      #expect(run.stderr.contains("invalid operation"), "\(run.stderr)")
      #expect(run.stdout.isEmpty)
    }
    #expect(try await home.run("op").status == 2)
    #expect(try await home.journal("s").isEmpty)
  }

  @Test func deniedExitsThree() async throws {
    #expect(try await home.run("space", "create", "ro", "--policy", "restrictive", "--backend", "host").status == 0)
    let denied = try await home.run("op", "ro", #"{"kind":"createFile","path":"a","content":"x"}"#)
    #expect(denied.status == 3)
    #expect(denied.json?["status"] as? String == "denied")
    #expect(denied.json?["decidedBy"] as? String == "policy")
    #expect(denied.json?["reason"] is String)
  }

  @Test func missingSpaceIsAClearError() async throws {
    let run = try await home.run("op", "ghost", #"{"kind":"message","text":"x"}"#)
    #expect(run.status == 1)
    #expect(run.stderr.contains("no space called \"ghost\""))
  }

  @Test func logPrintsTheJournal() async throws {
    #expect(try await home.run("space", "create", "s", "--backend", "host").status == 0)
    #expect(try await home.run("op", "s", #"{"kind":"message","text":"hello there"}"#).status == 0)
    let text = try await home.run("log", "s")
    #expect(text.status == 0)
    #expect(text.stdout.contains("received by agent: message: hello there"))
    #expect(text.stdout.contains("completed"))
    let events = try await home.journal("s")
    #expect(events.compactMap { $0["seq"] as? Int } == Array(1...5))
    #expect(events.map { $0["type"] as? String } == ["received", "decision", "started", "message", "completed"])
  }

  @Test func logFollowPrintsNewEvents() async throws {
    #expect(try await home.run("space", "create", "s", "--backend", "host").status == 0)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Binary.path)
    process.arguments = ["log", "s", "--follow", "--json"]
    process.environment = home.environment
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { process.terminate() }
    let seen = Collected()
    out.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      seen.set(err: seen.err + data)
    }
    #expect(try await home.run("op", "s", #"{"kind":"message","text":"live"}"#).status == 0)
    try await eventually("the followed log to show the message") {
      String(decoding: seen.err, as: UTF8.self).contains(#""text":"live""#)
    }
    out.fileHandleForReading.readabilityHandler = nil
  }
}

/// The CLI's messages for the mistakes people make (issue 14, item 14).
@Suite struct CLIMessageTests {
  let home = CLIHome()

  @Test func approvalsWithoutAServerSaysHowToStartOne() async throws {
    let run = try await home.run("approvals")
    #expect(run.status == 1)
    #expect(run.stderr.contains("no spaces server is running"), "\(run.stderr)")
    #expect(run.stderr.contains("spaces serve") && run.stderr.contains("workbench"))
    #expect(!run.stderr.contains("connect(descriptor"))
  }

  @Test func feedbackWithoutDenyIsRefused() async throws {
    let run = try await home.run("approve", "op_x", "--feedback", "no")
    #expect(run.status == 2)
    #expect(run.stderr.contains("--feedback goes with --deny"), "\(run.stderr)")
  }

  @Test func aNegativeAfterIsExplained() async throws {
    _ = try await home.run("space", "create", "s", "--backend", "host")
    let run = try await home.run("log", "s", "--after", "-5")
    #expect(run.status == 2)
    #expect(run.stderr.contains("0 or more"), "\(run.stderr)")
  }

  @Test func optionsThatDoNothingAreRefused() async throws {
    let image = try await home.run("space", "create", "a", "--image", "busybox")
    #expect(image.status == 2)
    #expect(image.stderr.contains("container backend only"), "\(image.stderr)")
    let network = try await home.run("space", "create", "b", "--policy", "restrictive", "--network")
    #expect(network.status == 2)
    #expect(network.stderr.contains("--network would do nothing"), "\(network.stderr)")
    let dash = try await home.run("space", "create", "-dash")
    #expect(dash.status == 2)
    #expect(!dash.stdout.contains("OVERVIEW"))
  }

  /// A line of output split across two chunks is printed whole by `spaces log`.
  @Test func logJoinsALineSplitAcrossChunks() async throws {
    _ = try await home.run("space", "create", "s", "--backend", "host", "--policy", "permissive")
    let run = try await home.run("op", "s", #"{"kind":"shell","command":"printf ab; sleep 0.3; printf 'cd\\nef'"}"#)
    #expect(run.status == 0, "\(run.stderr)")
    let json = try await home.run("log", "s", "--json")
    #expect(json.stdout.split(separator: "\n").filter { $0.contains(#""type":"output""#) }.count >= 2)
    let log = try await home.run("log", "s")
    let lines = log.stdout.split(separator: "\n").filter { $0.contains("stdout| ") }
    #expect(lines.count == 2, "\(log.stdout)")
    #expect(lines.first?.hasSuffix("stdout| abcd") == true, "\(log.stdout)")
    #expect(lines.last?.hasSuffix("stdout| ef") == true, "\(log.stdout)")
  }
}
