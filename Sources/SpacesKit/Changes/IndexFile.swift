import Crypto
import Foundation
import SpacesModel

/// The change tracker's index on disk (`changes/index`): a space opened again compares the
/// workspace with it and reads only the files whose size, times, inode or mode changed,
/// instead of every file.
///
/// Binary, versioned and checked: `SPIDX` magic, a version, the entry count, the order of the
/// newest change record it includes, the entries, and a SHA-256 of all that at the end. It is
/// written beside its place and renamed over it, after a flush, so a crash leaves the old file
/// or the new one. A file that is too large, of another version, cut short or edited by hand
/// (its checksum doesn't match, or an entry is malformed) is discarded whole: the workspace is
/// then read again, as on the first open. It only saves reading files: it decides nothing about
/// what an operation may do.
enum IndexFile {
  /// The largest index file read (about 2.5 million entries).
  static let maxBytes = 256 << 20
  /// The version written; another one is discarded.
  static let version: UInt32 = 1
  private static let magic = Array("SPIDX\n\0\0".utf8)
  private static let maxPath = 64 << 10

  /// What a saved index holds.
  struct Snapshot {
    var entries: [String: ChangeTracker.Known]
    /// The order of the newest change record whose changes are in `entries`.
    var order: Int64
  }

  /// The bytes of the index `entries`, which includes the records up to `order`.
  static func encode(_ entries: [String: ChangeTracker.Known], order: Int64) -> [UInt8] {
    var out: [UInt8] = magic
    out.reserveCapacity(64 + entries.count * 120)
    put(version, &out)
    put(UInt64(entries.count), &out)
    put(UInt64(bitPattern: order), &out)
    for (path, known) in entries {
      let bytes = Array(path.utf8)
      put(UInt32(bytes.count), &out)
      out += bytes
      let print = known.print
      put(print.mode, &out)
      put(UInt64(bitPattern: print.size), &out)
      put(UInt64(bitPattern: print.mtime), &out)
      put(UInt64(bitPattern: print.ctime), &out)
      put(print.ino, &out)
      let state = known.state
      let kinds: [EntryState.Kind] = [.file, .folder, .symlink, .other]
      out.append(UInt8(kinds.firstIndex(of: state.kind) ?? 3))
      put(state.mode, &out)
      let hash = state.sha256.flatMap(Self.unhex)
      var flags: UInt8 = 0
      if state.size != nil { flags |= 1 }
      if hash != nil { flags |= 2 }
      if let stored = state.stored { flags |= stored ? 4 | 8 : 4 }
      if state.target != nil { flags |= 16 }
      out.append(flags)
      if let size = state.size { put(UInt64(bitPattern: size), &out) }
      if let hash { out += hash }
      if let target = state.target {
        let bytes = Array(target.utf8)
        put(UInt32(bytes.count), &out)
        out += bytes
      }
    }
    out += SHA256.hash(data: out)
    return out
  }

  /// Reads the index at `path`: nil when there is none, else the snapshot or why it was
  /// discarded.
  static func load(_ path: String) -> Result<Snapshot, SpacesError>? {
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else {
      return errno == ENOENT ? nil : .failure(SpacesError(.ioError, "it can't be opened", errno: errno))
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      return .failure(SpacesError(.ioError, "it is not a regular file"))
    }
    guard Int(info.st_size) <= maxBytes else {
      return .failure(SpacesError(.tooLarge, "it is larger than \(maxBytes >> 20) MiB"))
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var done = 0
    while done < bytes.count {
      let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress.map { $0 + done }, $0.count - done) }
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else { return .failure(SpacesError(.ioError, "it could not be read", errno: errno)) }
      done += count
    }
    return Result { () throws(SpacesError) in try decode(bytes) }
  }

  /// Decodes and checks an index file's bytes.
  static func decode(_ bytes: [UInt8]) throws(SpacesError) -> Snapshot {
    func bad(_ why: String) -> SpacesError { SpacesError(.invalidRequest, why) }
    let header = magic.count + 4 + 8 + 8
    guard bytes.count >= header + 32, Array(bytes[0..<magic.count]) == magic else {
      throw bad("it is not an index file")
    }
    let body = bytes[0..<(bytes.count - 32)]
    guard Array(SHA256.hash(data: body)) == Array(bytes[(bytes.count - 32)...]) else {
      throw bad("its checksum doesn't match (cut short or edited)")
    }
    var reader = Reader(bytes: body, offset: magic.count)
    guard let version = reader.u32(), version == Self.version else {
      throw bad("it is of another version than \(Self.version)")
    }
    guard let count = reader.u64(), let order = reader.u64(), count <= UInt64(body.count / 37) else {
      throw bad("its header is malformed")
    }
    var entries: [String: ChangeTracker.Known] = [:]
    entries.reserveCapacity(Int(count))
    for _ in 0..<count {
      guard let entry = reader.entry() else { throw bad("an entry is malformed") }
      guard entries.updateValue(entry.known, forKey: entry.path) == nil else { throw bad("a path is listed twice") }
    }
    guard reader.offset == body.endIndex else { throw bad("it has bytes after its entries") }
    return Snapshot(entries: entries, order: Int64(bitPattern: order))
  }

  private static func put<T: FixedWidthInteger>(_ value: T, _ out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out += $0 }
  }

  /// 64 lowercase hex digits as 32 bytes (nil for anything else).
  static func unhex(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count == 64 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(32)
    func value(_ digit: UInt8) -> UInt8? {
      switch digit {
      case 48...57: digit - 48
      case 97...102: digit - 87
      default: nil
      }
    }
    for index in stride(from: 0, to: 64, by: 2) {
      guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
      bytes.append(high << 4 | low)
    }
    return bytes
  }

  /// Reads the fields of an index file, each bounded by what is left.
  private struct Reader {
    let bytes: ArraySlice<UInt8>
    var offset: Int

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
      guard count >= 0, bytes.endIndex - offset >= count else { return nil }
      defer { offset += count }
      return bytes[offset..<(offset + count)]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
      guard let raw = take(MemoryLayout<T>.size) else { return nil }
      var value: T = 0
      for (shift, byte) in raw.enumerated() { value |= T(byte) << (8 * shift) }
      return value
    }

    mutating func u32() -> UInt32? { integer(UInt32.self) }
    mutating func u64() -> UInt64? { integer(UInt64.self) }
    mutating func i64() -> Int64? { integer(UInt64.self).map { Int64(bitPattern: $0) } }

    mutating func text(max: Int) -> String? {
      guard let length = u32(), Int(length) <= max, let raw = take(Int(length)) else { return nil }
      return String(validating: raw, as: UTF8.self)
    }

    mutating func entry() -> (path: String, known: ChangeTracker.Known)? {
      guard let path = text(max: IndexFile.maxPath), Self.acceptable(path),
        let mode = u32(), let size = i64(), let mtime = i64(), let ctime = i64(), let ino = u64(),
        let kindByte = take(1)?.first, kindByte < 4, let stateMode = u32(), stateMode <= 0o7777,
        let flags = take(1)?.first, flags < 32, size >= 0
      else { return nil }
      let print = Fingerprint(mode: mode, size: size, mtime: mtime, ctime: ctime, ino: ino)
      let kind: EntryState.Kind = [.file, .folder, .symlink, .other][Int(kindByte)]
      // The state must be of the entry the fingerprint describes.
      guard print.kind == kind else { return nil }
      var state = EntryState(kind: kind, mode: stateMode)
      if flags & 1 != 0 {
        guard let value = i64(), value >= 0 else { return nil }
        state.size = value
      }
      if flags & 2 != 0 {
        guard let raw = take(32) else { return nil }
        state.sha256 = BlobStore.hex(raw)
      }
      if flags & 4 != 0 { state.stored = flags & 8 != 0 }
      if flags & 16 != 0 {
        guard let target = text(max: 4096) else { return nil }
        state.target = target
      }
      return (path, ChangeTracker.Known(print: print, state: state))
    }

    /// A path as the tracker keys it: relative, no empty, `.` or `..` part.
    static func acceptable(_ path: String) -> Bool {
      !path.isEmpty && !path.hasPrefix("/")
        && !path.split(separator: "/", omittingEmptySubsequences: false).contains {
          $0.isEmpty || $0 == "." || $0 == ".."
        }
    }
  }
}
