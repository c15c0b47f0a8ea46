import Foundation

/// What comes back for one operation: one JSON object.
///
/// Always `id`, `space`, `kind`, `status` and `durationMs`; the rest depends on the kind and
/// the status.
public struct OperationResult: Codable, Sendable, Equatable {
  /// How an operation ended.
  public enum Status: String, Codable, Sendable, CaseIterable {
    case completed, failed, denied
  }

  /// Who denied an operation.
  public enum DecidedBy: String, Codable, Sendable, CaseIterable {
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
  /// shell: what of `stdout` and `stderr` the operation's `output` events carry, which this
  /// result then doesn't repeat (see ``StreamedOutput``). Set in the journal's `completed` and
  /// `failed` events, and in the answers to clients that stream output; absent in a whole result.
  public var streamed: StreamedOutput?

  // failed
  public var error: ErrorInfo?

  // denied
  public var reason: String?
  public var decidedBy: DecidedBy?

  /// The part of a shell command's output that its `output` events carry, so that a result
  /// refers to them instead of repeating them.
  ///
  /// The command's whole `stdout` is the first `stdout` UTF-8 bytes of the text of its
  /// `output` events on stdout (in `seq` order, from `fromSeq` on), followed by the result's own
  /// `stdout` (what the events don't hold: the tail kept by the output cap, the runtime's notes);
  /// the same for `stderr`.
  public struct StreamedOutput: Codable, Sendable, Equatable {
    /// The `seq` of the operation's first `output` event.
    public var fromSeq: Int
    /// How many bytes at the start of `stdout` the `output` events on stdout carry.
    public var stdout: Int
    /// How many bytes at the start of `stderr` the `output` events on stderr carry.
    public var stderr: Int

    /// Creates a reference to the output events.
    public init(fromSeq: Int, stdout: Int, stderr: Int) {
      self.fromSeq = fromSeq
      self.stdout = stdout
      self.stderr = stderr
    }
  }

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

  /// The result that refers to the output events for what they carry (`streamed` set, and
  /// `stdout`/`stderr` holding only the rest): how the journal keeps a command's output once.
  ///
  /// `streamedStdout` and `streamedStderr` are the text of the operation's `output` events.
  /// Returns the result unchanged when nothing of the output was streamed.
  public func referencingOutput(fromSeq: Int?, streamedStdout: String, streamedStderr: String) -> OperationResult {
    referencingOutput(fromSeq: fromSeq, stdoutChunks: [streamedStdout], stderrChunks: [streamedStderr])
  }

  /// The same, given the events' text as the chunks they carried (nothing joined).
  public func referencingOutput(fromSeq: Int?, stdoutChunks: [String], stderrChunks: [String]) -> OperationResult {
    guard let fromSeq, streamed == nil else { return self }
    let outCount = Self.commonPrefixLength(stdout ?? "", stdoutChunks)
    let errCount = Self.commonPrefixLength(stderr ?? "", stderrChunks)
    guard outCount > 0 || errCount > 0 else { return self }
    var copy = self
    if let stdout { copy.stdout = String(decoding: stdout.utf8.dropFirst(outCount), as: UTF8.self) }
    if let stderr { copy.stderr = String(decoding: stderr.utf8.dropFirst(errCount), as: UTF8.self) }
    copy.streamed = StreamedOutput(fromSeq: fromSeq, stdout: outCount, stderr: errCount)
    return copy
  }

  /// The whole result again from one that refers to its output events (``streamed``), given
  /// the text of those events; a result without ``streamed`` is returned unchanged.
  public func reassembled(streamedStdout: String, streamedStderr: String) -> OperationResult {
    guard let streamed else { return self }
    var copy = self
    copy.streamed = nil
    func join(_ streamedText: String, _ count: Int, _ rest: String?) -> String? {
      let head = streamedText.utf8.prefix(count)
      if head.isEmpty { return rest }
      return String(decoding: Array(head) + Array((rest ?? "").utf8), as: UTF8.self)
    }
    copy.stdout = join(streamedStdout, streamed.stdout, stdout)
    copy.stderr = join(streamedStderr, streamed.stderr, stderr)
    return copy
  }

  /// The length in UTF-8 bytes of the longest common prefix of `a` and `b` that ends on a
  /// character boundary of both.
  static func commonPrefixLength(_ a: String, _ b: String) -> Int {
    commonPrefixLength(a, [b])
  }

  /// The same against the text of `chunks` one after another, compared a chunk at a time with
  /// `memcmp` (a command's output is megabytes).
  static func commonPrefixLength(_ a: String, _ chunks: [String]) -> Int {
    var a = a
    return a.withUTF8 { x in
      var index = 0
      for var chunk in chunks {
        let matched = chunk.withUTF8 { y -> Int in
          let limit = min(x.count - index, y.count)
          guard limit > 0, let xBase = x.baseAddress, let yBase = y.baseAddress else { return 0 }
          if memcmp(xBase + index, yBase, limit) == 0 { return limit }
          var same = 0
          while same < limit, x[index + same] == y[same] { same += 1 }
          return same
        }
        index += matched
        if matched < chunk.utf8.count { break }
      }
      // Back to the start of a scalar (never inside a multi-byte sequence).
      while index > 0, index < x.count, x[index] & 0xC0 == 0x80 { index -= 1 }
      return index
    }
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
