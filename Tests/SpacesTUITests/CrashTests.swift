import Foundation
import SpacesTestSupport
import Testing

/// The journal survives a writer killed with SIGKILL in the middle of a stream.
@Suite struct CrashTests {
  let home = CLIHome()

  @Test func aKilledWriterLosesNoAcknowledgedOperation() async throws {
    #expect(try await home.run("space", "create", "s", "--backend", "host", "--policy", "permissive").status == 0)
    var acknowledged: [String] = []
    for index in 0..<5 {
      let run = try await home.run("op", "s", #"{"kind":"createFile","path":"f\#(index)","content":"\#(index)"}"#)
      #expect(run.status == 0)
      acknowledged.append(try #require(run.json?["id"] as? String))
    }

    // A command that streams output for a long time, killed while the journal grows.
    let journalPath = home.path + "/spaces/s/journal.jsonl"
    let sizeBefore = try #require(try FileManager.default.attributesOfItem(atPath: journalPath)[.size] as? Int)
    let writer = Process()
    writer.executableURL = URL(fileURLWithPath: Binary.path)
    writer.arguments = ["op", "s", #"{"kind":"shell","command":"while :; do echo line; done","timeoutMs":60000}"#]
    writer.environment = home.environment
    writer.standardOutput = FileHandle.nullDevice
    writer.standardError = FileHandle.nullDevice
    try writer.run()
    try await eventually("the journal to grow while the command streams") {
      let size = try FileManager.default.attributesOfItem(atPath: journalPath)[.size] as? Int ?? 0
      return size > sizeBefore + 200_000
    }
    kill(writer.processIdentifier, SIGKILL)
    writer.waitUntilExit()
    #expect(writer.terminationReason == .uncaughtSignal)

    // Reopening keeps every acknowledged operation, with its completion.
    let events = try await home.journal("s")
    for id in acknowledged {
      #expect(events.contains { $0["opId"] as? String == id && $0["type"] as? String == "completed" })
    }
    let seqs = events.compactMap { $0["seq"] as? Int }
    #expect(seqs == Array(1...seqs.count))

    // The space keeps working, and its sequence keeps growing.
    let after = try await home.run("op", "s", #"{"kind":"readFile","path":"f4"}"#)
    #expect(after.status == 0)
    #expect(after.json?["content"] as? String == "4")
    let reread = try await home.journal("s")
    #expect((reread.last?["seq"] as? Int ?? 0) > (seqs.last ?? 0))
    #expect(reread.last?["type"] as? String == "completed")
  }
}
