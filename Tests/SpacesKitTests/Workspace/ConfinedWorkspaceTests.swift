import Foundation
import Glibc
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

private let longName = String(repeating: "n", count: 255)

@Test(arguments: [
  ("a", "a"), ("a//b/./c", "a/b/c"), ("a/", "a"), ("./a", "a"), ("a/../b", "b"), (".", ""),
  ("a/..", ""), ("a/b/../../c", "c"), ("..a/...", "..a/..."), ("ü/日本", "ü/日本"),
  ("a/\u{301}b", "a/\u{301}b"), (longName, longName),
])
func normalizeAccepts(input: String, expected: String) throws {
  #expect(try ConfinedWorkspace.normalize(input) == expected)
}

@Test(arguments: [
  ("", SpacesError.Code.invalidPath), ("a\0b", .invalidPath), (longName + "x", .invalidPath),
  (String(repeating: "a/", count: 2048), .invalidPath), ("/", .pathOutsideWorkspace),
  ("/etc/passwd", .pathOutsideWorkspace), ("/\u{301}etc", .pathOutsideWorkspace),
  ("..", .pathOutsideWorkspace),
  ("../etc/passwd", .pathOutsideWorkspace), ("a/../../x", .pathOutsideWorkspace),
  ("a/../..", .pathOutsideWorkspace),
])
func normalizeRefuses(input: String, code: SpacesError.Code) {
  expectError(code) { try ConfinedWorkspace.normalize(input) }
}

@Test func outsideMessageNamesThePath() throws {
  try withSandbox { s in
    let error = expectError(.pathOutsideWorkspace) { try s.ws.read("../etc/passwd") }
    #expect(
      error?.message
        == "'../etc/passwd' leads outside the workspace; use a path relative to the workspace root")
  }
}

@Test func initRefusesMissingRootAndFile() throws {
  try withSandbox { s in
    try s.make("file", "x")
    expectError(.notFound) { try ConfinedWorkspace(root: s.path("missing")) }
    expectError(.notDirectory) { try ConfinedWorkspace(root: s.path("file")) }
  }
}

@Test(arguments: [false, true])
func roundTrip(fallback: Bool) throws {
  try withSandbox(fallback: fallback) { s in
    let binary = (0...255).map(UInt8.init) + [0, 0, 255]
    try s.ws.write("bin.dat", binary)
    try s.ws.write("empty", [])
    #expect(try s.ws.read("bin.dat") == binary)
    #expect(try s.ws.read("empty") == [])
    #expect(try s.ws.read("./bin.dat") == binary)
  }
}

@Test func writeCreatesNestedParents() throws {
  try withSandbox { s in
    try s.ws.write("a/b/c/d.txt", bytes("deep"))
    #expect(try s.ws.read("a/b/c/d.txt") == bytes("deep"))
    var info = stat()
    #expect(stat(s.path("a/b"), &info) == 0)
    #expect(info.st_mode & 0o777 == 0o755 & ~(try currentUmask()))
    #expect(try s.ws.entry("a/b/c")?.kind == .directory)
  }
}

@Test func replaceKeepsModeAndLeavesNoTempFiles() throws {
  try withSandbox { s in
    try s.ws.write("f.txt", bytes("one"))
    var info = stat()
    #expect(stat(s.path("f.txt"), &info) == 0)
    #expect(info.st_mode & 0o777 == 0o644)
    #expect(chmod(s.path("f.txt"), 0o600) == 0)
    try s.ws.write("f.txt", bytes("two"))
    #expect(try s.ws.read("f.txt") == bytes("two"))
    #expect(stat(s.path("f.txt"), &info) == 0)
    #expect(info.st_mode & 0o777 == 0o600)
    #expect(try s.ws.list("").map(\.name) == ["f.txt"])
  }
}

@Test func writeWhereFolderOrFileStands() throws {
  try withSandbox { s in
    try s.make("dir/inner.txt", "x")
    try s.make("file", "x")
    let error = expectError(.isDirectory) { try s.ws.write("dir", bytes("y")) }
    #expect(error?.message.contains("'dir'") == true)
    expectError(.notDirectory) { try s.ws.write("file/x", bytes("y")) }
    expectError(.notDirectory) { try s.ws.write("file/x/y", bytes("y")) }
    expectError(.isDirectory) { try s.ws.read("dir") }
    expectError(.invalidPath) { try s.ws.write(".", bytes("y")) }
    expectError(.invalidPath) { try s.ws.write("dir/..", bytes("y")) }
    expectError(.invalidPath) { try s.ws.write("", bytes("y")) }
    expectError(.invalidPath) { try s.ws.write("a\0b", bytes("y")) }
    expectError(.invalidPath) { try s.ws.read(longName + "x") }
    expectError(.pathOutsideWorkspace) { try s.ws.write("/tmp/x", bytes("y")) }
    #expect(try s.ws.list("dir").map(\.name) == ["inner.txt"])
    #expect(try s.ws.list("").map(\.name) == ["dir", "file"])
  }
}

@Test func notFoundCases() throws {
  try withSandbox { s throws in
    expectError(.notFound) { try s.ws.read("missing.txt") }
    expectError(.notFound) { try s.ws.read("no/such/file") }
    expectError(.notFound) { try s.ws.delete("missing.txt", recursive: false) }
    expectError(.notFound) { try s.ws.delete("no/file", recursive: true) }
    expectError(.notFound) { try s.ws.list("missing") }
    #expect(try s.ws.entry("missing") == nil)
    #expect(try s.ws.entry("no/such") == nil)
  }
}

@Test func deleteRules() throws {
  try withSandbox { s in
    try s.make("f.txt", "x")
    try s.make("dir/sub/g.txt", "x")
    try s.ws.delete("f.txt", recursive: false)
    #expect(try s.ws.entry("f.txt") == nil)
    let error = expectError(.isDirectory) { try s.ws.delete("dir", recursive: false) }
    #expect(error?.message.contains("\"recursive\": true") == true)
    try s.ws.delete("dir/sub", recursive: true)
    #expect(try s.ws.list("dir") == [])
    for root in [".", "dir/..", "./"] {
      expectError(.invalidPath) { try s.ws.delete(root, recursive: true) }
    }
    expectError(.pathOutsideWorkspace) { try s.ws.delete("..", recursive: true) }
    #expect(try s.ws.entry("dir")?.kind == .directory)
  }
}

@Test func tooLargeOnWriteAndRead() throws {
  try withSandbox(maxFileSize: 1024) { s in
    try s.ws.write("ok", [UInt8](repeating: 1, count: 1024))
    expectError(.tooLarge) { try s.ws.write("big", [UInt8](repeating: 1, count: 1025)) }
    #expect(try s.ws.entry("big") == nil)
    try s.make("over", String(repeating: "x", count: 1025))
    expectError(.tooLarge) { try s.ws.read("over") }
    // A caller's own lower limit (the event loop reads small files only), with its own message.
    #expect(try s.ws.read("ok", atMost: 1024).count == 1024)
    let under = expectError(.tooLarge) { try s.ws.read("ok", atMost: 1023) }
    #expect(under?.message == "'ok' is over the 1023 bytes this read takes at most")
    expectError(.tooLarge) { try s.ws.read("over", atMost: 4096) }
  }
  try withSandbox(maxFileSize: 10 * 1024 * 1024) { s in
    let fd = open(s.path("big.bin"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    #expect(fd >= 0)
    #expect(ftruncate(fd, off_t(12.3 * 1024 * 1024)) == 0)
    close(fd)
    let error = expectError(.tooLarge) { try s.ws.read("big.bin") }
    #expect(
      error?.message
        == "'big.bin' is 12.3 MiB, over the 10 MiB limit; raise limits.maxFileSize in the space's config"
    )
  }
}

@Test func specialFilesAreRefused() throws {
  try withSandbox { s throws in
    #expect(mkfifo(s.path("fifo"), 0o644) == 0)
    let start = Date()
    let error = expectError(.invalidPath) { try s.ws.read("fifo") }
    #expect(error?.message.contains("not a regular file") == true)
    #expect(Date().timeIntervalSince(start) < 5)
    #expect(try s.ws.entry("fifo")?.kind == .other)

    let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    #expect(sock >= 0)
    defer { close(sock) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let socketPath = Array(s.path("sock").utf8)
    #expect(socketPath.count < MemoryLayout.size(ofValue: address.sun_path))
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: socketPath) }
    let bound = withUnsafePointer(to: address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    #expect(bound == 0)
    expectError(.invalidPath) { try s.ws.read("sock") }
  }
}

@Test func listSortedWithoutFollowingLinks() throws {
  try withSandbox { s in
    try s.make("b.txt", "hello")
    try s.make("a/inner.txt", "x")
    try s.link("c-out", to: "$OUT")
    try s.link("d-in", to: "a")
    let entries = try s.ws.list("")
    #expect(entries.map(\.name) == ["a", "b.txt", "c-out", "d-in"])
    #expect(entries.map(\.kind) == [.directory, .file, .symlink, .symlink])
    #expect(entries[1].size == 5 && entries[1].path == "b.txt")
    #expect(abs(entries[1].modified - Date().timeIntervalSince1970) < 60)
    #expect(try s.ws.list(".") == entries)
    #expect(try s.ws.list("a").map(\.path) == ["a/inner.txt"])
    expectError(.notDirectory) { try s.ws.list("b.txt") }
  }
}

@Test func entryDoesNotFollowFinalLink() throws {
  try withSandbox { s in
    try s.make("f.txt", "abc")
    try s.link("out", to: "/etc/passwd")
    #expect(try s.ws.entry("f.txt")?.kind == .file)
    #expect(try s.ws.entry("f.txt")?.size == 3)
    #expect(try s.ws.entry("out")?.kind == .symlink)
    #expect(try s.ws.entry(".")?.kind == .directory)
    #expect(try s.ws.entry("f.txt/x") == nil)
  }
}

@Test func hardLinksReadableAndNeverWrittenThrough() throws {
  try withSandbox { s in
    #expect(link(s.outside + "/secret.txt", s.path("hard")) == 0)
    #expect(try s.ws.read("hard") == bytes("secret"))
    try s.ws.write("hard", bytes("replaced"))
    #expect(try s.ws.read("hard") == bytes("replaced"))
    #expect(try s.outsideFiles() == ["secret.txt": "secret"])
  }
}

@Test func systemCallFailureIsIOError() throws {
  try withSandbox { s in
    try s.make("locked/f.txt", "x")
    // Root ignores permission bits, so make the folder immutable instead; otherwise drop write access.
    let asRoot = getuid() == 0
    #expect(asRoot ? runChattr("+i", s.path("locked")) : chmod(s.path("locked"), 0o555) == 0)
    defer { _ = asRoot ? runChattr("-i", s.path("locked")) : chmod(s.path("locked"), 0o755) == 0 }
    let error = expectError(.ioError) { try s.ws.write("locked/new.txt", bytes("y")) }
    #expect(error?.message.hasPrefix("Can't write 'locked/new.txt': ") == true)
    #expect(error?.errno != nil)
    expectError(.ioError) { try s.ws.delete("locked/f.txt", recursive: false) }
  }
}

@Test func concurrentUseFromManyThreads() throws {
  try withSandbox { s throws in
    let ws = s.ws
    DispatchQueue.concurrentPerform(iterations: 8) { index in
      let path = "t\(index)/f.txt"
      #expect(throws: Never.self) {
        try ws.write(path, bytes("\(index)"))
        #expect(try ws.read(path) == bytes("\(index)"))
      }
    }
    #expect(try ws.list("").count == 8)
  }
}

private func runChattr(_ flag: String, _ path: String) -> Bool {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
  process.arguments = [flag, path]
  guard (try? process.run()) != nil else { return false }
  process.waitUntilExit()
  return process.terminationStatus == 0
}

/// The process umask, read without changing it (other tests run in parallel).
private func currentUmask() throws -> mode_t {
  let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
  let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") }
  return try #require(
    line.flatMap { mode_t($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) })
}
