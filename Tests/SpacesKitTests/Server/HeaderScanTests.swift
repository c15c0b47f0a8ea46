import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// The one-pass header reader (``HeaderScan``) against Foundation's decoder: whatever it reads
/// it reads as Foundation does, and whatever is out of the ordinary it leaves to Foundation.
@Suite struct HeaderScanTests {
  static func scan(_ text: String) -> HeaderScan? {
    Array(text.utf8).withUnsafeBytes { HeaderScan.scan($0) }
  }

  static func scan(_ data: Data) -> HeaderScan? {
    data.withUnsafeBytes { HeaderScan.scan($0) }
  }

  /// The header fields both readers give.
  static func fields(_ header: MessageHeader) -> String {
    "\(header.jsonrpc ?? "-") \(header.id.map { "\($0)" } ?? "-") \(header.hasID) \(header.idIsValid) "
      + "\(header.method ?? "-") \(header.paramsKind) \(header.hasResult) \(header.error == nil)"
  }

  @Test func anOrdinaryRequestIsReadWithItsParamsPlace() throws {
    let line =
      #"{"jsonrpc":"2.0","id":7,"method":"op.submit","params":{"events":false,"op":{"kind":"readFile","path":"a \"b\".txt"},"space":"host"}}"#
    let scanned = try #require(Self.scan(line))
    let foundation = try SpacesJSON.decoder.decode(MessageHeader.self, from: Data(line.utf8))
    #expect(Self.fields(scanned.header) == Self.fields(foundation))
    #expect(scanned.header.id == .number(7))
    #expect(scanned.header.method == "op.submit")
    let range = try #require(scanned.params)
    let params = try SpacesJSON.decoder.decode(SubmitParams.self, from: Data(Array(line.utf8)[range]))
    #expect(params.op == .readFile(path: #"a "b".txt"#))
    #expect(params.space == "host")
  }

  @Test func stringIDsSpacesNullParamsAndNotifications() throws {
    for line in [
      #" { "jsonrpc" : "2.0" , "id" : "x-1" , "method" : "hello" , "params" : { } } "#,
      #"{"jsonrpc":"2.0","method":"request.cancel","params":{"id":3}}"#,
      #"{"jsonrpc":"2.0","id":null,"method":"space.list","params":null}"#,
      #"{"jsonrpc":"2.0","id":-12,"method":"space.list"}"#,
      #"{"method":"space.list","id":1,"extra":[1,2.5e3,true,false,null,{"a":"\u00e9\n"}]}"#,
      #"{"jsonrpc":"1.0","id":1,"method":"hello"}"#,
      "{}",
    ] {
      let scanned = try #require(Self.scan(line), "\(line)")
      let foundation = try SpacesJSON.decoder.decode(MessageHeader.self, from: Data(line.utf8))
      #expect(Self.fields(scanned.header) == Self.fields(foundation), "\(line)")
    }
  }

  @Test func anythingOutOfTheOrdinaryIsLeftToFoundation() {
    let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
    for line in [
      #"{"jsonrpc":"2.0","id":1,"method":"hel\u006co"}"#,  // an escape in the method
      #"{"jsonrpc":"2.0","id":1,"id":2,"method":"hello"}"#,  // a duplicate member
      #"{"jsonrpc":"2.0","id":1,"result":{}}"#,  // a response
      #"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}"#,
      #"{"jsonrpc":"2.0","id":1.5,"method":"hello"}"#,  // a fraction
      #"{"jsonrpc":"2.0","id":99999999999999999999,"method":"hello"}"#,  // past Int
      #"{"jsonrpc":"2.0","id":01,"method":"hello"}"#,  // a leading zero
      #"{"jsonrpc":"2.0","id":1,"method":"hello","params":[1]}"#,  // params not an object
      #"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"a":01}}"#,  // invalid JSON inside
      #"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"a":"\ud800"}}"#,  // a lone surrogate
      #"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"a":"\x"}}"#,  // a bad escape
      #"{"jsonrpc":"2.0","id":1,"method":"hello"} x"#,  // trailing text
      #"{"jsonrpc":"2.0","id":1,"method":"hello""#,  // cut off
      #"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"a":"# + deep + "}}",
      "[1]",
    ] {
      #expect(Self.scan(line) == nil, "\(line)")
    }
    // Invalid UTF-8 anywhere.
    var bytes = Array(#"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"a":"xx"}}"#.utf8)
    bytes[bytes.count - 4] = 0xFF
    #expect(Self.scan(Data(bytes)) == nil)
  }

  /// Every line of the protocol corpus: read by the scanner, it reads as Foundation reads it,
  /// and the server's outcome for it is the same either way.
  @Test func theProtocolCorpusReadsAsFoundationReadsIt() throws {
    var scannedLines = 0
    for file in try DecoderCorpusTests.files("rpc", ".jsonl") {
      for line in DecoderCorpusTests.lines(file.data) {
        guard let scanned = Self.scan(line) else { continue }
        scannedLines += 1
        let foundation = try SpacesJSON.decoder.decode(MessageHeader.self, from: line)
        #expect(
          Self.fields(scanned.header) == Self.fields(foundation),
          "\(file.name): \(String(decoding: line, as: UTF8.self))")
      }
    }
    #expect(scannedLines > 20)
  }

  /// Bad params read from their place give the same error, naming the field from `params`.
  @Test func badParamsStillNameTheirField() throws {
    let line = Data(#"{"jsonrpc":"2.0","id":1,"method":"op.submit","params":{"space":"s","op":{"kind":"nope"}}}"#.utf8)
    guard case .request(let request, _) = InboundMessage(line: line) else {
      Issue.record("not read as a request")
      return
    }
    #expect(request.paramsRange != nil)
    #expect(throws: RPCError.self) { try request.params(SubmitParams.self) }
    do {
      _ = try request.params(SubmitParams.self)
    } catch {
      #expect(error.code == RPCErrorCode.invalidParams)
      #expect(error.message.contains("params.op"), "\(error.message)")
    }
  }
}
