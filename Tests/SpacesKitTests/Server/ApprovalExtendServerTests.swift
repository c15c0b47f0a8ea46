import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// `approval.extend` and `op.submit`'s `reason` on a real socket: the server enforces the role
/// and checks every number before anything moves.
@Suite struct ApprovalExtendServerTests {
  @Test func onlyASupervisorExtendsAndHostileParamsAreRefused() async throws {
    let server = try await TestServer.start(policy: .standard)
    defer { Task { await server.stop() } }
    try "SECRET=1\n".write(toFile: server.home.load("s").workspace + "/.env", atomically: true, encoding: .utf8)
    let agent = try await server.agent(space: "s")
    let supervisor = try await server.supervisor()
    let said = "the tests read DATABASE_URL from .env"
    let submitted = Task { try await agent.submit(.readFile(path: ".env"), to: "s", reason: said) }
    var waiting: [ApprovalRequest] = []
    try await eventually("the approval request") {
      waiting = try await supervisor.approvals(space: "s")
      return !waiting.isEmpty
    }
    let request = try #require(waiting.first)
    #expect(request.reason == said)
    #expect(request.op == .readFile(path: ".env"))

    // The agent can't give its own request more time, whatever it sends.
    await expectRPCError(RPCErrorCode.forbidden) { try await agent.extendApproval(request.id, seconds: 60) }
    let raw = try RawSocket(unixPath: server.socketPath)
    for params in [#"{"id":"\#(request.id)","seconds":60}"#, #"{"seconds":"x"}"#, "{}"] {
      let answer = await raw.request(#"{"jsonrpc":"2.0","id":1,"method":"approval.extend","params":\#(params)}"#)
      #expect(answer?.errorCode == RPCErrorCode.forbidden, "\(params)")
      #expect(answer?.errorMessage.contains("an agent can't give approval requests more time") == true)
    }

    // A supervisor: every hostile number is -32602 naming the field, and nothing moves.
    let sup = try RawSocket(unixPath: server.socketPath)
    let hello = await sup.request(
      #"{"jsonrpc":"2.0","id":1,"method":"hello","params":{"role":"supervisor","token":"\#(server.token)"}}"#)
    #expect(hello?["result"] != nil)
    for seconds in ["0", "-5", "3601", "3.5", "1e30", "99999999999999999999", "\"60\"", "true", "[]"] {
      let answer = await sup.request(
        #"{"jsonrpc":"2.0","id":2,"method":"approval.extend","params":{"id":"\#(request.id)","seconds":\#(seconds)}}"#)
      #expect(answer?.errorCode == RPCErrorCode.invalidParams, "\(seconds): \(String(describing: answer))")
      #expect(answer?.errorMessage.contains("\"seconds\" must be a whole number from 1 to 3600") == true, "\(seconds)")
    }
    let noID = await sup.request(#"{"jsonrpc":"2.0","id":3,"method":"approval.extend","params":{"seconds":5}}"#)
    #expect(noID?.errorCode == RPCErrorCode.invalidParams)
    #expect(try await supervisor.approvals(space: "s").first?.deadline == request.deadline)

    let extended = try await supervisor.extendApproval(request.id, seconds: 120)
    #expect(extended.id == request.id)
    #expect(extended.seconds == 120)
    #expect(extended.totalSeconds == 120)
    #expect(try await supervisor.approvals(space: "s").first?.deadline == extended.deadline)
    let byDefault = try await supervisor.extendApproval(request.id)
    #expect(byDefault.seconds == 300)  // the standard policy's approvalTimeoutSeconds
    #expect(byDefault.totalSeconds == 420)

    await expectRPCError(RPCErrorCode.failed) { try await supervisor.extendApproval("op_unknown", seconds: 5) }

    try await supervisor.resolveApproval(request.id, .once)
    let result = try await submitted.value
    #expect(result.status == .completed)
    await expectRPCError(RPCErrorCode.failed) { try await supervisor.extendApproval(request.id, seconds: 5) }

    let events = try Journal.read(path: server.home.journalPath("s")).events.filter { $0.opId == request.id }
    let received = events.first { $0.type == .received }
    guard case .received(_, _, said) = received?.payload else {
      Issue.record("the agent's reason is not journaled: \(String(describing: received))")
      return
    }
    let extensions = events.compactMap { event -> (actor: Event.Actor, deadline: String, seconds: Int)? in
      if case .approvalExtended(let actor, let deadline, let seconds, _) = event.payload {
        (actor, deadline, seconds)
      } else {
        nil
      }
    }
    #expect(extensions.map(\.seconds) == [120, 300])
    #expect(extensions.last?.deadline == byDefault.deadline)
    #expect(extensions.allSatisfy { $0.actor == .person })
    await agent.close()
    await supervisor.close()
  }

  @Test func aReasonTooLongOrNotTextIsRefusedBeforeAnythingRuns() async throws {
    let server = try await TestServer.start()
    defer { Task { await server.stop() } }
    let raw = try RawSocket(unixPath: server.socketPath)
    let op = #"{"kind":"message","text":"hi"}"#
    for (reason, expected) in [
      ("\"\(String(repeating: "x", count: 501))\"", "\"reason\" is 501 characters long; it may have at most 500"),
      ("42", "\"reason\" must be a string"),
    ] {
      let answer = await raw.request(
        #"{"jsonrpc":"2.0","id":1,"method":"op.submit","params":{"space":"s","op":\#(op),"reason":\#(reason)}}"#)
      #expect(answer?.errorCode == RPCErrorCode.invalidParams)
      #expect(answer?.errorMessage.contains(expected) == true, "\(answer?.errorMessage ?? "")")
    }
    // A reason inside the operation is an unknown field of the operation.
    let inside = await raw.request(
      #"{"jsonrpc":"2.0","id":2,"method":"op.submit","params":{"space":"s","op":{"kind":"message","text":"hi","reason":"x"}}}"#
    )
    #expect(inside?.errorCode == RPCErrorCode.invalidParams)
    #expect(inside?.errorMessage.contains("unknown field \"reason\" for message") == true)
    #expect(try Journal.read(path: server.home.journalPath("s")).events.isEmpty)
  }
}
