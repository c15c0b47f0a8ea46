import CSpacesSys
import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// Output once: a command's output is journaled once (in its `output` events) and sent to a
/// client once; every reader puts it back together.
@Suite struct OutputOnceTests {
  static let command = "printf 'one\\ntwo\\n'; printf 'oops' >&2; printf 'three\\n'"

  /// Submits `command` on a raw socket; returns the answer's result and the output events' text.
  private func submitRaw(_ server: TestServer, _ command: String, streamsOutput: Bool?) async throws -> (
    result: [String: Any], stdout: String, stderr: String
  ) {
    let path = server.socketPath
    let (answer, stdout, stderr) = try await blocking { () throws -> (String, String, String) in
      let socket = try RawSocket(unixPath: path)
      _ = socket.request(#"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"space":"s"}}"#)
      let flag = streamsOutput.map { #","streamsOutput":\#($0)"# } ?? ""
      let op = String(decoding: try JSONEncoder().encode(Op.shell(command: command, timeoutMs: nil)), as: UTF8.self)
      socket.send(#"{"jsonrpc":"2.0","id":2,"method":"op.submit","params":{"space":"s","op":\#(op)\#(flag)}}"# + "\n")
      var stdout = ""
      var stderr = ""
      while let line = socket.readLine() {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        if let params = object["params"] as? [String: Any], let event = params["event"] as? [String: Any] {
          if event["type"] as? String == "output" {
            if event["stream"] as? String == "stderr" {
              stderr += event["data"] as? String ?? ""
            } else {
              stdout += event["data"] as? String ?? ""
            }
          }
          continue
        }
        return (line, stdout, stderr)
      }
      throw SpacesError(.ioError, "no answer")
    }
    let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
    return (try #require(object["result"] as? [String: Any]), stdout, stderr)
  }

  @Test func aClientThatStreamsOutputGetsAResultThatRefersToItsEvents() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let answer = try await submitRaw(server, Self.command, streamsOutput: true)
    let streamed = try #require(answer.result["streamed"] as? [String: Any])
    #expect(streamed["stdout"] as? Int == "one\ntwo\nthree\n".utf8.count)
    #expect(streamed["stderr"] as? Int == 4)
    #expect(answer.result["stdout"] as? String == "")
    #expect(answer.stdout == "one\ntwo\nthree\n")
    #expect(answer.stderr == "oops")
  }

  @Test func aClientThatDoesNotSayItStreamsGetsTheWholeOutput() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    for flag in [nil, false] as [Bool?] {
      let answer = try await submitRaw(server, Self.command, streamsOutput: flag)
      #expect(answer.result["streamed"] == nil)
      #expect(answer.result["stdout"] as? String == "one\ntwo\nthree\n")
      #expect(answer.result["stderr"] as? String == "oops")
    }
    // The Swift client without a handler asks for no events, and gets everything in the answer.
    let client = try await server.agent(space: "s")
    let plain = try await client.submit(.shell(command: Self.command, timeoutMs: nil), to: "s")
    #expect(plain.stdout == "one\ntwo\nthree\n")
    #expect(plain.streamed == nil)
  }

  @Test func theJournalKeepsTheOutputOnceAndItsReadersPutItBackTogether() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let client = try await server.agent(space: "s")
    let seen = LockedValue(0)
    let result = try await client.submit(.shell(command: Self.command, timeoutMs: nil), to: "s") { event in
      if event.type == .output { seen.withValue { $0 += 1 } }
    }
    // The Swift client put the result back together.
    #expect(result.stdout == "one\ntwo\nthree\n")
    #expect(result.stderr == "oops")
    #expect(result.streamed == nil)
    #expect(seen.withValue { $0 } >= 1)

    let journal = try server.server.runtime.space("s").journal
    let events = try Journal.read(path: journal.path).events
    let completed = try #require(events.last { $0.type == .completed })
    #expect(completed.result?.stdout == "")
    #expect(completed.result?.streamed?.fromSeq == events.first { $0.type == .output }?.seq)
    // The journal holds the output's text once: in the output events only (the command's own
    // text is in `received`).
    let text = try String(contentsOfFile: journal.path, encoding: .utf8)
    let others = text.split(separator: "\n").filter {
      !$0.contains(#""type":"output""#) && !$0.contains(#""type":"received""#)
    }
    #expect(others.count >= 3)
    #expect(!others.contains { $0.contains("three") || $0.contains("oops") })
    #expect(journal.withWholeOutput(completed).result?.stdout == "one\ntwo\nthree\n")

    // A subscriber that starts after the output events gets the whole result; one that got
    // them gets the result that refers to them.
    let supervisor = try await server.supervisor()
    for (fromSeq, whole) in [(completed.seq, true), (1, false)] {
      let stream = try await supervisor.subscribe(space: "s", fromSeq: fromSeq)
      for await event in stream where event.type == .completed && event.opId == completed.opId {
        #expect(event.result?.stdout == (whole ? "one\ntwo\nthree\n" : ""))
        #expect((event.result?.streamed == nil) == whole)
        break
      }
    }
  }

  @Test func outputOverTheCapIsSentOnceToo() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    var config = try server.home.load("s")
    config.limits.shell.outputCapBytes = 1000
    try server.home.save(config)
    let command = "seq 1 3000; echo bad >&2"
    let whole = try await submitRaw(server, command, streamsOutput: false).result
    let compact = try await submitRaw(server, command, streamsOutput: true)
    let wholeOut = try #require(whole["stdout"] as? String)
    #expect(wholeOut.contains("bytes omitted"))
    let rest = try #require(compact.result["stdout"] as? String)
    #expect(rest.utf8.count < wholeOut.utf8.count - 400)
    let streamed = try #require(compact.result["streamed"] as? [String: Any])
    let count = try #require(streamed["stdout"] as? Int)
    let rebuilt = String(decoding: Array(compact.stdout.utf8.prefix(count)) + Array(rest.utf8), as: UTF8.self)
    #expect(rebuilt == wholeOut)
  }

  @Test func anOldJournalWithTheOutputInCompletedStillReads() throws {
    let folder = TempFolder("old")
    let path = folder.path + "/journal.jsonl"
    let old = """
      {"opId":"op_1","seq":1,"space":"s","time":"2026-01-01T00:00:00.000Z","type":"started"}
      {"data":"hi\\n","opId":"op_1","seq":2,"space":"s","stream":"stdout","time":"2026-01-01T00:00:00.001Z","type":"output"}
      {"opId":"op_1","result":{"durationMs":1,"exitCode":0,"id":"op_1","kind":"shell","space":"s","status":"completed","stderr":"","stdout":"hi\\n","truncated":false},"seq":3,"space":"s","time":"2026-01-01T00:00:00.002Z","type":"completed"}

      """
    try old.write(toFile: path, atomically: true, encoding: .utf8)
    let journal = try Journal(path: path)
    let events = try Journal.read(path: path).events
    #expect(events.count == 3)
    let completed = try #require(events.last)
    #expect(completed.result?.stdout == "hi\n")
    #expect(journal.withWholeOutput(completed) == completed)
  }
}

@Suite struct FlushSoonTests {
  @Test func aRecordAppendedWithoutWaitingIsFlushedByTheNextGroupCommit() async throws {
    let folder = TempFolder("soon")
    let journal = try Journal(path: folder.path + "/j.jsonl")
    let before = journal.flushCount
    try journal.append([Event(space: "s", opId: "o", .message(text: "m"))], sync: false)
    #expect(!journal.isSynced)
    journal.flushSoon()
    let clock = ContinuousClock()
    let deadline = clock.now + patience
    while !journal.isSynced, clock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
    #expect(journal.isSynced)
    #expect(journal.flushCount == before + 1)
  }

  /// A read answered on the event loop asks for the group commit inside a hold: the wake-up it
  /// asks for is owed to the hold's end (an inner hold passes it on to the outer one), and the
  /// flusher, woken there, flushes the record. (A flusher of its own: the process's one is woken
  /// by every other test's records.)
  @Test func aFlushAskedWhileAnsweringWakesTheFlusherAfterTheAnswer() async throws {
    #expect(cspaces_wake_hold_request() == 0, "no hold: the caller wakes")
    let outer = cspaces_wake_hold_begin()
    #expect(cspaces_wake_hold_request() == 1, "held")
    let inner = cspaces_wake_hold_begin()
    #expect(cspaces_wake_hold_end(inner) == 0, "an inner hold leaves it to the outer one")
    #expect(cspaces_wake_hold_end(outer) == 1, "owed at the outer end")
    #expect(cspaces_wake_hold_end(outer) == 0, "and only once")

    let folder = TempFolder("held")
    let journal = try Journal(path: folder.path + "/j.jsonl")
    let flusher = JournalFlusher()
    // The first round starts the flusher's thread, which then waits for a signal.
    try journal.append([Event(space: "s", opId: "o", .message(text: "one"))], sync: false)
    flusher.schedule(journal)
    try await eventually("the first record flushed") { journal.isSynced }
    // The second is flushed only if the hold's end signals it.
    let answered = try flusher.wakingAfter { () throws -> Bool in
      try journal.append([Event(space: "s", opId: "o", .message(text: "two"))], sync: false)
      flusher.schedule(journal)
      return !journal.isSynced
    }
    #expect(answered)
    try await eventually("the second record flushed, woken at the hold's end") { journal.isSynced }
  }

  @Test func aReadIsAnsweredWithItsRecordWrittenAndAChangeWithItOnDisk() async throws {
    let folder = TempFolder("durable")
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "s", policy: .permissive, backend: .host)
    let runtime = SpacesRuntime(home: home)
    let space = try runtime.space("s")
    let written = await space.submit(.createFile(path: "a", content: "x", encoding: .utf8))
    #expect(written.status == .completed)
    #expect(space.journal.isSynced)
    let read = await space.submit(.readFile(path: "a"))
    // Written (in the file) at once; flushed within the deadline.
    let events = try Journal.read(path: space.journal.path).events
    #expect(events.contains { $0.opId == read.id && $0.type == .completed })
    let clock = ContinuousClock()
    let deadline = clock.now + patience
    while !space.journal.isSynced, clock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
    #expect(space.journal.isSynced)
  }
}

@Suite struct LiveSubscriptionStartTests {
  @Test func aSubscriptionFromNowSeesAnOperationSubmittedRightAfterIt() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let path = server.socketPath
    let first = try await blocking { () throws -> String? in
      let socket = try RawSocket(unixPath: path)
      _ = socket.request(#"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"space":"s"}}"#)
      // The operation goes out the moment the subscription's answer arrives (as the SDKs do).
      _ = socket.request(#"{"jsonrpc":"2.0","id":2,"method":"events.subscribe","params":{"space":"s"}}"#)
      socket.send(
        #"{"jsonrpc":"2.0","id":3,"method":"op.submit","params":{"space":"s","events":false,"op":{"kind":"message","text":"hi"}}}"#
          + "\n")
      while let line = socket.readLine() {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let params = object["params"] as? [String: Any], params["subscription"] != nil,
          let event = params["event"] as? [String: Any]
        else { continue }
        return event["type"] as? String
      }
      return nil
    }
    #expect(first == "received")
  }
}
