import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// The pipeline, end to end through a real space on disk.
@Suite struct SpaceTests {
  let folder = TempFolder("space")
  var home: SpacesHome { SpacesHome(path: folder.path) }

  func makeSpace(_ policy: PolicyPreset = .standard) throws -> (SpacesRuntime, Space) {
    _ = try home.create(name: "s", policy: policy, backend: .host)
    let runtime = SpacesRuntime(home: home)
    return (runtime, try runtime.space("s"))
  }

  @Test func createReadEditDelete() async throws {
    let (_, space) = try makeSpace()
    let created = await space.submit(.createFile(path: "src/a.txt", content: "one two three\n", encoding: .utf8))
    #expect(created.status == .completed)
    #expect(created.id.hasPrefix("op_"))
    #expect(created.space == "s")

    let read = await space.submit(.readFile(path: "src/a.txt"))
    #expect(read.content == "one two three\n")
    #expect(read.encoding == .utf8)
    #expect(read.size == 14)

    let edited = await space.submit(.editFile(path: "src/a.txt", oldText: "two", newText: "2"))
    #expect(edited.status == .completed)
    #expect(await space.submit(.readFile(path: "src/a.txt")).content == "one 2 three\n")

    let deleted = await space.submit(.deleteFile(path: "src/a.txt", recursive: false))
    #expect(deleted.status == .completed)
    let gone = await space.submit(.readFile(path: "src/a.txt"))
    #expect(gone.status == .failed)
    #expect(gone.error?.code == "notFound")
  }

  @Test func editsNeedExactlyOneMatch() async throws {
    let (_, space) = try makeSpace()
    _ = await space.submit(.createFile(path: "a", content: "aaa b", encoding: .utf8))
    let none = await space.submit(.editFile(path: "a", oldText: "zzz", newText: "y"))
    #expect(none.error?.code == "editNoMatch")
    let many = await space.submit(.editFile(path: "a", oldText: "aa", newText: "y"))
    #expect(many.error?.code == "editAmbiguous")
    #expect(many.error?.message.contains("2 times") == true)
    let empty = await space.submit(.editFile(path: "a", oldText: "", newText: "y"))
    #expect(empty.error?.code == "invalidRequest")
    // Failed edits leave the file as it was.
    #expect(await space.submit(.readFile(path: "a")).content == "aaa b")
    let unicode = await space.submit(.editFile(path: "a", oldText: " b", newText: " 世界"))
    #expect(unicode.status == .completed)
    #expect(await space.submit(.readFile(path: "a")).content == "aaa 世界")
  }

  @Test func concurrentEditsLoseNothing() async throws {
    let (_, space) = try makeSpace()
    let lines = (0..<40).map { "line \($0) old" }
    _ = await space.submit(.createFile(path: "f", content: lines.joined(separator: "\n"), encoding: .utf8))
    await withTaskGroup(of: Void.self) { group in
      for index in 0..<40 {
        group.addTask {
          _ = await space.submit(.editFile(path: "f", oldText: "line \(index) old", newText: "line \(index) new"))
        }
      }
    }
    let content = await space.submit(.readFile(path: "f")).content ?? ""
    #expect(content == (0..<40).map { "line \($0) new" }.joined(separator: "\n"))
  }

  @Test func binaryContentTravelsAsBase64() async throws {
    let (_, space) = try makeSpace()
    let bytes: [UInt8] = [0, 1, 2, 0xFF, 0xFE]
    let base64 = Data(bytes).base64EncodedString()
    let created = await space.submit(.createFile(path: "bin", content: base64, encoding: .base64))
    #expect(created.status == .completed)
    let read = await space.submit(.readFile(path: "bin"))
    #expect(read.encoding == .base64)
    #expect(read.content == base64)
    #expect(read.size == 5)
    let bad = await space.submit(.createFile(path: "bad", content: "***", encoding: .base64))
    #expect(bad.error?.code == "invalidEncoding")
    #expect(await space.submit(.readFile(path: "bad")).error?.code == "notFound")
  }

  @Test func theRestrictivePolicyDeniesWritesAndShell() async throws {
    let (_, space) = try makeSpace(.restrictive)
    let denied = await space.submit(.createFile(path: "a", content: "x", encoding: .utf8))
    #expect(denied.status == .denied)
    #expect(denied.decidedBy == .policy)
    #expect(denied.reason?.contains("read-only") == true)
    #expect(await space.submit(.shell(command: "true", timeoutMs: nil)).status == .denied)
    #expect(await space.submit(.message(text: "hi")).status == .completed)
    #expect(!FileManager.default.fileExists(atPath: try home.load("s").workspace + "/a"))
  }

  @Test func everyStepIsJournaledInOrder() async throws {
    let (_, space) = try makeSpace()
    let live = space.hub.subscribe()
    let message = await space.submit(.message(text: "hello, person"))
    let failed = await space.submit(.readFile(path: "missing"))
    let read = try Journal.read(path: home.journalPath("s"))
    #expect(read.issues.isEmpty)
    let kinds = read.events.map(\.type)
    #expect(kinds == [.received, .decision, .started, .message, .completed, .received, .decision, .started, .failed])
    #expect(read.events.map(\.seq) == Array(1...9))
    #expect(read.events.allSatisfy { $0.space == "s" && !$0.time.isEmpty })
    #expect(read.events[0].opId == message.id)
    #expect(read.events[3].payload == .message(text: "hello, person"))
    #expect(read.events[8].opId == failed.id)
    #expect(read.events[8].result?.error?.code == "notFound")
    // Subscribers saw the same events.
    var seen: [Int] = []
    for await event in live {
      seen.append(event.seq)
      if seen.count == 9 { break }
    }
    #expect(seen == Array(1...9))
  }

  @Test func aMissingSpaceIsAFailedResult() async {
    let runtime = SpacesRuntime(home: home)
    let result = await runtime.submit(.message(text: "x"), to: "nope")
    #expect(result.status == .failed)
    #expect(result.error?.code == "spaceNotFound")
  }

  @Test func theOccurrenceCounterCountsOverlaps() {
    #expect(EditPlan.matches(of: Array("aa".utf8), in: Array("aaa".utf8)) == .init(count: 2, first: 0))
    #expect(EditPlan.matches(of: Array("x".utf8), in: Array("".utf8)).count == 0)
    #expect(EditPlan.matches(of: Array("ab".utf8), in: Array("abab".utf8)) == .init(count: 2, first: 0))
    #expect(EditPlan.matches(of: Array("aab".utf8), in: Array("aaab".utf8)) == .init(count: 1, first: 1))
    #expect(EditPlan.matches(of: Array("abcabd".utf8), in: Array("abcabcabd".utf8)) == .init(count: 1, first: 3))
  }

  @Test func anOverlappingOldTextIsAmbiguousInTheRuntime() async throws {
    let runtime = SpacesRuntime(home: home)
    _ = try home.create(name: "overlap")
    _ = await runtime.submit(.createFile(path: "a.txt", content: "aaa", encoding: .utf8), to: "overlap")
    let result = await runtime.submit(.editFile(path: "a.txt", oldText: "aa", newText: "b"), to: "overlap")
    #expect(result.error?.code == "editAmbiguous")
    #expect(result.error?.message.contains("occurs 2 times") == true)
  }

  @Test func editingALargeFileWithALongOldTextIsLinear() throws {
    // 4 MiB of "a" and an oldText of 100,000 "a"s then "b": quadratic search would take minutes.
    let haystack = [UInt8](repeating: UInt8(ascii: "a"), count: 4 << 20) + Array("b".utf8)
    let needle = [UInt8](repeating: UInt8(ascii: "a"), count: 100_000) + Array("b".utf8)
    let found = EditPlan.matches(of: needle, in: haystack)
    #expect(found == .init(count: 1, first: haystack.count - needle.count))
    let many = EditPlan.matches(of: [UInt8](repeating: UInt8(ascii: "a"), count: 100_000), in: haystack)
    #expect(many.count == haystack.count - 1 - 100_000 + 1)
  }
}

/// File operations refuse symlinks that a shell command planted.
@Suite struct PlantedSymlinkTests {
  let folder = TempFolder("planted")

  @Test func aSymlinkToEtcMadeByAShellCommandIsRefused() async throws {
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "s", policy: .permissive, backend: .host)
    let space = try SpacesRuntime(home: home).space("s")
    // `ln -s` to an absolute path asks even under permissive; a person approves it here.
    let planting = Task {
      await space.submit(.shell(command: "ln -s /etc etc-link && ln -s /etc/passwd pw", timeoutMs: nil))
    }
    try await eventually("the approval request") { !space.approvals.pending.isEmpty }
    let request = try #require(space.approvals.pending.first)
    try space.approvals.resolve(request.id, with: ApprovalResolution(choice: .once))
    let planted = await planting.value
    #expect(planted.status == .completed)
    #expect(planted.exitCode == 0)

    for path in ["etc-link/passwd", "pw"] {
      let read = await space.submit(.readFile(path: path))
      #expect(read.error?.code == "pathOutsideWorkspace", "\(path)")
      #expect(read.content == nil)
    }
    let write = await space.submit(.createFile(path: "etc-link/agent-spaces-test", content: "x", encoding: .utf8))
    #expect(write.error?.code == "pathOutsideWorkspace")
    #expect(!FileManager.default.fileExists(atPath: "/etc/agent-spaces-test"))
    let edit = await space.submit(.editFile(path: "etc-link/hostname", oldText: "a", newText: "b"))
    #expect(edit.error?.code == "pathOutsideWorkspace")
  }
}
