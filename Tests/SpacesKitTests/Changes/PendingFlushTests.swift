import Crypto
import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

/// A change's folders flushed with its journal record (``PendingFlushes``), and the contents its
/// record keeps flushed before they are put in place.
@Suite(.serialized) struct PendingFlushTests {
  @Test func aFolderIsKeptOnceAndTheSetIsEmptiedByItsFlush() throws {
    let folder = TempFolder("flushes")
    try FileManager.default.createDirectory(atPath: folder.file("a"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: folder.file("b"), withIntermediateDirectories: true)
    let folders = PendingFlushes()
    #expect(folders.isEmpty)
    try folders.add(path: folder.file("a"))
    let fd = open(folder.file("a"), O_RDONLY | O_DIRECTORY)
    defer { close(fd) }
    try folders.add(fd)
    try folders.add(path: folder.file("a") + "/.")
    #expect(folders.count == 1)
    try folders.add(path: folder.file("b"))
    #expect(folders.count == 2)
    // A missing folder is an error that says which.
    #expect {
      try folders.add(path: folder.file("missing"))
    } throws: { error in
      (error as? SpacesError)?.message.contains("missing") == true
    }

    // A file written in place is kept too, once.
    let record = open(folder.file("a/record"), O_WRONLY | O_CREAT, 0o600)
    defer { close(record) }
    try folders.add(file: record)
    try folders.add(file: record)
    #expect(folders.count == 3)

    let journal = open(folder.file("journal"), O_WRONLY | O_CREAT | O_APPEND, 0o600)
    defer { close(journal) }
    try folders.flush(with: journal)
    #expect(folders.isEmpty)
    // The descriptor the caller gave stays its own.
    #expect(fcntl(fd, F_GETFD) >= 0)
  }

  @Test func unwrittenBytesAreReadFromMeminfo() {
    let text = "MemTotal: 100 kB\nDirty:             172 kB\nWriteback:           4 kB\nAnonPages: 1 kB\n"
    #expect(DiskFlush.unwrittenBytes(inMeminfo: Array(text.utf8)) == 176 * 1024)
    #expect(DiskFlush.unwrittenBytes(inMeminfo: Array("Dirty: 1 kB\n".utf8)) == nil)
    #expect(DiskFlush.unwrittenBytes(inMeminfo: Array("Dirty: x kB\nWriteback: 0 kB\n".utf8)) == nil)
    // This machine's are readable.
    #expect(DiskFlush.unwrittenBytes() != nil)
  }

  /// A change's pending flushes are done by `sync(alongWith:)` whichever way the machine allows:
  /// one `syncfs` (quiet) or one `fsync` each then the journal's group commit (busy).
  @Test(arguments: [true, false]) func aSyncWithPendingFlushesEmptiesThem(quiet: Bool) throws {
    DiskFlush.forcedQuiet.withValue { $0 = quiet }
    defer { DiskFlush.forcedQuiet.withValue { $0 = nil } }
    let folder = TempFolder("journal")
    let journal = try Journal(path: folder.file("journal.jsonl"))
    try journal.append([Event(space: "s", opId: "op_1", .message(text: "m"))], sync: true)
    let before = (journal.flushCount, journal.fileSystemFlushCount)
    try journal.sync(alongWith: PendingFlushes())
    #expect(journal.flushCount == before.0, "nothing to flush")
    let pending = PendingFlushes()
    try pending.add(path: folder.path)
    try journal.append([Event(space: "s", opId: "op_2", .message(text: "n"))], sync: false)
    try journal.sync(alongWith: pending)
    #expect(pending.isEmpty)
    #expect(journal.isSynced)
    #expect(journal.flushCount == before.0 + 1)
    #expect(journal.fileSystemFlushCount == before.1 + (quiet ? 1 : 0))
  }

  /// What lies on another file system than the journal's (a workspace elsewhere) is flushed on
  /// its own, at once: a `syncfs` of the journal's file system would not cover it.
  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/shm")))
  func aFolderOnAnotherFileSystemIsFlushedApart() throws {
    DiskFlush.forcedQuiet.withValue { $0 = true }
    defer { DiskFlush.forcedQuiet.withValue { $0 = nil } }
    let folder = TempFolder("journal")
    var here = stat()
    var there = stat()
    try #require(stat(folder.path, &here) == 0 && stat("/dev/shm", &there) == 0)
    // (Where /dev/shm is no file system of its own there is nothing to show.)
    guard here.st_dev != there.st_dev else { return }
    let journal = open(folder.file("journal"), O_WRONLY | O_CREAT | O_APPEND, 0o600)
    defer { close(journal) }
    let pending = PendingFlushes()
    try pending.add(path: "/dev/shm")
    #expect(try pending.flushUnshared(besides: journal) == .fsync)
    #expect(pending.isEmpty)
    try pending.add(path: "/dev/shm")
    try pending.add(path: folder.path)
    #expect(try pending.flushUnshared(besides: journal) == .syncfs)
    #expect(pending.count == 1, "the journal's own file system's folder waits for the syncfs")
    #expect(try pending.flush(with: journal) == .syncfs)
    #expect(pending.isEmpty)
  }

  /// Changes of many clients ending at once share their `syncfs` (a group commit, as the
  /// journal's `fsync`): every one is flushed, with fewer flushes than changes.
  @Test func concurrentChangesShareFileSystemFlushes() async throws {
    DiskFlush.forcedQuiet.withValue { $0 = true }
    defer { DiskFlush.forcedQuiet.withValue { $0 = nil } }
    let folder = TempFolder("journal")
    let journal = try Journal(path: folder.file("journal.jsonl"))
    let failures = LockedValue(0)
    let done = DispatchSemaphore(value: 0)
    for thread in 0..<8 {
      Thread {
        for round in 0..<20 {
          do {
            try journal.append([Event(space: "s", opId: "op_\(thread)_\(round)", .message(text: "m"))], sync: false)
            let pending = PendingFlushes()
            try pending.add(path: folder.path)
            try journal.sync(alongWith: pending)
            if !pending.isEmpty { failures.withValue { $0 += 1 } }
          } catch {
            failures.withValue { $0 += 1 }
          }
        }
        done.signal()
      }.start()
    }
    await Sys.offloaded { for _ in 0..<8 { done.wait() } }
    #expect(failures.withValue { $0 } == 0)
    #expect(journal.isSynced)
    #expect(try Journal.read(path: folder.file("journal.jsonl")).events.count == 160)
    #expect(journal.fileSystemFlushCount > 0)
    #expect(journal.fileSystemFlushCount < 160, "\(journal.fileSystemFlushCount) flushes for 160 changes")
  }

  /// Files written with new contents again and again: each earlier content is in the store under
  /// its hash, no temporary file is left in the store or the records, and undo puts the earlier
  /// content back (the contents and the record were flushed together, then put in place).
  @Test func changedFilesKeepTheirContentsForUndo() async throws {
    let fixture = try UndoFixture(label: "flush", backend: .host)
    var results: [OperationResult] = []
    for round in 0..<5 {
      let result = await fixture.space.submit(
        .createFile(
          path: round % 2 == 0 ? "w.txt" : "deep/new/f\(round).txt", content: "round \(round)\n", encoding: .utf8))
      try #require(result.status == .completed, "\(result)")
      results.append(result)
    }
    // A write that fails (a folder stands at the path) leaves nothing in the store.
    let refused = await fixture.space.submit(.createFile(path: "deep", content: "never kept\n", encoding: .utf8))
    #expect(refused.status == .failed)
    #expect(!(try #require(fixture.space.changes)).store.contains(ContentHash.sha256(Array("never kept\n".utf8))))
    _ = await fixture.space.submit(.deleteFile(path: "deep", recursive: true))
    #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/deep"))

    let changes = fixture.home.spaceFolder("u") + "/changes"
    for sub in ["blobs", "records"] {
      let left = try FileManager.default.contentsOfDirectory(atPath: changes + "/" + sub).filter {
        $0.hasSuffix(".tmp")
      }
      #expect(left.isEmpty, "\(sub): \(left)")
    }
    let store = try #require(fixture.space.changes).store
    for round in 0..<5 {
      let hash = ContentHash.sha256(Array("round \(round)\n".utf8))
      #expect(store.contains(hash), "round \(round)")
      #expect(store.read(hash, limit: 100) == Array("round \(round)\n".utf8))
    }
    // Each change has its record, whole.
    let tracker = try #require(fixture.space.changes)
    for result in results {
      #expect(tracker.record(of: result.id)?.changes.isEmpty == false, "\(result.id)")
    }
    let undone = try await fixture.space.undo(results[4].id)
    #expect(undone.undid == [results[4].id])
    #expect(try String(contentsOfFile: fixture.workspace + "/w.txt", encoding: .utf8) == "round 2\n")
  }

  /// A record a crash left torn (it is written in place, and flushed with the journal before the
  /// operation is answered) is skipped when read: the others still list, and undo still works.
  @Test func aTornRecordIsSkipped() async throws {
    let fixture = try UndoFixture(label: "torn", backend: .host)
    let first = await fixture.space.submit(.createFile(path: "a.txt", content: "one\n", encoding: .utf8))
    let second = await fixture.space.submit(.createFile(path: "a.txt", content: "two\n", encoding: .utf8))
    try #require(first.status == .completed && second.status == .completed)
    let tracker = try #require(fixture.space.changes)
    let records = tracker.folder + "/records/"
    let torn = records + "9999999999999999999-op_torn.json"
    try Data(#"{"actor":"agent","changes":[{"af"#.utf8).write(to: URL(fileURLWithPath: torn))
    #expect(tracker.records().map(\.opId) == [first.id, second.id])
    _ = try await fixture.space.undo(second.id)
    #expect(try String(contentsOfFile: fixture.workspace + "/a.txt", encoding: .utf8) == "one\n")
  }

  /// Retention keeps its count when records are listed from memory (the folder is read again
  /// every 64 records, not at each change), and a sweep removes the contents only dropped
  /// records named.
  @Test func retentionKeepsItsCountAcrossManyChanges() async throws {
    var undo = UndoConfig()
    undo.keepOperations = 10
    let fixture = try UndoFixture(label: "retention", backend: .host, undo: undo)
    var ids: [String] = []
    for round in 0..<150 {
      let result = await fixture.space.submit(
        .createFile(path: "f\(round % 3).txt", content: "content \(round)\n", encoding: .utf8))
      try #require(result.status == .completed, "\(result)")
      ids.append(result.id)
    }
    let tracker = try #require(fixture.space.changes)
    tracker.settleRetention()
    #expect(tracker.recordNames().count == 10)
    #expect(tracker.records().map(\.opId) == Array(ids.suffix(10)))
    #expect(fixture.space.changes(of: ids[100]).status == "gone")
    // The contents of records dropped before the last sweep are gone; the kept ones' are there.
    #expect(!tracker.store.contains(ContentHash.sha256(Array("content 5\n".utf8))))
    for round in 140..<150 {
      #expect(tracker.store.contains(ContentHash.sha256(Array("content \(round)\n".utf8))), "round \(round)")
    }
  }

  /// Retention runs after the answer: an operation that takes a space over its kept count is
  /// answered while its oldest record is still there (the queued retention held back here), and
  /// the record goes once the retention runs. A reader of the records (the changes list) runs an
  /// owed retention first, so that it never shows more than is kept.
  @Test func retentionRunsAfterTheAnswer() async throws {
    var undo = UndoConfig()
    undo.keepOperations = 3
    let fixture = try UndoFixture(label: "after", backend: .host, undo: undo)
    let tracker = try #require(fixture.space.changes)
    let held = HeldHook()
    tracker.beforeQueuedRetention.withValue { $0 = held.hook }
    var ids: [String] = []
    for round in 0..<4 {
      let result = await fixture.space.submit(
        .createFile(path: "f\(round).txt", content: "content \(round)\n", encoding: .utf8))
      try #require(result.status == .completed, "\(result)")
      ids.append(result.id)
    }
    // Answered; the retention the fourth record made owed waits at the gate.
    #expect(held.reached(), "a retention was queued")
    #expect(tracker.recordNames().count == 4)
    #expect(tracker.record(of: ids[0]) != nil)
    held.release()
    try await eventually("the oldest record to go") { tracker.recordNames().count == 3 }
    #expect(fixture.space.changes(of: ids[0]).status == "gone")

    // Held back again: the changes list settles it itself.
    let fifth = await fixture.space.submit(.createFile(path: "f4.txt", content: "content 4\n", encoding: .utf8))
    try #require(fifth.status == .completed, "\(fifth)")
    #expect(held.reached(), "a retention was queued")
    #expect(tracker.recordNames().count == 4)
    let list = fixture.space.changeList()
    #expect(list.kept == 3)
    #expect(list.records.map(\.op) == [fifth.id, ids[3], ids[2]])
    held.release()
  }

  /// A sweep's removals run one at a time after it, and a content written again before its
  /// turn stays in the store: here the removals are held back while a new file gets the content
  /// of a dropped record, and that file's change can still be undone afterwards.
  @Test func aContentWrittenAgainBeforeItsRemovalStays() async throws {
    var undo = UndoConfig()
    undo.keepOperations = 3
    let fixture = try UndoFixture(label: "doomed", backend: .host, undo: undo)
    let tracker = try #require(fixture.space.changes)
    // Only the first removal is held (later retentions, queued meanwhile, go on).
    let held = HeldHook(onlyFirst: true)
    tracker.beforeRemovingDoomed.withValue { $0 = held.hook }
    defer { tracker.beforeRemovingDoomed.withValue { $0 = nil } }
    let first = Array("content 0\n".utf8)
    // 35 records at 3 kept: 32 dropped, so the 35th change's retention sweeps the store.
    for round in 0..<35 {
      let result = await fixture.space.submit(
        .createFile(path: "f.txt", content: "content \(round)\n", encoding: .utf8))
      try #require(result.status == .completed, "\(result)")
    }
    #expect(held.reached(), "the sweep found contents to remove")
    #expect(tracker.store.contains(ContentHash.sha256(first)), "not removed yet")
    // Written again while its removal waits.
    let again = await fixture.space.submit(.createFile(path: "g.txt", content: "content 0\n", encoding: .utf8))
    try #require(again.status == .completed, "\(again)")
    held.release()
    tracker.settleRetention()
    #expect(tracker.store.contains(ContentHash.sha256(first)))
    #expect(!tracker.store.contains(ContentHash.sha256(Array("content 1\n".utf8))), "the others went")
    _ = try await fixture.space.undo(again.id)
    #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/g.txt"))
    let redo = try #require(fixture.space.changeList().records.first)
    _ = try await fixture.space.undo(redo.op)
    #expect(try String(contentsOfFile: fixture.workspace + "/g.txt", encoding: .utf8) == "content 0\n")
  }

  /// A file operation flushes the content it staged outside the tracker's lock; another
  /// operation's end may have put that content in its place meanwhile (flushed, then renamed
  /// to its hash). The flush then takes it under its hash: one of fifty concurrent createFiles
  /// failed on this ("open a content to flush") in a full run.
  @Test func aStagedContentPlacedMeanwhileIsFlushedUnderItsHash() throws {
    let (folder, store) = try Self.emptyStore("placed")
    defer { folder.cleanup() }
    let content = Array("placed meanwhile\n".utf8)
    let staged = try store.stage(content, hash: ContentHash.sha256(content))
    var others = [staged]
    try store.settle(&others)
    #expect(others.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: staged.temporary))
    try store.flushData([staged])
    #expect(store.contains(staged.hash))
  }

  /// An edit keeps its contents the same way: the new one flushed with the file, the record in
  /// place; undo puts the text back.
  @Test func anEditKeepsItsContentsForUndo() async throws {
    let fixture = try UndoFixture(label: "edit", backend: .host)
    _ = await fixture.space.submit(.createFile(path: "e.txt", content: "alpha beta\n", encoding: .utf8))
    let edited = await fixture.space.submit(.editFile(path: "e.txt", oldText: "beta", newText: "gamma"))
    try #require(edited.status == .completed, "\(edited)")
    let tracker = try #require(fixture.space.changes)
    #expect(tracker.store.contains(ContentHash.sha256(Array("alpha gamma\n".utf8))))
    #expect(tracker.record(of: edited.id)?.changes.map(\.path) == ["e.txt"])
    let left = try FileManager.default.contentsOfDirectory(atPath: tracker.folder + "/blobs").filter {
      $0.hasSuffix(".tmp")
    }
    #expect(left.isEmpty)
    _ = try await fixture.space.undo(edited.id)
    #expect(try String(contentsOfFile: fixture.workspace + "/e.txt", encoding: .utf8) == "alpha beta\n")
  }

  /// The store reads a changed file into a buffer of the file's size (not 64 KiB each time): the
  /// hash, the size and the kept copy are right for every size around its read limit, and for
  /// content beyond the size the buffer was made for.
  @Test func theStoreReadsFilesOfEverySizeAroundItsLimit() throws {
    let (folder, store) = try Self.emptyStore("heads")
    defer { folder.cleanup() }
    for size in [0, 1, 100, (64 << 10) - 1, 64 << 10, (64 << 10) + 1, 200_000] {
      let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
      let path = folder.file("f\(size)")
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      let fd = open(path, O_RDONLY)
      defer { close(fd) }
      let put = try store.put(from: fd, keep: true, staged: [])
      #expect(put.hash == ContentHash.sha256(bytes), "size \(size)")
      #expect(put.size == Int64(size))
      let staged = try #require(put.staged)
      #expect(FileManager.default.contents(atPath: staged.temporary) == Data(bytes), "size \(size)")
    }
    // Content beyond the size first seen (a file that grew after it was looked at): here a pipe,
    // whose size reads 0, so the buffer starts at one byte and grows.
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    let written = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
    let writeEnd = ends[1]
    let writer = Thread {
      _ = written.withUnsafeBytes { Glibc.write(writeEnd, $0.baseAddress, $0.count) }
      close(writeEnd)
    }
    writer.start()
    defer { close(ends[0]) }
    let put = try store.put(from: ends[0], keep: true, staged: [])
    #expect(put.size == 100_000)
    #expect(put.hash == ContentHash.sha256(written))
    #expect(FileManager.default.contents(atPath: try #require(put.staged).temporary) == Data(written))
  }

  /// The store's sweep marks what every record on disk names, not only the records this
  /// process listed: a record another process wrote since keeps its contents. A record being
  /// written (unreadable, modified in the last minute) puts the sweep off; once it is older
  /// (cut short by a crash) it is skipped.
  @Test func theSweepKeepsWhatOtherProcessesRecordsName() async throws {
    var undo = UndoConfig()
    undo.keepOperations = 50
    let fixture = try UndoFixture(label: "sweep", backend: .host, undo: undo)
    let tracker = try #require(fixture.space.changes)
    func create(_ rounds: Range<Int>) async throws {
      for round in rounds {
        let result = await fixture.space.submit(
          .createFile(path: "f\(round % 3).txt", content: "content \(round)\n", encoding: .utf8))
        try #require(result.status == .completed, "\(result)")
      }
    }
    func kept(_ round: Int) -> Bool {
      tracker.settleRetention()
      return tracker.store.contains(ContentHash.sha256(Array("content \(round)\n".utf8)))
    }
    func now() -> Int64 {
      var clock = timespec()
      clock_gettime(CLOCK_REALTIME, &clock)
      return Int64(clock.tv_sec) * 1_000_000_000 + Int64(clock.tv_nsec)
    }
    func name(_ order: Int64, _ opId: String) -> String {
      tracker.folder + "/records/" + String(repeating: "0", count: 19 - String(order).count) + "\(order)-\(opId).json"
    }
    // The records are listed at the first change and every 64 records after (1, 65, 129);
    // sweeps run every 32 records dropped, from the 51st record on (at 82, 114, 146).
    try await create(0..<90)
    #expect(!kept(1), "no sweep ran")

    // Another process's record, and the content it names (not in this process's index),
    // written after the list in memory was read: the sweep at 114 marks it all the same.
    let theirs = Array("their content\n".utf8)
    let hash = ContentHash.sha256(theirs)
    try FileManager.default.createDirectory(
      atPath: tracker.store.folder + "/" + hash.prefix(2), withIntermediateDirectories: true)
    try Data(theirs).write(to: URL(fileURLWithPath: tracker.store.path(hash)))
    let record = ChangeRecord(
      opId: "op_theirs", order: now(), time: "2026-12-07T00:00:00Z", actor: .agent, what: "createFile theirs.txt",
      changes: [
        PathChange(path: "theirs.txt", before: nil, after: EntryState(kind: .file, mode: 0o644, size: 14, sha256: hash))
      ])
    try Data(record.jsonBytes).write(to: URL(fileURLWithPath: name(record.order, record.opId)))
    try await create(90..<120)
    #expect(!kept(40), "no sweep ran")
    #expect(tracker.store.contains(hash))

    // A record being written right now puts the sweep at 146 off.
    let half = name(now(), "op_half")
    try Data(#"{"actor":"agent","changes":[{"af"#.utf8).write(to: URL(fileURLWithPath: half))
    try await create(120..<160)
    #expect(kept(70), "the sweep ran")
    // A minute later it is taken as cut short by a crash, and the sweep runs.
    var old = [timeval(tv_sec: time(nil) - 120, tv_usec: 0), timeval(tv_sec: time(nil) - 120, tv_usec: 0)]
    try #require(utimes(half, &old) == 0)
    try await create(160..<165)
    #expect(!kept(70))
    for round in 115..<165 { #expect(kept(round), "round \(round)") }
  }

  /// An empty content store in a folder of its own.
  static func emptyStore(_ label: String) throws -> (TempFolder, BlobStore) {
    let folder = TempFolder(label)
    try FileManager.default.createDirectory(atPath: folder.file("blobs"), withIntermediateDirectories: true)
    return (folder, BlobStore(folder: folder.file("blobs")))
  }
}

/// A test hook that holds the thread running it until ``release()`` (with `onlyFirst`, only the
/// first thread; later runs go on).
final class HeldHook: Sendable {
  private let gate = DispatchSemaphore(value: 0)
  private let arrived = DispatchSemaphore(value: 0)
  private let holdsLeft: LockedValue<Int?>

  init(onlyFirst: Bool = false) { holdsLeft = LockedValue(onlyFirst ? 1 : nil) }

  /// The hook to install.
  var hook: @Sendable () -> Void {
    { [self] in
      let holds = holdsLeft.withValue { left -> Bool in
        guard let count = left else { return true }
        left = max(0, count - 1)
        return count > 0
      }
      guard holds else { return }
      arrived.signal()
      gate.wait()
    }
  }

  /// Whether a thread reached the hook (waiting at most ``patience``).
  func reached() -> Bool {
    arrived.wait(timeout: .now() + .seconds(Int(patience.components.seconds))) == .success
  }

  /// Lets one held thread go on.
  func release() { gate.signal() }
}
