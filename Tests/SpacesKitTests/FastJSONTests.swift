import Foundation
import NIOCore
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// A random string mixing every control character, quotes, backslashes, slashes, ASCII,
/// two- and three-byte characters, U+2028/2029, U+FFFD and characters beyond the BMP.
private func randomString(_ rng: inout SeededRandom, maxLength: Int = 40) -> String {
  let pools: [ClosedRange<UInt32>] = [
    0x00...0x1F, 0x20...0x7F, 0x22...0x22, 0x5C...0x5C, 0x2F...0x2F, 0x80...0x7FF, 0x800...0xD7FF,
    0xE000...0xFFFD, 0x2028...0x2029, 0x1_0000...0x10_FFFF,
  ]
  var scalars = String.UnicodeScalarView()
  for _ in 0..<Int.random(in: 0...maxLength, using: &rng) {
    let pool = pools[Int.random(in: 0..<pools.count, using: &rng)]
    if let scalar = Unicode.Scalar(UInt32.random(in: pool, using: &rng)) { scalars.append(scalar) }
  }
  return String(scalars)
}

private func foundation<T: Encodable>(_ value: T) throws -> String {
  String(decoding: try SpacesJSON.encoder.encode(value), as: UTF8.self)
}

private func fullResult(_ rng: inout SeededRandom) -> OperationResult {
  var result = OperationResult(
    id: randomString(&rng), space: randomString(&rng), kind: .shell, status: .failed,
    durationMs: Int.random(in: 0...1_000_000, using: &rng))
  result.content = randomString(&rng)
  result.encoding = .base64
  result.size = Int.random(in: 0...Int.max, using: &rng)
  result.sha256 = randomString(&rng)
  result.exitCode = Int32.random(in: Int32.min...Int32.max, using: &rng)
  result.signal = 9
  result.stdout = randomString(&rng, maxLength: 200)
  result.stderr = randomString(&rng)
  result.truncated = Bool.random(using: &rng)
  result.restored = [randomString(&rng), randomString(&rng)]
  result.streamed = OperationResult.StreamedOutput(fromSeq: 12, stdout: 100, stderr: 0)
  result.error = OperationResult.ErrorInfo(code: "timeout", message: randomString(&rng))
  result.reason = randomString(&rng)
  result.decidedBy = .person
  return result
}

private func everyOp(_ rng: inout SeededRandom) -> [Op] {
  [
    .createFile(path: randomString(&rng), content: randomString(&rng), encoding: .utf8),
    .createFile(path: "b", content: "AAAA", encoding: .base64),
    .readFile(path: randomString(&rng)),
    .editFile(path: randomString(&rng), oldText: randomString(&rng), newText: randomString(&rng)),
    .deleteFile(path: randomString(&rng), recursive: true),
    .deleteFile(path: "x", recursive: false),
    .shell(command: randomString(&rng), timeoutMs: 5),
    .shell(command: "true", timeoutMs: nil),
    .message(text: randomString(&rng)),
  ]
}

private func randomEvents(_ rng: inout SeededRandom) -> [Event] {
  var events: [Event] = []
  for op in everyOp(&rng) {
    var event = Event(space: randomString(&rng), opId: randomString(&rng), .received(actor: .person, op: op))
    event.seq = Int.random(in: 1...Int.max, using: &rng)
    events.append(event)
  }
  let decision = Decision(.ask, reasons: [randomString(&rng)], rules: [randomString(&rng), "r"])
  let payloads: [Event.Payload] = [
    .received(actor: .agent, op: .shell(command: randomString(&rng), timeoutMs: nil), reason: randomString(&rng)),
    .decision(decision),
    .approvalRequested(decision),
    .approvalResolved(resolution: .once, decidedBy: .timeout, reason: randomString(&rng)),
    .approvalResolved(resolution: .cancelled),
    .approvalExtended(actor: .person, deadline: randomString(&rng), seconds: 60, reason: randomString(&rng)),
    .queued(reason: randomString(&rng)),
    .started,
    .output(stream: .stderr, data: randomString(&rng, maxLength: 500)),
    .completed(result: fullResult(&rng)),
    .completed(
      result: fullResult(&rng), changes: ChangeSummary(record: randomString(&rng), changes: [])),
    .failed(result: fullResult(&rng), changes: nil, actor: .agent),
    .denied(result: fullResult(&rng)),
    .message(text: randomString(&rng)),
    .protectedRestored(
      restored: [
        ProtectedChange(path: randomString(&rng), change: .modified, action: .restored, rule: ".git/hooks/**")
      ],
      reason: randomString(&rng)),
  ]
  for payload in payloads {
    var event = Event(space: "s", opId: "op_1", payload)
    event.seq = 3
    events.append(event)
  }
  return events
}

@Suite struct FastJSONTests {
  @Test func writesEveryControlCharacterAsFoundationDoes() throws {
    let all =
      String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init))) + "\u{7F}\"\\/\u{2028}\u{2029}é😀"
    var writer = JSONWriter()
    writer.string(all)
    #expect(String(decoding: writer.bytes, as: UTF8.self) == (try foundation(all)))
    #expect(try JSONDecoder().decode(String.self, from: Data(writer.bytes)) == all)
  }

  @Test func randomStringsRoundTripAndMatchFoundation() throws {
    var rng = SeededRandom(state: 16)
    for _ in 0..<5_000 {
      let text = randomString(&rng, maxLength: 60)
      var writer = JSONWriter()
      writer.string(text)
      #expect(try JSONDecoder().decode(String.self, from: Data(writer.bytes)) == text)
      #expect(String(decoding: writer.bytes, as: UTF8.self) == (try foundation(text)))
    }
  }

  /// The writer takes eight bytes at a time where none needs escaping: runs of clean text of
  /// every length, with a byte to escape at every place of a word, and at the ends.
  @Test func cleanRunsOfEveryLengthAndEscapesAtEveryOffsetMatchFoundation() throws {
    var rng = SeededRandom(state: 23)
    let specials: [Character] = ["\n", "\"", "\\", "\u{1F}", "\u{0}", "\t", "\u{7F}", "é", " ", "~"]
    for length in 0..<40 {
      for place in 0...length {
        for special in [specials[(length + place) % specials.count], specials[place % specials.count]] {
          var text = String(repeating: "a", count: length)
          text.insert(special, at: text.index(text.startIndex, offsetBy: place))
          var writer = JSONWriter()
          writer.string(text)
          #expect(String(decoding: writer.bytes, as: UTF8.self) == (try foundation(text)), "\(text.debugDescription)")
        }
      }
    }
    // Long mixed text, as a command's output comes (lines of digits, prose, control bytes).
    for _ in 0..<200 {
      var text = ""
      for _ in 0..<Int.random(in: 1...60, using: &rng) {
        text +=
          Bool.random(using: &rng) ? "\(Int.random(in: 0...999_999, using: &rng))\n" : randomString(&rng, maxLength: 90)
      }
      var writer = JSONWriter()
      writer.string(text)
      #expect(String(decoding: writer.bytes, as: UTF8.self) == (try foundation(text)))
    }
  }

  @Test func invalidUTF8BecomesReplacementCharactersAsBefore() throws {
    // Output is decoded with String(decoding:as:) before it is encoded: the writer sees valid
    // UTF-8 only, and writes U+FFFD as Foundation does.
    let text = String(decoding: [0x61, 0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0x62] as [UInt8], as: UTF8.self)
    let event = Event(space: "s", opId: "o", .output(stream: .stdout, data: text))
    #expect(String(decoding: event.jsonBytes, as: UTF8.self) == (try foundation(event)))
    #expect(try JSONDecoder().decode(Event.self, from: Data(event.jsonBytes)).output?.data == text)
  }

  @Test func eventsAndResultsAreWrittenByteForByteAsFoundationWritesThem() throws {
    #expect(
      Event.fastWriterCoversType, "Event has a field the hand-written writer doesn't know: add it to FastJSON.swift")
    #expect(
      OperationResult.fastWriterCoversType,
      "OperationResult has a field the hand-written writer doesn't know: add it to FastJSON.swift")
    var rng = SeededRandom(state: 2028)
    for _ in 0..<300 {
      for event in randomEvents(&rng) {
        let written = String(decoding: event.jsonBytes, as: UTF8.self)
        #expect(written == (try foundation(event)))
        #expect(try JSONDecoder().decode(Event.self, from: Data(event.jsonBytes)) == event)
      }
      let result = fullResult(&rng)
      #expect(String(decoding: result.jsonBytes, as: UTF8.self) == (try foundation(result)))
      let bare = OperationResult(id: "op", space: "s", kind: .readFile, status: .completed)
      #expect(String(decoding: bare.jsonBytes, as: UTF8.self) == (try foundation(bare)))
    }
  }

  @Test func theWireSendsTheJournalsBytesAndAChangedEventIsWrittenAnew() async throws {
    let folder = TempFolder("written")
    let journal = try Journal(path: folder.file("journal.jsonl"))
    var rng = SeededRandom(state: 11)
    let events = randomEvents(&rng)
    let written = try journal.append(events, sync: false)
    let lines = try String(contentsOfFile: folder.file("journal.jsonl"), encoding: .utf8).split(separator: "\n")
    for (event, line) in zip(written, lines) {
      // The kept bytes are the journal's line, and what the wire sends is what encoding anew sends.
      #expect(event.written.bytes.map { String(decoding: $0, as: UTF8.self) } == String(line))
      var fresh = event
      fresh.written.bytes = nil
      #expect(
        String(buffer: Wire.event(event, requestId: .number(3)))
          == String(buffer: Wire.event(fresh, requestId: .number(3))))
      // Any change drops them: the change is what is sent.
      var changed = event
      changed.opId = "op_changed"
      #expect(changed.written.bytes == nil)
      #expect(String(decoding: changed.jsonBytes, as: UTF8.self).contains("op_changed"))
      #expect(event == fresh)
    }
    // Subscribers (whose buffers hold events a while) get events without them.
    let hub = EventHub()
    let stream = hub.subscribe()
    hub.publish(written)
    var iterator = stream.makeAsyncIterator()
    for _ in written { #expect(await iterator.next()?.written.bytes == nil) }
    let seen = LockedValue<[Bool]>([])
    let token = hub.observe { event in seen.withValue { $0.append(event.written.bytes != nil) } }
    hub.publish(written)
    hub.removeObserver(token)
    #expect(seen.withValue { $0 } == Array(repeating: true, count: written.count))
  }

  @Test func envelopesMatchFoundation() throws {
    var rng = SeededRandom(state: 7)
    struct Request<P: Encodable>: Encodable {
      var jsonrpc = "2.0"
      var id: RPCID?
      var method: String
      var params: P
    }
    for event in randomEvents(&rng) {
      for (requestId, subscription) in [(RPCID.number(7), nil), (.string("a\"b"), nil), (nil, "sub-1")]
        as [(
          RPCID?, String?
        )]
      {
        let fast = Wire.event(event, requestId: requestId, subscription: subscription)
        let slow = Wire.encode(
          Request(
            id: nil, method: "event",
            params: EventNotification(event: event, subscription: subscription, requestId: requestId)))
        #expect(String(buffer: fast) == String(buffer: slow))
      }
    }
    let result = fullResult(&rng)
    for id in [RPCID.number(-3), .string("x\n"), nil] as [RPCID?] {
      let fast = Wire.result(result, id: id)
      let decoded = try JSONSerialization.jsonObject(with: Data(String(buffer: fast).utf8)) as? [String: Any]
      #expect(decoded?["jsonrpc"] as? String == "2.0")
      #expect(String(buffer: fast).hasSuffix("}\n"))
      let box = try JSONDecoder().decode(ResultBox<OperationResult>.self, from: Data(String(buffer: fast).utf8))
      #expect(box.result == result)
    }
  }

  @Test func aResultThatRefersToItsOutputEventsIsPutBackTogether() {
    var rng = SeededRandom(state: 99)
    for _ in 0..<2_000 {
      let streamedOut = randomString(&rng, maxLength: 80)
      let streamedErr = randomString(&rng, maxLength: 20)
      // The result's text: the streamed text, or part of it, then something else (the cap's
      // tail, the runtime's notes).
      let keep = Int.random(in: 0...streamedOut.unicodeScalars.count, using: &rng)
      let whole = String(String.UnicodeScalarView(streamedOut.unicodeScalars.prefix(keep))) + randomString(&rng)
      var result = OperationResult(id: "o", space: "s", kind: .shell, status: .completed)
      result.stdout = whole
      result.stderr = streamedErr + "\n[spaces] note\n"
      let compact = result.referencingOutput(fromSeq: 4, streamedStdout: streamedOut, streamedStderr: streamedErr)
      #expect((compact.stdout?.utf8.count ?? 0) <= whole.utf8.count)
      if !streamedErr.isEmpty { #expect(compact.stderr == "\n[spaces] note\n") }
      let back = compact.reassembled(streamedStdout: streamedOut, streamedStderr: streamedErr)
      #expect(back == result)
      // The runtime keeps the events' text as the chunks they carried: cut anywhere (between
      // scalars, as output events are), the result is the same.
      func chunks(_ text: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
          let take = Int.random(in: 0...min(rest.count, 12), using: &rng)
          parts.append(String(rest.prefix(take)))
          rest = rest.dropFirst(take)
        }
        return parts
      }
      #expect(
        result.referencingOutput(fromSeq: 4, stdoutChunks: chunks(streamedOut), stderrChunks: chunks(streamedErr))
          == compact)
    }
  }

  /// Change records (one file per change) and the summary a change's `completed` event carries
  /// are written by hand too, byte for byte as Foundation writes them, and read back the same.
  @Test func changeRecordsAreWrittenByteForByteAsFoundationWritesThem() throws {
    func labels(_ value: Any) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }
    let full = EntryState(kind: .symlink, mode: 0o7777, size: 12, sha256: "ab", stored: false, target: "t")
    #expect(labels(full) == EntryState.fastFields, "EntryState has a field FastJSON.swift doesn't write")
    let change = PathChange(path: "p", before: full, after: full)
    #expect(labels(change) == PathChange.fastFields, "PathChange has a field FastJSON.swift doesn't write")
    let summary = ChangeSummary(record: "r", changes: [change])
    #expect(labels(summary) == ChangeSummary.fastFields, "ChangeSummary has a field FastJSON.swift doesn't write")
    let probe = ChangeRecord(opId: "", order: 0, time: "", actor: .agent, what: "", changes: [])
    #expect(labels(probe) == ChangeRecord.fastFields, "ChangeRecord has a field FastJSON.swift doesn't write")

    var rng = SeededRandom(state: 2029)
    func state() -> EntryState? {
      switch Int.random(in: 0..<4, using: &rng) {
      case 0: nil
      case 1: EntryState(kind: .folder, mode: UInt32.random(in: 0...0o7777, using: &rng))
      case 2:
        EntryState(
          kind: .file, mode: 0o644, size: Int64.random(in: 0...Int64.max, using: &rng),
          sha256: randomString(&rng), stored: Bool.random(using: &rng) ? nil : false)
      default: EntryState(kind: .symlink, mode: 0o777, target: randomString(&rng))
      }
    }
    for _ in 0..<300 {
      let changes = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
        PathChange(path: randomString(&rng), before: state(), after: state())
      }
      let record = ChangeRecord(
        opId: randomString(&rng), order: Int64.random(in: 0...Int64.max, using: &rng), time: randomString(&rng),
        actor: Bool.random(using: &rng) ? .person : .agent, what: randomString(&rng),
        undid: Bool.random(using: &rng) ? nil : [randomString(&rng), randomString(&rng)], changes: changes)
      #expect(String(decoding: record.jsonBytes, as: UTF8.self) == (try foundation(record)))
      #expect(try JSONDecoder().decode(ChangeRecord.self, from: Data(record.jsonBytes)) == record)

      let summary = ChangeSummary(record: randomString(&rng), changes: changes)
      let event = Event(space: "s", opId: "o", .completed(result: fullResult(&rng), changes: summary))
      #expect(String(decoding: event.jsonBytes, as: UTF8.self) == (try foundation(event)))
      let undone = Event(
        space: "s", opId: "o",
        .undone(
          actor: .person, undo: UndoOutcome(action: "undo", target: "t", id: "i", undid: ["a"], changes: summary),
          changes: summary))
      #expect(String(decoding: undone.jsonBytes, as: UTF8.self) == (try foundation(undone)))
    }
  }
}
