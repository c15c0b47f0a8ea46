import CSpacesSys
import Foundation
import Glibc
import SpacesModel
import SpacesPolicy

/// A workspace folder that file operations can't escape.
///
/// The root is opened once; every operation resolves its path beneath that descriptor, with
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` where the kernel has it and with a
/// component-by-component walk otherwise. Work on the last component always happens relative to
/// an already-opened parent folder, so swapping a folder on the way for a symlink between a check
/// and its use can't redirect the operation.
///
/// Hard links: `read` accepts regular files with `st_nlink > 1`. A hard link can only be made to
/// a file its maker can already reach (and `fs.protected_hardlinks` further requires owning it or
/// having read-write access), so refusing them would guard nothing the sandboxed command couldn't
/// read directly, while it would break real workspaces (pnpm and similar tools hard-link
/// dependencies from a shared store). `write` never writes through a hard link: the atomic rename
/// replaces the directory entry and leaves the other links' content untouched.
public final class ConfinedWorkspace: Sendable {
  /// The workspace root as given to `init`.
  public let root: String
  /// The largest file, in bytes, that `read` returns and `write` accepts.
  public let maxFileSize: Int
  /// Whether paths resolve with `openat2` (false when the kernel lacks it or `forceFallback` was set).
  public let usesOpenat2: Bool
  private let rootFD: Int32
  private let guarded: [String]

  /// Opens the workspace root (the root path itself is trusted and may be followed).
  ///
  /// Throws `notFound` if `root` doesn't exist and `notDirectory` if it is not a folder.
  /// `forceFallback` skips `openat2` and uses the portable walk, so tests can cover it.
  ///
  /// `guarded` names files outside the workspace (the supervisor token) that `read` refuses by
  /// identity (device and inode), whatever link leads to them.
  public init(
    root: String, maxFileSize: Int = 10 * 1024 * 1024, forceFallback: Bool = false, guarded: [String] = []
  ) throws(SpacesError) {
    let fd = cspaces_openat(AT_FDCWD, root, CSPACES_O_PATH | O_DIRECTORY | O_CLOEXEC, 0)
    guard fd >= 0 else {
      let code = errno
      switch code {
      case ENOENT:
        throw SpacesError(
          .notFound, "The workspace folder '\(root)' doesn't exist; create it first", errno: code)
      case ENOTDIR:
        throw SpacesError(
          .notDirectory, "The workspace root '\(root)' is not a folder; pick a folder", errno: code)
      case EMFILE, ENFILE:
        throw SpacesError.system(code, "open the workspace folder '\(root)'")
      default:
        throw SpacesError(
          .ioError, "Can't open the workspace folder '\(root)': \(Self.describe(code))", errno: code
        )
      }
    }
    self.root = root
    self.maxFileSize = maxFileSize
    self.guarded = guarded
    rootFD = fd
    if forceFallback {
      usesOpenat2 = false
    } else {
      let probe = cspaces_openat2(fd, ".", CSPACES_O_PATH | O_CLOEXEC, 0, CSPACES_RESOLVE_BENEATH)
      let code = errno
      if probe >= 0 { close(probe) }
      usesOpenat2 = probe >= 0 || (code != ENOSYS && code != EPERM)
    }
  }

  deinit { close(rootFD) }

  /// Whether an open file is one of the guarded files (compared by device and inode).
  private func isGuarded(_ info: stat) -> Bool {
    guarded.contains { path in
      var other = stat()
      return stat(path, &other) == 0 && other.st_dev == info.st_dev && other.st_ino == info.st_ino
    }
  }

  /// The size of what is at `path` now, as ``read(_:)`` would open it, without reading it.
  public func size(_ path: String) throws(SpacesError) -> Int {
    let components = try RelativePath.components(path)
    return try mapping(path, "read") {
      let fd = try openBeneath(components, O_RDONLY | O_NONBLOCK | O_NOCTTY)
      defer { close(fd) }
      return Int(try Self.status(fd).st_size)
    }
  }

  /// Reads a whole regular file, following symlinks only while they stay inside the workspace.
  ///
  /// Throws `tooLarge` over `maxFileSize` (or over `limit` bytes, when that is lower: a caller
  /// that must not read more, even of a file that grows while it is read), `isDirectory` for a
  /// folder, `invalidPath` for a FIFO, device or socket, and `notFound` if nothing is there.
  public func read(_ path: String, atMost limit: Int = .max) throws(SpacesError) -> [UInt8] {
    let cap = min(maxFileSize, max(0, limit))
    func over(_ size: Int) -> SpacesError {
      size > maxFileSize
        ? tooLarge(path, size)
        : SpacesError(.tooLarge, "'\(path)' is over the \(Self.formatSize(cap)) this read takes at most")
    }
    let components = try Self.visibleComponents(path)
    return try mapping(path, "read") {
      let fd: Int32
      do {
        fd = try openBeneath(components, O_RDONLY | O_NONBLOCK | O_NOCTTY)
      } catch let error as SysError where error.code == ENXIO || error.code == ENODEV {
        throw notRegular(path)  // a socket, or a device without a driver
      }
      defer { close(fd) }
      let info = try Self.status(fd)
      if isGuarded(info) {
        throw SpacesError(.pathOutsideWorkspace, "'\(path)' is a file of the runtime's that no operation may read")
      }
      switch info.st_mode & S_IFMT {
      case S_IFREG: break
      case S_IFDIR:
        throw SpacesError(
          .isDirectory, "'\(path)' is a folder, not a file; run `ls` in a shell operation to see what it holds")
      default: throw notRegular(path)
      }
      guard info.st_size <= cap else { throw over(Int(info.st_size)) }
      // Never read more than cap + 1 bytes, even if the file grows meanwhile.
      var data = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
      var count = 0
      while true {
        if count == data.count {
          guard count <= cap else { throw over(count) }
          data += repeatElement(0, count: min(count, cap + 1 - count))
        }
        let got = try data.withUnsafeMutableBytes { buffer in
          try Self.sys {
            Glibc.read(fd, buffer.baseAddress?.advanced(by: count), buffer.count - count)
          }
        }
        if got == 0 { break }
        count += got
      }
      data.removeLast(data.count - count)
      return data
    }
  }

  /// Writes a file atomically through a temp file in the same folder, creating missing folders.
  ///
  /// A symlink or hard link at the path is replaced, never written through. Throws `tooLarge`
  /// over `maxFileSize` and `isDirectory` if a folder stands at the path.
  ///
  /// The content is on disk before it is renamed into place: `flushContent` is given the open
  /// temporary file to flush (by default its `fsync`; a caller flushes other files with it). The
  /// folder's new entry is flushed before this returns, or, given `folders`, added to them for the
  /// caller to flush with its journal (``PendingFlushes``).
  public func write(
    _ path: String, _ data: [UInt8], folders: PendingFlushes? = nil,
    flushContent: (Int32) throws(SpacesError) -> Void = { fd throws(SpacesError) in
      try DiskFlush.flushContents([fd])
    }
  ) throws(SpacesError) {
    let components = try Self.visibleComponents(path)
    guard let name = components.last else {
      throw SpacesError(
        .invalidPath, "'\(path)' names the workspace root; give a file path such as 'notes.txt'")
    }
    guard data.count <= maxFileSize else { throw tooLarge(path, data.count) }
    try mapping(path, "write") {
      let dir = try openFolder(components.dropLast(), create: true)
      defer { close(dir) }
      var mode: mode_t = 0o644
      if let existing = try Self.status(dir, name) {
        switch existing.st_mode & S_IFMT {
        case S_IFDIR:
          throw SpacesError(
            .isDirectory, "'\(path)' is a folder; delete it first or write to another path")
        case S_IFREG: mode = existing.st_mode & 0o777
        // A symlink or special file is replaced by the rename, never written through.
        default: break
        }
      }
      let (fd, temp) = try Self.createTemporary(in: dir, mode: mode)
      // Open until the rename: its lock tells another process's start-up clean-up that this
      // temp file is a write in progress, not one a crash left behind.
      defer { close(fd) }
      var renamed = false
      defer { if !renamed { unlinkat(dir, temp, 0) } }
      try Self.sys { fchmod(fd, mode) }  // exact mode, whatever the umask
      try data.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
          offset += try Self.sys {
            Glibc.write(fd, buffer.baseAddress?.advanced(by: offset), buffer.count - offset)
          }
        }
      }
      try flushContent(fd)
      try Self.sys { renameat(dir, temp, dir, name) }
      renamed = true
      if let folders { try folders.add(dir) } else { try Self.sys { fsync(dir) } }
    }
  }

  /// Deletes a file or symlink (the link, never its target), or a folder's whole tree if `recursive`.
  ///
  /// The tree is removed without ever following a symlink. Throws `isDirectory` for a folder
  /// without `recursive` and `invalidPath` for the workspace root.
  ///
  /// The folder that held it is flushed before this returns, or, given `folders`, added to them
  /// for the caller to flush with its journal (``PendingFlushes``).
  public func delete(_ path: String, recursive: Bool, folders: PendingFlushes? = nil) throws(SpacesError) {
    let components = try Self.visibleComponents(path)
    guard let name = components.last else {
      throw SpacesError(
        .invalidPath,
        "'\(path)' is the workspace root, which can't be deleted; name a file or folder inside it")
    }
    try mapping(path, "delete") {
      let dir = try openFolder(components.dropLast(), create: false)
      defer { close(dir) }
      do {
        try Self.sys { unlinkat(dir, name, 0) }
      } catch let error as SysError where error.code == EISDIR {
        guard recursive else {
          throw SpacesError(
            .isDirectory,
            "'\(path)' is a folder; pass \"recursive\": true to delete it and everything in it")
        }
        try Self.removeContents(dir, name)
        try Self.sys { unlinkat(dir, name, AT_REMOVEDIR) }
      }
      if let folders { try folders.add(dir) } else { try Self.sys { fsync(dir) } }
    }
  }

  /// Lists a folder ("" or "." is the root), sorted by name; symlinks in it are reported, not followed.
  ///
  /// The temporary files of writes (in progress, or left by a crash) are not listed.
  ///
  /// The folder itself may be reached through symlinks that stay inside the workspace.
  public func list(_ path: String) throws(SpacesError) -> [WorkspaceEntry] {
    let components = path.isEmpty ? [] : try Self.visibleComponents(path)
    let prefix = components.map { $0 + "/" }.joined()
    return try mapping(path, "list") {
      let fd = try openBeneath(components, O_RDONLY | O_DIRECTORY)
      defer { close(fd) }
      return try Self.names(fd).compactMap { raw -> WorkspaceEntry? in
        guard !Self.isTemporaryName(raw.dropLast().map { UInt8(bitPattern: $0) }) else { return nil }
        guard let info = try Self.status(fd, raw) else { return nil }  // removed meanwhile
        let name = String(decoding: raw.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return WorkspaceEntry(name: name, path: prefix + name, info)
      }.sorted { $0.name < $1.name }
    }
  }

  /// Stat of one path without following a final symlink; nil if it (or a folder on the way) doesn't exist.
  ///
  /// "." describes the root itself.
  public func entry(_ path: String) throws(SpacesError) -> WorkspaceEntry? {
    let components = try Self.visibleComponents(path)
    return try mapping(path, "inspect") {
      guard let name = components.last else {
        return WorkspaceEntry(name: ".", path: "", try Self.status(rootFD))
      }
      let dir: Int32
      do {
        dir = try openFolder(components.dropLast(), create: false)
      } catch let error as SysError where error.code == ENOENT || error.code == ENOTDIR {
        return nil
      }
      defer { close(dir) }
      return try Self.status(dir, name).map {
        WorkspaceEntry(name: name, path: components.joined(separator: "/"), $0)
      }
    }
  }

  /// Validates and normalizes a relative path ("a//b/./c" -> "a/b/c"; the root is ""). Pure, no I/O.
  ///
  /// Throws `invalidPath` for an empty path, NUL bytes or over-long names, and
  /// `pathOutsideWorkspace` for absolute paths and `..` that climbs out of the root.
  public static func normalize(_ path: String) throws(SpacesError) -> String {
    try RelativePath.normalize(path)
  }

  // MARK: - Temporary files of writes

  /// Whether `name` is a temporary file name of `write`: `.spaces-`, 1 to 16 lowercase hex
  /// digits, `.tmp` (this version always writes 16 digits; earlier ones wrote fewer).
  ///
  /// Such names are reserved: file operations refuse them and `list` leaves them out.
  public static func isTemporaryName(_ name: some Collection<UInt8>) -> Bool {
    let prefix = Array(".spaces-".utf8)
    let suffix = Array(".tmp".utf8)
    guard name.count > prefix.count + suffix.count, name.count <= prefix.count + 16 + suffix.count,
      name.starts(with: prefix), name.reversed().starts(with: suffix.reversed())
    else { return false }
    return name.dropFirst(prefix.count).dropLast(suffix.count).allSatisfy { byte in
      (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
  }

  /// A new temporary file name for a write: `.spaces-` + 16 random hex digits + `.tmp`.
  static package func temporaryName() -> String {
    ".spaces-" + randomHex16() + ".tmp"
  }

  /// Creates a new temporary file in `dir` and locks it (``createLockedTemporary(in:mode:named:)``);
  /// returns its descriptor and name.
  private static func createTemporary(in dir: Int32, mode: mode_t) throws -> (fd: Int32, name: String) {
    guard let made = createLockedTemporary(in: dir, mode: mode) else {
      guard errno == EBUSY else { throw SysError(code: errno) }
      throw SpacesError(
        .ioError, "Can't create a temporary file for the write: another process took each one at once; try again")
    }
    return made
  }

  /// Creates a temporary file in `dir` for a write that renames it into place, and locks it
  /// (`flock`) until it is closed, so that the clean-up of interrupted writes
  /// (``removeInterruptedWrites(maxDepth:)``, in this process or another) leaves it alone.
  ///
  /// Its name is a new one (``temporaryName()``), or `fixed`, which a write applied again after
  /// a crash uses: what stands under that name (the crash's leftover) is removed first. If the
  /// clean-up took the file in the instant between its creation and the lock (it is then
  /// locked elsewhere, or already unlinked), the file is made again, at most 8 times. Returns
  /// nil with `errno` set when it can't be made (`EBUSY`: the clean-up took each one).
  package static func createLockedTemporary(in dir: Int32, mode: mode_t, named fixed: String? = nil) -> (
    fd: Int32, name: String
  )? {
    for _ in 0..<8 {
      let name = fixed ?? temporaryName()
      if fixed != nil { unlinkat(dir, name, 0) }
      var fd: Int32
      repeat {
        fd = cspaces_openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, Int32(mode))
      } while fd < 0 && errno == EINTR
      guard fd >= 0 else { return nil }
      // A file system without flock (some network ones) can't race with a clean-up either way.
      let locked = flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK
      var info = stat()
      if locked, fstat(fd, &info) == 0, info.st_nlink > 0 { return (fd, name) }
      close(fd)
    }
    errno = EBUSY
    return nil
  }

  /// Removes the temporary files that interrupted writes (a crash, `kill -9`) left anywhere in
  /// the workspace; returns how many it removed. Called when a space is opened.
  ///
  /// Only regular files whose names match ``isTemporaryName(_:)`` are removed, and only when no
  /// write holds them (their lock is free). The walk opens every folder beneath the one before
  /// with `O_NOFOLLOW`, so a symlink (also one named like a temporary file) is never followed,
  /// and a symlink itself is never removed. It goes at most `maxDepth` folders deep (leftovers
  /// deeper stay, hidden from file operations); folders it can't open are skipped.
  @discardableResult
  public func removeInterruptedWrites(maxDepth: Int = 64) -> Int {
    let fd = cspaces_openat(rootFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    return Self.removeTemporaries(in: fd, depth: 0, maxDepth: maxDepth)
  }

  private static func removeTemporaries(in dir: Int32, depth: Int, maxDepth: Int) -> Int {
    guard let entries = try? typedNames(dir) else { return 0 }
    var removed = 0
    for (name, type) in entries {
      var type = type
      if type == UInt8(DT_UNKNOWN) {
        guard let info = try? status(dir, name) else { continue }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: type = UInt8(DT_DIR)
        case S_IFREG: type = UInt8(DT_REG)
        default: continue
        }
      }
      if type == UInt8(DT_DIR), depth < maxDepth {
        let child = cspaces_openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard child >= 0 else { continue }
        removed += removeTemporaries(in: child, depth: depth + 1, maxDepth: maxDepth)
        close(child)
      } else if type == UInt8(DT_REG), isTemporaryName(name.dropLast().map { UInt8(bitPattern: $0) }),
        removeTemporary(name, in: dir)
      {
        removed += 1
      }
    }
    return removed
  }

  /// Unlinks the temporary file `name` of `dir` if it is a regular file no write holds.
  private static func removeTemporary(_ name: [CChar], in dir: Int32) -> Bool {
    guard let before = try? status(dir, name), before.st_mode & S_IFMT == S_IFREG else { return false }
    let fd = cspaces_openat(dir, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }  // releases the lock, after the unlink
    var held = stat()
    guard fstat(fd, &held) == 0, held.st_mode & S_IFMT == S_IFREG, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      return false  // a write in progress holds it
    }
    // Still the same file under that name: unlink only what was checked.
    guard let now = try? status(dir, name), now.st_dev == held.st_dev, now.st_ino == held.st_ino else {
      return false
    }
    return unlinkat(dir, name, 0) == 0
  }

  // MARK: - Paths

  /// ``components(_:)``, refusing a path with a name reserved for temporary files.
  private static func visibleComponents(_ path: String) throws(SpacesError) -> [String] {
    let components = try RelativePath.components(path)
    if components.contains(where: { isTemporaryName(Array($0.utf8)) }) {
      throw SpacesError(
        .invalidPath,
        "'\(path)' uses a name reserved for the runtime's temporary files (.spaces-<hex digits>.tmp); use another name"
      )
    }
    return components
  }

  // MARK: - Resolution beneath the root

  /// An errno from a system call, turned into a `SpacesError` by `mapping`.
  private struct SysError: Error {
    var code: Int32
  }

  /// The most symlinks one resolution follows, as in the kernel.
  private static let maxSymlinks = 40

  /// Opens `components` beneath the root with `flags`, following symlinks that stay inside.
  private func openBeneath(_ components: [String], _ flags: Int32) throws -> Int32 {
    guard usesOpenat2 else { return try openWalking(components, flags | O_CLOEXEC) }
    let path = components.isEmpty ? "." : components.joined(separator: "/")
    let resolve = CSPACES_RESOLVE_BENEATH | CSPACES_RESOLVE_NO_MAGICLINKS
    var attempt = 0
    while true {
      do {
        return try Self.sys { cspaces_openat2(rootFD, path, flags | O_CLOEXEC, 0, resolve) }
      } catch let error as SysError where error.code == EAGAIN && attempt < 8 {
        attempt += 1  // a rename raced with a ".." in a symlink; the kernel asks to retry
      }
    }
  }

  /// The fallback for `openBeneath`: walks one component at a time from the root, never letting
  /// the kernel follow a symlink, and resolves symlinks itself while they stay beneath the root.
  private func openWalking(_ components: [String], _ flags: Int32) throws -> Int32 {
    var pending = Array(components.reversed())
    var folders: [Int32] = []  // the folders walked so far, each opened beneath the previous one
    defer {
      for folder in folders { close(folder) }
    }
    var links = 0
    while let name = pending.popLast() {
      let current = folders.last ?? rootFD
      if name.isEmpty || name == "." { continue }
      if name == ".." {
        guard let folder = folders.popLast() else { throw SysError(code: EXDEV) }
        close(folder)
        continue
      }
      let last = pending.isEmpty
      let wanted = last ? flags | O_NOFOLLOW : CSPACES_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
      do {
        let fd = try Self.sys { cspaces_openat(current, name, wanted, 0) }
        if last { return fd }
        folders.append(fd)
      } catch let error as SysError where error.code == ELOOP || error.code == ENOTDIR {
        guard let target = try Self.symlinkTarget(current, name) else { throw error }
        links += 1
        guard links <= Self.maxSymlinks else { throw SysError(code: ELOOP) }
        guard target.first != UInt8(ascii: "/") else { throw SysError(code: EXDEV) }
        let parts = target.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        pending += parts.reversed().map { String(decoding: $0, as: UTF8.self) }
      }
    }
    return try Self.sys { cspaces_openat(folders.last ?? rootFD, ".", flags, 0) }
  }

  /// Whether every one of `components` is a folder opened beneath the one before without
  /// following a symlink (the shell session's folder must be such a folder).
  func walkFolders(_ components: [String]) -> Bool {
    var current = rootFD
    defer { if current != rootFD { close(current) } }
    for name in components {
      guard name != ".", name != "..", !name.isEmpty else { return false }
      let next = cspaces_openat(current, name, CSPACES_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
      guard next >= 0 else { return false }
      if current != rootFD { close(current) }
      current = next
    }
    return true
  }

  /// Opens a folder for reading beneath the root, creating missing folders (mode 0755) if `create`.
  private func openFolder(_ components: ArraySlice<String>, create: Bool) throws -> Int32 {
    do {
      return try openBeneath(Array(components), O_RDONLY | O_DIRECTORY)
    } catch let error as SysError where error.code == ENOENT && create {
      guard let name = components.last else { throw error }
      let parent = try openFolder(components.dropLast(), create: true)
      defer { close(parent) }
      do {
        try Self.sys { mkdirat(parent, name, 0o755) }
      } catch let error as SysError where error.code == EEXIST {}
      return try openBeneath(Array(components), O_RDONLY | O_DIRECTORY)
    }
  }

  // MARK: - System calls

  /// Runs a system call, retrying on EINTR; throws its errno if it returns a negative value.
  @discardableResult
  private static func sys<T: BinaryInteger>(_ call: () -> T) throws -> T {
    while true {
      let result = call()
      if result >= 0 { return result }
      let code = errno
      if code != EINTR { throw SysError(code: code) }
    }
  }

  /// `fstat` of an open descriptor.
  private static func status(_ fd: Int32) throws -> stat {
    var info = stat()
    try sys { fstat(fd, &info) }
    return info
  }

  /// `fstatat` without following a symlink; nil if nothing has that name.
  private static func status(_ dir: Int32, _ name: UnsafePointer<CChar>) throws -> stat? {
    var info = stat()
    do {
      try sys { fstatat(dir, name, &info, AT_SYMLINK_NOFOLLOW) }
    } catch let error as SysError where error.code == ENOENT {
      return nil
    }
    return info
  }

  /// The target bytes of symlink `name` in `dir`, or nil if `name` is not a symlink.
  private static func symlinkTarget(_ dir: Int32, _ name: String) throws -> [UInt8]? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
    let size = buffer.count
    let count: Int
    do {
      count = try sys { readlinkat(dir, name, &buffer, size) }
    } catch let error as SysError where error.code == EINVAL {
      return nil
    }
    guard count < size else { throw SysError(code: ENAMETOOLONG) }
    return buffer[..<count].map { UInt8(bitPattern: $0) }
  }

  /// The entry names in folder `fd` (without "." and ".."), NUL-terminated and byte-exact.
  private static func names(_ fd: Int32) throws -> [[CChar]] {
    try typedNames(fd).map(\.name)
  }

  /// The entry names in folder `fd` with their `d_type`s, like ``names(_:)``.
  private static func typedNames(_ fd: Int32) throws -> [(name: [CChar], type: UInt8)] {
    let copy = try sys { cspaces_openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) }
    guard let dir = fdopendir(copy) else {
      let code = errno
      close(copy)
      throw SysError(code: code)
    }
    defer { closedir(dir) }
    var result: [(name: [CChar], type: UInt8)] = []
    var type: UInt8 = 0
    while let name = cspaces_readdir_entry(dir, &type) {
      result.append((Array(UnsafeBufferPointer(start: name, count: strlen(name) + 1)), type))
    }
    let code = errno
    if code != 0 { throw SysError(code: code) }
    return result
  }

  /// Empties folder `name` of `parent` depth-first, opening each folder with O_NOFOLLOW.
  private static func removeContents(_ parent: Int32, _ name: UnsafePointer<CChar>) throws {
    let fd = try sys {
      cspaces_openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
    }
    defer { close(fd) }
    for child in try names(fd) {
      do {
        try sys { unlinkat(fd, child, 0) }
      } catch let error as SysError where error.code == EISDIR {
        try removeContents(fd, child)
        try sys { unlinkat(fd, child, AT_REMOVEDIR) }
      }
    }
  }

  // MARK: - Errors

  /// Runs `body`, turning a `SysError` into a `SpacesError` that names `path`.
  private func mapping<T>(_ path: String, _ action: String, _ body: () throws -> T) throws(SpacesError) -> T {
    do {
      return try body()
    } catch let error as SysError {
      throw Self.failure(error.code, path, action)
    } catch let error as SpacesError {
      throw error
    } catch {
      throw SpacesError(.ioError, "Can't \(action) '\(path)': \(error)")
    }
  }

  /// The `SpacesError` for errno `code` from trying to `action` `path`.
  private static func failure(_ code: Int32, _ path: String, _ action: String) -> SpacesError {
    switch code {
    case EXDEV: RelativePath.outside(path, errno: code)
    case ELOOP:
      SpacesError(
        .pathOutsideWorkspace,
        "'\(path)' goes through a symlink loop or a link that can't be followed safely; use a path that stays inside the workspace",
        errno: code)
    case ENOENT:
      SpacesError(
        .notFound, "'\(path)' doesn't exist; check the path (a shell operation such as `ls` shows what is there)",
        errno: code)
    case ENAMETOOLONG: SpacesError(.invalidPath, "'\(path)' is too long; shorten it", errno: code)
    case ENOTDIR:
      SpacesError(
        .notDirectory,
        "'\(path)' goes through a file where a folder is needed; check the path (a shell operation such as `ls` shows what is there)",
        errno: code)
    case EISDIR: SpacesError(.isDirectory, "'\(path)' is a folder, not a file", errno: code)
    case EMFILE, ENFILE, ENOMEM: SpacesError.system(code, "\(action) '\(path)'")
    default: SpacesError(.ioError, "Can't \(action) '\(path)': \(describe(code))", errno: code)
    }
  }

  private static func describe(_ code: Int32) -> String {
    String(cString: strerror(code))
  }

  private func notRegular(_ path: String) -> SpacesError {
    SpacesError(
      .invalidPath,
      "'\(path)' is not a regular file (a FIFO, socket or device); only regular files can be read")
  }

  private func tooLarge(_ path: String, _ size: Int) -> SpacesError {
    SpacesError(
      .tooLarge,
      "'\(path)' is \(Self.formatSize(size)), over the \(Self.formatSize(maxFileSize)) limit; raise limits.maxFileSize in the space's config"
    )
  }

  /// "512 bytes", "3.5 KiB", "12.3 MiB", "10 MiB".
  private static func formatSize(_ size: Int) -> String {
    if size < 1024 { return "\(size) bytes" }
    let (value, unit) =
      size >= 1 << 20 ? (Double(size) / 1_048_576, "MiB") : (Double(size) / 1024, "KiB")
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? "\(Int(rounded)) \(unit)" : "\(rounded) \(unit)"
  }
}
