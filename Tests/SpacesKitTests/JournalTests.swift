import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

@Suite struct JournalTests {
  func events(_ count: Int, space: String = "s", op: String = "op_1") -> [Event] {
    (0..<count).map { index in
      Event(space: space, opId: op, .message(text: "message \(index)"))
    }
  }

  @Test func appendsAndReadsBackInOrder() throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    let journal = try Journal(path: path)
    let written = try journal.append(events(3), sync: true)
    #expect(written.map(\.seq) == [1, 2, 3])
    try journal.append(events(2), sync: false)
    #expect(journal.lastSeq == 5)
    let read = try Journal.read(path: path)
    #expect(read.issues.isEmpty)
    #expect(read.events.map(\.seq) == [1, 2, 3, 4, 5])
    #expect(read.events.first?.payload == .message(text: "message 0"))
    // Every line is one JSON object.
    let lines = try #require(folder.read("journal.jsonl")).split(separator: "\n")
    #expect(lines.count == 5)
  }

  /// A reader gives a long journal in batches of bounded size, and the batches together are
  /// exactly what one unbounded read gives.
  @Test func readsInBoundedBatches() throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    let journal = try Journal(path: path)
    for _ in 0..<10 { try journal.append(events(250), sync: false) }
    var reader = try JournalReader(path: path)
    var seqs: [Int] = []
    while true {
      let batch = try reader.readAvailable(final: true, limit: 333)
      #expect(batch.events.count <= 333)
      #expect(batch.issues.isEmpty)
      seqs += batch.events.map(\.seq)
      if batch.events.isEmpty { break }
    }
    #expect(seqs == Array(1...2500))
    // Appended later: the same reader follows on.
    try journal.append(events(3), sync: false)
    #expect(try reader.readAvailable(final: false, limit: 2).events.map(\.seq) == [2501, 2502])
    #expect(try reader.readAvailable(final: false).events.map(\.seq) == [2503])
  }

  /// Resuming from a `seq` starts near it (not at the start of a long journal) and misses
  /// nothing: every event from that `seq` on is read, and few before it.
  @Test(arguments: [1, 2, 777, 12_345, 19_999, 20_000, 20_001, 50_000])
  func startOffsetFindsASequenceNumber(target: Int) throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    let journal = try Journal(path: path)
    // ~9 MB: events of varied sizes, a few of them longer than the search's window.
    for round in 0..<200 {
      var batch = events(100)
      for index in batch.indices {
        let long = round % 20 == 0 && index == 50
        batch[index].payload = .message(
          text: String(repeating: "x", count: long ? 300_000 : (round * 7 + index * 13) % 500))
      }
      try journal.append(batch, sync: false)
    }
    let offset = journal.startOffset(forSeq: target)
    var reader = try JournalReader(path: path, from: offset)
    var read: [Int] = []
    while true {
      let batch = try reader.readAvailable(final: true, limit: 1000)
      #expect(batch.issues.isEmpty)
      read += batch.events.map(\.seq)
      if batch.events.isEmpty { break }
    }
    let wanted = target <= 20_000 ? Array(target...20_000) : []
    #expect(Array(read.drop { $0 < target }) == wanted)
    // Few records before the target are read: at most ~256 KiB of them.
    #expect(read.count { $0 < target } < 2_000)
    if target > 5_000 { #expect(offset > 0) }
  }

  /// Many writers appending with `sync` at once share flushes (group commit): every record is
  /// there once and in order, with fewer flushes than appends.
  @Test func concurrentSyncedAppendsShareFlushes() async throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    let journal = try Journal(path: path)
    let failures = LockedValue(0)
    let done = DispatchSemaphore(value: 0)
    let records = events(1)
    for _ in 0..<8 {
      // Threads of their own (a dispatch queue would run as many at once as there are cores).
      Thread {
        for _ in 0..<40 {
          do { try journal.append(records, sync: true) } catch { failures.withValue { $0 += 1 } }
        }
        done.signal()
      }.start()
    }
    await Sys.offloaded { for _ in 0..<8 { done.wait() } }
    #expect(failures.withValue { $0 } == 0)
    #expect(try Journal.read(path: path).events.map(\.seq) == Array(1...320))
    #expect(journal.flushCount < 320, "\(journal.flushCount) flushes for 320 appends")
    #expect(journal.flushCount > 0)
  }

  @Test func reopeningContinuesTheSequence() throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    try Journal(path: path).append(events(4), sync: true)
    let reopened = try Journal(path: path)
    #expect(reopened.lastSeq == 4)
    #expect(try reopened.append(events(1), sync: true).first?.seq == 5)
  }

  @Test func twoWritersOnOneFileKeepTheSequenceIncreasing() async throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    let first = try Journal(path: path)
    let second = try Journal(path: path)
    await withTaskGroup(of: Void.self) { group in
      for writer in [first, second] {
        group.addTask {
          for _ in 0..<100 { _ = try? writer.append(self.events(2), sync: false) }
        }
      }
    }
    let read = try Journal.read(path: path)
    #expect(read.issues.isEmpty)
    #expect(read.events.map(\.seq) == Array(1...400))
  }

  @Test func aTornLastLineIsReportedSkippedAndClosedOff() throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    try Journal(path: path).append(events(3), sync: true)
    // A crash mid-write leaves half a line.
    let handle = try #require(FileHandle(forWritingAtPath: path))
    handle.seekToEndOfFile()
    handle.write(Data(#"{"seq":4,"time":"2026-01-01T00:00:00.000Z","spa"#.utf8))
    try handle.close()

    let reopened = try Journal(path: path)
    #expect(reopened.issues.count == 1)
    #expect(reopened.issues.first?.message.contains("cut off") == true)
    #expect(reopened.lastSeq == 3)
    try reopened.append(events(1), sync: true)

    let read = try Journal.read(path: path)
    #expect(read.events.map(\.seq) == [1, 2, 3, 4])
    #expect(read.issues.count == 1)
    #expect(read.issues.first?.line == 4)
  }

  /// A crash can cut a record off after its last byte, before its newline: closed off, it is
  /// whole, so it is read, and its `seq` is not given to the next record too.
  @Test func aRecordThatLostOnlyItsNewlineIsKeptAndCounted() throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    try Journal(path: path).append(events(4), sync: true)
    #expect(
      truncate(path, off_t(try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) - 1)) == 0)

    let reopened = try Journal(path: path)
    #expect(reopened.issues.isEmpty, "\(reopened.issues)")
    #expect(reopened.lastSeq == 4)
    try reopened.append(events(1), sync: true)
    let read = try Journal.read(path: path)
    #expect(read.events.map(\.seq) == [1, 2, 3, 4, 5])
    #expect(read.issues.isEmpty)
  }

  @Test func aCorruptLineInTheMiddleIsReportedWithItsLineNumber() throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    try Journal(path: path).append(events(2), sync: true)
    let handle = try #require(FileHandle(forWritingAtPath: path))
    handle.seekToEndOfFile()
    handle.write(Data("{\"seq\":\"oops\"}\n".utf8))
    try handle.close()
    try Journal(path: path).append(events(1), sync: true)
    let read = try Journal.read(path: path)
    #expect(read.events.map(\.seq) == [1, 2, 3])
    #expect(read.issues.map(\.line) == [3])
  }

  @Test func theReaderFollowsAppendsAndWaitsForHalfWrittenLines() throws {
    let folder = TempFolder("journal")
    let path = folder.file("journal.jsonl")
    let journal = try Journal(path: path)
    try journal.append(events(2), sync: false)
    var reader = try JournalReader(path: path)
    #expect(try reader.readAvailable(final: false).events.count == 2)
    #expect(try reader.readAvailable(final: false).events.isEmpty)
    let line = SpacesJSON.line(events(1)[0])
    let handle = try #require(FileHandle(forWritingAtPath: path))
    handle.seekToEndOfFile()
    handle.write(Data(line.prefix(10).utf8))
    let partial = try reader.readAvailable(final: false)
    #expect(partial.events.isEmpty && partial.issues.isEmpty)
    handle.write(Data((line.dropFirst(10) + "\n").utf8))
    try handle.close()
    #expect(try reader.readAvailable(final: false).events.count == 1)
  }

  @Test func aMissingJournalIsNotFound() {
    expectError(.notFound) { try Journal.read(path: "/nonexistent/journal.jsonl") }
  }
}
