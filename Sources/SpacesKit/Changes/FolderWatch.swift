import Foundation

/// Where a command may have changed things, learned from inotify: the entries of the
/// workspace's folders that were created, deleted, written or had their mode changed.
///
/// Every folder of the workspace is watched (inotify watches inodes, so changes made inside a
/// sandbox through a bind mount are seen too). A command that changes nothing leaves no event,
/// and the runtime skips the scans; one that changes a few files leaves events naming them,
/// and only those are scanned. When the kernel's queue overflowed, or a folder was
/// renamed (its watch would name the old path), the answer is "don't know" and the whole
/// workspace is scanned. Used under the tracker's lock only.
final class FolderWatch {
  private let fd: Int32
  private let root: String
  private var paths: [Int32: String] = [:]
  private var watched: [String: Int32] = [:]
  /// Set when a watch could not be added (the user's inotify limits): answers "don't know".
  private var incomplete = false
  /// Why the last watch that could not be added failed (`errno`; nil: every folder is watched).
  private(set) var failure: Int32?

  private static let mask: UInt32 = {
    let changes: [Int32] = [
      IN_CREATE, IN_DELETE, IN_MODIFY, IN_ATTRIB, IN_MOVED_FROM, IN_MOVED_TO, IN_CLOSE_WRITE, IN_DELETE_SELF,
      IN_MOVE_SELF,
    ]
    var mask: UInt32 = 0
    for change in changes { mask |= UInt32(bitPattern: change) }
    return mask | UInt32(IN_ONLYDIR) | UInt32(IN_DONT_FOLLOW) | UInt32(IN_EXCL_UNLINK)
  }()

  /// Opens an inotify instance for the workspace `root`; nil when the system has none to give.
  init?(root: String) {
    let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
    guard fd >= 0 else { return nil }
    self.fd = fd
    self.root = root
  }

  deinit { close(fd) }

  /// Forgets every watch (before watching the whole workspace again).
  func reset() {
    for wd in paths.keys { inotify_rm_watch(fd, wd) }
    _ = drain()
    paths = [:]
    watched = [:]
    incomplete = false
    failure = nil
  }

  /// Watches the folder `path` ("" is the workspace) unless it is watched already.
  func watch(_ path: String) {
    guard watched[path] == nil, path.utf8.first != 0 else { return }
    let full = path.isEmpty ? root : root + "/" + path
    let wd = inotify_add_watch(fd, full, Self.mask)
    guard wd >= 0 else {
      if errno != ENOENT && errno != ENOTDIR {
        incomplete = true
        failure = errno
      }
      return
    }
    paths[wd] = path
    watched[path] = wd
  }

  /// The paths that changed since the last call (an entry of a watched folder, or the folder
  /// itself; [] for none), or nil when that can't be told (the queue overflowed, a folder moved,
  /// a watch is missing).
  func drain() -> Set<String>? {
    var dirty = Set<String>()
    var unknown = incomplete
    let size = 64 << 10
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
    defer { buffer.deallocate() }
    let header = MemoryLayout<inotify_event>.size
    while true {
      let count = read(fd, buffer.baseAddress, size)
      if count < 0 && errno == EINTR { continue }
      guard count > 0, let base = buffer.baseAddress else { break }
      var offset = 0
      while offset + header <= count {
        let event = (base + offset).loadUnaligned(as: inotify_event.self)
        offset += header + Int(event.len)
        let mask = event.mask
        if mask & UInt32(IN_Q_OVERFLOW) != 0 { unknown = true }
        if mask & UInt32(IN_IGNORED) != 0 {
          if let path = paths.removeValue(forKey: event.wd) { watched[path] = nil }
          continue
        }
        let isFolder = mask & UInt32(IN_ISDIR) != 0
        if mask & UInt32(IN_MOVE_SELF) != 0 || (isFolder && mask & UInt32(IN_MOVED_FROM | IN_MOVED_TO) != 0) {
          unknown = true
        }
        guard let path = paths[event.wd] else {
          unknown = true
          continue
        }
        if mask & UInt32(IN_DELETE_SELF) != 0 {
          // Its parent reports the deletion too.
          continue
        }
        // The entry that changed (its name follows the event), else the folder itself.
        let nameStart = base + offset - Int(event.len)
        let raw = UnsafeBufferPointer(
          start: nameStart.assumingMemoryBound(to: UInt8.self), count: Int(event.len))
        let name = raw.prefix { $0 != 0 }
        if !name.isEmpty, path.utf8.first != 0, let text = String(validating: name, as: UTF8.self) {
          dirty.insert(path.isEmpty ? text : path + "/" + text)
        } else {
          dirty.insert(path)
        }
      }
    }
    return unknown ? nil : dirty
  }
}
