import Foundation

/// An instruction from an agent: one of the six operations, and nothing else.
///
/// The JSON form is an object whose `kind` names the operation, for example
/// `{"kind":"readFile","path":"src/a.ts"}`. Decoding rejects unknown kinds, missing or
/// mistyped fields and unknown fields with a message that says which and what is expected.
public enum Op: Sendable, Equatable {
  /// Creates or replaces a file; `encoding` is `utf8` (the default) or `base64`.
  case createFile(path: String, content: String, encoding: ContentEncoding)
  /// Reads a whole file.
  case readFile(path: String)
  /// Replaces the one occurrence of `oldText` in a file with `newText`.
  case editFile(path: String, oldText: String, newText: String)
  /// Deletes a file; a folder only when `recursive` is true.
  case deleteFile(path: String, recursive: Bool)
  /// Runs a shell command in the space's backend, in the space's shell session (the folder and
  /// exported variables the previous command left); `fresh` starts it clean instead (the
  /// workspace root, no carried variables).
  case shell(command: String, timeoutMs: Int?, fresh: Bool = false)
  /// A message from the agent to the person.
  case message(text: String)

  /// The operation's kind as it appears on the wire.
  public var kind: Kind {
    switch self {
    case .createFile: .createFile
    case .readFile: .readFile
    case .editFile: .editFile
    case .deleteFile: .deleteFile
    case .shell: .shell
    case .message: .message
    }
  }

  /// The workspace path the operation touches, if any.
  public var path: String? {
    switch self {
    case .createFile(let path, _, _), .readFile(let path), .editFile(let path, _, _),
      .deleteFile(let path, _):
      path
    case .shell, .message: nil
    }
  }

  /// The values a shell operation's `timeoutMs` accepts (it can only lower the space's limit).
  public static let timeoutRange = 1...86_400_000

  /// The six operation kinds.
  public enum Kind: String, Codable, Sendable, CaseIterable {
    case createFile, readFile, editFile, deleteFile, shell, message

    /// Whether an operation of this kind can change the workspace.
    public var writes: Bool {
      switch self {
      case .createFile, .editFile, .deleteFile, .shell: true
      case .readFile, .message: false
      }
    }
  }
}

/// How file content is carried in JSON.
public enum ContentEncoding: String, Codable, Sendable, CaseIterable {
  /// The content is the text itself.
  case utf8
  /// The content is base64 of the bytes (for binary files).
  case base64
}

extension Op: Codable {
  private struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  /// The fields each kind has besides `kind`: what its decoders accept (Foundation's and the
  /// server's one-pass reading of `op.submit` params).
  package static let fields: [Kind: (required: [String], optional: [String])] = [
    .createFile: (["path", "content"], ["encoding"]),
    .readFile: (["path"], []),
    .editFile: (["path", "oldText", "newText"], []),
    .deleteFile: (["path"], ["recursive"]),
    .shell: (["command"], ["timeoutMs", "fresh"]),
    .message: (["text"], []),
  ]

  public init(from decoder: any Decoder) throws {
    let container: KeyedDecodingContainer<Key>
    do {
      container = try decoder.container(keyedBy: Key.self)
    } catch {
      throw Self.invalid(decoder, #"an operation must be a JSON object, e.g. {"kind":"readFile","path":"a.txt"}"#)
    }
    let kindNames = Kind.allCases.map(\.rawValue).joined(separator: ", ")
    guard container.contains(Key("kind")) else {
      throw Self.invalid(decoder, "the operation has no \"kind\"; expected one of: \(kindNames)")
    }
    let kindName: String
    do {
      kindName = try container.decode(String.self, forKey: Key("kind"))
    } catch {
      throw Self.invalid(decoder, "\"kind\" must be a string, one of: \(kindNames)")
    }
    guard let kind = Kind(rawValue: kindName), let spec = Self.fields[kind] else {
      throw Self.invalid(decoder, "unknown kind \"\(kindName)\"; expected one of: \(kindNames)")
    }
    let allowed = Set(["kind"] + spec.required + spec.optional)
    if let unknown = container.allKeys.map(\.stringValue).filter({ !allowed.contains($0) }).sorted()
      .first
    {
      let expected = (spec.required + spec.optional).joined(separator: ", ")
      throw Self.invalid(
        decoder, "unknown field \"\(unknown)\" for \(kindName); its fields are: \(expected)")
    }
    for name in spec.required where !container.contains(Key(name)) {
      throw Self.invalid(decoder, "\(kindName) needs \"\(name)\"")
    }

    func value<T: Decodable>(_ type: T.Type, _ name: String, _ expected: String) throws -> T {
      do {
        return try container.decode(T.self, forKey: Key(name))
      } catch {
        throw Self.invalid(decoder, "\"\(name)\" of \(kindName) must be \(expected)")
      }
    }
    func optional<T: Decodable>(_ type: T.Type, _ name: String, _ expected: String) throws -> T? {
      guard container.contains(Key(name)) else { return nil }
      if try container.decodeNil(forKey: Key(name)) { return nil }
      return try value(T.self, name, expected)
    }

    switch kind {
    case .createFile:
      let encoding = try optional(
        ContentEncoding.self, "encoding", "\"utf8\" or \"base64\"")
      self = .createFile(
        path: try value(String.self, "path", "a string"),
        content: try value(String.self, "content", "a string"),
        encoding: encoding ?? .utf8)
    case .readFile:
      self = .readFile(path: try value(String.self, "path", "a string"))
    case .editFile:
      self = .editFile(
        path: try value(String.self, "path", "a string"),
        oldText: try value(String.self, "oldText", "a string"),
        newText: try value(String.self, "newText", "a string"))
    case .deleteFile:
      self = .deleteFile(
        path: try value(String.self, "path", "a string"),
        recursive: try optional(Bool.self, "recursive", "true or false") ?? false)
    case .shell:
      let timeout = try optional(Int.self, "timeoutMs", "a whole number of milliseconds")
      if let timeout, !Op.timeoutRange.contains(timeout) {
        throw Self.invalid(
          decoder,
          "\"timeoutMs\" must be from 1 to \(Op.timeoutRange.upperBound) (a day); it can only lower the space's limit")
      }
      self = .shell(
        command: try value(String.self, "command", "a string"), timeoutMs: timeout,
        fresh: try optional(Bool.self, "fresh", "true or false") ?? false)
    case .message:
      self = .message(text: try value(String.self, "text", "a string"))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Key.self)
    try container.encode(kind.rawValue, forKey: Key("kind"))
    switch self {
    case .createFile(let path, let content, let encoding):
      try container.encode(path, forKey: Key("path"))
      try container.encode(content, forKey: Key("content"))
      if encoding != .utf8 { try container.encode(encoding, forKey: Key("encoding")) }
    case .readFile(let path):
      try container.encode(path, forKey: Key("path"))
    case .editFile(let path, let oldText, let newText):
      try container.encode(path, forKey: Key("path"))
      try container.encode(oldText, forKey: Key("oldText"))
      try container.encode(newText, forKey: Key("newText"))
    case .deleteFile(let path, let recursive):
      try container.encode(path, forKey: Key("path"))
      if recursive { try container.encode(true, forKey: Key("recursive")) }
    case .shell(let command, let timeoutMs, let fresh):
      try container.encode(command, forKey: Key("command"))
      try container.encodeIfPresent(timeoutMs, forKey: Key("timeoutMs"))
      if fresh { try container.encode(true, forKey: Key("fresh")) }
    case .message(let text):
      try container.encode(text, forKey: Key("text"))
    }
  }

  private static func invalid(_ decoder: any Decoder, _ message: String) -> DecodingError {
    .dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: message))
  }
}

extension Op {
  /// Decodes an operation from JSON text, with an error that says what is wrong.
  public static func parse(_ json: String) throws(SpacesError) -> Op {
    do {
      return try SpacesJSON.decoder.decode(Op.self, from: Data(json.utf8))
    } catch {
      throw SpacesError(.invalidRequest, "invalid operation: \(SpacesJSON.describe(error))")
    }
  }
}
