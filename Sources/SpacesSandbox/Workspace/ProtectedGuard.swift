import CSpacesSys
import Foundation
import Glibc
import SpacesModel
import SpacesPolicy

/// Where a workspace's protected paths can be: fixed locations derived from the globs of a
/// ``ProtectedPaths`` value, never a walk of the whole tree.
///
/// A glob without wildcards is one path (`.git/config`); a glob whose wildcards start in its
/// last component is looked up in one folder (`.env*` in the root); `dir/**` is that folder and
/// what is beneath it (at most ``maxDepth`` deep). Globs that start with `**` (nested
/// repositories) need a walk of the tree and are left to the policy. Every folder on the way to
/// a location is an *ancestor*: one that is a symlink or a file (`.git` as a symlink or a
/// `gitdir:` file) is itself protected, since git and editors follow it.
struct ProtectedLocations: Sendable, Equatable {
  /// One path (`.git/config`).
  struct Literal: Sendable, Equatable {
    var components: [String]
    var entry: Int
  }
  /// One folder and how deep beneath it entries are looked at; `entries` are the indices of
  /// the ``ProtectedPaths/entries`` whose globs lead there.
  struct Folder: Sendable, Equatable {
    var components: [String]
    var depth: Int
    var recursive: Bool
    var entries: [Int]
    /// For a folder looked at one level deep: the patterns its names must match.
    var names: [[UInt8]] = []

    /// Whether `name` (directly in the folder) may match: a quick test before the globs.
    func mayHold(_ name: [UInt8]) -> Bool {
      recursive || depth > 1 || names.contains { Glob.component($0[...], name[...]) }
    }
  }
  /// A folder on the way to a location, and the entry it leads to.
  struct Ancestor: Sendable, Equatable {
    var components: [String]
    var entry: Int
  }

  /// The most folders a `dir/**` location is followed down.
  static let maxDepth = 8

  let paths: ProtectedPaths
  /// Each entry's globs and exceptions, compiled once.
  private let matchers: [(globs: [Glob], except: [Glob])]
  private(set) var literals: [Literal] = []
  private(set) var folders: [Folder] = []
  private(set) var ancestors: [Ancestor] = []

  static func == (lhs: Self, rhs: Self) -> Bool { lhs.paths == rhs.paths }

  /// The locations of `paths`, compiled once: every command looks them up twice (its guard and
  /// its sandbox's binds), and compiling the globs was most of a look.
  static func compiled(_ paths: ProtectedPaths) -> ProtectedLocations {
    recent.withValue { recent in
      if let index = recent.firstIndex(where: { $0.paths == paths }) {
        let found = recent.remove(at: index)
        recent.append(found)
        return found
      }
      let made = ProtectedLocations(paths)
      recent.append(made)
      if recent.count > maxRecent { recent.removeFirst() }
      return made
    }
  }

  /// The locations compiled most recently, the newest last (spaces with policies of their own
  /// each keep theirs).
  private static let recent = LockedValue<[ProtectedLocations]>([])
  private static let maxRecent = 16

  /// Whether entry `index` covers `path` (``ProtectedPaths/Entry/covers(_:)`` with compiled globs).
  func covers(_ index: Int, _ path: String) -> Bool {
    let matcher = matchers[index]
    return matcher.globs.contains { $0.matches(path) } && !matcher.except.contains { $0.matches(path) }
  }

  init(_ paths: ProtectedPaths) {
    self.paths = paths
    matchers = paths.entries.map { ($0.globs.map(Glob.init), $0.except.map(Glob.init)) }
    for (index, entry) in paths.entries.enumerated() {
      for glob in entry.globs {
        let parts = glob.split(separator: "/").map(String.init).filter { $0 != "." }
        guard let first = parts.first, first != "**", !parts.contains("..") else { continue }
        let wild = parts.firstIndex { $0.contains("*") || $0.contains("?") || $0.contains("[") }
        let folderPath: [String]
        if let wild {
          folderPath = Array(parts[..<wild])
          let recursive = parts[wild...].contains("**")
          let depth = recursive ? Self.maxDepth : parts.count - wild
          if folders.firstIndex(where: { $0.components == folderPath }) == nil {
            folders.append(Folder(components: folderPath, depth: depth, recursive: recursive, entries: []))
          }
          if let at = folders.firstIndex(where: { $0.components == folderPath }) {
            folders[at].depth = max(folders[at].depth, depth)
            folders[at].recursive = folders[at].recursive || recursive
            if !folders[at].entries.contains(index) { folders[at].entries.append(index) }
            if !recursive, depth == 1 { folders[at].names.append(Array(parts[wild].utf8)) }
          }
          addAncestors(of: folderPath, including: true, entry: index)
        } else {
          if !literals.contains(where: { $0.components == parts }) {
            literals.append(Literal(components: parts, entry: index))
          }
          addAncestors(of: parts, including: false, entry: index)
        }
      }
    }
  }

  private mutating func addAncestors(of parts: [String], including: Bool, entry: Int) {
    let count = including ? parts.count : parts.count - 1
    guard count > 0 else { return }
    for length in 1...count {
      let prefix = Array(parts[..<length])
      if !ancestors.contains(where: { $0.components == prefix }) {
        ancestors.append(Ancestor(components: prefix, entry: entry))
      }
    }
  }

  /// Whether `path` is a git config file, whose changes matter only where they touch the keys
  /// ``GitConfigRisk`` names.
  static func isGitConfig(_ path: [UInt8]) -> Bool {
    path == Array(".git/config".utf8) || path.reversed().starts(with: Array("/.git/config".utf8).reversed())
  }
}

/// One protected file, symlink or special file as the guard saw it.
struct ProtectedItem: Sendable, Equatable {
  enum Kind: Sendable, Equatable { case file, symlink, other }
  var kind: Kind
  var mode: UInt32
  var device: UInt64
  var inode: UInt64
  var size: Int64
  var modified: Int64
  var changed: Int64
  /// A file's bytes or a symlink's target; nil for a special file, one too large or unreadable.
  var content: [UInt8]?
  /// The ``ProtectedPaths/Entry/name`` that protects it.
  var rule: String

  init(_ info: stat, rule: String) {
    switch info.st_mode & S_IFMT {
    case S_IFREG: kind = .file
    case S_IFLNK: kind = .symlink
    default: kind = .other
    }
    mode = UInt32(info.st_mode & 0o7777)
    device = UInt64(info.st_dev)
    inode = UInt64(info.st_ino)
    size = Int64(info.st_size)
    modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    self.rule = rule
  }

  /// Same inode, size, mode and times: nothing can have changed it (`ctime` can't be set back).
  func sameStat(_ other: ProtectedItem) -> Bool {
    kind == other.kind && mode == other.mode && device == other.device && inode == other.inode
      && size == other.size && modified == other.modified && changed == other.changed
  }

  /// The same kind, mode and content (or target).
  func sameContent(_ other: ProtectedItem) -> Bool {
    kind == other.kind && mode == other.mode && content != nil && content == other.content
  }
}

/// Looks at and puts back the protected paths of one workspace, through descriptors opened
/// beneath its root, never following a symlink.
struct ProtectedScanner: Sendable {
  /// The largest protected file whose content is kept (to put it back).
  static let maxContent = 4 << 20
  /// The most protected entries one scan records.
  static let maxItems = 10_000

  let rootFD: Int32
  let locations: ProtectedLocations

  typealias Snapshot = [[UInt8]: ProtectedItem]

  /// The protected entries present now; content is read only for entries whose stat differs
  /// from `previous` (where it is reused).
  func scan(previous: Snapshot) -> Snapshot {
    var cache = CoverCache()
    return scan(previous: previous, cache: &cache)
  }

  /// ``scan(previous:)`` remembering which entry covers each path in `cache` (the globs cost
  /// more than the rest of a scan).
  func scan(previous: Snapshot, cache: inout CoverCache) -> Snapshot {
    var found: Snapshot = [:]
    var folders = FolderCache(rootFD: rootFD)
    defer { folders.closeAll() }
    let entries = locations.paths.entries
    for literal in locations.literals {
      guard let name = literal.components.last,
        let parent = folders.open(literal.components.dropLast())
      else { continue }
      record(
        parent, Array(name.utf8), path: Self.raw(literal.components), rule: entries[literal.entry].name,
        previous: previous, into: &found)
    }
    for ancestor in locations.ancestors {
      guard let name = ancestor.components.last, let parent = folders.open(ancestor.components.dropLast())
      else { continue }
      var info = stat()
      guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT != S_IFDIR else {
        continue
      }
      record(
        parent, Array(name.utf8), path: Self.raw(ancestor.components), rule: entries[ancestor.entry].name,
        previous: previous, into: &found)
    }
    for folder in locations.folders {
      guard let fd = folders.open(folder.components[...]) else { continue }
      walk(
        fd, prefix: Self.raw(folder.components), depth: folder.depth, folder: folder, previous: previous,
        cache: &cache, into: &found)
    }
    return found
  }

  private func walk(
    _ dir: Int32, prefix: [UInt8], depth: Int, folder: ProtectedLocations.Folder, previous: Snapshot,
    cache: inout CoverCache, into found: inout Snapshot
  ) {
    guard depth > 0, let listing = Self.list(dir) else { return }
    let entries = locations.paths.entries
    let top = depth == folder.depth
    for (name, type) in listing {
      guard found.count < Self.maxItems else { return }
      if top, !folder.mayHold(name) { continue }
      let path = prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
      var isDirectory = type == UInt8(DT_DIR)
      if type == UInt8(DT_UNKNOWN) {
        var info = stat()
        guard fstatat(dir, name.cString, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
        isDirectory = info.st_mode & S_IFMT == S_IFDIR
      }
      if isDirectory {
        guard depth > 1 else { continue }
        let child = cspaces_openat(dir, name.cString, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard child >= 0 else { continue }
        walk(child, prefix: path, depth: depth - 1, folder: folder, previous: previous, cache: &cache, into: &found)
        close(child)
        continue
      }
      let index: Int
      if let known = cache.entries[path] {
        index = known
      } else {
        let text = String(decoding: path, as: UTF8.self)
        index = folder.entries.first { locations.covers($0, text) } ?? -1
        if cache.entries.count > Self.maxItems { cache.entries = [:] }
        cache.entries[path] = index
      }
      guard index >= 0 else { continue }
      record(dir, name, path: path, rule: entries[index].name, previous: previous, into: &found)
    }
  }

  /// Records `name` of `dir` (not followed) under `path`, with its content when it changed.
  private func record(
    _ dir: Int32, _ name: [UInt8], path: [UInt8], rule: String, previous: Snapshot, into found: inout Snapshot
  ) {
    var info = stat()
    guard fstatat(dir, name.cString, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT != S_IFDIR else {
      return
    }
    var item = ProtectedItem(info, rule: rule)
    if let before = previous[path], before.sameStat(item) {
      item.content = before.content
    } else {
      item = Self.readContent(dir, name, item)
    }
    found[path] = item
  }

  /// `item` with its content read (a file's bytes, a symlink's target); the stat is the one of
  /// what was read.
  static func readContent(_ dir: Int32, _ name: [UInt8], _ item: ProtectedItem) -> ProtectedItem {
    var item = item
    switch item.kind {
    case .symlink:
      var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
      let count = readlinkat(dir, name.cString, &buffer, buffer.count)
      item.content = count >= 0 && count < buffer.count ? buffer[..<count].map { UInt8(bitPattern: $0) } : nil
    case .file:
      let fd = cspaces_openat(dir, name.cString, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0)
      guard fd >= 0 else { return item }
      defer { close(fd) }
      var info = stat()
      guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= maxContent else {
        return item
      }
      var data = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
      var count = 0
      while count < data.count {
        let got = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress?.advanced(by: count), $0.count - count) }
        if got < 0, errno == EINTR { continue }
        guard got > 0 else { break }
        count += got
      }
      guard count <= maxContent else { return item }
      // The stat that goes with the bytes: a write between the fstatat and the open shows next time.
      item = ProtectedItem(info, rule: item.rule)
      item.content = Array(data[..<count])
    case .other:
      break
    }
    return item
  }

  // MARK: - Putting back

  /// Removes what stands at `path` (a file, a symlink, or a folder's whole tree, never followed).
  func remove(_ path: [UInt8]) throws(SpacesError) {
    let parts = Self.split(path)
    guard let name = parts.last else { return }
    var folders = FolderCache(rootFD: rootFD)
    defer { folders.closeAll() }
    guard let parent = folders.open(parts.dropLast(), raw: true) else { return }  // its folder is gone: so is it
    try Self.removeEntry(parent, name)
  }

  /// Puts `item` back at `path` (content and mode, or the symlink), replacing whatever stands
  /// there, creating the folders on the way (a symlink or file in their place is removed);
  /// returns the item as it now is on disk.
  func restore(_ path: [UInt8], _ item: ProtectedItem) throws(SpacesError) -> ProtectedItem {
    let parts = Self.split(path)
    guard let name = parts.last else { throw SpacesError(.invalidPath, "no name") }
    guard let content = item.content, item.kind != .other else {
      throw SpacesError(.ioError, "its previous content was not kept (a special file, or over 4 MiB)")
    }
    let parent = try Self.makeFolders(rootFD, parts.dropLast())
    defer { if parent != rootFD { close(parent) } }
    var written = stat()
    switch item.kind {
    case .file:
      // Locked until it is renamed into place: the clean-up of interrupted writes leaves it alone.
      guard let (fd, temp) = ConfinedWorkspace.createLockedTemporary(in: parent, mode: mode_t(item.mode & 0o777))
      else { throw Self.failure(errno, "create a temporary file") }
      defer { close(fd) }
      var offset = 0
      while offset < content.count {
        let wrote = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress?.advanced(by: offset), $0.count - offset) }
        if wrote < 0, errno == EINTR { continue }
        guard wrote > 0 else {
          let code = errno
          unlinkat(parent, temp, 0)
          throw Self.failure(code, "write")
        }
        offset += wrote
      }
      _ = fchmod(fd, mode_t(item.mode & 0o777))
      _ = fsync(fd)
      try Self.replace(parent, temp, with: name)
      guard fstat(fd, &written) == 0 else { throw Self.failure(errno, "stat") }
    case .symlink:
      // A symlink is never removed by the clean-up: no lock needed.
      let temp = ConfinedWorkspace.temporaryName()
      let target = String(decoding: content, as: UTF8.self)
      guard Array(target.utf8) == content, symlinkat(target, parent, temp) == 0 else {
        throw Self.failure(errno == 0 ? EINVAL : errno, "make the symlink")
      }
      try Self.replace(parent, temp, with: name)
      guard fstatat(parent, name.cString, &written, AT_SYMLINK_NOFOLLOW) == 0 else { throw Self.failure(errno, "stat") }
    case .other:
      break
    }
    _ = fsync(parent)
    var now = ProtectedItem(written, rule: item.rule)
    now.content = content
    return now
  }

  /// Renames `temp` over `name` in `dir`; a folder standing at `name` is removed first.
  private static func replace(_ dir: Int32, _ temp: String, with name: [UInt8]) throws(SpacesError) {
    if renameat(dir, temp, dir, name.cString) == 0 { return }
    var code = errno
    if code == EISDIR || code == ENOTEMPTY || code == EEXIST {
      do throws(SpacesError) {
        try removeEntry(dir, name)
        if renameat(dir, temp, dir, name.cString) == 0 { return }
        code = errno
      } catch {
        unlinkat(dir, temp, 0)
        throw error
      }
    }
    unlinkat(dir, temp, 0)
    throw failure(code, "rename into place")
  }

  /// Opens (making them as needed) the folders `parts` beneath `root`, never following a symlink:
  /// a symlink or a file where a folder belongs is removed.
  private static func makeFolders(_ root: Int32, _ parts: ArraySlice<[UInt8]>) throws(SpacesError) -> Int32 {
    var current = root
    for part in parts {
      var attempts = 0
      while true {
        let next = cspaces_openat(current, part.cString, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        if next >= 0 {
          if current != root { close(current) }
          current = next
          break
        }
        let code = errno
        attempts += 1
        guard attempts < 4 else {
          if current != root { close(current) }
          throw failure(code, "open a folder on the way")
        }
        if code == ENOTDIR || code == ELOOP {
          _ = unlinkat(current, part.cString, 0)
        } else if code != ENOENT {
          if current != root { close(current) }
          throw failure(code, "open a folder on the way")
        }
        _ = mkdirat(current, part.cString, 0o755)
      }
    }
    return current
  }

  /// Unlinks `name` of `dir`; a folder is emptied depth-first first (opened with O_NOFOLLOW).
  static func removeEntry(_ dir: Int32, _ name: [UInt8]) throws(SpacesError) {
    if unlinkat(dir, name.cString, 0) == 0 || errno == ENOENT { return }
    guard errno == EISDIR else { throw failure(errno, "remove") }
    let fd = cspaces_openat(dir, name.cString, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
    guard fd >= 0 else { throw failure(errno, "open") }
    defer { close(fd) }
    for (child, _) in list(fd) ?? [] {
      try removeEntry(fd, child)
    }
    guard unlinkat(dir, name.cString, AT_REMOVEDIR) == 0 || errno == ENOENT else { throw failure(errno, "remove") }
  }

  private static func failure(_ code: Int32, _ what: String) -> SpacesError {
    SpacesError(.ioError, "could not \(what): \(String(cString: strerror(code)))", errno: code)
  }

  // MARK: - Helpers

  static func raw(_ components: [String]) -> [UInt8] {
    Array(components.joined(separator: "/").utf8)
  }

  static func split(_ path: [UInt8]) -> [[UInt8]] {
    path.split(separator: UInt8(ascii: "/")).map(Array.init)
  }

  /// The entries of folder `fd` with their `d_type`s (without "." and ".."); nil if it can't be read.
  static func list(_ fd: Int32) -> [(name: [UInt8], type: UInt8)]? {
    let copy = cspaces_openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
    guard copy >= 0 else { return nil }
    guard let dir = fdopendir(copy) else {
      close(copy)
      return nil
    }
    defer { closedir(dir) }
    var result: [(name: [UInt8], type: UInt8)] = []
    var type: UInt8 = 0
    while let name = cspaces_readdir_entry(dir, &type) {
      result.append((Array(UnsafeBufferPointer(start: name, count: strlen(name))).map { UInt8(bitPattern: $0) }, type))
      if result.count > maxItems { break }
    }
    return result
  }
}

/// Which entry covers each path a scan met (-1: none), kept between scans.
struct CoverCache: Sendable {
  var entries: [[UInt8]: Int] = [:]
}

/// Folders opened during one scan, each beneath the one before with `O_NOFOLLOW`.
private struct FolderCache {
  let rootFD: Int32
  private var opened: [[UInt8]: Int32] = [:]

  init(rootFD: Int32) { self.rootFD = rootFD }

  /// The folder `parts` (strings), or nil when it is missing or a symlink or a file is on the way.
  mutating func open(_ parts: ArraySlice<String>) -> Int32? {
    open(parts.map { Array($0.utf8) }[...], raw: true)
  }

  mutating func open(_ parts: ArraySlice<[UInt8]>, raw: Bool) -> Int32? {
    guard let last = parts.last else { return rootFD }
    let key = Array(parts.joined(separator: [UInt8(ascii: "/")]))
    if let fd = opened[key] { return fd }
    guard let parent = open(parts.dropLast(), raw: true) else { return nil }
    let fd = cspaces_openat(parent, last.cString, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
    guard fd >= 0 else { return nil }
    opened[key] = fd
    return fd
  }

  mutating func closeAll() {
    for fd in opened.values { close(fd) }
    opened = [:]
  }
}

extension Array where Element == UInt8 {
  /// The bytes as a NUL-terminated C string (a name never holds a NUL).
  fileprivate var cString: [CChar] { map { CChar(bitPattern: $0) } + [0] }
}

/// Keeps a workspace's protected paths as they were unless a person approved the change: a
/// snapshot before shell commands, a comparison after each, and what changed put back.
///
/// The snapshot (the *baseline*) is taken when a command starts and no other runs; between
/// commands it follows file operations (judged by the policy, path by path) and approved
/// commands. A command that runs with protected paths writable (approved by a person) runs
/// alone in its space, so what changed while it ran is its doing; other commands run side by
/// side and are checked as each ends. Looking costs a few `fstatat`s when nothing changed:
/// contents are read only where the stat differs.
public final class ProtectedGuard: Sendable {
  private struct Waiter {
    var id: Int
    var writable: Bool
    var continuation: CheckedContinuation<Bool, Never>
  }

  private struct State {
    var baseline: ProtectedScanner.Snapshot?
    var locations: ProtectedLocations?
    var covers = CoverCache()
    var readers = 0
    var writer = false
    var waiters: [Waiter] = []
    var nextID = 0
  }

  private let rootFD: Int32
  private let state = LockedValue(State())

  /// Opens the workspace root (trusted, like ``ConfinedWorkspace``'s); nil if it can't be opened.
  public init?(root: String) {
    let fd = cspaces_openat(AT_FDCWD, root, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
    guard fd >= 0 else { return nil }
    rootFD = fd
  }

  deinit { close(rootFD) }

  /// Waits for its turn (a `writable` command waits until no other runs, and others wait for it)
  /// and takes the baseline if no other command runs; false when the task was cancelled first.
  public func begin(_ paths: ProtectedPaths, writable: Bool) async -> Bool {
    guard await enter(writable: writable) else { return false }
    state.withValue { state in
      let locations = state.locations.flatMap { $0.paths == paths ? $0 : nil } ?? ProtectedLocations.compiled(paths)
      if state.readers + (state.writer ? 1 : 0) == 1 || state.baseline == nil || state.locations != locations {
        let scanner = ProtectedScanner(rootFD: rootFD, locations: locations)
        if state.locations != locations { state.covers = CoverCache() }
        state.baseline = scanner.scan(previous: state.baseline ?? [:], cache: &state.covers)
        state.locations = scanner.locations
      }
    }
    return true
  }

  /// Ends a command begun with ``begin(_:writable:)``: what it changed is kept when it was
  /// `writable`, otherwise put back; returns what was put back.
  public func end(writable: Bool) -> [ProtectedChange] {
    let changes = state.withValue { state -> [ProtectedChange] in
      guard let locations = state.locations, let baseline = state.baseline else { return [] }
      let scanner = ProtectedScanner(rootFD: rootFD, locations: locations)
      let now = scanner.scan(previous: baseline, cache: &state.covers)
      if writable {
        state.baseline = now
        return []
      }
      var kept = baseline
      let changes = Self.putBack(scanner, baseline: baseline, now: now, kept: &kept)
      state.baseline = kept
      return changes
    }
    leave(writable: writable)
    return changes
  }

  /// Takes what a file operation did to `path` into the baseline (the policy judged it by its
  /// path), so a command running meanwhile doesn't put it back.
  public func accept(_ path: String) {
    let target = Array(((try? ConfinedWorkspace.normalize(path)) ?? path).utf8)
    state.withValue { state in
      guard let locations = state.locations, let baseline = state.baseline,
        state.readers > 0 || state.writer
      else { return }
      let now = ProtectedScanner(rootFD: rootFD, locations: locations).scan(previous: baseline)
      var kept = baseline
      for key in Set(baseline.keys).union(now.keys) where Self.related(key, target) {
        kept[key] = now[key]
      }
      state.baseline = kept
    }
  }

  /// Whether one path is the other or lies beneath it.
  private static func related(_ one: [UInt8], _ other: [UInt8]) -> Bool {
    let slash = UInt8(ascii: "/")
    return one == other || one.starts(with: other + [slash]) || other.starts(with: one + [slash])
  }

  /// Compares `now` with `baseline`, puts back every change, and updates `kept` (the next
  /// baseline) with what was accepted or put back.
  private static func putBack(
    _ scanner: ProtectedScanner, baseline: ProtectedScanner.Snapshot, now: ProtectedScanner.Snapshot,
    kept: inout ProtectedScanner.Snapshot
  ) -> [ProtectedChange] {
    var changes: [ProtectedChange] = []
    // Shallowest first: a symlink or file made where a folder was (`.git` -> elsewhere) goes
    // before what is put back beneath it.
    let keys = Set(baseline.keys).union(now.keys).sorted {
      $0.count != $1.count ? $0.count < $1.count : $0.lexicographicallyPrecedes($1)
    }
    for key in keys {
      let before = baseline[key]
      let after = now[key]
      if let before, let after, before.sameStat(after) { continue }
      if ProtectedLocations.isGitConfig(key), before?.kind != .symlink, after?.kind != .symlink,
        risky(before) == risky(after)
      {
        kept[key] = after  // the keys that run programs are the same: the rest is the agent's
        continue
      }
      if let before, let after, before.sameContent(after) {
        kept[key] = after
        continue
      }
      let change: ProtectedChange.Change = before == nil ? .created : after == nil ? .deleted : .modified
      let rule = before?.rule ?? after?.rule ?? "protected"
      let path = String(decoding: key, as: UTF8.self)
      do throws(SpacesError) {
        if let before {
          kept[key] = try scanner.restore(key, before)
          changes.append(ProtectedChange(path: path, change: change, action: .restored, rule: rule))
        } else {
          try scanner.remove(key)
          kept[key] = nil
          changes.append(ProtectedChange(path: path, change: change, action: .removed, rule: rule))
        }
      } catch {
        changes.append(ProtectedChange(path: path, change: change, action: .failed, rule: rule, error: error.message))
      }
    }
    return changes.sorted { $0.path < $1.path }
  }

  private static func risky(_ item: ProtectedItem?) -> [String]? {
    guard let item else { return [] }
    guard let content = item.content else { return nil }
    return GitConfigRisk.riskyEntries(in: String(decoding: content, as: UTF8.self))
  }

  // MARK: - Turns

  private func enter(writable: Bool) async -> Bool {
    let id = state.withValue { state -> Int in
      state.nextID += 1
      return state.nextID
    }
    return await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let now = state.withValue { state -> Bool? in
          if Task.isCancelled { return false }
          if state.waiters.isEmpty, Self.mayEnter(writable, state) {
            Self.take(writable, &state)
            return true
          }
          state.waiters.append(Waiter(id: id, writable: writable, continuation: continuation))
          return nil
        }
        if let now { continuation.resume(returning: now) }
      }
    } onCancel: {
      let cancelled = state.withValue { state -> CheckedContinuation<Bool, Never>? in
        guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return state.waiters.remove(at: index).continuation
      }
      cancelled?.resume(returning: false)
      wake()
    }
  }

  private func leave(writable: Bool) {
    state.withValue { state in
      if writable { state.writer = false } else { state.readers -= 1 }
    }
    wake()
  }

  /// Lets in the waiters at the head of the line that may enter now.
  private func wake() {
    let ready = state.withValue { state -> [CheckedContinuation<Bool, Never>] in
      var ready: [CheckedContinuation<Bool, Never>] = []
      while let first = state.waiters.first, Self.mayEnter(first.writable, state) {
        Self.take(first.writable, &state)
        ready.append(state.waiters.removeFirst().continuation)
      }
      return ready
    }
    for continuation in ready { continuation.resume(returning: true) }
  }

  private static func mayEnter(_ writable: Bool, _ state: State) -> Bool {
    writable ? !state.writer && state.readers == 0 : !state.writer
  }

  private static func take(_ writable: Bool, _ state: inout State) {
    if writable { state.writer = true } else { state.readers += 1 }
  }
}

/// The bubblewrap arguments that make a workspace's protected paths read-only inside the
/// sandbox (and hide the ones protected for reading too).
enum ProtectedBinds {
  private enum Kind {
    case writableFolder, readOnly, hiddenFile, hiddenFolder
  }

  /// Arguments to follow the workspace's `--bind WORKSPACE /workspace`.
  ///
  /// Only what exists now as a real file or folder, reached without a symlink, is bound (bwrap
  /// would follow a symlink out of the workspace). `.git/config` is not bound: git rewrites it
  /// by renaming `config.lock` over it, and the runtime checks its risky keys after the command.
  /// The folders on the way (`.git`, `.github`, `.vscode`) are bound onto themselves,
  /// read-write: a mount point can't be renamed or removed, so no command can swap one for a
  /// symlink while another command's sandbox is being set up.
  static func arguments(workspace: String, paths: ProtectedPaths) -> [String] {
    let rootFD = cspaces_openat(AT_FDCWD, workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
    guard rootFD >= 0 else { return [] }
    defer { close(rootFD) }
    let locations = ProtectedLocations.compiled(paths)
    var folders = FolderCache(rootFD: rootFD)
    defer { folders.closeAll() }
    var binds: [(parts: [String], kind: Kind)] = []
    func add(_ parts: [String], in dir: Int32, readable: Bool) {
      guard let name = parts.last else { return }
      var info = stat()
      guard fstatat(dir, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
      switch info.st_mode & S_IFMT {
      case S_IFREG: binds.append((parts, readable ? .readOnly : .hiddenFile))
      case S_IFDIR: binds.append((parts, readable ? .readOnly : .hiddenFolder))
      default: return
      }
    }
    let entries = paths.entries
    for literal in locations.literals where !ProtectedLocations.isGitConfig(ProtectedScanner.raw(literal.components)) {
      guard let parent = folders.open(literal.components.dropLast()) else { continue }
      add(literal.components, in: parent, readable: entries[literal.entry].access == .write)
    }
    for folder in locations.folders where !folder.components.isEmpty || !folder.recursive {
      if folder.recursive {
        guard let parent = folders.open(folder.components.dropLast()) else { continue }
        add(folder.components, in: parent, readable: folder.entries.allSatisfy { entries[$0].access == .write })
      } else if folder.depth == 1, let fd = folders.open(folder.components[...]) {
        for (raw, _) in ProtectedScanner.list(fd) ?? [] where folder.mayHold(raw) {
          guard let name = String(validating: raw, as: UTF8.self) else { continue }
          let parts = folder.components + [name]
          let path = parts.joined(separator: "/")
          guard let index = folder.entries.first(where: { locations.covers($0, path) }) else { continue }
          add(parts, in: fd, readable: entries[index].access == .write)
        }
      }
    }
    var ordered: [(parts: [String], kind: Kind)] = []
    for bind in binds {
      for length in stride(from: 1, to: bind.parts.count, by: 1) {
        let prefix = Array(bind.parts[..<length])
        if !ordered.contains(where: { $0.parts == prefix }) && !binds.contains(where: { $0.parts == prefix }) {
          ordered.append((prefix, .writableFolder))
        }
      }
      ordered.append(bind)
    }
    ordered.sort { $0.parts.count < $1.parts.count }
    let source = workspace.hasSuffix("/") ? workspace : workspace + "/"
    var args: [String] = []
    for (parts, kind) in ordered {
      let path = parts.joined(separator: "/")
      let target = "/workspace/" + path
      switch kind {
      case .writableFolder: args += ["--bind-try", source + path, target]
      case .readOnly: args += ["--ro-bind-try", source + path, target]
      case .hiddenFile: args += ["--ro-bind", "/dev/null", target]
      case .hiddenFolder: args += ["--tmpfs", target, "--remount-ro", target]
      }
    }
    return args
  }
}
