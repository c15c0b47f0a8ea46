import CSpacesSys
import Glibc
import SpacesModel

/// What a change wrote that must be on disk before it is answered, flushed in one go with the
/// journal's record of it: folders with new entries (a file renamed into place, a content kept
/// for undo) and files written in place (a change record).
///
/// A change used to flush each of them on its own, then the journal: up to nine waits for the
/// disk. Collected here, they are flushed by ``flush(with:)`` together with the journal: one
/// `syncfs` of the journal's file system when the machine has little else waiting to be written
/// (``DiskFlush/fewUnwritten()``), so that the flush can't wait for another program's writes;
/// one `fsync` each (files first, then folders, then the journal) otherwise. A workspace file's
/// content is still flushed before it is renamed into place, so a crash leaves the old content
/// or the new one, never a torn file.
public final class PendingFlushes: Sendable {
  private struct Entry {
    var fd: Int32
    var device: UInt64
    var inode: UInt64
    var isFolder: Bool
  }

  private let entries = LockedValue<[Entry]>([])

  /// An empty set.
  public init() {}

  deinit {
    for entry in entries.withValue({ $0 }) { close(entry.fd) }
  }

  /// Whether nothing waits for its flush.
  public var isEmpty: Bool { entries.withValue { $0.isEmpty } }

  /// How many distinct files and folders wait for their flush (for tests).
  public var count: Int { entries.withValue { $0.count } }

  /// Adds the open folder `fd` (the set keeps its own descriptor; the caller closes `fd`).
  ///
  /// A folder already in the set is not added twice. When no descriptor can be kept, the folder
  /// is flushed at once, so that nothing is left unflushed.
  public func add(_ fd: Int32) throws(SpacesError) {
    try add(fd, isFolder: true)
  }

  /// Adds the open file `fd`, written in place, whose content and size must be on disk (see
  /// ``add(_:)``).
  public func add(file fd: Int32) throws(SpacesError) {
    try add(fd, isFolder: false)
  }

  /// Adds the folder at `path` (see ``add(_:)``).
  public func add(path: String) throws(SpacesError) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw DiskFlush.failure("open \(path) to flush it", errno) }
    defer { close(fd) }
    try add(fd)
  }

  private func add(_ fd: Int32, isFolder: Bool) throws(SpacesError) {
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw DiskFlush.failure("inspect what to flush", errno) }
    let (device, inode) = (UInt64(info.st_dev), UInt64(info.st_ino))
    if entries.withValue({ $0.contains { $0.device == device && $0.inode == inode } }) { return }
    let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
    guard copy >= 0 else {
      guard fsync(fd) == 0 else { throw DiskFlush.failure("flush to disk", errno) }
      return
    }
    let kept = entries.withValue { entries -> Bool in
      if entries.contains(where: { $0.device == device && $0.inode == inode }) { return false }
      entries.append(Entry(fd: copy, device: device, inode: inode, isFolder: isFolder))
      return true
    }
    if !kept { close(copy) }
  }

  /// Flushes now, and takes out of the set, what one `syncfs` of the file system of `journal`
  /// would not cover: what lies on another file system, and everything when the machine is busy
  /// (``DiskFlush/fewUnwritten()``). Returns how the rest and the journal are to be flushed:
  /// `.syncfs` when something is left for one `syncfs` (which the caller runs, or shares with
  /// other callers: it covers them all), `.fsync` when only the journal is left for its own.
  public func flushUnshared(besides journal: Int32) throws(SpacesError) -> DiskFlush.How {
    var info = stat()
    guard fstat(journal, &info) == 0 else { throw DiskFlush.failure("inspect the journal", errno) }
    let device = UInt64(info.st_dev)
    let shared = DiskFlush.fewUnwritten()
    let taken = entries.withValue { entries -> [Entry] in
      let taken = entries.filter { !shared || $0.device != device }
      entries.removeAll { !shared || $0.device != device }
      return taken
    }
    defer { for entry in taken { close(entry.fd) } }
    // Files first: a record's content before the folder that names it.
    for entry in taken.filter({ !$0.isFolder }) + taken.filter(\.isFolder) {
      guard fsync(entry.fd) == 0 else { throw DiskFlush.failure("flush to disk", errno) }
    }
    return isEmpty ? .fsync : .syncfs
  }

  /// Flushes what the set holds and the open file `file` (a journal) to disk, and empties it:
  /// ``flushUnshared(besides:)``, then one `syncfs` or the journal's `fsync`.
  @discardableResult
  public func flush(with file: Int32) throws(SpacesError) -> DiskFlush.How {
    let how = try flushUnshared(besides: file)
    switch how {
    case .syncfs:
      guard cspaces_syncfs(file) == 0 else { throw DiskFlush.failure("flush the file system", errno) }
      drop()
    case .fsync:
      guard fsync(file) == 0 else { throw DiskFlush.failure("flush the journal to disk", errno) }
    }
    return how
  }

  /// Empties the set without flushing (what it held was flushed another way: a `syncfs` of
  /// its file system that started after it was written).
  public func drop() {
    let taken = entries.withValue { entries -> [Entry] in
      defer { entries.removeAll() }
      return entries
    }
    for entry in taken { close(entry.fd) }
  }

}

/// How writes reach the disk with as few waits as the machine allows.
public enum DiskFlush {
  /// How a set of files was flushed.
  public enum How: Sendable, Equatable {
    /// One `syncfs` of their file system.
    case syncfs
    /// One `fsync` each.
    case fsync
  }

  /// Flushes the content of the open files `fds` before they are renamed into place: one
  /// `syncfs` when there are two or more on one file system and the machine is quiet (or more
  /// than 32 of them), one `fsync` each otherwise.
  public static func flushContents(_ fds: [Int32]) throws(SpacesError) {
    guard let first = fds.first else { return }
    if fds.count > 1 {
      var devices = Set<UInt64>()
      for fd in fds {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("inspect a file to flush", errno) }
        devices.insert(UInt64(info.st_dev))
      }
      if devices.count == 1 && (fds.count > 32 || fewUnwritten()) {
        guard cspaces_syncfs(first) == 0 else { throw failure("flush the file system", errno) }
        return
      }
    }
    for fd in fds {
      guard fsync(fd) == 0 else { throw failure("flush a file to disk", errno) }
    }
  }

  /// The error for `action` failing with errno `code`.
  static func failure(_ action: String, _ code: Int32) -> SpacesError {
    SpacesError(.ioError, "can't \(action): \(String(cString: strerror(code)))", errno: code)
  }

  /// Above this many bytes waiting to be written on the whole machine, a `syncfs` (which writes
  /// them all) could wait for another program's writes, so files are flushed one by one.
  public static let unwrittenLimit = 2 << 20

  /// Whether the machine has little data waiting to be written (dirty or under writeback, from
  /// `/proc/meminfo`): then a `syncfs` costs about one flush. False when it can't be told.
  public static func fewUnwritten() -> Bool {
    if let forced = forcedQuiet.withValue({ $0 }) { return forced }
    guard let unwritten = unwrittenBytes() else { return false }
    return unwritten < unwrittenLimit
  }

  /// For tests: whether ``fewUnwritten()`` answers true or false whatever the machine (nil:
  /// it looks). Either answer is correct, only slower or faster.
  package static let forcedQuiet = LockedValue<Bool?>(nil)

  /// The bytes the machine has waiting to be written, from `/proc/meminfo` (nil when unreadable).
  static func unwrittenBytes() -> Int? {
    let fd = meminfo
    guard fd >= 0 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard count > 0 else { return nil }
    return unwrittenBytes(inMeminfo: buffer[0..<count])
  }

  /// The sum of the `Dirty:` and `Writeback:` lines of a `/proc/meminfo` text, in bytes (nil
  /// when either is missing).
  public static func unwrittenBytes(inMeminfo text: some Collection<UInt8>) -> Int? {
    // Read on every change: one pass over the bytes, nothing allocated.
    let dirtyName = Array("Dirty:".utf8)
    let writebackName = Array("Writeback:".utf8)
    var dirty: Int?
    var writeback: Int?
    var index = text.startIndex
    while index != text.endIndex {
      let lineEnd = text[index...].firstIndex(of: 0x0A) ?? text.endIndex
      let line = text[index..<lineEnd]
      if line.starts(with: dirtyName) {
        dirty = kibibytes(line.dropFirst(dirtyName.count))
      } else if line.starts(with: writebackName) {
        writeback = kibibytes(line.dropFirst(writebackName.count))
      }
      if let dirty, let writeback { return dirty + writeback }
      index = lineEnd == text.endIndex ? lineEnd : text.index(after: lineEnd)
    }
    return nil
  }

  /// The bytes of a `/proc/meminfo` value, `   172 kB` (nil unless it is spaces, then digits).
  private static func kibibytes(_ value: some Collection<UInt8>) -> Int? {
    let digits = value.drop { $0 == 0x20 }.prefix { $0 != 0x20 }
    guard !digits.isEmpty, digits.count < 16, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
    return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) } * 1024
  }

  /// `/proc/meminfo`, open for the life of the process (-1 when it can't be opened).
  private static let meminfo: Int32 = open("/proc/meminfo", O_RDONLY | O_CLOEXEC)
}
