import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// Journals written before events had tagged payloads still read, and the events are written
/// back byte for byte: the lines below are the flat event's output (taken from journals the
/// runtime wrote; the last four written by hand in its format, for shapes no journal held).
@Suite struct EventCompatibilityTests {
  static let lines = [
    #"{"actor":"agent","op":{"kind":"message","text":"hi"},"opId":"op_934ab709aebe4f45","seq":1,"space":"s","time":"2026-12-06T07:50:50.442Z","type":"received"}"#,
    #"{"decision":{"decision":"allow","reasons":["approved by a person"],"rules":["allow readFile .env"]},"opId":"op_3e1ac49e8ad847bc","seq":8,"space":"s","time":"2026-12-06T11:46:23.768Z","type":"decision"}"#,
    #"{"decision":{"decision":"ask","reasons":["changes permissions or ownership"],"rules":["standard:permissions"]},"opId":"op_2766cd381c504b52","seq":8,"space":"work","time":"2026-12-06T08:57:09.606Z","type":"approvalRequested"}"#,
    #"{"decidedBy":"person","opId":"op_de26605c40394dab","resolution":"once","seq":4,"space":"s","time":"2026-12-06T11:46:23.792Z","type":"approvalResolved"}"#,
    #"{"decidedBy":"timeout","opId":"op_b516804c58e74e34","reason":"nobody approved it within 300 s","resolution":"timeout","seq":4,"space":"s","time":"2026-12-06T09:15:57.497Z","type":"approvalResolved"}"#,
    #"{"opId":"op_bff561082ce94ab4","reason":"cancelled before anyone decided: the agent disconnected or cancelled the request, so it was not run","resolution":"cancelled","seq":38,"space":"default","time":"2026-12-06T11:32:10.611Z","type":"approvalResolved"}"#,
    #"{"opId":"op_aaba32b6027e420c","reason":"8 commands already run in this space (limits.maxRunning); it starts when one ends","seq":24,"space":"h0","time":"2026-12-06T07:52:47.815Z","type":"queued"}"#,
    #"{"opId":"op_978ed05a5c354753","seq":3,"space":"s","time":"2026-12-06T10:56:00.621Z","type":"started"}"#,
    #"{"data":"ab","opId":"op_b6f3976c121c4ec3","seq":4,"space":"s","stream":"stdout","time":"2026-12-06T11:46:22.578Z","type":"output"}"#,
    #"{"opId":"op_7d9e13ebd7e840d6","result":{"durationMs":0,"id":"op_7d9e13ebd7e840d6","kind":"message","space":"s","status":"completed"},"seq":5,"space":"s","time":"2026-12-06T11:46:21.633Z","type":"completed"}"#,
    #"{"changes":{"added":1,"changed":0,"deleted":0,"record":"op_2c4c060ee67d4ea5"},"opId":"op_2c4c060ee67d4ea5","result":{"durationMs":21,"id":"op_2c4c060ee67d4ea5","kind":"createFile","size":80,"space":"p","status":"completed"},"seq":4,"space":"p","time":"2026-12-06T14:30:06.810Z","type":"completed"}"#,
    #"{"opId":"op_dd09b25607ec4ea3","result":{"durationMs":7,"exitCode":0,"id":"op_dd09b25607ec4ea3","kind":"shell","space":"s","status":"completed","stderr":"","stdout":"","streamed":{"fromSeq":4,"stderr":4,"stdout":14},"truncated":false},"seq":6,"space":"s","time":"2026-12-06T11:57:45.992Z","type":"completed"}"#,
    #"{"changes":{"added":1,"changed":0,"deleted":0,"record":"op_57955b76646a4333"},"opId":"op_57955b76646a4333","result":{"cwd":".","durationMs":3062,"error":{"code":"cancelled","message":"the operation was cancelled and everything it started was stopped"},"id":"op_57955b76646a4333","kind":"shell","space":"s","status":"failed"},"seq":4,"space":"s","time":"2026-12-06T14:08:08.180Z","type":"failed"}"#,
    #"{"opId":"op_00f4c333fcd8410d","result":{"durationMs":302,"error":{"code":"timeout","message":"the command ran longer than 300 ms and was stopped; raise timeoutMs or run less at once"},"id":"op_00f4c333fcd8410d","kind":"shell","signal":15,"space":"s","status":"failed","stderr":"[spaces] timed out after 300 ms: the command and everything it started were killed\n","stdout":"","truncated":false},"seq":5,"space":"s","time":"2026-12-06T07:51:52.288Z","type":"failed"}"#,
    #"{"opId":"op_b516804c58e74e34","result":{"decidedBy":"timeout","durationMs":300057,"id":"op_b516804c58e74e34","kind":"shell","reason":"nobody approved it within 300 s","space":"s","status":"denied"},"seq":5,"space":"s","time":"2026-12-06T09:15:57.498Z","type":"denied"}"#,
    #"{"opId":"op_934ab709aebe4f45","seq":4,"space":"s","text":"hi","time":"2026-12-06T07:50:50.443Z","type":"message"}"#,
    #"{"actor":"person","changes":{"added":3,"changed":80,"deleted":4,"record":"op_39042cb30dfd4cdd"},"opId":"op_39042cb30dfd4cdd","seq":9,"space":"u","time":"2026-12-06T10:43:48.106Z","type":"undone","undo":{"action":"undo","changes":{"added":3,"changed":80,"deleted":4,"record":"op_39042cb30dfd4cdd"},"id":"op_39042cb30dfd4cdd","target":"op_2cc2ca2c04cd46b8","undid":["op_2cc2ca2c04cd46b8"]}}"#,
    // Written by hand in the flat event's format.
    #"{"actor":"agent","op":{"command":"make test","kind":"shell","timeoutMs":15000},"opId":"op_5b7c0c7e2a8d4f10","reason":"to run the tests","seq":1,"space":"s","time":"2026-12-06T11:46:20.001Z","type":"received"}"#,
    #"{"actor":"person","deadline":"2026-12-06T11:56:20.001Z","opId":"op_5b7c0c7e2a8d4f10","reason":"the person supervising gave it 300 s more (600 s in all, 3600 s at most)","seconds":300,"seq":4,"space":"s","time":"2026-12-06T11:47:20.001Z","type":"approvalExtended"}"#,
    #"{"opId":"op_5b7c0c7e2a8d4f10","reason":"protected paths change only with a person's approval","restored":[{"action":"restored","change":"modified","path":".git/hooks/pre-commit","rule":"git-hooks"},{"action":"failed","change":"created","error":"Permission denied","path":".env","rule":"env-files"}],"seq":7,"space":"s","time":"2026-12-06T11:47:21.001Z","type":"protectedRestored"}"#,
    #"{"actor":"agent","opId":"op_5b7c0c7e2a8d4f10","result":{"durationMs":0,"error":{"code":"cancelled","message":"interrupted: the runtime stopped (a crash or kill -9) while the command ran; it changed nothing"},"id":"op_5b7c0c7e2a8d4f10","kind":"shell","space":"s","status":"failed"},"seq":9,"space":"s","time":"2026-12-06T11:50:00.000Z","type":"failed"}"#,
  ]

  @Test func everyKindOfAnExistingJournalReadsAndIsWrittenBackByteForByte() throws {
    var kinds = Set<Event.Kind>()
    for line in Self.lines {
      let event = try SpacesJSON.decoder.decode(Event.self, from: Data(line.utf8))
      kinds.insert(event.type)
      #expect(String(decoding: try SpacesJSON.encoder.encode(event), as: UTF8.self) == line, "Foundation: \(line)")
      #expect(String(decoding: event.jsonBytes, as: UTF8.self) == line, "FastJSON: \(line)")
    }
    #expect(kinds == Set(Event.Kind.allCases), "a line of every kind")
  }

  @Test func aJournalOfThemReadsWholeAndInOrder() throws {
    let folder = TempFolder("old-journal")
    let path = folder.file("journal.jsonl")
    // Sequence numbers as a journal has them: growing by one.
    let numbered = try Self.lines.enumerated().map { index, line in
      var event = try SpacesJSON.decoder.decode(Event.self, from: Data(line.utf8))
      event.seq = index + 1
      return String(decoding: event.jsonBytes, as: UTF8.self)
    }
    try (numbered.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let read = try Journal.read(path: path)
    #expect(read.issues.isEmpty)
    #expect(read.events.map { String(decoding: $0.jsonBytes, as: UTF8.self) } == numbered)
  }

  @Test func anEventMissingAFieldItsKindRequiresIsAClearError() {
    let line = #"{"opId":"o","seq":1,"space":"s","time":"t","type":"output","data":"x"}"#
    #expect(throws: DecodingError.self) { try SpacesJSON.decoder.decode(Event.self, from: Data(line.utf8)) }
    let error = #"{"opId":"o","seq":1,"space":"s","time":"t","type":"message"}"#
    do {
      _ = try SpacesJSON.decoder.decode(Event.self, from: Data(error.utf8))
      Issue.record("a message without text was read")
    } catch {
      #expect(SpacesJSON.describe(error).contains("text"), "\(SpacesJSON.describe(error))")
    }
  }
}
