import Foundation
import NIOCore

/// One inbound line, or the news that a line was over the limit (and is being skipped).
enum InboundLine: Sendable {
  /// A line; `held` keeps what a line of ``ByteGate/largeFile`` or more took of the server's
  /// inbound budget while it was read (see ``InboundAccount``).
  case line(ByteBuffer, held: ContentHold? = nil)
  case tooLong(limit: Int)
}

/// Splits a byte stream at newlines without ever holding more than `maxLength` bytes of one line.
///
/// A line longer than the limit is reported once as ``InboundLine/tooLong(limit:)`` as soon as
/// it passes the limit, and its bytes are dropped as they arrive up to the next newline. With an
/// ``InboundAccount``, a line being read takes its share of the server's inbound budget as it
/// grows past ``ByteGate/largeFile``, and hands it on with the line.
struct LineDecoder: ByteToMessageDecoder {
  typealias InboundOut = InboundLine

  let maxLength: Int
  let account: InboundAccount?
  private var scanned = 0
  private var discarding = false

  init(maxLength: Int, account: InboundAccount? = nil) {
    self.maxLength = maxLength
    self.account = account
  }

  mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
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

  mutating func decodeLast(
    context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
  ) throws -> DecodingState {
    while try decode(context: context, buffer: &buffer) == .continue {}
    return .needMoreData
  }
}

/// What one connection's unfinished request line holds of the server's inbound budget.
///
/// A line is held in memory from its first byte to its newline, and then until the server takes
/// it (reading runs ahead of the requests being handled). Lines under ``ByteGate/largeFile`` are
/// not counted; a line growing past it takes its size from the server's inbound budget (a
/// ``ByteGate``, counted by the reply budget too) in steps of ``ByteGate/largeFile``, and the
/// connection's reading stops (``InboundPause``) until the step is granted. What the line took
/// travels with it (``InboundLine/line(_:held:)``) until the server has taken the line's share of
/// the content budget; one connection has at most one large line read ahead. A connection that
/// has not proved the supervisor token over TCP takes nothing: its reading stops at a large line
/// until `hello` succeeds.
final class InboundAccount: Sendable {
  private struct State {
    var trusted: Bool
    var partial = 0
    var covered = 0
    var generation = 0
    var hold: ContentHold?
    /// A large line was handed on and the server has not taken it yet.
    var ahead = false
    var acquiring: Task<Void, Never>?
    var closed = false
  }

  private let state: LockedValue<State>
  private let gate: ByteGate
  private let resume: @Sendable () -> Void

  /// An account over `gate`; `resume` reads on once a step is granted (the channel's `read()`).
  /// An untrusted account takes nothing for a large line until ``trust()``.
  init(gate: ByteGate, trusted: Bool, resume: @escaping @Sendable () -> Void) {
    self.gate = gate
    self.resume = resume
    state = LockedValue(State(trusted: trusted))
  }

  /// Whether the connection may read on: its line is small, or covered by what it took.
  var mayRead: Bool {
    state.withValue { $0.closed || $0.partial < ByteGate.largeFile || $0.partial <= $0.covered }
  }

  /// The line being read has `partial` bytes so far.
  func reading(_ partial: Int) {
    state.withValue { $0.partial = partial }
    cover()
  }

  /// The line ended: what it took goes with it. The next large line waits for
  /// ``lineTaken()``, so one connection holds at most one large line read ahead.
  func lineEnded() -> ContentHold? {
    nextLine(handedOn: true)
  }

  /// Starts over for the next line; what the last one took is returned, and marks the
  /// connection as having a large line read ahead when it is handed on.
  private func nextLine(handedOn: Bool) -> ContentHold? {
    state.withValue { state in
      defer {
        state.partial = 0
        state.covered = 0
        state.generation += 1
        state.hold = nil
      }
      if handedOn, state.hold != nil { state.ahead = true }
      return state.hold
    }
  }

  /// The server took the line handed on last (and gave back what it held).
  func lineTaken() {
    state.withValue { $0.ahead = false }
    cover()
  }

  /// The line was over the limit and is being dropped: what it took is given back.
  func lineDropped() {
    nextLine(handedOn: false)?.release()
  }

  /// The connection proved the supervisor token: its large lines may be read.
  func trust() {
    state.withValue { $0.trusted = true }
    cover()
  }

  /// The connection closed: a step being waited for is abandoned, and what was taken given back.
  func close() {
    let (task, hold) = state.withValue { state in
      state.closed = true
      defer {
        state.acquiring = nil
        state.hold = nil
      }
      return (state.acquiring, state.hold)
    }
    task?.cancel()
    hold?.release()
  }

  /// Takes the next step for the line being read, unless one is being taken or none is needed.
  private func cover() {
    let step = ByteGate.largeFile
    state.withValue { state in
      guard !state.closed, state.trusted, !state.ahead, state.acquiring == nil, state.partial >= step,
        state.partial > state.covered
      else { return }
      let hold = state.hold ?? ContentHold()
      state.hold = hold
      // Ahead by a step, so the bytes of the reads already under way are covered too.
      let target = (state.partial / step + 2) * step
      let wanted = min(target, gate.limit) - hold.bytes
      let generation = state.generation
      state.acquiring = Task { [gate] in
        let granted = wanted <= 0 ? true : await hold.take(wanted, from: gate)
        self.state.withValue { state in
          state.acquiring = nil
          // A line larger than the whole budget takes all of it and reads on.
          if granted, state.generation == generation {
            state.covered = hold.bytes >= gate.limit ? Int.max : target
          }
        }
        guard granted else { return }
        // The next line may already need its own step.
        self.cover()
        self.resume()
      }
    }
  }
}

/// Stops a connection's reading while its line waits for its share of the inbound budget
/// (see ``InboundAccount``); the account resumes it. A closed connection gives back what it took.
final class InboundPause: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let account: InboundAccount

  init(account: InboundAccount) {
    self.account = account
  }

  func read(context: ChannelHandlerContext) {
    if account.mayRead { context.read() }
  }

  func channelInactive(context: ChannelHandlerContext) {
    account.close()
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    account.close()
  }
}

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
    let header: MessageHeader
    do {
      header = try SpacesJSON.decoder.decode(MessageHeader.self, from: data)
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
      ServerConnection.Request(id: id, method: method, data: header.paramsKind == .object ? data : nil),
      respond: respond)
  }
}

/// The fields of a JSON-RPC message that say what it is (params and result are decoded later).
struct MessageHeader: Decodable {
  var jsonrpc: String?
  var id: RPCID?
  var hasID: Bool
  var idIsValid: Bool
  var method: String?
  var paramsKind: ParamsKind
  var hasResult: Bool
  var error: RPCError?

  enum ParamsKind { case none, object, other }

  private enum Keys: String, CodingKey { case jsonrpc, id, method, params, result, error }

  init(from decoder: any Decoder) throws {
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
struct ParamsBox<P: Decodable>: Decodable {
  var params: P
}

/// Decodes the `result` member of a response.
struct ResultBox<R: Decodable>: Decodable {
  var result: R
}

/// Encodes JSON-RPC messages as lines.
enum Wire {
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

  static func result<R: Encodable>(_ result: R, id: RPCID?) -> ByteBuffer {
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
  static func event(_ event: Event, requestId: RPCID? = nil, subscription: String? = nil) -> ByteBuffer {
    var writer = JSONWriter(capacity: 256 + (event.data?.utf8.count ?? 0))
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

  static func error(_ error: RPCError, id: RPCID?) -> ByteBuffer {
    encode(Response(id: id, body: error, member: .error))
  }

  static func request<P: Encodable>(_ method: String, _ params: P, id: RPCID?) -> ByteBuffer {
    encode(Request(id: id, method: method, params: params))
  }

  /// The message for a JSON decoding failure, naming the field.
  static func describe(_ error: any Error) -> String {
    SpacesJSON.describe(error)
  }
}
