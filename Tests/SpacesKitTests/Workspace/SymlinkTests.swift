import Dispatch
import Foundation
import Glibc
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// One row of the symlink table: links to create, an operation, and what must happen.
struct LinkCase: Sendable, CustomTestStringConvertible {
  enum Action: Sendable {
    case read(String)
    case write(String)
    case delete(String)
    case list(String)
    case entry(String)
  }

  enum Outcome: Sendable {
    /// The action throws this code.
    case refused(SpacesError.Code)
    /// The action succeeds and afterwards the file at this path holds this text.
    case reads(String, String)
    /// The action succeeds and lists these names.
    case lists([String])
    /// The action succeeds and afterwards nothing is at this path.
    case removed(String)
  }

  var testDescription: String
  var links: [(String, String)]
  var action: Action
  var outcome: Outcome

  static let all: [LinkCase] = [
    LinkCase(
      testDescription: "absolute dir link to /etc", links: [("x", "/etc")],
      action: .read("x/passwd"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "absolute file link to /etc/passwd", links: [("y", "/etc/passwd")],
      action: .read("y"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "relative link climbing out", links: [("z", "../../..")],
      action: .read("z/etc/passwd"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "relative link to a sibling folder", links: [("o", "../outside")],
      action: .read("o/secret.txt"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "write through an escaping folder link", links: [("o", "../outside")],
      action: .write("o/evil"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "write through an absolute folder link", links: [("o", "$OUT")],
      action: .write("o/evil"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "write below an escaping link, creating folders",
      links: [("o", "../outside")], action: .write("o/new/evil"),
      outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "delete through an escaping folder link", links: [("o", "../outside")],
      action: .delete("o/secret.txt"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "list through an escaping folder link", links: [("o", "../outside")],
      action: .list("o"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "entry through an escaping folder link", links: [("o", "../outside")],
      action: .entry("o/secret.txt"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "absolute link back into the workspace", links: [("a", "$WS/data/file.txt")],
      action: .read("a"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "nested link climbing out", links: [("data/up", "../..")],
      action: .read("data/up/outside/secret.txt"), outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "link leaving and re-entering the root",
      links: [("back", "../ws/data/file.txt")], action: .read("back"),
      outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "symlink loop", links: [("l1", "l2"), ("l2", "l1")], action: .read("l1"),
      outcome: .refused(.pathOutsideWorkspace)),
    LinkCase(
      testDescription: "dangling inside link", links: [("g", "nothere")], action: .read("g"),
      outcome: .refused(.notFound)),
    LinkCase(
      testDescription: "file link used as a folder", links: [("f", "data/file.txt")],
      action: .read("f/x"), outcome: .refused(.notDirectory)),
    LinkCase(
      testDescription: "inside file link", links: [("data/alias", "file.txt")],
      action: .read("data/alias"), outcome: .reads("data/alias", "inside")),
    LinkCase(
      testDescription: "inside folder link", links: [("d", "data")], action: .read("d/file.txt"),
      outcome: .reads("d/file.txt", "inside")),
    LinkCase(
      testDescription: "inside link with ..", links: [("data/l", "../data/file.txt")],
      action: .read("data/l"), outcome: .reads("data/l", "inside")),
    LinkCase(
      testDescription: "link to .", links: [("dot", ".")], action: .read("dot/data/file.txt"),
      outcome: .reads("dot/data/file.txt", "inside")),
    LinkCase(
      testDescription: "link to .. inside", links: [("data/p", "..")],
      action: .read("data/p/data/file.txt"), outcome: .reads("data/file.txt", "inside")),
    LinkCase(
      testDescription: "chain of inside links", links: [("c1", "c2"), ("c2", "data/")],
      action: .read("c1/file.txt"), outcome: .reads("c1/file.txt", "inside")),
    LinkCase(
      testDescription: "write through an inside folder link", links: [("d", "data")],
      action: .write("d/new.txt"), outcome: .reads("data/new.txt", "new")),
    LinkCase(
      testDescription: "delete through an inside folder link", links: [("d", "data")],
      action: .delete("d/file.txt"), outcome: .removed("data/file.txt")),
    LinkCase(
      testDescription: "list through an inside folder link", links: [("d", "data")],
      action: .list("d"), outcome: .lists(["file.txt"])),
    LinkCase(
      testDescription: "write replaces a final link to outside",
      links: [("w", "../outside/secret.txt")], action: .write("w"), outcome: .reads("w", "new")),
    LinkCase(
      testDescription: "write replaces a final link to a folder", links: [("w", "data")],
      action: .write("w"), outcome: .reads("w", "new")),
    LinkCase(
      testDescription: "delete removes the link, not its target", links: [("w", "$OUT/secret.txt")],
      action: .delete("w"), outcome: .removed("w")),
  ]
}

@Test(arguments: [false, true], LinkCase.all)
func symlinkTable(fallback: Bool, row: LinkCase) throws {
  try withSandbox(fallback: fallback) { s in
    try s.make("data/file.txt", "inside")
    for (name, target) in row.links { try s.link(name, to: target) }
    let ws = s.ws
    let run: () throws -> [String] = {
      switch row.action {
      case .read(let path): return [String(decoding: try ws.read(path), as: UTF8.self)]
      case .write(let path): try ws.write(path, bytes("new"))
      case .delete(let path): try ws.delete(path, recursive: false)
      case .list(let path): return try ws.list(path).map(\.name)
      case .entry(let path): _ = try ws.entry(path)
      }
      return []
    }
    switch row.outcome {
    case .refused(let code):
      expectError(code, run)
    case .reads(let path, let text):
      _ = try run()
      #expect(try ws.read(path) == bytes(text))
    case .lists(let names):
      #expect(try run() == names)
    case .removed(let path):
      _ = try run()
      #expect(try ws.entry(path) == nil)
    }
    #expect(try s.outsideFiles() == ["secret.txt": "secret"])
  }
}

@Test(arguments: [false, true])
func parentSwappedForSymlink(fallback: Bool) throws {
  try withSandbox(fallback: fallback) { s in
    try s.ws.write("d/f", bytes("one"))
    #expect(rename(s.path("d"), s.path("d.real")) == 0)
    try s.link("d", to: "$OUT")
    try FileManager.default.createDirectory(
      atPath: s.outside + "/sub", withIntermediateDirectories: false)
    expectError(.pathOutsideWorkspace) { try s.ws.write("d/f", bytes("two")) }
    expectError(.pathOutsideWorkspace) { try s.ws.write("d/sub/f", bytes("two")) }
    expectError(.pathOutsideWorkspace) { try s.ws.read("d/secret.txt") }
    expectError(.pathOutsideWorkspace) { try s.ws.delete("d/secret.txt", recursive: false) }
    expectError(.pathOutsideWorkspace) { try s.ws.delete("d/sub", recursive: true) }
    expectError(.pathOutsideWorkspace) { try s.ws.list("d") }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: s.outside).sorted() == [
        "secret.txt", "sub",
      ])
    #expect(try String(contentsOfFile: s.outside + "/secret.txt", encoding: .utf8) == "secret")
    #expect(try FileManager.default.contentsOfDirectory(atPath: s.outside + "/sub").isEmpty)
    #expect(try s.ws.read("d.real/f") == bytes("one"))
  }
}

@Test(arguments: [false, true])
func concurrentSwapRace(fallback: Bool) throws {
  try withSandbox(fallback: fallback) { s in
    try FileManager.default.createDirectory(atPath: s.path("d"), withIntermediateDirectories: false)
    try s.link("dlink", to: "$OUT")
    try FileManager.default.createDirectory(
      atPath: s.outside + "/sub", withIntermediateDirectories: false)
    let ws = s.ws
    let (d, real, link) = (s.path("d"), s.path("d.real"), s.path("dlink"))
    let refusals = Counter()
    let swapped = DispatchSemaphore(value: 0)
    let finished = Counter()
    // Swap d between the real folder and the link to outside, leaving each in place for a round.
    // When the writer re-created a missing d, move that folder aside so the link can take its place.
    // At least 3000 rounds, and on until the operations have met the link at least once (the
    // scheduler decides when that happens) or a generous deadline passes.
    let deadline = Date().addingTimeInterval(60)
    Thread {
      var round = 0
      while round < 3000 || (refusals.value == 0 && Date() < deadline) {
        defer { round += 1 }
        if round.isMultiple(of: 2) {
          rename(d, real)
          var attempt = 0
          while rename(link, d) != 0, attempt < 10 {
            rename(d, "\(d).stray-\(round)-\(attempt)")
            attempt += 1
          }
        } else {
          rename(d, link)
          rename(real, d)
        }
      }
      finished.increment()
      swapped.signal()
    }.start()
    var index = 0
    while finished.value == 0 {
      index += 1
      for operation in [
        { try ws.write("d/f", [UInt8(truncatingIfNeeded: index)]) },
        { try ws.write("d/sub/f", []) },
        { _ = try ws.read("d/secret.txt") },
        { try ws.delete("d/secret.txt", recursive: false) },
      ] {
        do { try operation() } catch let error as SpacesError
          where error.code == .pathOutsideWorkspace
        {
          refusals.increment()
        } catch {}
      }
    }
    swapped.wait()
    #expect(refusals.value > 0, "the race never saw d as a symlink")
    #expect(
      try FileManager.default.subpathsOfDirectory(atPath: s.outside).sorted() == [
        "secret.txt", "sub",
      ])
    #expect(try String(contentsOfFile: s.outside + "/secret.txt", encoding: .utf8) == "secret")
  }
}

/// A thread-safe counter.
final class Counter: Sendable {
  private let count = LockedValue(0)

  var value: Int { count.withValue { $0 } }

  func increment() { count.withValue { $0 += 1 } }
}

@Test(arguments: [false, true])
func recursiveDeleteKeepsLinkTargets(fallback: Bool) throws {
  try withSandbox(fallback: fallback) { s in
    try s.make("tree/a/b/file.txt", "x")
    try s.make("tree/top.txt", "y")
    try s.link("tree/abs", to: "$OUT")
    try s.link("tree/a/rel", to: "../../../outside")
    try s.link("tree/a/b/file", to: "$OUT/secret.txt")
    try s.ws.delete("tree", recursive: true)
    #expect(try s.ws.entry("tree") == nil)
    #expect(try s.outsideFiles() == ["secret.txt": "secret"])
  }
}

@Test(arguments: [false, true])
func writeOverFinalSymlinkReplacesLink(fallback: Bool) throws {
  try withSandbox(fallback: fallback) { s in
    try s.link("out", to: "$OUT/secret.txt")
    try s.ws.write("out", bytes("mine"))
    #expect(try s.ws.entry("out")?.kind == .file)
    #expect(try s.ws.read("out") == bytes("mine"))
    #expect(try s.outsideFiles() == ["secret.txt": "secret"])
  }
}
