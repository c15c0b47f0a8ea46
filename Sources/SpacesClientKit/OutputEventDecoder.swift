import Foundation
import SpacesModel

/// Reads an `output` event notification as the server writes it, in one pass.
///
/// A command's output is most of what a client receives, and Foundation's decoder took longer
/// over it than the server took to send it (28 ms of a 45 ms `seq 1 200000`). This reads only
/// the exact shape the server's encoder writes — `{"jsonrpc":"2.0","method":"event","params":
/// {"event":{"data":…,"opId":…,"seq":…,"space":…,"stream":…,"time":…,"type":"output"},
/// "requestId":…}}` (or `"subscription":…`), keys in that order, no spaces — and gives nil for
/// anything else (another kind, another order, an escape it doesn't know, a lone surrogate,
/// invalid UTF-8), which then takes Foundation's path as before. What it returns is what
/// Foundation would have decoded (checked against it in the tests).
package enum OutputEventDecoder {
  /// The notification `line` holds (without its newline); nil when it is not one it reads.
  package static func decode(_ line: Data) -> EventNotification? {
    line.withUnsafeBytes { bytes in
      var scanner = JSONScanner(bytes: bytes)
      return scanner.outputNotification()
    }
  }
}

extension JSONScanner {
  fileprivate mutating func outputNotification() -> EventNotification? {
    guard literal(#"{"jsonrpc":"2.0","method":"event","params":{"event":{"data":"#),
      let data = string(),
      literal(#","opId":"#), let opId = string(),
      literal(#","seq":"#), let seq = count(),
      literal(#","space":"#), let space = string(),
      literal(#","stream":"#), let streamName = string(), let stream = OutputStreamKind(rawValue: streamName),
      literal(#","time":"#), let time = string(),
      literal(#","type":"output"}"#)
    else { return nil }
    var event = Event(space: space, opId: opId, .output(stream: stream, data: data))
    event.seq = seq
    event.time = time
    var notification = EventNotification(event: event)
    if literal(#","requestId":"#) {
      guard let id = count() else { return nil }
      notification.requestId = .number(id)
    } else if literal(#","subscription":"#) {
      guard let subscription = string() else { return nil }
      notification.subscription = subscription
    } else {
      return nil
    }
    guard literal("}}"), at == bytes.count else { return nil }
    return notification
  }

  /// A whole number that is not negative (what the server writes for `seq` and its request ids).
  private mutating func count() -> Int? {
    guard let value = wholeNumber(), value >= 0 else { return nil }
    return value
  }

  /// A JSON string: plain runs copied at once, the JSON escapes decoded; nil for a control
  /// character, an unknown escape, a lone surrogate or bytes that are not UTF-8.
  private mutating func string() -> String? {
    guard next(0x22) else { return nil }
    var out: [UInt8] = []
    var runStart = at
    while let byte = peek {
      if byte == 0x22 {
        out.append(contentsOf: bytes[runStart..<at])
        at += 1
        return String(validating: out, as: UTF8.self)
      }
      if byte < 0x20 { return nil }
      if byte != 0x5C {
        at += 1
        continue
      }
      out.append(contentsOf: bytes[runStart..<at])
      guard at + 1 < bytes.count else { return nil }
      let escape = bytes[at + 1]
      at += 2
      switch escape {
      case 0x22, 0x5C, 0x2F: out.append(escape)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        guard let unit = hex4() else { return nil }
        var scalar = unit
        if (0xD800...0xDBFF).contains(unit) {
          guard literal(#"\u"#), let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
          scalar = 0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(unit) {
          return nil
        }
        guard let value = Unicode.Scalar(scalar) else { return nil }
        Unicode.UTF8.encode(value) { out.append($0) }
      default:
        return nil
      }
      runStart = at
    }
    return nil
  }

  /// Four hex digits.
  private mutating func hex4() -> UInt32? {
    guard bytes.count - at >= 4 else { return nil }
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let digit = hexValue(bytes[at]) else { return nil }
      value = value << 4 | UInt32(digit)
      at += 1
    }
    return value
  }
}
