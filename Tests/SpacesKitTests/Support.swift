import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel

/// A fresh folder for one test, removed when the value goes away.
final class TempFolder: Sendable {
  let path: String

  init(_ label: String = "t") {
    let base = FileManager.default.temporaryDirectory.path
    path = base + "/spaces-test-\(label)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String) -> String { path + "/" + name }

  func write(_ name: String, _ text: String) throws {
    let target = file(name)
    try FileManager.default.createDirectory(
      atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: target))
  }

  func read(_ name: String) -> String? {
    FileManager.default.contents(atPath: file(name)).map { String(decoding: $0, as: UTF8.self) }
  }
}

/// Expects `body` to throw a ``SpacesError`` with `code`, and returns it.
@discardableResult
func expectError<T>(
  _ code: SpacesError.Code, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> T
) -> SpacesError? {
  do {
    _ = try body()
    Issue.record("expected \(code), but it succeeded", sourceLocation: sourceLocation)
    return nil
  } catch let error as SpacesError {
    #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
    #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    return error
  } catch {
    Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    return nil
  }
}
