import Foundation

/// A hand-written JSON writer for the hot types: events (the journal's lines and the wire's
/// `event` notifications), results and the JSON-RPC envelope around them.
///
/// It writes exactly what ``SpacesJSON/encoder`` (Foundation's JSONEncoder with sorted keys and
/// unescaped slashes) writes for the same values — byte for byte, so the journal's lines don't
/// change — at a fraction of the cost: no boxing of values, no key sorting at run time, and
/// strings copied in runs between the characters that need escaping. Swift strings are always
/// valid UTF-8 (invalid bytes became U+FFFD when they were decoded), so bytes from 0x80 up are
/// copied as they are; `"`, `\` and the control characters U+0000–U+001F are escaped as
/// Foundation escapes them (`\b \t \n \f \r`, else `\u00xx`); U+2028 and U+2029 are not.
public struct JSONWriter: Sendable {
  /// The bytes written so far.
  public var bytes: [UInt8]
  /// Whether the object being written needs a comma before its next member.
  private var needsComma = false

  /// Creates an empty writer with room for `capacity` bytes.
  public init(capacity: Int = 256) {
    bytes = []
    bytes.reserveCapacity(capacity)
  }

  /// Opens an object.
  public mutating func beginObject() {
    bytes.append(UInt8(ascii: "{"))
    needsComma = false
  }

  /// Closes an object.
  public mutating func endObject() {
    bytes.append(UInt8(ascii: "}"))
    needsComma = true
  }

  /// Writes a member's key (the key needs no escaping: the types' own field names).
  public mutating func key(_ name: StaticString) {
    if needsComma { bytes.append(UInt8(ascii: ",")) }
    bytes.append(UInt8(ascii: "\""))
    name.withUTF8Buffer { bytes.append(contentsOf: $0) }
    bytes.append(UInt8(ascii: "\""))
    bytes.append(UInt8(ascii: ":"))
    needsComma = false
  }

  /// Writes a string member.
  public mutating func member(_ name: StaticString, _ value: String) {
    key(name)
    string(value)
  }

  /// Writes a string member when the value is present.
  public mutating func member(_ name: StaticString, _ value: String?) {
    if let value { member(name, value) }
  }

  /// Writes an integer member.
  public mutating func member<I: BinaryInteger>(_ name: StaticString, _ value: I) {
    key(name)
    integer(value)
  }

  /// Writes an integer member when the value is present.
  public mutating func member<I: BinaryInteger>(_ name: StaticString, _ value: I?) {
    if let value { member(name, value) }
  }

  /// Writes a boolean member when the value is present.
  public mutating func member(_ name: StaticString, _ value: Bool?) {
    guard let value else { return }
    key(name)
    raw(value ? "true" : "false")
  }

  /// Writes a member whose value is already JSON.
  public mutating func member(_ name: StaticString, json: [UInt8]) {
    key(name)
    bytes.append(contentsOf: json)
    needsComma = true
  }

  /// Writes a member that is an array of strings.
  public mutating func member(_ name: StaticString, _ values: [String]) {
    key(name)
    bytes.append(UInt8(ascii: "["))
    for (index, value) in values.enumerated() {
      if index > 0 { bytes.append(UInt8(ascii: ",")) }
      string(value)
    }
    bytes.append(UInt8(ascii: "]"))
    needsComma = true
  }

  /// Writes a member with any other encodable value, through Foundation (for the rare nested
  /// types that are not on a hot path).
  public mutating func member<T: Encodable>(_ name: StaticString, encoded value: T?) {
    guard let value else { return }
    key(name)
    encoded(value)
  }

  /// Writes any encodable value through Foundation (`{}` if it can't be encoded).
  public mutating func encoded<T: Encodable>(_ value: T) {
    bytes.append(contentsOf: (try? SpacesJSON.encoder.encode(value)) ?? Data("{}".utf8))
    needsComma = true
  }

  /// Writes `null`.
  public mutating func null() { raw("null") }

  /// Writes a value that is already JSON.
  package mutating func json(_ value: ArraySlice<UInt8>) {
    bytes.append(contentsOf: value)
    needsComma = true
  }

  /// Writes text that is already JSON.
  public mutating func raw(_ text: StaticString) {
    text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    needsComma = true
  }

  /// Writes an integer.
  public mutating func integer<I: BinaryInteger>(_ value: I) {
    if value >= 0, value < 10 {
      bytes.append(UInt8(ascii: "0") + UInt8(value))
    } else {
      bytes.append(contentsOf: String(value).utf8)
    }
    needsComma = true
  }

  /// Writes a string, quoted and escaped.
  public mutating func string(_ value: String) {
    var value = value
    value.withUTF8 { utf8 in Self.appendQuoted(utf8, to: &bytes) }
    needsComma = true
  }

  /// How many bytes each byte takes in a JSON string: 1, 2 for `\"`, `\\` and the short
  /// escapes (`\b \t \n \f \r`), 6 for the other control characters (`\u00xx`).
  private static let escapedWidth: [UInt8] = (0..<256).map { byte in
    switch byte {
    case 0x22, 0x5C, 0x08, 0x09, 0x0A, 0x0C, 0x0D: 2
    case 0..<0x20: 6
    default: 1
    }
  }

  /// The second byte of a two-byte escape (`\"`, `\\`, `\b \t \n \f \r`), by byte; 0 for others.
  private static let shortEscape: [UInt8] = (0..<256).map { byte in
    switch byte {
    case 0x22: 0x22
    case 0x5C: 0x5C
    case 0x08: UInt8(ascii: "b")
    case 0x09: UInt8(ascii: "t")
    case 0x0A: UInt8(ascii: "n")
    case 0x0C: UInt8(ascii: "f")
    case 0x0D: UInt8(ascii: "r")
    default: 0
    }
  }

  /// Whether any of the eight bytes of `word` needs escaping: a control character (below
  /// 0x20), `"` or `\`. Exact for the eight bytes as a whole (which byte is not told).
  @inline(__always)
  private static func needsEscape(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    func hasZero(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
    let below20 = (word &- ones &* 0x20) & ~word & highs != 0
    return below20 || hasZero(word ^ (ones &* 0x22)) || hasZero(word ^ (ones &* 0x5C))
  }

  /// Appends `utf8` as a JSON string. Two passes: one that counts the escaped length, one that
  /// writes it in place. Both take eight bytes at a time where none of them needs escaping
  /// (most text), and a table lookup per byte elsewhere (output of short lines).
  static func appendQuoted(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
    let count = utf8.count
    guard let source = utf8.baseAddress, count > 0 else {
      bytes.append(UInt8(ascii: "\""))
      bytes.append(UInt8(ascii: "\""))
      return
    }
    let raw = UnsafeRawPointer(source)
    var length = 2
    escapedWidth.withUnsafeBufferPointer { width in
      var index = 0
      while index &+ 8 <= count {
        if !needsEscape(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
          length &+= 8
        } else {
          for offset in index..<(index &+ 8) { length &+= Int(width[Int(source[offset])]) }
        }
        index &+= 8
      }
      while index < count {
        length &+= Int(width[Int(source[index])])
        index &+= 1
      }
    }
    let start = bytes.count
    bytes.append(contentsOf: repeatElement(0, count: length))
    bytes.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      var out = base + start
      out.pointee = UInt8(ascii: "\"")
      out += 1
      if length == count + 2 {
        // Nothing to escape.
        out.update(from: source, count: count)
        out += count
        out.pointee = UInt8(ascii: "\"")
        return
      }
      escapedWidth.withUnsafeBufferPointer { width in
        shortEscape.withUnsafeBufferPointer { short in
          @inline(__always)
          func put(_ byte: UInt8) {
            switch width[Int(byte)] {
            case 1:
              out.pointee = byte
              out += 1
            case 2:
              out[0] = UInt8(ascii: "\\")
              out[1] = short[Int(byte)]
              out += 2
            default:
              // `\u00xx` with lowercase hex digits, as Foundation writes it.
              func hex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10 }
              out[0] = UInt8(ascii: "\\")
              out[1] = UInt8(ascii: "u")
              out[2] = 0x30
              out[3] = 0x30
              out[4] = hex(byte >> 4)
              out[5] = hex(byte & 0xF)
              out += 6
            }
          }
          var index = 0
          while index &+ 8 <= count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if !needsEscape(word) {
              UnsafeMutableRawPointer(out).storeBytes(of: word, as: UInt64.self)
              out += 8
            } else {
              for offset in index..<(index &+ 8) { put(source[offset]) }
            }
            index &+= 8
          }
          while index < count {
            put(source[index])
            index &+= 1
          }
        }
      }
      out.pointee = UInt8(ascii: "\"")
    }
  }
}

// MARK: - The hot types

extension Op {
  /// Writes the operation as ``SpacesJSON/encoder`` would (sorted keys).
  func write(to writer: inout JSONWriter) {
    writer.beginObject()
    switch self {
    case .createFile(let path, let content, let encoding):
      writer.member("content", content)
      if encoding != .utf8 { writer.member("encoding", encoding.rawValue) }
      writer.member("kind", "createFile")
      writer.member("path", path)
    case .readFile(let path):
      writer.member("kind", "readFile")
      writer.member("path", path)
    case .editFile(let path, let oldText, let newText):
      writer.member("kind", "editFile")
      writer.member("newText", newText)
      writer.member("oldText", oldText)
      writer.member("path", path)
    case .deleteFile(let path, let recursive):
      writer.member("kind", "deleteFile")
      writer.member("path", path)
      if recursive { writer.member("recursive", true) }
    case .shell(let command, let timeoutMs, let fresh):
      writer.member("command", command)
      if fresh { writer.member("fresh", true) }
      writer.member("kind", "shell")
      writer.member("timeoutMs", timeoutMs)
    case .message(let text):
      writer.member("kind", "message")
      writer.member("text", text)
    }
    writer.endObject()
  }
}

extension Decision {
  /// Writes the decision as ``SpacesJSON/encoder`` would.
  func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.member("decision", decision.rawValue)
    writer.member("reasons", reasons)
    writer.member("rules", rules)
    writer.endObject()
  }
}

extension OperationResult {
  /// The stored properties ``write(to:)`` writes; when the type has others (a field added
  /// without teaching the writer), results are written by Foundation instead, so nothing is lost.
  static let fastFields: Set<String> = [
    "id", "space", "kind", "status", "durationMs", "content", "encoding", "size", "sha256", "exitCode", "signal",
    "stdout", "stderr", "truncated", "restored", "streamed", "error", "reason", "decidedBy", "cwd",
  ]

  /// Whether ``write(to:)`` knows every stored property of the type.
  static let fastWriterCoversType: Bool = {
    let probe = OperationResult(id: "", space: "", kind: .readFile, status: .completed)
    let labels = Set(Mirror(reflecting: probe).children.compactMap(\.label))
    return labels == fastFields
  }()

  /// Writes the result as ``SpacesJSON/encoder`` would (sorted keys, absent fields left out).
  public func write(to writer: inout JSONWriter) {
    guard Self.fastWriterCoversType else {
      writer.encoded(self)
      return
    }
    writer.beginObject()
    writer.member("content", content)
    writer.member("cwd", cwd)
    writer.member("decidedBy", decidedBy?.rawValue)
    writer.member("durationMs", durationMs)
    writer.member("encoding", encoding?.rawValue)
    if let error {
      writer.key("error")
      writer.beginObject()
      writer.member("code", error.code)
      writer.member("message", error.message)
      writer.endObject()
    }
    writer.member("exitCode", exitCode)
    writer.member("id", id)
    writer.member("kind", kind.rawValue)
    writer.member("reason", reason)
    if let restored { writer.member("restored", restored) }
    writer.member("sha256", sha256)
    writer.member("signal", signal)
    writer.member("size", size)
    writer.member("space", space)
    writer.member("status", status.rawValue)
    writer.member("stderr", stderr)
    writer.member("stdout", stdout)
    if let streamed {
      writer.key("streamed")
      writer.beginObject()
      writer.member("fromSeq", streamed.fromSeq)
      writer.member("stderr", streamed.stderr)
      writer.member("stdout", streamed.stdout)
      writer.endObject()
    }
    writer.member("truncated", truncated)
    writer.endObject()
  }

  /// The result as one line of JSON (no newline), written by ``write(to:)``.
  public var jsonBytes: [UInt8] {
    var writer = JSONWriter(capacity: 256 + (content?.utf8.count ?? 0) + (stdout?.utf8.count ?? 0))
    write(to: &writer)
    return writer.bytes
  }
}

extension Event {
  /// The stored properties ``write(to:)`` writes; when the type has others (a field added
  /// without teaching the writer), events are written by Foundation instead, so nothing is lost.
  /// (The payload's fields need no such check: its cases are matched whole, so a field added
  /// to one doesn't compile until the writer writes it.)
  /// (`written` is not the event's: it is the JSON these write, kept.)
  static let fastFields: Set<String> = ["seq", "time", "space", "opId", "payload", "written"]

  /// Whether ``write(to:)`` knows every stored property of the type.
  static let fastWriterCoversType: Bool = {
    let labels = Set(Mirror(reflecting: Event(space: "", opId: "", .started)).children.compactMap(\.label))
    return labels == fastFields
  }()

  /// Writes the event as ``SpacesJSON/encoder`` would: the journal's line and the `event` of
  /// the wire's notifications (keys in sorted order, the common ones among the payload's).
  public func write(to writer: inout JSONWriter) {
    if let bytes = written.bytes {
      writer.json(bytes)
      return
    }
    guard Self.fastWriterCoversType else {
      writer.encoded(self)
      return
    }
    writer.beginObject()
    switch payload {
    case .received(let actor, let op, let reason):
      writer.member("actor", actor.rawValue)
      writer.key("op")
      op.write(to: &writer)
      writer.member("opId", opId)
      writer.member("reason", reason)
      writeSeqSpace(to: &writer)
    case .decision(let decision), .approvalRequested(let decision):
      writer.key("decision")
      decision.write(to: &writer)
      writer.member("opId", opId)
      writeSeqSpace(to: &writer)
    case .approvalResolved(let resolution, let decidedBy, let reason):
      writer.member("decidedBy", decidedBy?.rawValue)
      writer.member("opId", opId)
      writer.member("reason", reason)
      writer.member("resolution", resolution.rawValue)
      writeSeqSpace(to: &writer)
    case .approvalExtended(let actor, let deadline, let seconds, let reason):
      writer.member("actor", actor.rawValue)
      writer.member("deadline", deadline)
      writer.member("opId", opId)
      writer.member("reason", reason)
      writer.member("seconds", seconds)
      writeSeqSpace(to: &writer)
    case .queued(let reason):
      writer.member("opId", opId)
      writer.member("reason", reason)
      writeSeqSpace(to: &writer)
    case .started:
      writer.member("opId", opId)
      writeSeqSpace(to: &writer)
    case .output(let stream, let data):
      writer.member("data", data)
      writer.member("opId", opId)
      writeSeqSpace(to: &writer)
      writer.member("stream", stream.rawValue)
    case .completed(let result, let changes):
      writeChanges(changes, to: &writer)
      writeResult(result, to: &writer)
    case .failed(let result, let changes, let actor):
      writer.member("actor", actor?.rawValue)
      writeChanges(changes, to: &writer)
      writeResult(result, to: &writer)
    case .denied(let result):
      writeResult(result, to: &writer)
    case .message(let text):
      writer.member("opId", opId)
      writeSeqSpace(to: &writer)
      writer.member("text", text)
    case .protectedRestored(let restored, let reason):
      writer.member("opId", opId)
      writer.member("reason", reason)
      writer.member("restored", encoded: restored)
      writeSeqSpace(to: &writer)
    case .undone(let actor, let undo, let changes):
      writer.member("actor", actor.rawValue)
      writeChanges(changes, to: &writer)
      writer.member("opId", opId)
      writeSeqSpace(to: &writer)
      writer.member("time", time)
      writer.member("type", type.rawValue)
      writer.member("undo", encoded: undo)
      writer.endObject()
      return
    }
    writer.member("time", time)
    writer.member("type", type.rawValue)
    writer.endObject()
  }

  /// `opId`, `result`, `seq`, `space`: the members of a final event from `opId` to `space`.
  private func writeResult(_ result: OperationResult, to writer: inout JSONWriter) {
    writer.member("opId", opId)
    writer.key("result")
    result.write(to: &writer)
    writeSeqSpace(to: &writer)
  }

  /// The `changes` member of a final event, when it has one.
  private func writeChanges(_ changes: ChangeSummary?, to writer: inout JSONWriter) {
    guard let changes else { return }
    writer.key("changes")
    changes.write(to: &writer)
  }

  private func writeSeqSpace(to writer: inout JSONWriter) {
    writer.member("seq", seq)
    writer.member("space", space)
  }

  /// The event as one line of JSON (no newline), written by ``write(to:)``.
  public var jsonBytes: [UInt8] {
    var writer = JSONWriter(capacity: 192 + (output?.data.utf8.count ?? 0))
    write(to: &writer)
    return writer.bytes
  }
}

// MARK: - Change records

extension EntryState {
  /// The stored properties ``write(to:)`` writes; a test compares them with the type's own.
  static let fastFields: Set<String> = ["kind", "mode", "size", "sha256", "stored", "target"]

  /// Writes the state as ``SpacesJSON/encoder`` would (sorted keys, absent fields left out).
  public func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.member("kind", kind.rawValue)
    writer.member("mode", mode)
    writer.member("sha256", sha256)
    writer.member("size", size)
    writer.member("stored", stored)
    writer.member("target", target)
    writer.endObject()
  }
}

extension PathChange {
  /// The stored properties ``write(to:)`` writes; a test compares them with the type's own.
  static let fastFields: Set<String> = ["path", "before", "after"]

  /// Writes the change as ``SpacesJSON/encoder`` would (sorted keys, absent states left out).
  public func write(to writer: inout JSONWriter) {
    writer.beginObject()
    if let after {
      writer.key("after")
      after.write(to: &writer)
    }
    if let before {
      writer.key("before")
      before.write(to: &writer)
    }
    writer.member("path", path)
    writer.endObject()
  }
}

extension ChangeSummary {
  /// The stored properties ``write(to:)`` writes; a test compares them with the type's own.
  static let fastFields: Set<String> = ["record", "changed", "added", "deleted", "unrestorable"]

  /// Writes the summary as ``SpacesJSON/encoder`` would (sorted keys): the `changes` of a
  /// change's `completed` event.
  public func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.member("added", added)
    writer.member("changed", changed)
    writer.member("deleted", deleted)
    writer.member("record", record)
    writer.member("unrestorable", unrestorable)
    writer.endObject()
  }
}

extension ChangeRecord {
  /// The stored properties ``write(to:)`` writes; a test compares them with the type's own.
  static let fastFields: Set<String> = ["opId", "order", "time", "actor", "what", "undid", "changes"]

  /// Writes the record as ``SpacesJSON/encoder`` would (sorted keys, absent fields left out):
  /// a change record's file, written at the end of every change.
  public func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.member("actor", actor.rawValue)
    writer.key("changes")
    writer.bytes.append(UInt8(ascii: "["))
    for (index, change) in changes.enumerated() {
      if index > 0 { writer.bytes.append(UInt8(ascii: ",")) }
      change.write(to: &writer)
    }
    writer.raw("]")
    writer.member("opId", opId)
    writer.member("order", order)
    writer.member("time", time)
    if let undid { writer.member("undid", undid) }
    writer.member("what", what)
    writer.endObject()
  }

  /// The record as one line of JSON, written by ``write(to:)``.
  public var jsonBytes: [UInt8] {
    var writer = JSONWriter(capacity: 256 + changes.count * 240)
    write(to: &writer)
    return writer.bytes
  }
}
