import Foundation
import SpacesModel

/// A change record as a person reads it: one block per path, text files as a line diff.
public enum ChangeDiff {
  /// Text files larger than this are described, not diffed.
  public static let textLimit = 1 << 20

  /// The diff of `record`: a header per path (`added`, `deleted`, `changed`, `renamed`), modes
  /// and links described, text contents as `+`/`-` lines with three lines of context.
  static func render(_ record: ChangeRecord, store: BlobStore) -> String {
    var out: [String] = []
    // A file deleted in one place and added with the same content in another was renamed.
    var renamedFrom: [String: String] = [:]
    var renamedTo = Set<String>()
    let deleted = record.changes.filter { $0.kind == .deleted && $0.before?.sha256 != nil }
    var byHash: [String: [String]] = [:]
    for change in deleted { if let hash = change.before?.sha256 { byHash[hash, default: []].append(change.path) } }
    for change in record.changes where change.kind == .added {
      if let hash = change.after?.sha256, var paths = byHash[hash], !paths.isEmpty {
        let from = paths.removeFirst()
        byHash[hash] = paths
        renamedFrom[change.path] = from
        renamedTo.insert(from)
      }
    }
    for change in record.changes {
      let path = EventText.sanitize(ChangePath.shown(change.path))
      if renamedTo.contains(change.path) { continue }
      if let from = renamedFrom[change.path] {
        out.append("renamed \(EventText.sanitize(ChangePath.shown(from))) → \(path)")
        continue
      }
      switch (change.before, change.after) {
      case (nil, let after?):
        out.append("added   \(path) \(describe(after))")
        out += contentLines(old: nil, new: after, store: store)
      case (let before?, nil):
        out.append("deleted \(path) \(describe(before))")
        out += contentLines(old: before, new: nil, store: store)
      case (let before?, let after?):
        var notes: [String] = []
        if before.kind != after.kind { notes.append("\(before.kind.rawValue) → \(after.kind.rawValue)") }
        if before.mode != after.mode { notes.append("mode \(octal(before.mode)) → \(octal(after.mode))") }
        if before.kind == .symlink, after.kind == .symlink, before.target != after.target {
          notes.append("link \(EventText.quoted(before.target ?? "")) → \(EventText.quoted(after.target ?? ""))")
        }
        if before.kind == .file, after.kind == .file, before.sha256 != after.sha256 {
          notes.append("\(before.size ?? 0) → \(after.size ?? 0) bytes")
        }
        out.append("changed \(path)" + (notes.isEmpty ? "" : " (" + notes.joined(separator: ", ") + ")"))
        if before.sha256 != after.sha256 { out += contentLines(old: before, new: after, store: store) }
      case (nil, nil):
        break
      }
    }
    return out.joined(separator: "\n") + (out.isEmpty ? "" : "\n")
  }

  private static func octal(_ mode: UInt32) -> String { String(mode, radix: 8) }

  private static func describe(_ state: EntryState) -> String {
    switch state.kind {
    case .folder: return "(folder, mode \(octal(state.mode)))"
    case .symlink: return "(link → \(EventText.quoted(state.target ?? "")))"
    case .other: return "(special file)"
    case .file:
      return "(\(state.size ?? 0) bytes, mode \(octal(state.mode))"
        + (state.stored == false ? ", content not kept: can't be put back" : "") + ")"
    }
  }

  /// The `+`/`-` lines between two states' contents, or a sentence when they aren't text.
  private static func contentLines(old: EntryState?, new: EntryState?, store: BlobStore) -> [String] {
    func text(_ state: EntryState?) -> String?? {
      guard let state else { return .some(.some("")) }
      guard state.kind == .file else { return .some(.some("")) }
      guard let hash = state.sha256, let bytes = store.read(hash, limit: textLimit) else { return .none }
      guard let text = String(validating: bytes, as: UTF8.self), !bytes.contains(0) else { return .some(.none) }
      return .some(.some(text))
    }
    guard old?.kind == .file || new?.kind == .file else { return [] }
    switch (text(old), text(new)) {
    case (.some(.some(let a)), .some(.some(let b))):
      return LineDiff.diff(old: a, new: b).map { line in
        let body = EventText.sanitize(line.text).replacingOccurrences(of: "\t", with: "    ")
        switch line.kind {
        case .context: return "  " + body
        case .added: return "+ " + body
        case .removed: return "- " + body
        case .separator: return "  …"
        }
      }
    case (.some(.none), _), (_, .some(.none)):
      return ["  (binary content)"]
    default:
      return ["  (content not shown: larger than \(textLimit >> 20) MiB or not kept)"]
    }
  }
}
