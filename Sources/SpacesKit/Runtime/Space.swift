import Foundation
import Logging

/// One open space: its config, workspace, journal, policy and backend, and the pipeline
/// every operation goes through.
///
/// decode → policy → execute in the backend → result, with every step journaled and published
/// to subscribers. The result is returned only after the journal holds it on disk.
public final class Space: Sendable {
  /// The space's configuration.
  public let config: SpaceConfig
  /// The journal.
  public let journal: Journal
  /// The workspace, confined.
  public let workspace: ConfinedWorkspace
  /// Live events.
  public let hub: EventHub
  /// The policy.
  public let policy: Policy
  /// Where shell commands run.
  public let backend: any IsolationBackend
  private let logger: Logger

  /// The space's name.
  public var name: String { config.name }

  /// Opens a space from its config.
  public init(
    config: SpaceConfig, journalPath: String, backend: any IsolationBackend, logger: Logger
  ) throws(SpacesError) {
    self.config = config
    self.backend = backend
    self.logger = logger
    do {
      workspace = try ConfinedWorkspace(
        root: config.workspace, maxFileSize: config.limits.maxFileSizeBytes)
    } catch let error as SpacesError {
      throw SpacesError(
        error.code,
        "the workspace of \"\(config.name)\" can't be opened: \(error.message)", errno: error.errno)
    } catch {
      throw SpacesError(.ioError, "the workspace of \"\(config.name)\" can't be opened: \(error)")
    }
    journal = try Journal(path: journalPath)
    for issue in journal.issues {
      logger.warning("\(config.name): \(issue)")
    }
    hub = EventHub()
    policy = Policy(preset: config.policy)
  }

  /// Runs one operation through the whole pipeline and returns its result.
  public func submit(_ operation: Op, actor: Event.Actor = .agent) async -> OperationResult {
    let id = Self.newOperationID()
    let clock = ContinuousClock()
    let start = clock.now
    func elapsed() -> Int {
      let duration = clock.now - start
      return Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
    var result = OperationResult(id: id, space: name, kind: operation.kind, status: .completed)

    do {
      var received = event(id, .received)
      received.actor = actor
      received.op = operation
      let verdict = policy.evaluate(operation)
      var decided = event(id, .decision)
      decided.decision = verdict
      try record([received, decided], sync: false)

      if verdict.decision != .allow {
        result.status = .denied
        result.reason = verdict.reasons.joined(separator: "; ")
        result.decidedBy = .policy
        result.durationMs = elapsed()
        var denied = event(id, .denied)
        denied.result = result
        try record([denied], sync: true)
        return result
      }

      try record([event(id, .started)], sync: false)
      do {
        try await execute(operation, id: id, into: &result)
      } catch let error as SpacesError {
        result.status = .failed
        result.error = OperationResult.ErrorInfo(error)
      } catch {
        result.status = .failed
        result.error = OperationResult.ErrorInfo(code: SpacesError.Code.ioError.rawValue, message: "\(error)")
      }
      result.durationMs = elapsed()
      var finished = event(id, result.status == .completed ? .completed : .failed)
      finished.result = result
      try record([finished], sync: true)
      return result
    } catch {
      logger.error("\(name): journal write failed: \(error)")
      result.status = .failed
      result.error = OperationResult.ErrorInfo(error)
      result.content = nil
      result.durationMs = elapsed()
      return result
    }
  }

  // MARK: - Execution

  private func execute(_ operation: Op, id: String, into result: inout OperationResult)
    async throws
  {
    switch operation {
    case .createFile(let path, let content, let encoding):
      let bytes: [UInt8]
      switch encoding {
      case .utf8: bytes = Array(content.utf8)
      case .base64:
        guard let data = Data(base64Encoded: content) else {
          throw SpacesError(.invalidEncoding, "the content of \(path) is not valid base64")
        }
        bytes = Array(data)
      }
      try workspace.write(path, bytes)
      result.size = bytes.count

    case .readFile(let path):
      let bytes = try workspace.read(path)
      if let text = String(validating: bytes, as: UTF8.self) {
        result.content = text
        result.encoding = .utf8
      } else {
        result.content = Data(bytes).base64EncodedString()
        result.encoding = .base64
      }
      result.size = bytes.count

    case .editFile(let path, let oldText, let newText):
      guard !oldText.isEmpty else {
        throw SpacesError(.invalidRequest, "\"oldText\" is empty; give the exact text to replace")
      }
      let bytes = try workspace.read(path)
      guard String(validating: bytes, as: UTF8.self) != nil else {
        throw SpacesError(
          .invalidEncoding, "\(path) is not UTF-8 text; replace it with createFile instead")
      }
      let needle = Array(oldText.utf8)
      let matches = Self.occurrences(of: needle, in: bytes)
      guard matches.count == 1, let at = matches.first else {
        if matches.isEmpty {
          throw SpacesError(
            .editNoMatch,
            "\"oldText\" was not found in \(path); read the file and copy the text exactly, including whitespace"
          )
        }
        throw SpacesError(
          .editAmbiguous,
          "\"oldText\" occurs \(matches.count) times in \(path); include more surrounding text so it matches exactly once"
        )
      }
      var edited = bytes
      edited.replaceSubrange(at..<(at + needle.count), with: Array(newText.utf8))
      try workspace.write(path, edited)
      result.size = edited.count

    case .deleteFile(let path, let recursive):
      try workspace.delete(path, recursive: recursive)

    case .message(let text):
      var message = event(id, .message)
      message.text = text
      try record([message], sync: false)

    case .shell(let command, let timeoutMs):
      try await runShell(command, timeoutMs: timeoutMs, id: id, into: &result)
    }
  }

  private func runShell(
    _ command: String, timeoutMs: Int?, id: String, into result: inout OperationResult
  ) async throws {
    var limits = config.limits.shell
    if let timeoutMs { limits.timeoutMs = timeoutMs }
    let request = ShellRequest(
      command: command, workspace: config.workspace, limits: limits,
      network: config.capabilities.network, environment: config.environment)
    let space = name
    let journal = journal
    let hub = hub
    let logger = logger
    let outcome: ShellOutcome
    do {
      outcome = try await backend.run(request) { stream, chunk in
        var output = Event(space: space, opId: id, type: .output)
        output.stream = stream.rawValue
        output.data = chunk
        do {
          hub.publish(try journal.append([output], sync: false))
        } catch {
          logger.error("\(space): journal write failed: \(error)")
        }
      }
    } catch let error as SpacesError {
      throw error
    } catch {
      throw SpacesError(.ioError, "the command could not be run: \(error)")
    }
    result.exitCode = outcome.exitCode
    result.signal = outcome.signal
    result.stdout = outcome.stdout
    result.stderr = outcome.stderr
    result.truncated = outcome.truncated
    if outcome.timedOut {
      throw SpacesError(
        .timeout,
        "the command ran longer than \(limits.timeoutMs) ms and was stopped; raise timeoutMs or run less at once"
      )
    }
    if let limit = outcome.limitHit {
      throw SpacesError(
        .limitExceeded, "the command hit the space's \(limit) limit and was stopped")
    }
  }

  // MARK: - Helpers

  private func event(_ id: String, _ type: Event.Kind) -> Event {
    Event(space: name, opId: id, type: type)
  }

  private func record(_ events: [Event], sync: Bool) throws(SpacesError) {
    hub.publish(try journal.append(events, sync: sync))
  }

  /// The offsets of every occurrence of `needle` (non-empty), overlapping ones included.
  static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
    guard let first = needle.first, needle.count <= haystack.count else { return [] }
    var found: [Int] = []
    var index = 0
    let last = haystack.count - needle.count
    while index <= last {
      if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) {
        found.append(index)
      }
      index += 1
    }
    return found
  }

  /// A new, unique operation id.
  static func newOperationID() -> String {
    "op_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
  }
}
