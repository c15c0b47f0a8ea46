import Logging
import NIOCore
import SpacesModel

/// Hands a connection's lines to its ``ServerConnection`` on the event loop that read them,
/// strictly in order, so a request answered without waiting costs no thread wake-up.
///
/// Reading pauses (a `read()` asked for is held back) while a line waits:
/// - a client that doesn't read its answers gets no new ones: while its ``Outbox`` holds more
///   than its pause limit, no line is handled, and the socket's own back-pressure then slows
///   the client's writes;
/// - a large line is held (as text, decoded and journaled) until its request is answered: it
///   takes its turn in the runtime's budget for large contents first (and is parsed off the
///   loop meanwhile), and the lines after it wait with it.
///
/// Lines read while one waits are queued (at most what one read brought). The waits run in a
/// task and come back to the loop; everything else runs on the loop itself.
final class RequestReader: ChannelDuplexHandler {
  typealias InboundIn = InboundLine
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private struct Attached {
    var connection: ServerConnection
    var outbox: Outbox
    var contents: ByteGate
  }

  private let account: InboundAccount
  private let logger: Logger
  private var context: ChannelHandlerContext?
  private var attached: Attached?
  private var lines = CircularBuffer<InboundLine>()
  /// A wait for the outbox to drain, or for a large line's share, is under way.
  private var waiting: Task<Void, Never>?
  /// The first line, large, parsed and holding its share, once its wait is over.
  private var ready: (parsed: ServerConnection.Parsed, hold: ContentHold)?
  /// A read was asked for while lines waited: it is passed on once they are handled.
  private var readHeldBack = false
  /// Lines handled in this turn of the loop, and whether the rest waits for its next round.
  private var handledThisTurn = 0
  private var nextTurnAsked = false

  init(account: InboundAccount, logger: Logger) {
    self.account = account
    self.logger = logger
  }

  /// Starts handing lines to `connection` (lines read before wait for it); on the loop.
  func attach(_ connection: ServerConnection, outbox: Outbox, contents: ByteGate) {
    attached = Attached(connection: connection, outbox: outbox, contents: contents)
    drain()
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    stop()
    self.context = nil
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    lines.append(unwrapInboundIn(data))
    drain()
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    // What one read brought is handled (or waits for the next round): a new turn begins.
    if !nextTurnAsked { handledThisTurn = 0 }
    context.fireChannelReadComplete()
  }

  func read(context: ChannelHandlerContext) {
    if attached == nil || waiting != nil || !lines.isEmpty {
      readHeldBack = true
    } else {
      context.read()
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    stop()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    logger.debug("connection read failed: \(error)")
    context.close(promise: nil)
  }

  /// The connection closed: what waits is dropped.
  private func stop() {
    waiting?.cancel()
    waiting = nil
    ready = nil
    lines.removeAll()
  }

  /// The most lines handled in one turn of the loop (one read's worth, whose lines arrive one
  /// `channelRead` each): the rest wait for its next round, so one connection's pipelined
  /// requests don't keep the loop from the other connections it serves.
  static let linesPerTurn = 16

  /// Handles the lines that may be handled now, in order; then reads on.
  private func drain() {
    guard let attached, let context else { return }
    while waiting == nil, let line = lines.first {
      guard handledThisTurn < Self.linesPerTurn else {
        if !nextTurnAsked {
          nextTurnAsked = true
          let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
          context.eventLoop.execute {
            let reader = bound.value
            reader.nextTurnAsked = false
            reader.handledThisTurn = 0
            reader.drain()
          }
        }
        return
      }
      // Each check below is a look at counters under a lock; nothing here blocks.
      guard attached.outbox.mayRead else {
        let outbox = attached.outbox
        wait {
          await outbox.waitToRead()
          return .goOn
        }
        return
      }
      var parsed: ServerConnection.Parsed?
      var hold: ContentHold?
      if case .line(let buffer, let read?) = line {
        if buffer.readableBytes >= ByteGate.largeFile {
          guard let ready else {
            let taken = ContentHold(turn: attached.connection.largeTurn)
            let bytes = ByteGate.lineCopies * buffer.readableBytes
            let contents = attached.contents
            wait {
              guard await taken.take(bytes, from: contents) else { return .close }
              return .ready(ServerConnection.parse(line), taken)
            }
            return
          }
          (parsed, hold) = (ready.parsed, ready.hold)
          self.ready = nil
        }
        read.release()
        account.lineTaken()
      }
      lines.removeFirst()
      handledThisTurn += 1
      attached.connection.handle(parsed ?? ServerConnection.parse(line), hold: hold)
    }
    if waiting == nil, lines.isEmpty, readHeldBack {
      readHeldBack = false
      context.read()
    }
  }

  /// How a wait ended.
  private enum Waited: Sendable {
    /// The lines may be handled on.
    case goOn
    /// The first line is parsed and holds its share.
    case ready(ServerConnection.Parsed, ContentHold)
    /// The connection is to close.
    case close
  }

  /// Runs `body` in a task while the connection's lines wait; back on the loop, the lines are
  /// handled on (a large line whose share can't be taken, as its task was cancelled, closes the
  /// connection).
  private func wait(_ body: @escaping @Sendable () async -> Waited) {
    guard let context else { return }
    let loop = context.eventLoop
    let bound = NIOLoopBound(self, eventLoop: loop)
    waiting = Task {
      let waited = await body()
      loop.execute {
        let reader = bound.value
        guard reader.waiting != nil else { return }  // stopped meanwhile
        reader.waiting = nil
        switch waited {
        case .goOn: break
        case .ready(let parsed, let hold): reader.ready = (parsed, hold)
        case .close:
          reader.context?.close(promise: nil)
          return
        }
        reader.drain()
      }
    }
  }
}
