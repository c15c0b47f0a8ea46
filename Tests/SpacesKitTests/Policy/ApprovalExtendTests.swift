import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// Moving an approval request's deadline (`+` in the workbench, `approval.extend`), and the
/// agent's stated reason that travels with a request.
@Suite struct ApprovalExtendTests {
  static func request(_ id: String = "op_1", deadline: String = "2026-01-01T00:00:00.000Z") -> ApprovalRequest {
    ApprovalRequest(
      id: id, space: "s", op: .shell(command: "ls", timeoutMs: nil), decision: Decision(.ask, reasons: ["because"]),
      requested: "2026-01-01T00:00:00.000Z", deadline: deadline, suggestedRules: [])
  }

  /// Starts waiting on `queue` and returns the wait once the request is registered (or, with a
  /// short timeout on a busy machine, already over).
  static func waiting(
    _ queue: ApprovalQueue, _ id: String = "op_1", timeout: Duration
  ) async throws -> Task<ApprovalResolution, Never> {
    let over = LockedValue(false)
    let task = Task {
      let resolution = await queue.wait(for: request(id), timeout: timeout)
      over.withValue { $0 = true }
      return resolution
    }
    try await eventually("the request to wait") {
      queue.pending.contains { $0.id == id } || over.withValue { $0 }
    }
    return task
  }

  @Test func anExtensionKeepsTheRequestPastItsFirstDeadline() async throws {
    let queue = ApprovalQueue()
    let clock = ContinuousClock()
    let start = clock.now
    let wait = try await Self.waiting(queue, timeout: .milliseconds(400))
    let before = try #require(queue.pending.first?.deadline)
    let extended = try queue.extend("op_1", by: 2)
    #expect(extended.seconds == 2)
    #expect(extended.totalSeconds == 2)
    #expect(queue.pending.first?.deadline == extended.deadline)
    #expect(extended.deadline > before)
    // Well past the first deadline: the old timer must not end it.
    try await Task.sleep(for: .milliseconds(900))
    #expect(queue.pending.map(\.id) == ["op_1"])
    let resolution = await wait.value
    #expect(resolution.choice == nil && !resolution.cancelled)
    #expect(resolution.extendedSeconds == 2)
    let waited = clock.now - start
    #expect(waited >= .milliseconds(2300), "\(waited)")
  }

  @Test func withoutSecondsItAddsTheTimeFirstGiven() async throws {
    let queue = ApprovalQueue()
    let wait = try await Self.waiting(queue, timeout: .seconds(300))
    let extended = try queue.extend("op_1")
    #expect(extended.seconds == 300)
    #expect(extended.totalSeconds == 300)
    try queue.resolve("op_1", with: ApprovalResolution(choice: .once))
    let resolution = await wait.value
    #expect(resolution.choice == .once)
    #expect(resolution.extendedSeconds == 300)
  }

  @Test func anHourMoreInAllIsTheMost() async throws {
    let queue = ApprovalQueue()
    let wait = try await Self.waiting(queue, timeout: .seconds(2000))
    #expect(try queue.extend("op_1").seconds == 2000)
    // Only 1600 s are left of the hour: that much is added, and said.
    let second = try queue.extend("op_1")
    #expect(second.seconds == 1600)
    #expect(second.totalSeconds == ApprovalQueue.maxExtensionSeconds)
    #expect(throws: SpacesError.self) { try queue.extend("op_1", by: 1) }
    do {
      _ = try queue.extend("op_1", by: 1)
    } catch {
      #expect(error.code == .limitExceeded)
      #expect(error.message.contains("60 minutes more already"))
    }
    try queue.resolve("op_1", with: ApprovalResolution(choice: .deny))
    _ = await wait.value
  }

  @Test func hostileSecondsAreRefusedWithAClearError() async throws {
    let queue = ApprovalQueue()
    let wait = try await Self.waiting(queue, timeout: .seconds(60))
    for seconds in [0, -1, -3600, 3601, Int.max, Int.min] {
      do {
        _ = try queue.extend("op_1", by: seconds)
        Issue.record("\(seconds) was taken")
      } catch {
        #expect(error.code == .invalidRequest)
        #expect(error.message.contains("from 1 to 3600"), "\(error.message)")
      }
    }
    #expect(queue.pending.first?.deadline == Self.request().deadline)
    try queue.resolve("op_1", with: ApprovalResolution(choice: .once))
    _ = await wait.value
  }

  @Test func aRequestNoLongerWaitingCantBeExtended() async throws {
    let queue = ApprovalQueue()
    #expect(throws: SpacesError.self) { try queue.extend("op_nobody", by: 10) }
    do { _ = try queue.extend("op_nobody", by: 10) } catch { #expect(error.code == .notFound) }
    let wait = try await Self.waiting(queue, timeout: .seconds(60))
    try queue.resolve("op_1", with: ApprovalResolution(choice: .once))
    _ = await wait.value
    do {
      _ = try queue.extend("op_1", by: 10)
      Issue.record("a resolved request was extended")
    } catch {
      #expect(error.code == .approvalClosed)
      #expect(error.message.contains("already resolved (once)"))
    }
    let timedOut = try await Self.waiting(queue, "op_2", timeout: .milliseconds(50))
    _ = await timedOut.value
    do { _ = try queue.extend("op_2", by: 10) } catch { #expect(error.code == .approvalClosed) }
  }

  /// Extensions racing the timer: the request ends exactly once, by a timer whose deadline is
  /// current, and never before the last deadline given.
  @Test func extensionsRacingTheTimerNeverEndItEarly() async throws {
    for round in 0..<8 {
      let queue = ApprovalQueue()
      let id = "op_\(round)"
      let clock = ContinuousClock()
      let start = clock.now
      let wait = try await Self.waiting(queue, id, timeout: .milliseconds(20))
      // Sometimes right at the deadline, so the old timer and the extension race.
      if round % 2 == 1 { try await Task.sleep(for: .milliseconds(15 + round)) }
      var extended = false
      if (try? queue.extend(id, by: 1)) != nil { extended = true }
      let resolution = await wait.value
      #expect(resolution.choice == nil)
      if extended {
        #expect(clock.now - start >= .milliseconds(1000))
        #expect(resolution.extendedSeconds == 1)
      }
    }
  }

  @Test func aStatedReasonIsBoundedAndShownSafely() throws {
    #expect(try StatedReason.validate(nil) == nil)
    #expect(try StatedReason.validate("  \n ") == nil)
    #expect(try StatedReason.validate("to run the tests") == "to run the tests")
    #expect(try StatedReason.validate(String(repeating: "é", count: 500))?.count == 500)
    do {
      _ = try StatedReason.validate(String(repeating: "x", count: 501))
      Issue.record("501 characters were taken")
    } catch {
      #expect(error.code == .invalidRequest)
      #expect(
        error.message == "\"reason\" is 501 characters long; it may have at most 500: say why in a sentence or two")
    }
    // Escape sequences, line breaks and text-reordering characters can't reach the terminal or
    // start a line of their own.
    #expect(StatedReason.display("ok\u{1B}[2J\u{1B}]0;title\u{07}") == "ok^[[2J^[]0;title^G")
    #expect(StatedReason.display("line one\n\nwhy: the policy says yes\t!") == "line one why: the policy says yes !")
    #expect(StatedReason.display("abc\u{202E}fed\u{2066}x\u{9B}") == "abc\u{FFFD}fed\u{FFFD}x\u{FFFD}")
    // Cut at 500 characters as shown (each escape shows as two).
    let flood = StatedReason.display(String(repeating: "\u{1B}", count: 600))
    #expect(flood.unicodeScalars.count == 500)
    #expect(flood == String(repeating: "^[", count: 250))
  }

  @Test func theReasonOnTheWireIsCheckedWhereItIsDecoded() throws {
    func decode(_ json: String) throws -> SubmitParams {
      try SpacesJSON.decoder.decode(SubmitParams.self, from: Data(json.utf8))
    }
    let op = #""op":{"kind":"message","text":"hi"}"#
    #expect(try decode(#"{"space":"s",\#(op),"reason":"why not"}"#).reason == "why not")
    #expect(try decode(#"{"space":"s",\#(op)}"#).reason == nil)
    #expect(try decode(#"{"space":"s",\#(op),"reason":null}"#).reason == nil)
    for bad in [#""reason":7"#, #""reason":"\#(String(repeating: "x", count: 501))""#] {
      do {
        _ = try decode(#"{"space":"s",\#(op),\#(bad)}"#)
        Issue.record("\(bad) was taken")
      } catch {
        #expect(SpacesJSON.describe(error).contains("\"reason\""), "\(SpacesJSON.describe(error))")
      }
    }
    // In the operation itself it is an unknown field, as any other.
    #expect(throws: SpacesError.self) { try Op.parse(#"{"kind":"message","text":"hi","reason":"x"}"#) }
  }
}
