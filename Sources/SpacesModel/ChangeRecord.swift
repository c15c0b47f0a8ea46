import Foundation

/// What one path of the workspace was (or is): a file, a folder or a symlink, with what is
/// needed to put it back.
public struct EntryState: Codable, Sendable, Equatable {
  /// The three kinds of entry a change record keeps.
  public enum Kind: String, Codable, Sendable {
    case file, folder, symlink, other
  }

  /// The kind.
  public var kind: Kind
  /// The permission bits (`0o7777` of `st_mode`).
  public var mode: UInt32
  /// A file's size in bytes.
  public var size: Int64?
  /// A file's content: SHA-256, 64 lowercase hex digits.
  public var sha256: String?
  /// Whether a file's content is in the space's store (false: only its hash was kept, because
  /// it was larger than `undo.largeFileBytes`).
  public var stored: Bool?
  /// A symlink's target.
  public var target: String?

  /// Creates a state.
  public init(
    kind: Kind, mode: UInt32, size: Int64? = nil, sha256: String? = nil, stored: Bool? = nil, target: String? = nil
  ) {
    self.kind = kind
    self.mode = mode
    self.size = size
    self.sha256 = sha256
    self.stored = stored
    self.target = target
  }

  /// Whether `other` is the same content, kind, mode and target (whether it is stored aside).
  public func same(as other: EntryState) -> Bool {
    kind == other.kind && mode == other.mode && sha256 == other.sha256 && target == other.target
      && (kind != .file || size == other.size)
  }

  /// Whether this state can be put back: a file's content must have been kept.
  public var restorable: Bool { kind != .other && (kind != .file || stored != false) }
}

/// One path an operation changed: how it was before and after (nil: it did not exist).
public struct PathChange: Codable, Sendable, Equatable {
  /// The path relative to the workspace. A name that is not valid UTF-8 is kept as
  /// ``ChangePath`` escapes it.
  public var path: String
  /// Before the operation (nil: created by it).
  public var before: EntryState?
  /// After the operation (nil: deleted by it).
  public var after: EntryState?

  /// Creates a change.
  public init(path: String, before: EntryState?, after: EntryState?) {
    self.path = path
    self.before = before
    self.after = after
  }

  /// What happened to the path.
  public var kind: ChangeSummary.Kind {
    switch (before, after) {
    case (nil, _): .added
    case (_, nil): .deleted
    default: .changed
    }
  }
}

/// The short form of a change record the journal's `completed` event carries.
public struct ChangeSummary: Codable, Sendable, Equatable {
  /// What happened to one path.
  public enum Kind: String, Codable, Sendable {
    case added, changed, deleted
  }

  /// The operation whose record this is (the record's name).
  public var record: String
  /// Paths that existed before and after and differ.
  public var changed: Int
  /// Paths that did not exist before.
  public var added: Int
  /// Paths that no longer exist.
  public var deleted: Int
  /// Paths whose earlier content was not kept (larger than `undo.largeFileBytes`).
  public var unrestorable: Int?

  /// Summarizes `changes` of the operation `record`.
  public init(record: String, changes: [PathChange]) {
    self.record = record
    changed = changes.count { $0.kind == .changed }
    added = changes.count { $0.kind == .added }
    deleted = changes.count { $0.kind == .deleted }
    let lost = changes.count { $0.before.map { !$0.restorable } ?? false }
    unrestorable = lost > 0 ? lost : nil
  }

  /// How many paths changed.
  public var total: Int { changed + added + deleted }

  /// `3 changed, 1 added, 2 deleted` (parts that are zero are left out; `nothing changed`).
  public var text: String {
    var parts: [String] = []
    if changed > 0 { parts.append("\(changed) changed") }
    if added > 0 { parts.append("\(added) added") }
    if deleted > 0 { parts.append("\(deleted) deleted") }
    if let unrestorable { parts.append("\(unrestorable) not restorable") }
    return parts.isEmpty ? "nothing changed" : parts.joined(separator: ", ")
  }
}

/// What one operation changed in the workspace, with what is needed to put it back.
///
/// Stored as `changes/records/<order>-<opId>.json` in the space's folder; contents live once per
/// hash in `changes/blobs/`.
public struct ChangeRecord: Codable, Sendable, Equatable {
  /// The operation.
  public var opId: String
  /// Orders records of a space (nanoseconds since 1970, strictly increasing).
  public var order: Int64
  /// When the operation ended (ISO 8601, UTC).
  public var time: String
  /// Who ran it.
  public var actor: Event.Actor
  /// What the operation was, for a person (`shell: rm -r build`, `undo op_…`).
  public var what: String
  /// For an undo or restore: the operations it took back, newest first.
  public var undid: [String]?
  /// Every path it changed, sorted.
  public var changes: [PathChange]

  /// Creates a record.
  public init(
    opId: String, order: Int64, time: String, actor: Event.Actor, what: String, undid: [String]? = nil,
    changes: [PathChange]
  ) {
    self.opId = opId
    self.order = order
    self.time = time
    self.actor = actor
    self.what = what
    self.undid = undid
    self.changes = changes
  }

  /// The summary the journal carries.
  public var summary: ChangeSummary { ChangeSummary(record: opId, changes: changes) }
}

/// What an undo or a restore did, as its `undone` event and its answer carry it.
public struct UndoOutcome: Codable, Sendable, Equatable {
  /// `undo` (one operation) or `restore` (everything from an operation on).
  public var action: String
  /// The operation named: the one undone, or the one restored to before.
  public var target: String
  /// The undo's (or restore's) own operation id, whose record can itself be undone.
  public var id: String
  /// The operations taken back, newest first.
  public var undid: [String]
  /// What it changed.
  public var changes: ChangeSummary
  /// Set when it was finished after a crash interrupted it.
  public var recovered: Bool?

  /// Creates an outcome.
  public init(
    action: String, target: String, id: String, undid: [String], changes: ChangeSummary, recovered: Bool? = nil
  ) {
    self.action = action
    self.target = target
    self.id = id
    self.undid = undid
    self.changes = changes
    self.recovered = recovered
  }
}

/// What `op.changes` and `spaces changes` show for one operation.
public struct ChangesAnswer: Codable, Sendable, Equatable {
  /// The operation asked about.
  public var op: String
  /// `recorded`, `none` (it changed nothing, or is not an operation that changes files),
  /// or `gone` (its record was dropped: `undo.keepOperations` / `undo.maxBytes`).
  public var status: String
  /// The record, when there is one.
  public var record: ChangeRecord?
  /// A readable diff of the record (text files line by line; binary files, modes and links
  /// described).
  public var diff: String?
  /// Why there is no record, for a person.
  public var message: String?

  /// Creates an answer.
  public init(op: String, status: String, record: ChangeRecord? = nil, diff: String? = nil, message: String? = nil) {
    self.op = op
    self.status = status
    self.record = record
    self.diff = diff
    self.message = message
  }
}

/// Names of workspace paths as change records keep them.
///
/// A name that is valid UTF-8 is kept as it is; otherwise the whole path is kept as NUL (which
/// no file name can hold) followed by the hex digits of its bytes, so every path can be put
/// back exactly.
public enum ChangePath {
  /// The key for a path's bytes.
  public static func key(_ bytes: some Collection<UInt8>) -> String {
    if let text = String(validating: bytes, as: UTF8.self) { return text }
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = [0]
    for byte in bytes {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: hex, as: UTF8.self)
  }

  /// The bytes of a path key.
  public static func bytes(_ key: String) -> [UInt8] {
    let utf8 = Array(key.utf8)
    guard utf8.first == 0 else { return utf8 }
    var bytes: [UInt8] = []
    var index = 1
    func value(_ digit: UInt8) -> UInt8 { digit >= 97 ? digit - 87 : digit - 48 }
    while index + 1 < utf8.count {
      bytes.append(value(utf8[index]) << 4 | value(utf8[index + 1]))
      index += 2
    }
    return bytes
  }

  /// The path for a person: escapes shown as `\xNN`.
  public static func shown(_ key: String) -> String {
    guard key.utf8.first == 0 else { return key }
    var text = ""
    for byte in bytes(key) {
      if byte >= 0x20 && byte < 0x7F {
        text.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        text += String(format: "\\x%02x", byte)
      }
    }
    return text
  }

  /// Whether `a` is `b`, or one of them lies inside the other.
  static package func overlaps(_ a: String, _ b: String) -> Bool {
    a == b || a.hasPrefix(b + "/") || b.hasPrefix(a + "/")
  }
}
