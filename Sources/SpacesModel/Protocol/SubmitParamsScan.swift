import Foundation

extension SubmitParams {
  /// Reads `op.submit` (and `policy.check`) params in one pass, for the server's hot path.
  ///
  /// Foundation's decoder took a large share of a small request's time in the server. This
  /// reads a params object — `space`, `op` of any kind, `events`, `streamsOutput`, `reason`, in
  /// any order — and gives what Foundation's decoder gives (checked against it in the tests).
  /// Anything it is not sure of gives nil, and the params take Foundation's path, which reads
  /// them or explains what is wrong as before: an unknown or duplicate member, a missing one, a
  /// value of another type (`null` where a value is required), an escape in a member's name,
  /// a lone surrogate, bytes that are not UTF-8, a `timeoutMs` that is not a plain whole number
  /// in ``Op/timeoutRange`` (Foundation reads `1.0`, `1e3` and `-0` as whole numbers), a
  /// `reason` ``StatedReason`` refuses. (Foundation keeps the first of duplicate members.)
  package static func scan(_ bytes: UnsafeRawBufferPointer) -> SubmitParams? {
    var scanner = JSONScanner(bytes: bytes)
    return scanner.submitParams()
  }

  /// Reads the params `data` holds in one pass; nil when they take Foundation's path.
  package static func scan(_ data: Data) -> SubmitParams? {
    data.withUnsafeBytes { scan($0) }
  }
}

extension JSONScanner {
  fileprivate mutating func submitParams() -> SubmitParams? {
    skipSpace()
    guard next(0x7B) else { return nil }  // {
    var space: String?
    var op: Op?
    var events: Bool?
    var streamsOutput: Bool?
    var reason: String?
    var seen: [String] = []
    var closed = false
    while let key = member(&seen, &closed) {
      switch key {
      case "space":
        guard let value = string() else { return nil }
        space = value
      case "op":
        guard let value = operation() else { return nil }
        op = value
      case "events":
        guard let value = optionalBool() else { return nil }
        events = value
      case "streamsOutput":
        guard let value = optionalBool() else { return nil }
        streamsOutput = value
      case "reason":
        guard let value = optional({ $0.string() }) else { return nil }
        do {
          reason = try StatedReason.validate(value)
        } catch {
          return nil
        }
      default:
        return nil
      }
    }
    guard closed, let space, let op else { return nil }
    skipSpace()
    guard at == bytes.count else { return nil }
    return SubmitParams(space: space, op: op, events: events, streamsOutput: streamsOutput, reason: reason)
  }

  /// An operation object: the members ``Op/fields`` gives its kind, in any order.
  private mutating func operation() -> Op? {
    guard next(0x7B) else { return nil }
    var kind: Op.Kind?
    var path: String?
    var content: String?
    var encoding: ContentEncoding?
    var oldText: String?
    var newText: String?
    var recursive: Bool?
    var command: String?
    var timeoutMs: Int?
    var fresh: Bool?
    var text: String?
    var seen: [String] = []
    var closed = false
    while let key = member(&seen, &closed) {
      switch key {
      case "kind":
        guard let value = string().flatMap(Op.Kind.init(rawValue:)) else { return nil }
        kind = value
      case "path", "content", "oldText", "newText", "command", "text":
        guard let value = string() else { return nil }
        switch key {
        case "path": path = value
        case "content": content = value
        case "oldText": oldText = value
        case "newText": newText = value
        case "command": command = value
        default: text = value
        }
      case "encoding":
        guard let value = optional({ $0.string().flatMap(ContentEncoding.init(rawValue:)) }) else { return nil }
        encoding = value
      case "recursive", "fresh":
        guard let value = optionalBool() else { return nil }
        if key == "recursive" { recursive = value } else { fresh = value }
      case "timeoutMs":
        guard let value = optional({ $0.wholeNumber() }) else { return nil }
        if let value, !Op.timeoutRange.contains(value) { return nil }
        timeoutMs = value
      default:
        return nil
      }
    }
    guard closed, let kind, let spec = Op.fields[kind] else { return nil }
    // Only the kind's own members (Foundation's path names the stray one).
    for key in seen where key != "kind" && !spec.required.contains(key) && !spec.optional.contains(key) {
      return nil
    }
    switch kind {
    case .createFile:
      guard let path, let content else { return nil }
      return .createFile(path: path, content: content, encoding: encoding ?? .utf8)
    case .readFile:
      guard let path else { return nil }
      return .readFile(path: path)
    case .editFile:
      guard let path, let oldText, let newText else { return nil }
      return .editFile(path: path, oldText: oldText, newText: newText)
    case .deleteFile:
      guard let path else { return nil }
      return .deleteFile(path: path, recursive: recursive ?? false)
    case .shell:
      guard let command else { return nil }
      return .shell(command: command, timeoutMs: timeoutMs, fresh: fresh ?? false)
    case .message:
      guard let text else { return nil }
      return .message(text: text)
    }
  }

  /// The next member's name, the cursor past its colon; nil at the object's end (`closed`
  /// then true, the cursor past it) or when the bytes are not a next member: a name seen
  /// before or with escapes among them, so that the caller gives nil.
  private mutating func member(_ seen: inout [String], _ closed: inout Bool) -> String? {
    skipSpace()
    if next(0x7D) {  // }
      closed = true
      return nil
    }
    if !seen.isEmpty {
      guard next(0x2C) else { return nil }  // ,
      skipSpace()
    }
    guard let key = plainString(), !seen.contains(key) else { return nil }
    skipSpace()
    guard next(0x3A) else { return nil }  // :
    skipSpace()
    seen.append(key)
    return key
  }

  /// `true` or `false`, or `null` (read as absent, as Foundation's `decodeIfPresent` does).
  private mutating func optionalBool() -> Bool?? {
    if literal("true") { return .some(true) }
    if literal("false") { return .some(false) }
    if literal("null") { return .some(nil) }
    return nil
  }

  /// `null` (read as absent), or what `read` reads.
  private mutating func optional<T>(_ read: (inout JSONScanner) -> T?) -> T?? {
    if literal("null") { return .some(nil) }
    guard let value = read(&self) else { return nil }
    return .some(value)
  }
}
