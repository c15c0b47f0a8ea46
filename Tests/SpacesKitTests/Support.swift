import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel

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
