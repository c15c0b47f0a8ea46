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
}
