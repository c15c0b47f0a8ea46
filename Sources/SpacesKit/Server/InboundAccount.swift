import Foundation
import NIOCore
import SpacesModel

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
final class InboundAccount: LineAccount {
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
  func lineEnded() -> (any LineShare)? {
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

extension ContentHold: LineShare {}
