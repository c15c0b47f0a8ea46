import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// A write that fails (a full disk) leaves no gap in the sequence numbers and no damage.
@Suite struct JournalFailureTests {
  func messages(_ count: Int, _ label: String) -> [Event] {
    (0..<count).map { index in
      Event(space: "s", opId: "op_\(label)", .message(text: "\(label) \(index)"))
    }
  }

  /// The disk fills up part-way through a record (0 bytes, inside the first record, and
  /// inside the second of two): the append throws, and the next one takes the next `seq`.
  @Test(arguments: [0, 25, 200])
  func aFailedAppendLeavesNoGapAndNoDamage(writtenBeforeFailure: Int) throws {
    let folder = TempFolder("journal-full")
    let path = folder.file("journal.jsonl")
    let journal = try Journal(path: path)
    try journal.append(messages(3, "before"), sync: true)
    let stored = try #require(FileManager.default.contents(atPath: path))

    journal.failNextWrite(afterBytes: writtenBeforeFailure)
    let lost = messages(2, "lost")
    #expect(SpacesJSON.line(lost[0]).utf8.count + 1 < 200, "200 bytes end inside the second record")
    do {
      try journal.append(lost, sync: true)
      Issue.record("the append succeeded")
    } catch {
      #expect(error.code == .journalError)
      #expect(error.errno == ENOSPC)
      #expect(error.message.contains("disk full"))
    }
    #expect(journal.lastSeq == 3)
    // What was stored before is untouched, and no part of the failed append stays.
    #expect(FileManager.default.contents(atPath: path) == stored)

    let next = try journal.append(messages(2, "after"), sync: true)
    #expect(next.map(\.seq) == [4, 5])
    let read = try Journal.read(path: path)
    #expect(read.issues.isEmpty)
    #expect(read.events.map(\.seq) == [1, 2, 3, 4, 5])
    #expect(read.events.compactMap(\.messageText) == ["before 0", "before 1", "before 2", "after 0", "after 1"])
    // A new writer (another process, or after a restart) agrees.
    #expect(try Journal(path: path).lastSeq == 5)
  }

  /// Through a space: the operation whose journal write fails is answered with
  /// `journalError`, and the next operation's events follow on with no gap.
  @Test func anOperationAfterAFailedWriteContinuesTheSequence() async throws {
    let folder = TempFolder("journal-full-space")
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "s", backend: .host)
    let space = try SpacesRuntime(home: home).space("s")
    #expect(await space.submit(.message(text: "one")).status == .completed)
    let before = space.journal.lastSeq

    space.journal.failNextWrite(afterBytes: 7)
    let failed = await space.submit(.createFile(path: "a.txt", content: "x", encoding: .utf8))
    #expect(failed.status == .failed)
    #expect(failed.error?.code == "journalError")
    #expect(space.journal.lastSeq == before)

    #expect(await space.submit(.message(text: "two")).status == .completed)
    let read = try Journal.read(path: home.journalPath("s"))
    #expect(read.issues.isEmpty)
    #expect(read.events.map(\.seq) == Array(1...read.events.count))
    #expect(read.events.compactMap(\.messageText) == ["one", "two"])
    #expect(!read.events.contains { $0.opId == failed.id })
  }
}

extension Event {
  /// The text of a `message` event.
  fileprivate var messageText: String? {
    if case .message(let text) = payload { text } else { nil }
  }
}
