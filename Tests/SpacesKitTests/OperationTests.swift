import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel

@Suite struct OperationTests {
  @Test(arguments: [
    (
      #"{"kind":"createFile","path":"src/a.ts","content":"x"}"#,
      Op.createFile(path: "src/a.ts", content: "x", encoding: .utf8)
    ),
    (
      #"{"kind":"createFile","path":"b","content":"AAE=","encoding":"base64"}"#,
      .createFile(path: "b", content: "AAE=", encoding: .base64)
    ),
    (#"{"kind":"readFile","path":"src/a.ts"}"#, .readFile(path: "src/a.ts")),
    (#"{"kind":"editFile","path":"a","oldText":"x","newText":"y"}"#, .editFile(path: "a", oldText: "x", newText: "y")),
    (#"{"kind":"deleteFile","path":"a"}"#, .deleteFile(path: "a", recursive: false)),
    (#"{"kind":"deleteFile","path":"d","recursive":true}"#, .deleteFile(path: "d", recursive: true)),
    (#"{"kind":"shell","command":"ls -la","timeoutMs":120000}"#, .shell(command: "ls -la", timeoutMs: 120000)),
    (#"{"kind":"shell","command":"ls"}"#, .shell(command: "ls", timeoutMs: nil)),
    (#"{"kind":"message","text":"hi"}"#, .message(text: "hi")),
  ])
  func decodesEveryKind(json: String, expected: Op) throws {
    let decoded = try Op.parse(json)
    #expect(decoded == expected)
    // The encoded form decodes to the same operation (one stable JSON form).
    let again = try Op.parse(SpacesJSON.line(decoded))
    #expect(again == expected)
  }

  /// Events carry ISO 8601 UTC times with milliseconds, as Foundation's format style writes them.
  @Test(arguments: [0, 1_700_000_000.123, 1_798_761_599.999, 951_782_400.5, 1_234.0456, -1.25])
  func timestampsMatchISO8601(seconds: Double) {
    let date = Date(timeIntervalSince1970: seconds)
    let expected = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    #expect(Event.timestamp(date) == expected)
  }

  @Test func encodesTheDocumentedForm() {
    #expect(SpacesJSON.line(Op.readFile(path: "a")) == #"{"kind":"readFile","path":"a"}"#)
    #expect(
      SpacesJSON.line(Op.shell(command: "ls", timeoutMs: 5))
        == #"{"command":"ls","kind":"shell","timeoutMs":5}"#)
  }

  @Test(arguments: [
    (#"not json"#, "not valid JSON"),
    (#"[]"#, ""),
    (#"{}"#, "no \"kind\""),
    (#"{"kind":5}"#, "\"kind\" must be a string"),
    (#"{"kind":"launchMissiles"}"#, "unknown kind \"launchMissiles\""),
    (#"{"kind":"readFile"}"#, "readFile needs \"path\""),
    (#"{"kind":"readFile","path":7}"#, "\"path\" of readFile must be a string"),
    (#"{"kind":"createFile","path":"a","contents":"x"}"#, "unknown field \"contents\""),
    (#"{"kind":"createFile","path":"a","content":"x","encoding":"rot13"}"#, "\"utf8\" or \"base64\""),
    (#"{"kind":"shell","command":"ls","timeoutMs":-1}"#, "from 1 to 86400000"),
    (#"{"kind":"shell","command":"echo hi","timeoutMs":9223372036854775807}"#, "from 1 to 86400000"),
    (#"{"kind":"shell","command":"ls","timeoutMs":1e300}"#, "a whole number of milliseconds"),
    (#"{"kind":"shell","command":"ls","timeoutMs":"soon"}"#, "whole number"),
    (#"{"kind":"deleteFile","path":"a","recursive":"yes"}"#, "true or false"),
  ])
  func rejectsBadOperationsClearly(json: String, fragment: String) {
    let error = expectError(.invalidRequest) { try Op.parse(json) }
    if !fragment.isEmpty {
      #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
    }
  }

  @Test func resultCarriesOnlyItsFields() throws {
    var result = OperationResult(id: "op_1", space: "s", kind: .readFile, status: .completed, durationMs: 3)
    result.content = "hi"
    result.encoding = .utf8
    result.size = 2
    let object = try #require(
      JSONSerialization.jsonObject(with: Data(SpacesJSON.line(result).utf8)) as? [String: Any])
    #expect(Set(object.keys) == ["id", "space", "kind", "status", "durationMs", "content", "encoding", "size"])
    #expect(object["status"] as? String == "completed")
  }

  @Test func verdictsOrderByStrictness() {
    #expect(Decision.Verdict.allow < .ask)
    #expect(Decision.Verdict.ask < .deny)
    #expect([Decision.Verdict.allow, .deny, .ask].max() == .deny)
  }
}
