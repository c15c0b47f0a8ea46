import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// The server's one-pass reading of `op.submit` params (`SubmitParams.scan`) against
/// Foundation's decoder: what it reads, it reads as Foundation does; what it is not sure of, it
/// leaves to Foundation, whose error messages the server keeps.
@Suite struct SubmitParamsScanTests {
  static func scan(_ text: String) -> SubmitParams? { SubmitParams.scan(Data(text.utf8)) }

  static func foundation(_ data: Data) -> SubmitParams? {
    try? SpacesJSON.decoder.decode(SubmitParams.self, from: data)
  }

  /// Every field of both, in one string, so a difference shows in the failure.
  static func fields(_ params: SubmitParams?) -> String {
    guard let params else { return "nil" }
    return "space=\(params.space.debugDescription) op=\(params.op) events=\(params.events.map { "\($0)" } ?? "-") "
      + "streamsOutput=\(params.streamsOutput.map { "\($0)" } ?? "-") reason=\(params.reason?.debugDescription ?? "-")"
  }

  static func same(_ a: SubmitParams?, _ b: SubmitParams?) -> Bool {
    a?.space == b?.space && a?.op == b?.op && a?.events == b?.events && a?.streamsOutput == b?.streamsOutput
      && a?.reason == b?.reason && (a == nil) == (b == nil)
  }

  @Test func everyKindReadsAsFoundationReadsIt() throws {
    let lines = [
      #"{"events":false,"op":{"kind":"readFile","path":"one-kib"},"space":"host"}"#,
      #"{"space":"host","op":{"path":"a \"b\".txt","kind":"readFile"}}"#,
      #"{"op":{"kind":"createFile","path":"a","content":"x\ny\t\\z"},"space":"s"}"#,
      #"{"op":{"kind":"createFile","path":"a","content":"eA==","encoding":"base64"},"space":"s"}"#,
      #"{"op":{"kind":"createFile","path":"a","content":"","encoding":"utf8"},"space":"s"}"#,
      #"{"op":{"kind":"createFile","path":"a","content":"c","encoding":null},"space":"s"}"#,
      #"{"op":{"kind":"editFile","path":"p","oldText":"\u00e9\ud83d\ude00","newText":"a\/b"},"space":"s"}"#,
      #"{"op":{"kind":"deleteFile","path":"d"},"space":"s"}"#,
      #"{"op":{"kind":"deleteFile","path":"d","recursive":true},"space":"s"}"#,
      #"{"op":{"kind":"deleteFile","path":"d","recursive":null},"space":"s"}"#,
      #"{"op":{"kind":"shell","command":"true"},"space":"s","streamsOutput":true}"#,
      #"{"op":{"kind":"shell","command":"sleep 1","timeoutMs":1,"fresh":true},"space":"s"}"#,
      #"{"op":{"kind":"shell","command":"x","timeoutMs":86400000,"fresh":false},"space":"s"}"#,
      #"{"op":{"kind":"shell","command":"x","timeoutMs":null,"fresh":null},"space":"s"}"#,
      #"{"op":{"kind":"message","text":"done \u0000 \u001f \uFFFF"},"space":"s","reason":"because"}"#,
      #"{"op":{"kind":"message","text":"t"},"space":"s","reason":"   "}"#,
      #"{"op":{"kind":"message","text":"t"},"space":"s","reason":null,"events":null,"streamsOutput":null}"#,
      " {\n\t\"space\" : \"s\" ,\r\n \"op\" : { \"kind\" : \"readFile\" , \"path\" : \"p\" } } \n",
    ]
    for line in lines {
      let fast = try #require(Self.scan(line), "\(line)")
      let slow = try SpacesJSON.decoder.decode(SubmitParams.self, from: Data(line.utf8))
      #expect(Self.fields(fast) == Self.fields(slow), "\(line)")
    }
    #expect(Self.scan(lines[6])?.op == .editFile(path: "p", oldText: "é😀", newText: "a/b"))
    #expect(Self.scan(lines[13])?.op == .shell(command: "x", timeoutMs: nil, fresh: false))
    #expect(Self.scan(lines[15])?.reason == nil)
  }

  @Test func whatItIsNotSureOfIsLeftToFoundation() {
    let good = #"{"op":{"kind":"shell","command":"c","timeoutMs":5},"space":"s"}"#
    #expect(Self.scan(good) != nil)
    func replacing(_ old: String, _ new: String) -> String { good.replacingOccurrences(of: old, with: new) }
    let others = [
      // Numbers Foundation may read but `Op` judges: fall back rather than guess.
      replacing("5}", "5.0}"), replacing("5}", "5e0}"), replacing("5}", "-0}"), replacing("5}", "05}"),
      replacing("5}", "0}"), replacing("5}", "86400001}"), replacing("5}", "-5}"),
      replacing("5}", "99999999999999999999}"), replacing("5}", "\"5\"}"), replacing("5}", "true}"),
      // Members: unknown, duplicate, missing, of another kind, null where required, escaped names.
      replacing(#""space":"s""#, #""space":"s","extra":1"#),
      replacing(#""space":"s""#, #""space":"s","space":"t""#),
      replacing(#""command":"c","#, #""command":"c","command":"d","#),
      replacing(#","space":"s""#, ""),
      replacing(#""command":"c","#, ""),
      replacing(#""command":"c","#, #""command":"c","path":"p","#),
      replacing(#""space":"s""#, #""space":null"#),
      replacing(#""command":"c""#, #""command":null"#),
      replacing(#""space":"s""#, #""sp\u0061ce":"s""#),
      replacing(#""kind":"shell""#, #""kind":"Shell""#),
      replacing(#""kind":"shell""#, #""kind":null"#),
      replacing(#""space":"s""#, #""space":"s","events":1"#),
      replacing(#""space":"s""#, #""space":"s","events":"true""#),
      replacing(#""space":"s""#, #""space":"s","reason":7"#),
      replacing(#""space":"s""#, #""space":"s","reason":"\#(String(repeating: "r", count: 501))""#),
      #"{"op":{"kind":"createFile","path":"a","content":"c","encoding":"utf16"},"space":"s"}"#,
      #"{"op":null,"space":"s"}"#,
      // Strings: a lone surrogate, a bad escape, a raw control character, a reversed pair.
      replacing(#""command":"c""#, #""command":"\ud800""#),
      replacing(#""command":"c""#, #""command":"\udc00\ud800""#),
      replacing(#""command":"c""#, #""command":"\x""#),
      replacing(#""command":"c""#, "\"command\":\"\u{01}\""),
      // Syntax.
      replacing(#""space":"s""#, #""space":"s","#), replacing("}", "},"), good + " x", String(good.dropLast()),
      "[" + good + "]", "", "null", "{}",
    ]
    for line in others {
      #expect(Self.scan(line) == nil, "\(line)")
    }
    var bytes = Array(good.utf8)
    if let c = bytes.lastIndex(of: UInt8(ascii: "c")) { bytes[c] = 0xFF }  // not UTF-8
    #expect(SubmitParams.scan(Data(bytes)) == nil)
  }

  /// A random operation of any kind, its texts from every range of characters.
  static func randomParams(_ rng: inout SeededRandom) -> SubmitParams {
    func text() -> String { OutputEventDecoderTests().randomText(&rng) }
    let op: Op
    switch Int.random(in: 0..<6, using: &rng) {
    case 0:
      op = .createFile(path: text(), content: text(), encoding: Bool.random(using: &rng) ? .utf8 : .base64)
    case 1: op = .readFile(path: text())
    case 2: op = .editFile(path: text(), oldText: text(), newText: text())
    case 3: op = .deleteFile(path: text(), recursive: Bool.random(using: &rng))
    case 4:
      let timeout: Int? =
        Bool.random(using: &rng)
        ? nil : [1, 86_400_000, Int.random(in: Op.timeoutRange, using: &rng)].randomElement(using: &rng)
      op = .shell(command: text(), timeoutMs: timeout, fresh: Bool.random(using: &rng))
    default: op = .message(text: text())
    }
    func maybe() -> Bool? { [nil, true, false].randomElement(using: &rng) ?? nil }
    return SubmitParams(
      space: text(), op: op, events: maybe(), streamsOutput: maybe(),
      reason: Bool.random(using: &rng) ? text() : nil)
  }

  @Test func randomParamsReadAsFoundationReadsThem() throws {
    var rng = SeededRandom(state: 1616)
    // The server's encoder, and Foundation's default one (which writes `\/`).
    let encoders = [SpacesJSON.encoder, JSONEncoder()]
    for round in 0..<3000 {
      let params = Self.randomParams(&rng)
      let data = try encoders[round % 2].encode(params)
      let fast = try #require(SubmitParams.scan(data), "\(String(decoding: data, as: UTF8.self))")
      let slow = Self.foundation(data)
      #expect(Self.same(fast, slow), "\(Self.fields(fast)) != \(Self.fields(slow))")
      #expect(fast.op == params.op)
    }
  }

  @Test func mutatedParamsAreReadAsFoundationReadsThemOrLeftToIt() throws {
    var rng = SeededRandom(state: 61_616)
    let pool = Array(#"\"u{}[]0123456789:,.eE-+ tfnrl/ud83dde00"#.utf8)
    var read = 0
    var foundationRead = 0
    for _ in 0..<6000 {
      var bytes = Array(try SpacesJSON.encoder.encode(Self.randomParams(&rng)))
      for _ in 0..<Int.random(in: 1...3, using: &rng) {
        let index = Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: bytes[index] = UInt8.random(in: 0...255, using: &rng)
        case 1: bytes.remove(at: index)
        default: bytes.insert(pool.randomElement(using: &rng) ?? 0x22, at: index)
        }
      }
      let data = Data(bytes)
      let slow = Self.foundation(data)
      let fast = SubmitParams.scan(data)
      if slow != nil { foundationRead += 1 }
      if slow == nil {
        #expect(fast == nil, "\(String(decoding: bytes, as: UTF8.self))")
      } else if let fast {
        read += 1
        #expect(Self.same(fast, slow), "\(String(decoding: bytes, as: UTF8.self))")
      }
    }
    // About one mutated line in ten stays valid params (mostly a changed character in a
    // string); the one pass reads most of those (not, e.g., a top-level member Foundation
    // ignores because a mutation renamed it).
    #expect(read > 300 && read * 2 > foundationRead, "\(read) of \(foundationRead)")
  }

  /// Params the one pass leaves to Foundation get the server's errors exactly as before.
  @Test func theFallbackKeepsTheErrorMessages() throws {
    let cases: [(params: String, says: String)] = [
      (#"{"space":"s","op":{"kind":"nope"}}"#, #"unknown kind "nope""#),
      (
        #"{"space":"s","op":{"kind":"readFile","path":"p","recursive":true}}"#,
        #"unknown field "recursive" for readFile"#
      ),
      (#"{"space":"s","op":{"kind":"shell","command":"c","timeoutMs":0}}"#, #""timeoutMs" must be from 1 to 86400000"#),
      (
        #"{"space":"s","op":{"kind":"shell","command":"c","timeoutMs":1.5}}"#,
        #""timeoutMs" of shell must be a whole number"#
      ),
      (#"{"space":"s","op":{"kind":"editFile","path":"p","oldText":"a"}}"#, #"editFile needs "newText""#),
      (#"{"space":"s","op":{"kind":"readFile","path":"p"},"reason":3}"#, #""reason" must be a string"#),
      (#"{"op":{"kind":"readFile","path":"p"}}"#, #"missing field "space""#),
    ]
    for (params, says) in cases {
      #expect(Self.scan(params) == nil, "\(params)")
      let line = Data(#"{"jsonrpc":"2.0","id":1,"method":"op.submit","params":\#(params)}"#.utf8)
      guard case .request(let request, _) = InboundMessage(line: line) else {
        Issue.record("not read as a request: \(params)")
        continue
      }
      #expect(request.paramsRange != nil)
      let before: String
      do {
        _ = try SpacesJSON.decoder.decode(ParamsBox<SubmitParams>.self, from: line)
        Issue.record("Foundation read \(params)")
        continue
      } catch {
        before = "invalid params for op.submit: \(SpacesJSON.describe(error))"
      }
      do {
        _ = try request.params(SubmitParams.self)
        Issue.record("read \(params)")
      } catch {
        #expect(error.code == RPCErrorCode.invalidParams)
        #expect(error.message == before)
        #expect(error.message.contains(says), "\(error.message)")
        #expect(error.message.contains("params"), "\(error.message)")
      }
    }
  }
}
