import Foundation
import Logging

/// The runtime: every space under one ``SpacesHome``, opened on demand and kept open.
///
/// The CLI, the workbench and the server all submit operations through it.
public final class SpacesRuntime: Sendable {
  /// Where spaces are stored.
  public let home: SpacesHome
  private let logger: Logger
  private let open = LockedValue<[String: Space]>([:])

  /// Creates a runtime over the spaces in `home`; `logger` receives warnings (never stdout).
  public init(home: SpacesHome, logger: Logger = Logger(label: "agent-spaces")) {
    self.home = home
    self.logger = logger
  }

  /// The open space called `name`, opening it on first use.
  public func space(_ name: String) throws(SpacesError) -> Space {
    if let space = open.withValue({ $0[name] }) { return space }
    let config = try home.load(name)
    let backend = Backends.make(for: config, home: home)
    let space = try Space(
      config: config, journalPath: home.journalPath(name), backend: backend, logger: logger)
    return open.withValue { spaces in
      if let existing = spaces[name] { return existing }
      spaces[name] = space
      return space
    }
  }

  /// Runs one operation in the space called `spaceName`.
  ///
  /// A missing space or an unreadable config comes back as a failed result, like any error.
  public func submit(
    _ operation: Op, to spaceName: String, actor: Event.Actor = .agent
  ) async -> OperationResult {
    do {
      return try await space(spaceName).submit(operation, actor: actor)
    } catch {
      var result = OperationResult(
        id: "", space: spaceName, kind: operation.kind, status: .failed)
      result.error = OperationResult.ErrorInfo(error)
      return result
    }
  }

  /// Forgets an open space (after it was deleted or its config changed).
  public func close(_ name: String) {
    _ = open.withValue { $0.removeValue(forKey: name) }
  }
}
