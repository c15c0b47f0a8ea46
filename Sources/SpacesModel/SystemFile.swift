#if canImport(Glibc)
  import Glibc
#endif

extension SpacesError {
  /// The error for a system call that failed with `code` while trying to `action` (a phrase
  /// such as "read /x/space.json"), saying what really happened and what to do.
  ///
  /// Running out of descriptors is named as such (`ioError`), never mistaken for a missing or
  /// unreadable file: it passes when fewer files are open, so the message says to try again.
  static package func system(_ code: Int32, _ action: String) -> SpacesError {
    let reason = String(cString: strerror(code))
    let message =
      switch code {
      case EMFILE:
        "too many open files in the runtime: can't \(action) (\(reason)); try again when fewer "
          + "operations or clients are active, or raise the limit on open files (ulimit -n)"
      case ENFILE:
        "too many open files on this machine: can't \(action) (\(reason)); try again when fewer "
          + "files are open, or raise the system's limit (fs.file-max)"
      case ENOMEM:
        "out of memory: can't \(action) (\(reason)); try again when the machine has memory to spare"
      case EACCES, EPERM:
        "permission denied: can't \(action) (\(reason)); check the owner and mode of the file and its folders"
      default:
        "can't \(action): \(reason)"
      }
    return SpacesError(.ioError, message, errno: code)
  }
}

/// Small files the runtime reads whole (configs, policies, the token), with errors that say
/// what went wrong instead of reading every failure as a missing file.
package enum SystemFile {
  /// The bytes of the file at `path`, or nil when nothing is there (`ENOENT`).
  ///
  /// Any other failure throws ``SpacesError/system(_:_:)``: a descriptor limit, a permission,
  /// a folder where the file should be.
  static package func read(_ path: String, limit: Int = 64 << 20) throws(SpacesError) -> [UInt8]? {
    var fd: Int32
    repeat {
      fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
    } while fd < 0 && errno == EINTR
    guard fd >= 0 else {
      let code = errno
      if code == ENOENT { return nil }
      throw SpacesError.system(code, "open \(path)")
    }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if got < 0 {
        let code = errno
        if code == EINTR { continue }
        throw SpacesError.system(code, "read \(path)")
      }
      if got == 0 { return bytes }
      bytes += chunk[..<got]
      if bytes.count > limit {
        throw SpacesError(.tooLarge, "\(path) is over \(limit >> 20) MiB; it can't be a file the runtime wrote")
      }
    }
  }

  /// Whether something is at `path` (not following a final symlink): false only for
  /// `ENOENT`; any other failure throws.
  static package func exists(_ path: String) throws(SpacesError) -> Bool {
    var info = stat()
    if lstat(path, &info) == 0 { return true }
    let code = errno
    if code == ENOENT { return false }
    throw SpacesError.system(code, "inspect \(path)")
  }
}

/// What tells a file's versions apart without reading it: its device, inode, size, and
/// modification and change times. A file replaced (a rename over it) or rewritten gets another
/// stamp; caches of what a file says keep the stamp it had when it was read.
public struct FileStamp: Equatable, Sendable {
  private var device: UInt64
  private var inode: UInt64
  private var size: Int64
  private var modified: Int
  private var modifiedNanoseconds: Int
  private var changed: Int
  private var changedNanoseconds: Int

  /// The stamp of what `info` describes (a `stat` or `lstat` result).
  public init(_ info: stat) {
    (device, inode, size) = (UInt64(info.st_dev), UInt64(info.st_ino), Int64(info.st_size))
    (modified, modifiedNanoseconds) = (Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec))
    (changed, changedNanoseconds) = (Int(info.st_ctim.tv_sec), Int(info.st_ctim.tv_nsec))
  }

  /// The stamp of the regular file at `path`, not following a symlink; nil for anything else
  /// (missing, a symlink, a folder, a FIFO).
  public init?(regularFileAt path: String) {
    var info = stat()
    guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    self.init(info)
  }
}
