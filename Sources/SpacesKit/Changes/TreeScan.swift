import CSpacesSys
import Crypto
import Foundation
import SpacesModel
import SpacesSandbox

/// What a scan learns of one entry without reading it: enough to tell whether it changed.
struct Fingerprint: Equatable, Sendable {
  var mode: UInt32
  var size: Int64
  var mtime: Int64
  var ctime: Int64
  var ino: UInt64

  init(mode: UInt32, size: Int64, mtime: Int64, ctime: Int64, ino: UInt64) {
    self.mode = mode
    self.size = size
    self.mtime = mtime
    self.ctime = ctime
    self.ino = ino
  }

  /// A fingerprint no entry on disk has, of the kind of `state`: the entry is read again when
  /// it is next looked at.
  init(unknown state: EntryState) {
    let kinds: [EntryState.Kind: mode_t] = [.file: S_IFREG, .folder: S_IFDIR, .symlink: S_IFLNK, .other: S_IFIFO]
    self.init(mode: UInt32(kinds[state.kind] ?? S_IFREG) | state.mode, size: -1, mtime: 0, ctime: 0, ino: 0)
  }

  init(_ info: stat) {
    mode = UInt32(info.st_mode)
    size = Int64(info.st_size)
    mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    ctime = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    ino = UInt64(info.st_ino)
  }

  /// The kind of entry.
  var kind: EntryState.Kind {
    switch mode & UInt32(S_IFMT) {
    case UInt32(S_IFREG): .file
    case UInt32(S_IFDIR): .folder
    case UInt32(S_IFLNK): .symlink
    default: .other
    }
  }

  /// The permission bits.
  var permissions: UInt32 { mode & 0o7777 }
}

/// Walks a workspace with lstat semantics (in C: one `readdir` and one `fstatat` per entry),
/// never following a symlink.
enum TreeScan {
  /// The deepest a scan goes.
  static let maxDepth: Int32 = 256

  /// Every entry beneath the open folder `dir`, keyed by path (``ChangePath``) with `prefix`.
  static func scan(_ dir: Int32, prefix: String) throws(SpacesError) -> [String: Fingerprint] {
    var buffer = cspaces_scan_buffer(bytes: nil, length: 0, count: 0)
    defer { free(buffer.bytes) }
    let status = prefix.withCString { cspaces_scan(dir, $0, maxDepth, &buffer) }
    guard status == 0 else {
      throw SpacesError(
        .ioError, "the workspace could not be scanned for changes: \(String(cString: strerror(status)))",
        errno: status)
    }
    var entries: [String: Fingerprint] = [:]
    entries.reserveCapacity(Int(buffer.count))
    guard let base = buffer.bytes else { return entries }
    let header = MemoryLayout<cspaces_scan_entry>.size
    var offset = 0
    let length = Int(buffer.length)
    while offset + header <= length {
      let entry = UnsafeRawPointer(base + offset).loadUnaligned(as: cspaces_scan_entry.self)
      let pathLength = Int(entry.path_len)
      let path = UnsafeBufferPointer(start: base + offset + header, count: pathLength)
      entries[ChangePath.key(path)] = Fingerprint(
        mode: entry.mode, size: Int64(entry.size), mtime: entry.mtime_ns, ctime: entry.ctime_ns, ino: entry.ino)
      offset += header + ((pathLength + 7) & ~7)
    }
    return entries
  }
}

/// The contents change records need, stored once per SHA-256 in `blobs/ab/<hash>`.
final class BlobStore: Sendable {
  /// The folder.
  let folder: String

  init(folder: String) { self.folder = folder }

  /// Where the content with `hash` is kept.
  func path(_ hash: String) -> String {
    folder + "/" + hash.prefix(2) + "/" + hash
  }

  /// Whether the content with `hash` is kept.
  func contains(_ hash: String) -> Bool {
    var info = stat()
    return lstat(path(hash), &info) == 0
  }

  /// A content read into the store and not yet in its place: its hash and its temporary file.
  struct Staged: Sendable {
    var hash: String
    var temporary: String
    /// Whether its data is on disk already (flushed with the workspace file it copies).
    var flushed = false
  }

  /// Reads the open file `fd` to its end, hashing it; with `keep`, also copies its content into
  /// a temporary file of the store (unless the store has it, or `staged` holds it already), to
  /// be flushed and put in its place by ``settle(_:folders:)``. Returns the hash, the size read,
  /// and the staged copy (nil when none was made).
  func put(from fd: Int32, keep: Bool, staged: [Staged]) throws(SpacesError) -> (
    hash: String, size: Int64, staged: Staged?
  ) {
    func known(_ hash: String) -> Bool { staged.contains { $0.hash == hash } || contains(hash) }
    // A file of up to 64 KiB is read whole first and hashed: it is written to the store only
    // when its content is new (writing the same content again creates no file here).
    let head = try Self.readHead(of: fd, limit: 64 << 10)
    var hasher = SHA256()
    hasher.update(data: head.bytes)
    var size = Int64(head.bytes.count)
    if head.whole {
      let hash = Self.hex(hasher.finalize())
      guard keep, !known(hash) else { return (hash, size, nil) }
      let (out, name) = try createTemporary()
      defer { close(out) }
      do throws(SpacesError) {
        try Self.writeAll(out, head.bytes, doing: "write to the store")
      } catch {
        unlink(name)
        throw error
      }
      return (hash, size, Staged(hash: hash, temporary: name))
    }
    var temporary: (fd: Int32, path: String)?
    if keep { temporary = try createTemporary() }
    defer {
      if let temporary {
        close(temporary.fd)
        unlink(temporary.path)
      }
    }
    if let temporary { try Self.writeAll(temporary.fd, head.bytes, doing: "write to the store") }
    try Self.forEachChunk(of: fd, doing: "read a changed file") { (bytes) throws(SpacesError) in
      hasher.update(bufferPointer: bytes)
      size += Int64(bytes.count)
      if let temporary { try Self.writeAll(temporary.fd, bytes, doing: "write to the store") }
    }
    let hash = Self.hex(hasher.finalize())
    guard let open = temporary, !known(hash) else { return (hash, size, nil) }
    temporary = nil
    close(open.fd)
    return (hash, size, Staged(hash: hash, temporary: open.path))
  }

  /// Puts the `staged` contents in their places: first their data on disk
  /// (``flushData(_:with:)``), then each renamed to its hash, so that a crash never leaves a
  /// torn content under a hash. The folders that got new entries are flushed now, or, given
  /// `folders`, added to them for the caller to flush with its journal.
  ///
  /// Those placed are taken out of `staged`; on a failure the others stay in it, for the next try.
  func settle(_ staged: inout [Staged], folders: PendingFlushes? = nil) throws(SpacesError) {
    guard !staged.isEmpty else { return }
    try flushData(staged)
    var placed = 0
    defer { staged.removeFirst(placed) }
    try place(staged, folders: folders) { placed += 1 }
  }

  /// Flushes the data of the `staged` contents not flushed yet and of the open files `others`,
  /// all at once when the machine allows (``DiskFlush/flushContents(_:)``).
  func flushData(_ staged: [Staged], with others: [Int32] = []) throws(SpacesError) {
    var fds: [Int32] = []
    defer { for fd in fds { close(fd) } }
    for item in staged where !item.flushed {
      var fd = open(item.temporary, O_RDONLY | O_CLOEXEC)
      // Put in its place meanwhile by another operation's end (which flushes a content before
      // it renames it): flushed again under its hash, which costs nothing once it is on disk.
      if fd < 0, errno == ENOENT { fd = open(path(item.hash), O_RDONLY | O_CLOEXEC) }
      guard fd >= 0 else { throw Self.failure("open a content to flush", errno) }
      fds.append(fd)
    }
    try DiskFlush.flushContents(fds + others)
  }

  /// Copies `content`, whose hash is `hash`, into a temporary file of the store, to be flushed
  /// and put in place like a content read from the workspace.
  func stage(_ content: [UInt8], hash: String) throws(SpacesError) -> Staged {
    let (out, name) = try createTemporary()
    defer { close(out) }
    do throws(SpacesError) {
      try Self.writeAll(out, content, doing: "write to the store")
    } catch {
      unlink(name)
      throw error
    }
    return Staged(hash: hash, temporary: name)
  }

  /// Renames each of the `staged` contents, flushed already, to its hash, in order (calling
  /// `each` after each one); then flushes the folders that got new entries, or adds them to
  /// `folders`. What it could not place stays staged.
  func place(_ staged: [Staged], folders: PendingFlushes?, each: () -> Void = {}) throws(SpacesError) {
    var touched: Set<String> = []
    for item in staged {
      let sub = String(item.hash.prefix(2))
      // A new folder of the store is a new entry of the store's own folder.
      if mkdir(folder + "/" + sub, 0o700) == 0 { touched.insert("") }
      guard rename(item.temporary, path(item.hash)) == 0 else { throw Self.failure("store a content", errno) }
      touched.insert(sub)
      each()
    }
    for sub in touched {
      let path = sub.isEmpty ? folder : folder + "/" + sub
      if let folders {
        try folders.add(path: path)
      } else {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { continue }
        _ = fsync(fd)
        close(fd)
      }
    }
  }

  /// A new temporary file in the store, open for writing.
  private func createTemporary() throws(SpacesError) -> (fd: Int32, path: String) {
    let name = folder + "/" + ConfinedWorkspace.temporaryName()
    let out = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard out >= 0 else { throw Self.failure("create a file in the store", errno) }
    return (out, name)
  }

  /// Reads up to `limit` bytes of `fd`; `whole` when that was all of it (the end was reached).
  private static func readHead(of fd: Int32, limit: Int) throws(SpacesError) -> (bytes: [UInt8], whole: Bool) {
    // Room for the file's size and one more byte (to see its end), grown if it grew meanwhile:
    // a small file takes a small buffer, not `limit` bytes allocated and freed each time.
    var info = stat()
    let size = fstat(fd, &info) == 0 ? Int(info.st_size) : limit
    var bytes = [UInt8](repeating: 0, count: min(limit, max(0, size) + 1))
    var count = 0
    while count < limit {
      if count == bytes.count { bytes.append(contentsOf: repeatElement(0, count: min(limit, bytes.count * 2) - count)) }
      let room = bytes.count
      let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress.map { $0 + count }, room - count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw failure("read a changed file", errno)
      }
      if n == 0 {
        bytes.removeSubrange(count...)
        return (bytes, true)
      }
      count += n
    }
    return (bytes, false)
  }

  /// Copies the content with `hash` into the open file `out`.
  func copy(_ hash: String, to out: Int32) throws(SpacesError) {
    let fd = open(path(hash), O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw SpacesError(.undoRefused, "the stored content \(hash.prefix(12))… is missing from the space's store")
    }
    defer { close(fd) }
    try Self.forEachChunk(of: fd, doing: "read the store") { (bytes) throws(SpacesError) in
      try Self.writeAll(out, bytes, doing: "write a restored file")
    }
  }

  /// Reads `fd` to its end in chunks of 1 MiB, handing each to `body`.
  private static func forEachChunk(
    of fd: Int32, doing what: String, _ body: (UnsafeRawBufferPointer) throws(SpacesError) -> Void
  ) throws(SpacesError) {
    let chunk = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    while true {
      let count = Glibc.read(fd, buffer.baseAddress, chunk)
      if count < 0 {
        if errno == EINTR { continue }
        throw failure(what, errno)
      }
      if count == 0 { return }
      try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }
  }

  /// Reads the content with `hash` (nil when it is not kept or is larger than `limit`: its size
  /// is looked at before anything is read).
  func read(_ hash: String, limit: Int) -> [UInt8]? {
    var info = stat()
    guard stat(path(hash), &info) == 0, Int(info.st_size) <= limit,
      let data = FileManager.default.contents(atPath: path(hash)), data.count <= limit
    else { return nil }
    return Array(data)
  }

  /// Writes all of `bytes` to `fd`.
  private static func writeAll(_ fd: Int32, _ bytes: [UInt8], doing action: String) throws(SpacesError) {
    let failed = bytes.withUnsafeBytes { raw -> SpacesError? in
      do throws(SpacesError) {
        try writeAll(fd, raw, doing: action)
        return nil
      } catch {
        return error
      }
    }
    if let failed { throw failed }
  }

  /// Writes all of `bytes` to `fd`, again after a short write or an interrupt.
  private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, doing action: String)
    throws(SpacesError)
  {
    var written = 0
    while written < bytes.count {
      let n = write(fd, bytes.baseAddress.map { $0 + written }, bytes.count - written)
      if n < 0 {
        if errno == EINTR { continue }
        throw failure(action, errno)
      }
      written += n
    }
  }

  /// Every kept content: hash and size.
  func all() -> [(hash: String, size: Int64)] {
    var found: [(String, Int64)] = []
    let manager = FileManager.default
    for sub in (try? manager.contentsOfDirectory(atPath: folder)) ?? [] where sub.count == 2 {
      for name in (try? manager.contentsOfDirectory(atPath: folder + "/" + sub)) ?? [] {
        var info = stat()
        if lstat(folder + "/" + sub + "/" + name, &info) == 0 { found.append((name, Int64(info.st_size))) }
      }
    }
    return found
  }

  /// Removes the content with `hash`.
  func remove(_ hash: String) { unlink(path(hash)) }

  static func hex(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    hex.reserveCapacity(64)
    for byte in digest {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: hex, as: UTF8.self)
  }

  static func failure(_ action: String, _ code: Int32) -> SpacesError {
    SpacesError(
      .ioError, "could not \(action) for the space's change records: \(String(cString: strerror(code)))",
      errno: code)
  }
}
