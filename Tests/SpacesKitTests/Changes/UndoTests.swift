import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

/// Change records and undo with real sandboxed commands: each test changes a tree, undoes the
/// operation and compares the tree byte for byte (contents, modes, links) with the one before.
@Suite(.enabled(if: UndoFixture.bwrapAvailable, "needs bwrap"))
struct UndoTests {
  /// Runs `command`, checks it was recorded, undoes it and expects the tree from before; then
  /// undoes the undo and expects the tree from after.
  func roundTrip(_ fixture: UndoFixture, _ command: String, sourceLocation: SourceLocation = #_sourceLocation)
    async throws
  {
    let before = fixture.tree
    let ran = try await fixture.shell(command, sourceLocation: sourceLocation)
    let after = fixture.tree
    #expect(before != after, "the command changed nothing: \(command)", sourceLocation: sourceLocation)
    let completed = try #require(try fixture.completed(ran.id), sourceLocation: sourceLocation)
    let summary = try #require(completed.changes, "no change summary on completed", sourceLocation: sourceLocation)
    #expect(summary.record == ran.id, sourceLocation: sourceLocation)
    #expect(summary.total > 0, sourceLocation: sourceLocation)

    let undone = try await fixture.space.undo(ran.id)
    #expect(undone.undid == [ran.id], sourceLocation: sourceLocation)
    let back = fixture.tree
    #expect(back == before, "undo of \(command):\n\(back.difference(from: before))", sourceLocation: sourceLocation)
    let event = try #require(try fixture.completed(undone.id), sourceLocation: sourceLocation)
    guard case .undone(.person, _, _) = event.payload else {
      Issue.record("not an undo by the person: \(event)", sourceLocation: sourceLocation)
      return
    }

    // The undo is undoable in turn.
    _ = try await fixture.space.undo(undone.id)
    let again = fixture.tree
    #expect(again == after, "undo of the undo:\n\(again.difference(from: after))", sourceLocation: sourceLocation)
  }

  @Test func gitInitAndCommit() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("echo hello > readme.md && mkdir -p src && echo 'int main(){}' > src/main.c")
    try await roundTrip(
      fixture,
      "git init -q . && git -c user.email=a@example.com -c user.name=A add -A "
        + "&& git -c user.email=a@example.com -c user.name=A commit -qm first")
  }

  /// The clean-up of interrupted writes (it runs in the background when a space opens, as an
  /// undo a crash interrupted is finished) leaves an undo's temporary files alone: each is
  /// locked from its creation to its rename, as a file operation's is.
  @Test func anUndoRacingTheCleanUpOfInterruptedWritesLosesNoFile() async throws {
    let fixture = try UndoFixture()
    // Large files: copying one back from the store takes long enough for the clean-up to see it.
    try await fixture.shell("mkdir d && for i in $(seq 1 6); do head -c 8000000 /dev/urandom > d/f$i; done")
    let before = fixture.tree
    let ran = try await fixture.shell("for i in $(seq 1 6); do echo two $i > d/f$i; done")
    let stop = LockedValue(false)
    let removed = LockedValue(0)
    let swept = DispatchSemaphore(value: 0)
    let workspace = fixture.space.workspace
    // A thread of its own: a loop on the concurrency pool would hold one of its two threads.
    Thread {
      while !stop.withValue({ $0 }) {
        let count = workspace.removeInterruptedWrites()
        removed.withValue { $0 += count }
      }
      swept.signal()
    }.start()
    defer { stop.withValue { $0 = true } }
    let undone = try await fixture.space.undo(ran.id)
    stop.withValue { $0 = true }
    try await blocking { swept.wait() }
    #expect(removed.withValue { $0 } == 0)
    #expect(undone.undid == [ran.id])
    #expect(fixture.tree == before, "\(fixture.tree.difference(from: before))")
  }

  @Test func npmStyleTreeOfManyFiles() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("echo '{}' > package.json")
    try await roundTrip(
      fixture,
      """
      for p in $(seq 1 40); do mkdir -p node_modules/pkg$p/lib node_modules/pkg$p/.bin; \
      echo "{\\"name\\":\\"pkg$p\\"}" > node_modules/pkg$p/package.json; \
      for f in $(seq 1 12); do echo "module.exports = $p * $f" > node_modules/pkg$p/lib/f$f.js; done; \
      ln -s ../lib/f1.js node_modules/pkg$p/.bin/run; done; echo '{"lockfileVersion":3}' > package-lock.json
      """)
  }

  @Test func folderRenames() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("mkdir -p src/a/b && echo 1 > src/a/one && echo 2 > src/a/b/two && echo 3 > src/three")
    try await roundTrip(fixture, "mv src lib && mv lib/a lib/c && mkdir src && echo new > src/x")
  }

  @Test func modes() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("echo 'echo hi' > run.sh && mkdir -p d && echo x > d/f && chmod 644 run.sh")
    try await roundTrip(fixture, "chmod 755 run.sh && chmod 700 d && chmod 600 d/f")
  }

  @Test func symlinks() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("echo t > target && ln -s target old && ln -s /etc/passwd outside && mkdir real")
    try await roundTrip(fixture, "ln -sfn other old && rm outside && ln -s real dirlink && rm -r real && ln -s x real")
  }

  /// A command that rewrites a file at the same size and sets its mtime back (and changes its
  /// mode, so the path is looked at) can't hide the rewrite: the ctime says it changed.
  @Test func aRewriteWithItsMtimeSetBackIsRecorded() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("echo original > f && touch -d @1000000000 f")
    try await roundTrip(fixture, "echo replaced > f && touch -d @1000000000 f && chmod 600 f")
  }

  @Test func binaryFiles() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("head -c 300000 /dev/urandom > data.bin && printf '\\000\\001\\002' > small.bin")
    try await roundTrip(
      fixture, "head -c 1000 /dev/urandom >> data.bin && head -c 70000 /dev/urandom > new.bin && rm small.bin")
  }

  @Test func fiftyMegabyteFile() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("head -c 50000000 /dev/urandom > big.bin")
    try await roundTrip(fixture, "rm big.bin && head -c 50000000 /dev/urandom > other.bin")
  }

  @Test func deletingTheWholeWorkspaceContent() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell(
      "mkdir -p a/b/c .hidden && echo 1 > a/b/c/f && echo 2 > .hidden/g && echo 3 > top && ln -s top lnk "
        + "&& chmod 700 a/b")
    try await roundTrip(fixture, "find . -mindepth 1 -delete")
  }

  @Test func fileOperationsAreRecordedToo() async throws {
    let fixture = try UndoFixture()
    let space = fixture.space
    let empty = fixture.tree
    let created = await space.submit(.createFile(path: "deep/er/a.txt", content: "one\ntwo\n", encoding: .utf8))
    #expect(created.status == .completed)
    let afterCreate = fixture.tree
    let edited = await space.submit(.editFile(path: "deep/er/a.txt", oldText: "two", newText: "three"))
    #expect(edited.status == .completed)
    let afterEdit = fixture.tree
    let deleted = await space.submit(.deleteFile(path: "deep", recursive: true))
    #expect(deleted.status == .completed, "a recursive delete no longer asks: \(deleted)")

    let answer = space.changes(of: edited.id)
    #expect(answer.status == "recorded")
    #expect(answer.diff?.contains("- two") == true && answer.diff?.contains("+ three") == true, "\(answer)")

    _ = try await space.undo(deleted.id)
    #expect(fixture.tree == afterEdit)
    _ = try await space.undo(edited.id)
    #expect(fixture.tree == afterCreate)
    _ = try await space.undo(created.id)
    #expect(fixture.tree == empty, "\(fixture.tree.difference(from: empty))")
  }

  @Test func undoIsRefusedWhenALaterOperationChangedTheSamePaths() async throws {
    let fixture = try UndoFixture()
    let first = try await fixture.shell("echo 1 > shared && echo a > mine")
    let second = try await fixture.shell("echo 2 >> shared")
    let other = try await fixture.shell("echo b > unrelated")
    do {
      _ = try await fixture.space.undo(first.id)
      Issue.record("undo should have been refused")
    } catch {
      #expect(error.code == .undoRefused)
      #expect(error.message.contains(second.id), "\(error.message)")
      #expect(!error.message.contains(other.id), "\(error.message)")
    }
    // Nothing was changed by the refusal; undoing the later one first works.
    #expect(Sys.readFile(fixture.workspace + "/shared") == "1\n2\n")
    _ = try await fixture.space.undo(second.id)
    _ = try await fixture.space.undo(first.id)
    #expect(Sys.readFile(fixture.workspace + "/shared") == nil)
    #expect(Sys.readFile(fixture.workspace + "/unrelated") == "b\n")
  }

  @Test func restoreAcrossTenOperations() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("mkdir -p src && echo base > src/base")
    let before = fixture.tree
    var first: String?
    for index in 1...10 {
      let command =
        switch index % 4 {
        case 0: "echo \(index) >> src/base && mkdir -p out\(index) && echo x > out\(index)/f"
        case 1: "echo \(index) > f\(index) && chmod 755 f\(index)"
        case 2: "mv src src\(index) && mv src\(index) src && ln -sfn f1 link"
        default: "rm -rf out* && echo \(index) > g"
        }
      let ran = try await fixture.shell(command)
      if first == nil { first = ran.id }
    }
    let target = try #require(first)
    let outcome = try await fixture.space.undo(target, restore: true)
    #expect(outcome.undid.count >= 8 && outcome.undid.last == target, "\(outcome.undid)")
    #expect(fixture.tree == before, "\(fixture.tree.difference(from: before))")
  }

  @Test func retentionDropsTheOldestAndSaysSo() async throws {
    var undo = UndoConfig()
    undo.keepOperations = 3
    let fixture = try UndoFixture(undo: undo)
    var ids: [String] = []
    for index in 1...5 { ids.append(try await fixture.shell("echo \(index) > f\(index)").id) }
    let gone = fixture.space.changes(of: ids[0])
    #expect(gone.status == "gone", "\(gone)")
    #expect(gone.message?.contains("gone") == true)
    #expect(fixture.space.changes(of: ids[4]).status == "recorded")
    do {
      _ = try await fixture.space.undo(ids[0])
      Issue.record("undo of a dropped record should be refused")
    } catch {
      #expect(error.code == .undoRefused && error.message.contains("gone"), "\(error.message)")
    }
    #expect(fixture.space.changeList().kept == 3)
  }

  @Test func largeFilesAreKeptByHashAndSaySoWhenTheyCantBePutBack() async throws {
    var undo = UndoConfig()
    undo.largeFileBytes = 4096
    let fixture = try UndoFixture(undo: undo)
    try await fixture.shell("head -c 10000 /dev/urandom > big && echo small > small")
    let changed = try await fixture.shell("echo more >> big && echo more >> small")
    let summary = try #require(try fixture.completed(changed.id)?.changes)
    #expect(summary.unrestorable == 1, "\(summary)")
    do {
      _ = try await fixture.space.undo(changed.id)
      Issue.record("undo should be refused: the big file's content was not kept")
    } catch {
      #expect(error.code == .undoRefused && error.message.contains("big"), "\(error.message)")
    }
  }

  @Test func changesOutsideAnyOperationAreNotTakenBack() async throws {
    let fixture = try UndoFixture()
    let ran = try await fixture.shell("echo agent > f")
    // The person edits the file in their editor, outside the runtime.
    try "person\n".write(toFile: fixture.workspace + "/f", atomically: false, encoding: .utf8)
    do {
      _ = try await fixture.space.undo(ran.id)
      Issue.record("undo should be refused: the file changed since")
    } catch {
      #expect(error.code == .undoRefused, "\(error.message)")
    }
    #expect(Sys.readFile(fixture.workspace + "/f") == "person\n")
  }

  @Test func hostileOperationIdsAreRefusedClearly() async throws {
    let fixture = try UndoFixture()
    for id in ["", "../../etc/passwd", "op_\u{0}x", String(repeating: "a", count: 5000), "op_nothere"] {
      do {
        _ = try await fixture.space.undo(id)
        Issue.record("undo of \(id.prefix(20)) should fail")
      } catch {
        #expect(error.code == .undoRefused || error.code == .invalidRequest, "\(error.message)")
      }
      #expect(fixture.space.changes(of: id).status == "none")
    }
  }

  @Test func aCommandThatChangesNothingHasNoRecord() async throws {
    let fixture = try UndoFixture()
    try await fixture.shell("echo x > f")
    let ran = try await fixture.shell("cat f > /dev/null")
    #expect(try fixture.completed(ran.id)?.changes == nil)
    #expect(fixture.space.changes(of: ran.id).status == "none")
  }
}

/// The host and container backends get change records from the same scan.
@Suite struct HostUndoTests {
  @Test func hostBackendRecordsAndUndoes() async throws {
    let fixture = try UndoFixture(label: "undo-host", backend: .host, preset: .permissive)
    try await fixture.shell("mkdir -p a && echo 1 > a/f")
    let before = fixture.tree
    let ran = try await fixture.shell("rm -r a && echo 2 > g")
    _ = try await fixture.space.undo(ran.id)
    #expect(fixture.tree == before, "\(fixture.tree.difference(from: before))")
  }
}

/// The container backend (real podman, the image `script/test-image` builds) gets the same
/// records: a command deletes, renames and changes modes inside the container, and undo puts
/// the tree back byte for byte.
@Suite(.enabled(if: ContainerTestSupport.available, "podman or the test image is not available"))
struct ContainerUndoTests {
  @Test func containerCommandIsUndone() async throws {
    let folder = TempFolder("undo-container")
    defer { folder.cleanup() }
    let home = SpacesHome(path: folder.path)
    var config = try home.create(
      name: "box", policy: .permissive, backend: .container, image: ContainerTestSupport.image, engine: "podman")
    config.limits.shell.timeoutMs = 60_000
    try home.save(config)
    defer { try? home.delete("box") }
    let space = try SpacesRuntime(home: home, supervised: false).space("box")
    func shell(_ command: String) async throws -> OperationResult {
      let result = await space.submit(.shell(command: command, timeoutMs: nil))
      try #require(result.status == .completed && result.exitCode == 0, "\(command): \(result)")
      return result
    }
    _ = try await shell(
      "mkdir -p src/lib docs && echo one > src/a.txt && echo two > src/lib/b.txt && printf '\\001\\002' > bin.dat "
        + "&& echo keep > docs/readme && chmod 755 src/a.txt && ln -s src/a.txt link")
    let before = Tree(config.workspace)
    let ran = try await shell(
      "rm bin.dat docs/readme && mv src/lib src/moved && mv src/a.txt renamed.txt && chmod 600 renamed.txt "
        + "&& chmod 700 docs && echo new > src/moved/c.txt && rm link")
    let after = Tree(config.workspace)
    #expect(after != before)
    let summary = try #require(space.changes(of: ran.id).record?.summary)
    #expect(summary.total > 0)
    _ = try await space.undo(ran.id)
    #expect(Tree(config.workspace) == before, "\(Tree(config.workspace).difference(from: before))")
  }
}

/// The index is saved in the space (`changes/index`): a space opened again reads only the files
/// that changed since, and a damaged index is discarded, never trusted.
@Suite(.enabled(if: UndoFixture.bwrapAvailable, "needs bwrap"))
struct SavedIndexTests {
  /// The space opened again by a new runtime (as `spaces serve` or the CLI does).
  func reopen(_ fixture: UndoFixture) throws -> Space {
    try SpacesRuntime(home: fixture.home, supervised: false).space("u")
  }

  @Test func reopeningReadsOnlyWhatChanged() async throws {
    let fixture = try UndoFixture(label: "undo-index")
    try await fixture.shell("mkdir -p m && for i in $(seq 1 200); do echo $i > m/f$i; done")
    // A recorded operation after the save: replayed onto the saved index when it is read.
    let edited = try await fixture.shell("echo changed > m/f7")
    #expect(FileManager.default.fileExists(atPath: (fixture.space.changes?.folder ?? "") + "/index"))
    // Changed while no runtime has the space open.
    try Data("outside\n".utf8).write(to: URL(fileURLWithPath: fixture.workspace + "/m/f9"))

    let space = try reopen(fixture)
    let tracker = try #require(space.changes)
    #expect(tracker.indexIssue == nil)
    let noop = await space.submit(.shell(command: "true", timeoutMs: nil))
    #expect(noop.status == .completed)
    // f9 (changed outside) and f7 (replayed from its record, so its fingerprint is unknown) are
    // read; the 198 others are not.
    #expect(tracker.filesRead == 2, "files read after reopening: \(tracker.filesRead)")
    // Nothing was taken for the no-op's change, and the earlier operation still undoes.
    #expect(space.changes(of: noop.id).status == "none")
    _ = try await space.undo(edited.id)
    #expect(try String(contentsOfFile: fixture.workspace + "/m/f7", encoding: .utf8) == "7\n")
  }

  @Test func aDamagedIndexIsDiscardedWithAReason() async throws {
    for damage in ["flip", "truncate", "garbage", "version"] {
      let fixture = try UndoFixture(label: "undo-index-bad")
      // More than 64 paths: the next command's start saves an index with entries in it.
      try await fixture.shell(
        "mkdir -p d && echo a > d/a && echo b > d/b && for i in $(seq 1 70); do echo $i > d/n$i; done")
      try await fixture.shell("echo c > d/c")
      let path = try #require(fixture.space.changes?.folder) + "/index"
      var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
      switch damage {
      case "flip": bytes[bytes.count / 2] ^= 0x01
      case "truncate": bytes.removeLast(bytes.count / 3)
      case "garbage": bytes = Array("{\"not\":\"an index\"}".utf8)
      default: bytes[8] = 9
      }
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      let space = try reopen(fixture)
      let issue = try #require(space.changes?.indexIssue, "\(damage): the damaged index was used")
      #expect(issue.contains("discarded"), "\(damage): \(issue)")
      // Read again in full: recording and undo work as on a first open.
      let before = Tree(fixture.workspace)
      let ran = await space.submit(.shell(command: "rm d/a && echo z > d/b", timeoutMs: nil))
      #expect(ran.status == .completed)
      #expect(space.changes(of: ran.id).record?.summary.total == 2, "\(damage)")
      _ = try await space.undo(ran.id)
      #expect(Tree(fixture.workspace) == before, "\(damage)")
    }
  }

  @Test func everyCutOfAnIndexIsRefusedCleanly() throws {
    var entries: [String: ChangeTracker.Known] = [:]
    for index in 0..<20 {
      let state = EntryState(
        kind: .file, mode: 0o644, size: 3, sha256: String(repeating: "ab", count: 32), stored: index % 2 == 0)
      entries["dir/f\(index)"] = ChangeTracker.Known(
        print: Fingerprint(mode: 0o100644, size: 3, mtime: 1, ctime: 2, ino: UInt64(index)), state: state)
    }
    entries["dir"] = ChangeTracker.Known(
      print: Fingerprint(mode: 0o40755, size: 0, mtime: 1, ctime: 1, ino: 99),
      state: EntryState(kind: .folder, mode: 0o755))
    let bytes = IndexFile.encode(entries, order: 42)
    let decoded = try IndexFile.decode(bytes)
    #expect(decoded.order == 42)
    #expect(decoded.entries.count == entries.count)
    #expect(decoded.entries["dir/f3"]?.state == entries["dir/f3"]?.state)
    #expect(decoded.entries["dir/f3"]?.print == entries["dir/f3"]?.print)
    for cut in stride(from: 0, to: bytes.count, by: 7) {
      #expect(throws: SpacesError.self) { try IndexFile.decode(Array(bytes[0..<cut])) }
    }
  }
}
