import Crypto
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A workspace tree as it is on disk: per path its kind, mode and content (hash) or link target.
public struct Tree: Equatable, CustomStringConvertible {
  /// Per path (relative to the root): its kind, mode and content hash, or its link target.
  public var entries: [String: String]

  /// Reads the tree beneath `root` with lstat, never following a link.
  public init(_ root: String) {
    entries = [:]
    Self.walk(root, "", into: &entries)
  }

  private static func walk(_ root: String, _ prefix: String, into entries: inout [String: String]) {
    guard let dir = opendir(root + (prefix.isEmpty ? "" : "/" + prefix)) else { return }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      let path = prefix.isEmpty ? name : prefix + "/" + name
      var info = stat()
      guard lstat(root + "/" + path, &info) == 0 else { continue }
      let mode = String(info.st_mode & 0o7777, radix: 8)
      switch info.st_mode & S_IFMT {
      case S_IFDIR:
        entries[path] = "dir \(mode)"
        walk(root, path, into: &entries)
      case S_IFLNK:
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(root + "/" + path, &buffer, 4095)
        let target = String(decoding: buffer.prefix(max(0, count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        entries[path] = "link → \(target)"
      default:
        let data = FileManager.default.contents(atPath: root + "/" + path) ?? Data()
        let hash = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        entries[path] = "file \(mode) \(data.count) \(hash.prefix(16))"
      }
    }
  }

  public var description: String {
    entries.keys.sorted().map { "\($0): \(entries[$0] ?? "")" }.joined(separator: "\n")
  }

  /// What differs from `other`, for a failure message.
  public func difference(from other: Tree) -> String {
    let keys = Set(entries.keys).union(other.entries.keys).sorted()
    return keys.filter { entries[$0] != other.entries[$0] }.prefix(20).map {
      "\($0): \(other.entries[$0] ?? "-") → \(entries[$0] ?? "-")"
    }.joined(separator: "\n")
  }
}
