import Foundation
import NIOCore
import Testing

@testable import SpacesClientKit
@testable import SpacesModel

/// The Swift client's one-pass reading of `output` events gives what Foundation gives, and
/// nothing for a line it doesn't know (which then takes Foundation's path).
struct OutputEventDecoderTests {
  /// Text mixing every control character, quotes, backslashes, slashes, ASCII, two-, three-
  /// and four-byte characters, and U+2028/2029.
  func randomText(_ rng: inout SeededRandom) -> String {
    let pools: [ClosedRange<UInt32>] = [
      0x00...0x1F, 0x20...0x7F, 0x22...0x22, 0x5C...0x5C, 0x2F...0x2F, 0x0A...0x0A, 0x80...0x7FF, 0x800...0xD7FF,
      0xE000...0xFFFD, 0x2028...0x2029, 0x1_0000...0x10_FFFF,
    ]
    var scalars = String.UnicodeScalarView()
    for _ in 0..<Int.random(in: 0...60, using: &rng) {
      let pool = pools[Int.random(in: 0..<pools.count, using: &rng)]
      if let scalar = Unicode.Scalar(UInt32.random(in: pool, using: &rng)) { scalars.append(scalar) }
    }
    return String(scalars)
  }

  func foundation(_ line: Data) -> EventNotification? {
    try? SpacesJSON.decoder.decode(ParamsBox<EventNotification>.self, from: line).params
  }

  func same(_ a: EventNotification?, _ b: EventNotification?) -> Bool {
    a?.event == b?.event && a?.requestId == b?.requestId && a?.subscription == b?.subscription
  }

  @Test func outputEventsReadAsFoundationReadsThem() throws {
    var rng = SeededRandom(state: 16)
    for round in 0..<2000 {
      var event = Event(
        space: randomText(&rng), opId: randomText(&rng),
        .output(stream: Bool.random(using: &rng) ? .stdout : .stderr, data: randomText(&rng)))
      event.seq = round == 0 ? 0 : Int.random(in: 1...Int(999_999_999_999_999_999), using: &rng)
      let subscription: String? = round % 3 == 0 ? randomText(&rng) : nil
      let line = Data(
        String(
          buffer: Wire.event(event, requestId: subscription == nil ? .number(round) : nil, subscription: subscription)
        )
        .utf8.dropLast())
      let fast = try #require(OutputEventDecoder.decode(line), "line \(round)")
      #expect(same(fast, foundation(line)))
      #expect(fast.event == event)
    }
  }

  @Test func escapesFoundationReadsAndTheEncoderDoesNotWriteAreRead() throws {
    // `\/`, `\u` for plain characters, and a surrogate pair: valid JSON the server doesn't write.
    let line = Data(
      #"{"jsonrpc":"2.0","method":"event","params":{"event":{"data":"a\/b\u0041\ud83d\ude00\u00e9","opId":"o","seq":7,"space":"s","stream":"stdout","time":"t","type":"output"},"requestId":3}}"#
        .utf8)
    let fast = try #require(OutputEventDecoder.decode(line))
    #expect(same(fast, foundation(line)))
    #expect(fast.event.output?.data == "a/bA😀é")
  }

  @Test func whatItDoesNotKnowIsLeftToFoundation() {
    let good =
      #"{"jsonrpc":"2.0","method":"event","params":{"event":{"data":"x","opId":"o","seq":7,"space":"s","stream":"stdout","time":"t","type":"output"},"requestId":3}}"#
    #expect(OutputEventDecoder.decode(Data(good.utf8)) != nil)
    let others = [
      good.replacingOccurrences(of: #""type":"output""#, with: #""type":"started""#),
      good.replacingOccurrences(of: #""stream":"stdout""#, with: #""stream":"stdin""#),
      good.replacingOccurrences(of: #""data":"x""#, with: #""data":"\ud800""#),  // a lone surrogate
      good.replacingOccurrences(of: #""data":"x""#, with: #""data":"\x""#),
      good.replacingOccurrences(of: #""data":"x""#, with: "\"data\":\"\u{01}\""),  // a raw control character
      good.replacingOccurrences(of: #""seq":7"#, with: #""seq":07"#),
      good.replacingOccurrences(of: #""seq":7"#, with: #""seq":-7"#),
      good.replacingOccurrences(of: #""requestId":3"#, with: #""requestId":"3""#),
      good.replacingOccurrences(of: #""requestId":3"#, with: #""requestId":3,"extra":1"#),
      good.replacingOccurrences(of: #"{"data""#, with: #"{ "data""#),
      good + " ",
      String(good.dropLast()),
    ]
    for line in others {
      #expect(OutputEventDecoder.decode(Data(line.utf8)) == nil, "\(line)")
    }
    // Bytes that are not UTF-8 inside a string.
    var bytes = Array(good.utf8)
    if let x = bytes.firstIndex(of: UInt8(ascii: "x")) { bytes[x] = 0xFF }
    #expect(OutputEventDecoder.decode(Data(bytes)) == nil)
  }

  @Test func mutatedLinesAreReadAsFoundationReadsThemOrLeftToIt() {
    var rng = SeededRandom(state: 61)
    for round in 0..<3000 {
      var event = Event(space: "s", opId: "op_1", .output(stream: .stdout, data: randomText(&rng)))
      event.seq = round
      var bytes = Array(String(buffer: Wire.event(event, requestId: .number(round))).utf8.dropLast())
      for _ in 0..<Int.random(in: 1...3, using: &rng) {
        let index = Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: bytes[index] = UInt8.random(in: 0...255, using: &rng)
        case 1: bytes.remove(at: index)
        default: bytes.insert(Array(#"\"u{}0123456789:,"#.utf8).randomElement(using: &rng) ?? 0x22, at: index)
        }
      }
      let line = Data(bytes)
      if let fast = OutputEventDecoder.decode(line) {
        #expect(same(fast, foundation(line)), "\(String(decoding: bytes, as: UTF8.self))")
      }
    }
  }
}
