/// What comes back for one operation: one JSON object.
///
/// Always `id`, `space`, `kind`, `status` and `durationMs`; the rest depends on the kind and
/// the status.
public struct OperationResult: Codable, Sendable, Equatable {
  /// How an operation ended.
  public enum Status: String, Codable, Sendable {
    case completed, failed, denied
  }

  /// Who denied an operation.
  public enum DecidedBy: String, Codable, Sendable {
    case policy, person, timeout
  }

  /// A failure: a stable code and a sentence for a person.
  public struct ErrorInfo: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    /// Creates the wire form of an error.
    public init(code: String, message: String) {
      self.code = code
      self.message = message
    }
    /// The wire form of a ``SpacesError``.
    public init(_ error: SpacesError) {
      self.init(code: error.code.rawValue, message: error.message)
    }
  }

  public var id: String
  public var space: String
  public var kind: Op.Kind
  public var status: Status
  public var durationMs: Int

  // readFile
  public var content: String?
  public var encoding: ContentEncoding?
  public var size: Int?
  /// readFile: the SHA-256 of the bytes read, as 64 lowercase hex digits. Events carry it in
  /// place of `content` (see ``forEvents``).
  public var sha256: String?

  // shell
  public var exitCode: Int32?
  public var signal: Int32?
  public var stdout: String?
  public var stderr: String?
  public var truncated: Bool?
  /// shell: the protected paths the command changed without a person's approval, which the
  /// runtime put back (or removed); absent when there were none.
  public var restored: [String]?
  /// shell: the session's folder once the command ended, relative to the workspace (`.` is the
  /// workspace root): where the next shell operation starts unless it asks for a fresh shell.
  public var cwd: String?

  // failed
  public var error: ErrorInfo?

  // denied
  public var reason: String?
  public var decidedBy: DecidedBy?

  /// Creates a result with only the fields every result has.
  public init(
    id: String, space: String, kind: Op.Kind, status: Status, durationMs: Int = 0
  ) {
    self.id = id
    self.space = space
    self.kind = kind
    self.status = status
    self.durationMs = durationMs
  }

  /// The result as events carry it (the journal, subscribers, an `op.submit`'s live events):
  /// without a read's `content`, which only the answer to the caller holds. `size` and
  /// `sha256` still say exactly what was read.
  public var forEvents: OperationResult {
    var copy = self
    copy.content = nil
    return copy
  }

  /// The exit status the `spaces op` command uses for this result.
  public var processExitCode: Int32 {
    switch status {
    case .completed: 0
    case .failed: 1
    case .denied: 3
    }
  }
}
