import Foundation
import NIOCore

/// One inbound line, or the news that a line was over the limit (and is being skipped).
package enum InboundLine: Sendable {
  /// A line; `held` keeps what a large line took of a budget while it was read (the server's
  /// inbound budget, see ``LineAccount``), to be released once the line is taken.
  case line(ByteBuffer, held: (any LineShare)? = nil)
  case tooLong(limit: Int)
}

/// What a line being read takes of a budget while it is read: the server counts large request
/// lines (see `InboundAccount` in the runtime); a client reads without one.
package protocol LineAccount: Sendable {
  /// The line being read has `partial` bytes so far.
  func reading(_ partial: Int)
  /// The line ended: what it took goes with it.
  func lineEnded() -> (any LineShare)?
  /// The line was over the limit and is being dropped: what it took is given back.
  func lineDropped()
}

/// A share of a budget that a line holds until it is released.
package protocol LineShare: AnyObject, Sendable {
  /// Gives the share back.
  func release()
}

/// Splits a byte stream at newlines without ever holding more than `maxLength` bytes of one line.
///
/// A line longer than the limit is reported once as ``InboundLine/tooLong(limit:)`` as soon as
/// it passes the limit, and its bytes are dropped as they arrive up to the next newline. With an
/// ``LineAccount``, a line being read takes its share of the server's inbound budget as it
/// grows large, and hands it on with the line.
package struct LineDecoder: ByteToMessageDecoder {
  package typealias InboundOut = InboundLine

  let maxLength: Int
  let account: (any LineAccount)?
  private var scanned = 0
  private var discarding = false

  package init(maxLength: Int, account: (any LineAccount)? = nil) {
    self.maxLength = maxLength
    self.account = account
  }

  mutating package func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    let view = buffer.readableBytesView
    if let newline = view[(view.startIndex + scanned)...].firstIndex(of: 0x0A) {
      let length = newline - view.startIndex
      scanned = 0
      if discarding || length > maxLength {
        buffer.moveReaderIndex(forwardBy: length + 1)
        if !discarding { context.fireChannelRead(wrapInboundOut(.tooLong(limit: maxLength))) }
        discarding = false
        account?.lineDropped()
        return .continue
      }
      guard var line = buffer.readSlice(length: length) else { return .needMoreData }
      buffer.moveReaderIndex(forwardBy: 1)
      if line.readableBytesView.last == 0x0D { line.moveWriterIndex(to: line.writerIndex - 1) }
      context.fireChannelRead(wrapInboundOut(.line(line, held: account?.lineEnded())))
      return .continue
    }
    if discarding || view.count > maxLength {
      if !discarding { context.fireChannelRead(wrapInboundOut(.tooLong(limit: maxLength))) }
      discarding = true
      scanned = 0
      buffer.moveReaderIndex(forwardBy: view.count)
      account?.lineDropped()
      return .needMoreData
    }
    scanned = view.count
    account?.reading(view.count)
    return .needMoreData
  }

  mutating package func decodeLast(
    context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
  ) throws -> DecodingState {
    while try decode(context: context, buffer: &buffer) == .continue {}
    return .needMoreData
  }
}

/// The fields of a JSON-RPC message that say what it is (params and result are decoded later).
package struct MessageHeader: Decodable {
  package var jsonrpc: String?
  package var id: RPCID?
  package var hasID: Bool
  package var idIsValid: Bool
  package var method: String?
  package var paramsKind: ParamsKind
  package var hasResult: Bool
  package var error: RPCError?

  package enum ParamsKind { case none, object, other }

  private enum Keys: String, CodingKey { case jsonrpc, id, method, params, result, error }

  package init(
    jsonrpc: String?, id: RPCID?, hasID: Bool, idIsValid: Bool, method: String?, paramsKind: ParamsKind,
    hasResult: Bool, error: RPCError?
  ) {
    self.jsonrpc = jsonrpc
    self.id = id
    self.hasID = hasID
    self.idIsValid = idIsValid
    self.method = method
    self.paramsKind = paramsKind
    self.hasResult = hasResult
    self.error = error
  }

  package init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: Keys.self)
    jsonrpc = try? container.decodeIfPresent(String.self, forKey: .jsonrpc)
    hasID = container.contains(.id)
    id = try? container.decodeIfPresent(RPCID.self, forKey: .id)
    idIsValid = !hasID || id != nil || ((try? container.decodeNil(forKey: .id)) ?? false)
    method = try? container.decodeIfPresent(String.self, forKey: .method)
    if !container.contains(.params) || ((try? container.decodeNil(forKey: .params)) ?? false) {
      paramsKind = .none
    } else if (try? container.nestedContainer(keyedBy: Keys.self, forKey: .params)) != nil {
      paramsKind = .object
    } else {
      paramsKind = .other
    }
    hasResult = container.contains(.result)
    error = try? container.decodeIfPresent(RPCError.self, forKey: .error)
  }
}

/// Decodes the `params` member of a message.
package struct ParamsBox<P: Decodable>: Decodable {
  package var params: P
}

/// Decodes the `result` member of a response.
package struct ResultBox<R: Decodable>: Decodable {
  package var result: R
}

/// Encodes JSON-RPC messages as lines.
package enum Wire {
  /// A response: `result` or `error` beside `jsonrpc` and `id` (written even when null).
  private struct Response<Body: Encodable>: Encodable {
    var id: RPCID?
    var body: Body
    var member: CodingKeys

    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode("2.0", forKey: .jsonrpc)
      try container.encode(id, forKey: .id)
      try container.encode(body, forKey: member)
    }

    enum CodingKeys: String, CodingKey { case jsonrpc, id, result, error }
  }

  private struct Request<P: Encodable>: Encodable {
    var jsonrpc = "2.0"
    var id: RPCID?
    var method: String
    var params: P
  }

  static func encode<T: Encodable>(_ value: T) -> ByteBuffer {
    let data = (try? SpacesJSON.encoder.encode(value)) ?? Data("{}".utf8)
    // One copy into a buffer of the exact size (appending the newline to `data` could copy it
    // once more to grow it).
    var buffer = ByteBufferAllocator().buffer(capacity: data.count + 1)
    buffer.writeBytes(data)
    buffer.writeInteger(UInt8(0x0A))
    return buffer
  }

  static package func result<R: Encodable>(_ result: R, id: RPCID?) -> ByteBuffer {
    if let result = result as? OperationResult { return self.result(result, id: id) }
    return encode(Response(id: id, body: result, member: .result))
  }

  /// An operation's answer, by the hand-written encoder (the hot path: every `op.submit`).
  static func result(_ result: OperationResult, id: RPCID?) -> ByteBuffer {
    var writer = JSONWriter(capacity: 128 + (result.content?.utf8.count ?? 0) + (result.stdout?.utf8.count ?? 0))
    writer.beginObject()
    writer.key("id")
    write(id, to: &writer)
    writer.member("jsonrpc", "2.0")
    writer.key("result")
    result.write(to: &writer)
    writer.endObject()
    writer.bytes.append(0x0A)
    return ByteBuffer(bytes: writer.bytes)
  }

  /// An `event` notification (an operation's events with `requestId`, a subscription's with
  /// `subscription`), by the hand-written encoder: output events are most of what is sent.
  static package func event(_ event: Event, requestId: RPCID? = nil, subscription: String? = nil) -> ByteBuffer {
    var writer = JSONWriter(capacity: 256 + (event.output?.data.utf8.count ?? 0))
    writer.beginObject()
    writer.member("jsonrpc", "2.0")
    writer.member("method", "event")
    writer.key("params")
    writer.beginObject()
    writer.key("event")
    event.write(to: &writer)
    if let requestId {
      writer.key("requestId")
      write(requestId, to: &writer)
    }
    writer.member("subscription", subscription)
    writer.endObject()
    writer.endObject()
    writer.bytes.append(0x0A)
    return ByteBuffer(bytes: writer.bytes)
  }

  private static func write(_ id: RPCID?, to writer: inout JSONWriter) {
    switch id {
    case .none: writer.null()
    case .number(let number): writer.integer(number)
    case .string(let string): writer.string(string)
    }
  }

  static package func error(_ error: RPCError, id: RPCID?) -> ByteBuffer {
    encode(Response(id: id, body: error, member: .error))
  }

  static package func request<P: Encodable>(_ method: String, _ params: P, id: RPCID?) -> ByteBuffer {
    encode(Request(id: id, method: method, params: params))
  }

  /// The message for a JSON decoding failure, naming the field.
  static func describe(_ error: any Error) -> String {
    SpacesJSON.describe(error)
  }
}
