import Foundation
import Glibc
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesSandbox

/// The temporary files of atomic writes: cleaned up when a space opens, never shown to the agent.
@Suite struct TemporaryFileTests {
  @Test(arguments: [
    (".spaces-0123456789abcdef.tmp", true), (".spaces-a.tmp", true), (".spaces-5f3e2a.tmp", true),
    (".spaces-.tmp", false), (".spaces-0123456789abcdef0.tmp", false), (".spaces-ABC.tmp", false),
    (".spaces-12g.tmp", false), (".spaces-12.tmp.x", false), ("spaces-12.tmp", false),
    (".spaces-12.tm", false), ("a.spaces-12.tmp", false), (".spaces-bind-12", false),
  ])
  func theNamePatternIsNarrow(name: String, matches: Bool) {
    #expect(ConfinedWorkspace.isTemporaryName(Array(name.utf8)) == matches)
  }

  @Test func newNamesMatchThePatternAndDiffer() {
    let names = (0..<200).map { _ in ConfinedWorkspace.temporaryName() }
    #expect(names.allSatisfy { $0.utf8.count == ".spaces-".utf8.count + 16 + ".tmp".utf8.count })
    #expect(names.allSatisfy { ConfinedWorkspace.isTemporaryName(Array($0.utf8)) })
    #expect(Set(names).count == names.count)
  }

  @Test(arguments: [false, true])
  func fileOperationsRefuseTemporaryNamesAndListHidesThem(fallback: Bool) throws {
    try withSandbox(fallback: fallback) { s in
      try s.make(".spaces-1f2e3d4c5b6a7980.tmp", "half a write")
      try s.make("d/.spaces-abc.tmp", "half a write")
      try s.make("d/kept.txt", "kept")
      try s.make(".spaces-notes.tmp", "not the pattern: an ordinary file")
      for path in [".spaces-1f2e3d4c5b6a7980.tmp", "d/.spaces-abc.tmp", "./d/../.spaces-1f2e3d4c5b6a7980.tmp"] {
        let error = expectError(.invalidPath) { try s.ws.read(path) }
        #expect(error?.message.contains("reserved for the runtime's temporary files") == true)
        expectError(.invalidPath) { try s.ws.write(path, bytes("x")) }
        expectError(.invalidPath) { try s.ws.delete(path, recursive: false) }
        expectError(.invalidPath) { try s.ws.entry(path) }
      }
      expectError(.invalidPath) { try s.ws.list(".spaces-abc.tmp") }
      expectError(.invalidPath) { try s.ws.write(".spaces-abc.tmp/inner.txt", bytes("x")) }
      // Nothing was written or deleted.
      #expect(FileManager.default.fileExists(atPath: s.path(".spaces-1f2e3d4c5b6a7980.tmp")))
      #expect(!FileManager.default.fileExists(atPath: s.path(".spaces-abc.tmp")))

      #expect(try s.ws.list("").map(\.name) == [".spaces-notes.tmp", "d"])
      #expect(try s.ws.list("d").map(\.name) == ["kept.txt"])
      #expect(try s.ws.read(".spaces-notes.tmp") == bytes("not the pattern: an ordinary file"))
    }
  }

  @Test func aWriteLeavesNoTemporaryFile() throws {
    try withSandbox { s in
      for index in 0..<20 { try s.ws.write("d/f\(index % 3)", bytes("\(index)")) }
      let names = try FileManager.default.contentsOfDirectory(atPath: s.path("d")).sorted()
      #expect(names == ["f0", "f1", "f2"])
      #expect(try s.ws.read("d/f1") == bytes("19"))
    }
  }

  /// Only regular files named like temporary files, that no write holds, are removed; a
  /// symlink is neither followed nor removed, even when it is named like one.
  @Test func theCleanUpRemovesLeftoversOnly() throws {
    try withSandbox { s in
      try s.make(".spaces-0000000000000001.tmp", "left by kill -9")
      try s.make("a/b/c/.spaces-ff.tmp", "left deep down")
      try s.make("a/.spaces-0123456789abcdef.tmp", "left by an older version")
      try s.make("a/keep.txt", "keep")
      try s.make(".spaces-notes.tmp", "not the pattern")
      try s.make("a/.spaces-12.tmpx", "not the pattern")
      // A folder named like a temporary file: kept, and its content too.
      try s.make(".spaces-dd.tmp/inside.txt", "inside")
      // Symlinks named like temporary files, to a file outside and to a folder outside.
      try s.link(".spaces-abcd.tmp", to: "$OUT/secret.txt")
      try s.link("a/.spaces-beef.tmp", to: "$OUT")
      // A symlinked folder with a leftover beyond it: not followed.
      try FileManager.default.createDirectory(atPath: s.outside + "/deeper", withIntermediateDirectories: true)
      try Data("outside".utf8).write(to: URL(fileURLWithPath: s.outside + "/deeper/.spaces-aa.tmp"))
      try s.link("out", to: "$OUT/deeper")
      // A temporary file a write in another process holds (its lock is taken).
      try s.make("a/.spaces-1234.tmp", "being written")
      let held = open(s.path("a/.spaces-1234.tmp"), O_RDONLY | O_CLOEXEC)
      #expect(held >= 0)
      defer { close(held) }
      #expect(flock(held, LOCK_EX | LOCK_NB) == 0)

      let removed = s.ws.removeInterruptedWrites()
      #expect(removed == 3)
      let exists = { (path: String) in
        var info = stat()
        return lstat(s.path(path), &info) == 0
      }
      #expect(!exists(".spaces-0000000000000001.tmp"))
      #expect(!exists("a/b/c/.spaces-ff.tmp"))
      #expect(!exists("a/.spaces-0123456789abcdef.tmp"))
      #expect(exists("a/b/c"))
      for kept in [
        "a/keep.txt", ".spaces-notes.tmp", "a/.spaces-12.tmpx", ".spaces-dd.tmp/inside.txt", ".spaces-abcd.tmp",
        "a/.spaces-beef.tmp", "out", "a/.spaces-1234.tmp",
      ] {
        #expect(exists(kept), "\(kept) was removed")
      }
      #expect(try String(contentsOfFile: s.outside + "/secret.txt", encoding: .utf8) == "secret")
      #expect(FileManager.default.fileExists(atPath: s.outside + "/deeper/.spaces-aa.tmp"))

      // Once the write is gone (its lock released), the next clean-up takes its file too.
      flock(held, LOCK_UN)
      #expect(s.ws.removeInterruptedWrites() == 1)
      #expect(!exists("a/.spaces-1234.tmp"))
    }
  }

  @Test func theCleanUpStopsAtItsDepth() throws {
    try withSandbox { s in
      try s.make("1/2/3/.spaces-aa.tmp", "too deep")
      try s.make("1/.spaces-bb.tmp", "shallow")
      #expect(s.ws.removeInterruptedWrites(maxDepth: 2) == 1)
      #expect(FileManager.default.fileExists(atPath: s.path("1/2/3/.spaces-aa.tmp")))
      #expect(s.ws.removeInterruptedWrites() == 1)
    }
  }

  /// A crashed write's temporary file is gone once the space is opened again.
  @Test func openingASpaceRemovesLeftovers() async throws {
    let folder = TempFolder("leftovers")
    let home = SpacesHome(path: folder.path)
    let config = try home.create(name: "s", backend: .host)
    let workspace = config.workspace
    try FileManager.default.createDirectory(atPath: workspace + "/src", withIntermediateDirectories: true)
    for index in 0..<21 {
      let name = ConfinedWorkspace.temporaryName()
      let target = (index.isMultiple(of: 2) ? workspace : workspace + "/src") + "/" + name
      try Data("partial".utf8).write(to: URL(fileURLWithPath: target))
    }
    try Data("mine".utf8).write(to: URL(fileURLWithPath: workspace + "/src/main.c"))
    let space = try SpacesRuntime(home: home).space("s")
    // The clean-up runs in the background; until it is done the leftovers are hidden anyway.
    #expect(try space.workspace.list("").map(\.name) == ["src"])
    try await eventually("the leftovers to be removed") {
      try FileManager.default.contentsOfDirectory(atPath: workspace).sorted() == ["src"]
        && FileManager.default.contentsOfDirectory(atPath: workspace + "/src") == ["main.c"]
    }
    #expect(await space.submit(.readFile(path: "src/main.c")).content == "mine")
  }
}
