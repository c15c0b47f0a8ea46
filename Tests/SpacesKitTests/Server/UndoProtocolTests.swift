import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// `op.changes`, `op.undo` and `space.restore` over the real socket: roles enforced by the server.
@Suite struct UndoProtocolTests {
  @Test func agentsGetARoleErrorForUndoAndRestoreButMayReadChanges() async throws {
    let server = try await TestServer.start(policy: .permissive)
    defer { Task { await server.stop() } }
    let agent = try await server.agent(space: "s")
    let supervisor = try await server.supervisor()
    let created = try await agent.submit(.createFile(path: "a.txt", content: "one\n", encoding: .utf8), to: "s")
    #expect(created.status == .completed)

    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.undo(created.id, in: "s") }
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.restore("s", before: created.id) }
    // Refused before reading params: even a hostile id is answered with the role error.
    await expectRPCError(RPCErrorCode.forbidden) { _ = try await agent.undo("../../x\u{0}", in: "s") }

    let seen = try await agent.changes(of: created.id, in: "s")
    #expect(seen.status == "recorded")
    #expect(seen.diff?.contains("+ one") == true, "\(seen)")
    #expect(try await agent.changeList(in: "s").records.map(\.op) == [created.id])

    let undone = try await supervisor.undo(created.id, in: "s")
    #expect(undone.undid == [created.id])
    #expect(!FileManager.default.fileExists(atPath: server.home.ownWorkspace("s") + "/a.txt"))
    // Undoing it again is refused, naming the undo.
    do throws(SpacesError) {
      _ = try await supervisor.undo(created.id, in: "s")
      Issue.record("a second undo should be refused")
    } catch {
      #expect(error.code == .undoRefused && error.message.contains(undone.id), "\(error.message)")
    }
    let restored = try await supervisor.restore("s", before: undone.id)
    #expect(restored.undid == [undone.id])
    #expect(FileManager.default.fileExists(atPath: server.home.ownWorkspace("s") + "/a.txt"))
  }
}
