import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// Approval flows through a real space: an ask waits for a person (or the timeout).
@Suite struct ApprovalTests {
  let folder = TempFolder("approvals")
  var home: SpacesHome { SpacesHome(path: folder.path) }

  func makeSpace(policy: String? = nil, supervised: Bool = true) throws -> (SpacesRuntime, Space) {
    _ = try home.create(name: "s", backend: .host)
    if let policy { try policy.write(toFile: home.policyPath("s"), atomically: true, encoding: .utf8) }
    try "SECRET=1\n".write(toFile: home.load("s").workspace + "/.env", atomically: true, encoding: .utf8)
    let runtime = SpacesRuntime(home: home, supervised: supervised)
    return (runtime, try runtime.space("s"))
  }

  /// Waits until `count` requests are pending, and returns them.
  func pending(_ space: Space, count: Int = 1) async throws -> [ApprovalRequest] {
    let clock = ContinuousClock()
    let deadline = clock.now + patience
    while clock.now < deadline {
      let pending = space.approvals.pending
      if pending.count >= count { return pending }
      try await Task.sleep(for: .milliseconds(5))
    }
    // Once more: the deadline may have passed while this task waited for a thread.
    if space.approvals.pending.count >= count { return space.approvals.pending }
    Issue.record("no approval request appeared")
    throw CancellationError()
  }

  func journalTypes() throws -> [Event.Kind] {
    try Journal.read(path: home.journalPath("s")).events.map(\.type)
  }

  @Test func onceRunsItAndJournalsWhoDecided() async throws {
    let (runtime, space) = try makeSpace()
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    #expect(request.op == .readFile(path: ".env"))
    #expect(request.decision.decision == .ask)
    #expect(request.decision.reasons.first?.contains("secrets") == true)
    #expect(runtime.pendingApprovals().map(\.id) == [request.id])
    // The person takes a while; the result's duration is the read's, not the wait's.
    try await Task.sleep(for: .seconds(1))
    try runtime.resolveApproval(request.id, with: ApprovalResolution(choice: .once))
    let result = await task.value
    #expect(result.status == .completed)
    #expect(result.content == "SECRET=1\n")
    #expect(result.durationMs < 1000)
    let events = try Journal.read(path: home.journalPath("s")).events
    #expect(events.map(\.type) == [.received, .decision, .approvalRequested, .approvalResolved, .started, .completed])
    #expect(events[3].payload == .approvalResolved(resolution: .once, decidedBy: .person))
    // Once means once: the next read asks again.
    let again = Task { await space.submit(.readFile(path: ".env")) }
    let second = try #require(try await pending(space).first)
    try space.approvals.resolve(second.id, with: ApprovalResolution(choice: .deny))
    #expect(await again.value.status == .denied)
  }

  @Test func theAgentsReasonIsJournaledAndShownWithItsRequest() async throws {
    let (runtime, space) = try makeSpace()
    let said = "I need the database URL from .env to run the migration"
    let task = Task { await space.submit(.readFile(path: ".env"), reason: said) }
    let request = try #require(try await pending(space).first)
    #expect(request.reason == said)
    #expect(runtime.pendingApprovals().first?.reason == said)
    try runtime.resolveApproval(request.id, with: ApprovalResolution(choice: .once))
    #expect(await task.value.status == .completed)
    let events = try Journal.read(path: home.journalPath("s")).events
    let received = try #require(events.first { $0.type == .received })
    #expect(received.payload == .received(actor: .agent, op: .readFile(path: ".env"), reason: said))
    #expect(EventText.body(received).hasSuffix(" — agent says: \"\(said)\""))
    // None, and one too long: that operation fails before anything is journaled.
    #expect(await space.submit(.message(text: "hi")).status == .completed)
    let long = await space.submit(.message(text: "hi"), reason: String(repeating: "x", count: 501))
    #expect(long.status == .failed)
    #expect(long.error?.code == "invalidRequest")
    let after = try Journal.read(path: home.journalPath("s")).events.filter { $0.type == .received }
    #expect(after.count == 2)
    #expect(after.last?.payload == .received(actor: .agent, op: .message(text: "hi")))
  }

  @Test func aPersonExtendsTheDeadlineAndItIsJournaled() async throws {
    let (runtime, space) = try makeSpace(policy: "preset: standard\napprovalTimeoutSeconds: 1\n")
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    let extended = try runtime.extendApproval(request.id, by: 1)
    #expect(extended.seconds == 1)
    #expect(runtime.pendingApprovals().first?.deadline == extended.deadline)
    let result = await task.value
    #expect(result.status == .denied)
    #expect(result.decidedBy == .timeout)
    #expect(result.reason == "nobody approved it within 2 s (1 s, and 1 s more a person gave it)")
    let events = try Journal.read(path: home.journalPath("s")).events
    #expect(
      events.map(\.type) == [.received, .decision, .approvalRequested, .approvalExtended, .approvalResolved, .denied])
    let note = events[3]
    guard case .approvalExtended(.person, let deadline, 1, _) = note.payload else {
      Issue.record("not a person's extension by 1 s: \(note)")
      return
    }
    #expect(deadline == extended.deadline)
    #expect(EventText.body(note).hasPrefix("approval: more time, deadline now \(extended.deadline)"))
    do {
      _ = try runtime.extendApproval(request.id, by: 1)
      Issue.record("a request that timed out was extended")
    } catch {
      #expect(error.code == .approvalClosed)
    }
  }

  @Test func denyCarriesTheFeedbackToTheAgent() async throws {
    let (_, space) = try makeSpace()
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    try space.approvals.resolve(
      request.id, with: ApprovalResolution(choice: .deny, feedback: "use the test credentials instead"))
    let result = await task.value
    #expect(result.status == .denied)
    #expect(result.decidedBy == .person)
    #expect(result.reason == "use the test credentials instead")
    let resolved = try Journal.read(path: home.journalPath("s")).events.first { $0.type == .approvalResolved }
    #expect(
      resolved?.payload
        == .approvalResolved(resolution: .deny, decidedBy: .person, reason: "use the test credentials instead"))
  }

  @Test func theFirstResolutionWinsAndLateOnesAreRefused() async throws {
    let (_, space) = try makeSpace()
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .once))
    let second = expectError(.approvalClosed) {
      try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .deny))
    }
    #expect(second?.message.contains("already resolved") == true)
    #expect(await task.value.status == .completed)
    expectError(.notFound) { try space.approvals.resolve("op_nope", with: ApprovalResolution(choice: .once)) }
  }

  @Test func racingResolutionsHaveExactlyOneWinner() async throws {
    let (_, space) = try makeSpace()
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    let wins = await withTaskGroup(of: Bool.self) { group in
      for index in 0..<16 {
        group.addTask {
          let choice: ApprovalChoice = index.isMultiple(of: 2) ? .once : .deny
          return (try? space.approvals.resolve(request.id, with: ApprovalResolution(choice: choice))) != nil
        }
      }
      return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
    }
    #expect(wins == 1)
    _ = await task.value
    #expect(try journalTypes().filter { $0 == .approvalResolved }.count == 1)
  }

  @Test func nobodyDecidingDeniesAtTheTimeoutAndLateAnswersAreRefused() async throws {
    let (_, space) = try makeSpace(policy: "preset: standard\napprovalTimeoutSeconds: 1\n")
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    let result = await task.value
    #expect(result.status == .denied)
    #expect(result.decidedBy == .timeout)
    #expect(result.reason?.contains("within 1 s") == true)
    let late = expectError(.approvalClosed) {
      try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .once))
    }
    #expect(late?.message.contains("timed out") == true)
  }

  @Test func aZeroTimeoutDeniesAtOnce() async throws {
    let (_, space) = try makeSpace(policy: "preset: standard\napprovalTimeoutSeconds: 0\n")
    let result = await space.submit(.readFile(path: ".env"))
    #expect(result.decidedBy == .timeout)
    #expect(result.reason?.contains("approvalTimeoutSeconds is 0") == true)
  }

  @Test func withoutASupervisorAnAskIsDeniedAtOnceWithAWayOut() async throws {
    let (_, space) = try makeSpace(supervised: false)
    let result = await space.submit(.readFile(path: ".env"))
    #expect(result.status == .denied)
    #expect(result.reason?.contains("no supervisor is connected") == true)
  }

  @Test func sessionGrantsLastForTheSession() async throws {
    let (_, space) = try makeSpace()
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .session))
    #expect(await task.value.status == .completed)
    // The same read runs without asking; another protected path still asks.
    #expect(await space.submit(.readFile(path: ".env")).status == .completed)
    let other = Task { await space.submit(.readFile(path: "app/.env")) }
    let next = try #require(try await pending(space).first)
    #expect(next.op == .readFile(path: "app/.env"))
    try space.approvals.resolve(next.id, with: ApprovalResolution(choice: .deny))
    _ = await other.value
    // A restarted runtime has forgotten the grant.
    let restarted = try SpacesRuntime(home: home, supervised: false).space("s")
    #expect(await restarted.submit(.readFile(path: ".env")).status == .denied)
  }

  @Test func alwaysSavesANarrowRuleThatSurvivesARestart() async throws {
    let (_, space) = try makeSpace()
    let before = try String(contentsOfFile: home.policyPath("s"), encoding: .utf8)
    let task = Task { await space.submit(.readFile(path: ".env")) }
    let request = try #require(try await pending(space).first)
    #expect(request.suggestedRules.map(\.paths) == [[".env"]])
    try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .always))
    #expect(await task.value.status == .completed)
    let after = try String(contentsOfFile: home.policyPath("s"), encoding: .utf8)
    #expect(after.hasPrefix(before))
    #expect(after.contains("paths: [\".env\"]"))
    let restarted = try SpacesRuntime(home: home, supervised: false).space("s")
    #expect(await restarted.submit(.readFile(path: ".env")).status == .completed)
    #expect(await restarted.submit(.readFile(path: "app/.env")).status == .denied)
  }

  @Test func requestsQueueFirstInFirstOut() async throws {
    let (_, space) = try makeSpace()
    let first = Task { await space.submit(.readFile(path: ".env")) }
    _ = try await pending(space, count: 1)
    let second = Task { await space.submit(.readFile(path: "b/.env")) }
    let both = try await pending(space, count: 2)
    #expect(both.map(\.op) == [.readFile(path: ".env"), .readFile(path: "b/.env")])
    for request in both { try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .deny)) }
    _ = await (first.value, second.value)
  }

  @Test func anInvalidPolicyFileStopsTheSpaceUntilFixed() async throws {
    let (_, space) = try makeSpace()
    try "preset: standard\nrules: [oops\n".write(toFile: home.policyPath("s"), atomically: true, encoding: .utf8)
    let result = await space.submit(.message(text: "hi"))
    #expect(result.status == .failed)
    #expect(result.error?.code == "invalidConfig")
    #expect(result.error?.message.contains("policy.yaml:") == true)
    try "preset: standard\n".write(toFile: home.policyPath("s"), atomically: true, encoding: .utf8)
    #expect(await space.submit(.message(text: "hi")).status == .completed)
  }
}
