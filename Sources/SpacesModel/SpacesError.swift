/// An error that an operation or a command can report, with a stable code.
///
/// The `code` is part of the wire format: clients match on it, so codes are only ever added.
public struct SpacesError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A stable, machine-readable error code.
  public struct Code: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The path leads out of the workspace (`..`, an absolute path, or a symlink that escapes).
    public static let pathOutsideWorkspace = Code(rawValue: "pathOutsideWorkspace")
    /// The path is malformed: empty, NUL bytes, over-long names.
    public static let invalidPath = Code(rawValue: "invalidPath")
    /// The file or folder does not exist.
    public static let notFound = Code(rawValue: "notFound")
    /// The file exists where it must not, or a folder stands where a file is needed.
    public static let isDirectory = Code(rawValue: "isDirectory")
    /// A file stands where a folder is needed.
    public static let notDirectory = Code(rawValue: "notDirectory")
    /// `editFile` found no occurrence of `oldText`.
    public static let editNoMatch = Code(rawValue: "editNoMatch")
    /// `editFile` found more than one occurrence of `oldText`.
    public static let editAmbiguous = Code(rawValue: "editAmbiguous")
    /// The content is over the space's size limit.
    public static let tooLarge = Code(rawValue: "tooLarge")
    /// The operation ran past its time limit.
    public static let timeout = Code(rawValue: "timeout")
    /// The request is malformed (bad JSON, missing or wrong fields).
    public static let invalidRequest = Code(rawValue: "invalidRequest")
    /// The content is not valid for the stated encoding.
    public static let invalidEncoding = Code(rawValue: "invalidEncoding")
    /// The space name is not valid.
    public static let invalidName = Code(rawValue: "invalidName")
    /// A space with that name already exists.
    public static let spaceExists = Code(rawValue: "spaceExists")
    /// No space with that name exists.
    public static let spaceNotFound = Code(rawValue: "spaceNotFound")
    /// The space's configuration can't be read.
    public static let invalidConfig = Code(rawValue: "invalidConfig")
    /// The isolation backend can't run the command (missing tool, no namespaces, …).
    public static let backendUnavailable = Code(rawValue: "backendUnavailable")
    /// A resource limit (processes, memory, file size, CPU time) stopped the command.
    public static let limitExceeded = Code(rawValue: "limitExceeded")
    /// The journal can't be written; the operation was not run.
    public static let journalError = Code(rawValue: "journalError")
    /// The operation was cancelled (its client went away) and everything it started was stopped.
    public static let cancelled = Code(rawValue: "cancelled")
    /// The approval request was already resolved, or timed out.
    public static let approvalClosed = Code(rawValue: "approvalClosed")
    /// The connection to the spaces server is gone (or could not be made).
    public static let disconnected = Code(rawValue: "disconnected")
    /// An undo or restore was refused: a later operation changed the same paths, a record is
    /// gone, or a file's earlier content was not kept.
    public static let undoRefused = Code(rawValue: "undoRefused")
    /// A system call failed in a way the other codes don't describe.
    public static let ioError = Code(rawValue: "ioError")
    /// Too many requests are in flight on one connection; wait for some to finish.
    public static let busy = Code(rawValue: "busy")

    /// Every code above: the schema's `ErrorCode` (SchemaTests check the two match).
    public static let all: [Code] = [
      .pathOutsideWorkspace, .invalidPath, .notFound, .isDirectory, .notDirectory, .editNoMatch, .editAmbiguous,
      .tooLarge, .timeout, .invalidRequest, .invalidEncoding, .invalidName, .spaceExists, .spaceNotFound,
      .invalidConfig, .backendUnavailable, .limitExceeded, .journalError, .cancelled, .approvalClosed, .disconnected,
      .undoRefused, .ioError, .busy,
    ]
  }

  /// The stable code.
  public var code: Code
  /// A sentence for a person: what went wrong and what to do.
  public var message: String
  /// The underlying `errno`, when a system call failed.
  public var errno: Int32?
  /// The JSON-RPC error code the server answered with, when this is a server's answer to a
  /// request (``RPCErrorCode``); nil for an error raised on this side of the connection.
  public var rpcCode: Int?

  /// Creates an error with a code and a message.
  public init(_ code: Code, _ message: String, errno: Int32? = nil) {
    self.code = code
    self.message = message
    self.errno = errno
  }

  public var description: String { "\(code): \(message)" }

  /// The error for a Foundation file call that failed (`FileManager`, `Data.write`: they throw
  /// untyped): `ioError`, saying what could not be done and Foundation's reason. The one mapping
  /// of those errors.
  public static func fileCall(_ what: String, _ error: any Error) -> SpacesError {
    SpacesError(.ioError, "\(what): \(error.localizedDescription)")
  }

  /// An operation cancelled while it ran: what it started was stopped (the backends throw it,
  /// and the runtime reports a cancelled task the same way).
  public static let runCancelled = SpacesError(
    .cancelled, "the operation was cancelled and everything it started was stopped")
}
