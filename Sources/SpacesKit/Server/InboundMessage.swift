import Foundation
import SpacesModel

/// What one inbound line is, decided from its text alone, before roles, spaces or params.
///
/// The pure first step of ``ServerConnection/receive(_:)`` (and of `spaces bench fuzz`).
enum InboundMessage: Sendable {
  /// Nothing to do: a blank line or a stray response.
  case ignored
  /// Not a valid request: answered with `error` (to `id`) when `respond` is true.
  case rejected(RPCError, id: RPCID?, respond: Bool)
  /// A request; a notification (nothing is answered) when `respond` is false.
  case request(ServerConnection.Request, respond: Bool)

  /// Reads one line (without its newline).
  init(line data: Data) {
    if data.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
      self = .ignored
      return
    }
    // An ordinary request is read in one pass (``HeaderScan``); any other line by Foundation.
    let scanned = data.withUnsafeBytes { HeaderScan.scan($0) }
    let header: MessageHeader
    do {
      header = try scanned?.header ?? SpacesJSON.decoder.decode(MessageHeader.self, from: data)
    } catch {
      if (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil {
        let batch = data.first { $0 != 0x20 && $0 != 0x09 } == UInt8(ascii: "[")
        let why = batch ? "batches are not supported; send one request per line" : "a request must be a JSON object"
        self = .rejected(RPCError(RPCErrorCode.invalidRequest, why), id: nil, respond: true)
      } else {
        self = .rejected(RPCError(RPCErrorCode.parseError, "the line is not valid JSON"), id: nil, respond: true)
      }
      return
    }
    guard header.idIsValid else {
      self = .rejected(
        RPCError(RPCErrorCode.invalidRequest, "\"id\" must be a string or a whole number (at most \(Int.max))"),
        id: nil, respond: true)
      return
    }
    let id = header.id
    let respond = header.hasID
    guard header.jsonrpc == "2.0", let method = header.method else {
      if header.jsonrpc == "2.0", header.hasResult || header.error != nil {
        self = .ignored  // a stray response
        return
      }
      let why = header.jsonrpc == "2.0" ? "the request has no \"method\" string" : "\"jsonrpc\" must be \"2.0\""
      self = .rejected(
        RPCError(RPCErrorCode.invalidRequest, why), id: id, respond: respond || header.method == nil)
      return
    }
    guard header.paramsKind != .other else {
      self = .rejected(
        RPCError(RPCErrorCode.invalidParams, "\"params\" must be an object"), id: id, respond: respond)
      return
    }
    self = .request(
      ServerConnection.Request(
        id: id, method: method, data: header.paramsKind == .object ? data : nil,
        paramsRange: scanned?.params.map { (data.startIndex + $0.lowerBound)..<(data.startIndex + $0.upperBound) },
        respond: respond),
      respond: respond)
  }
}
