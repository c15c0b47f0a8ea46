import CSpacesSys
import Foundation
import SpacesModel
import SpacesSandbox

/// Which part of the workspace an operation can change.
public enum ChangeScope: Sendable, Equatable {
  /// Anything (a shell command).
  case workspace
  /// One path and what is beneath it (a file operation); folders it creates on the way are
  /// found from the first one that is missing.
  case path(String)
}

/// Records what each operation changes in a workspace and puts it back on request.
///
/// It keeps an index of every path of the workspace (kind, mode, size, times, inode; a file's
/// hash) and a copy of every file's content in the space's store (`changes/blobs`, once per
/// hash). Before an operation it brings the index up to date (what changed outside any operation
/// is taken as the workspace's state, not recorded); after it, what differs from the index is
/// the operation's change record. A file's content is read only when its size, times, mode or
/// inode differ from the index.
///
/// Thread-safe: the index is held in one lock's value (``State``); records of operations running at once are told
/// apart by when they end (a change belongs to the first operation that ends after it).
public final class ChangeTracker: ChangeFolder, Sendable {
  /// One path as the index knows it.
  struct Known {
    var print: Fingerprint
    var state: EntryState
  }

  /// The space's workspace.
  public let root: String
  /// The folder of records, contents and the intent log (`SPACE/changes`).
  public let folder: String
  /// Retention and the large-file threshold.
  public let config: UndoConfig
  let store: BlobStore
  private let rootFD: Int32
  /// Why the index saved on disk was not used, for the log (nil: it was, or there was none).
  public let indexIssue: String?
  /// The index and what goes with it, held by the lock: every entry point that reads or
  /// changes them runs under it (what it reads and writes on disk too, as one critical section).
  private let state: LockedValue<State>

  /// How many files' contents the tracker has read since it was opened.
  var filesRead: Int { state.withValue { $0.reads } }

  /// Opens (creating) the change records of the workspace `root` in `folder`.
  public init(root: String, folder: String, config: UndoConfig) throws(SpacesError) {
    self.root = root
    self.folder = folder
    self.config = config
    store = BlobStore(folder: folder + "/blobs")
    for sub in [folder, folder + "/blobs", folder + "/records", folder + "/running"] {
      if mkdir(sub, 0o700) != 0 && errno != EEXIST {
        throw BlobStore.failure("create \(sub)", errno)
      }
    }
    rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard rootFD >= 0 else { throw BlobStore.failure("open the workspace", errno) }
    let opened = State(root: root, folder: folder, config: config, store: store, rootFD: rootFD)
    indexIssue = opened.indexIssue
    state = LockedValue(opened)
  }

  deinit { close(rootFD) }

  /// Why recording is slower than it can be, from `changes/recording` in the space `folder`
  /// (written by the runtime that has the space open): nil when every folder is watched.
  public static func slowRecording(folder: String) -> String? {
    guard let data = FileManager.default.contents(atPath: folder + "/recording"), data.count <= 4096 else {
      return nil
    }
    let text = EventText.sanitize(String(decoding: data, as: UTF8.self)).trimmingCharacters(in: .whitespacesAndNewlines)
    return text.isEmpty ? nil : text
  }

  // MARK: - Recording

  /// An operation being recorded.
  public struct Pending: Sendable {
    let scope: String
    /// The operation's marker in `changes/running` (a command's), held locked while it runs.
    let marker: Int32
    let opId: String
  }

  /// Call before an operation that can change `scope`: brings the index up to date (unless
  /// another recorded operation is running, whose changes must not be taken for the
  /// workspace's own state).
  ///
  /// For a command (the whole workspace), the index is first saved when it holds anything the
  /// records don't (``IndexFile``), and the operation gets a marker in `changes/running`, so
  /// that if the runtime dies while it runs, the next open records what it changed
  /// (``recordInterrupted(_:)``). Call ``settle(_:)`` once its end is journaled.
  public func begin(_ scope: ChangeScope, opId: String, actor: Event.Actor, what: String) throws(SpacesError)
    -> Pending
  {
    try state.withValue { state throws(SpacesError) -> Pending in
      try state.begin(scope, opId: opId, actor: actor, what: what)
    }
  }

  /// Removes the marker of `pending` once its end is journaled.
  public func settle(_ pending: Pending) {
    guard pending.marker >= 0 else { return }
    unlink(folder + "/running/" + pending.opId)
    close(pending.marker)
  }

  /// A command the runtime was running when it died: its marker in `changes/running`.
  public struct Interrupted: Codable, Sendable {
    /// The operation's id.
    public var op: String
    /// Who asked for it.
    public var actor: Event.Actor
    /// What it was (the journal's summary of it).
    public var what: String
  }

  /// The commands whose runtime died while they ran, oldest first, each with its marker held
  /// locked (a marker another process holds is of a command still running there).
  public func interrupted() -> [(Interrupted, Int32)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/running")) ?? []
    var found: [(Interrupted, Int32, Int64)] = []
    for name in names where Self.validID(name) {
      let fd = open(folder + "/running/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
      guard fd >= 0 else { continue }
      var info = stat()
      guard flock(fd, LOCK_EX | LOCK_NB) == 0, fstat(fd, &info) == 0, info.st_size <= 4096,
        let data = try? FileHandle(fileDescriptor: fd, closeOnDealloc: false).readToEnd(),
        let marker = try? JSONDecoder().decode(Interrupted.self, from: data), marker.op == name
      else {
        // Unreadable (cut short by the crash): not a command that can be named.
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(folder + "/running/" + name) }
        close(fd)
        continue
      }
      found.append((marker, fd, Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
    }
    return found.sorted { $0.2 < $1.2 }.map { ($0.0, $0.1) }
  }

  /// Records what the interrupted command `marker` changed: the workspace compared with the
  /// index saved before it (and the records written since). Returns its summary, nil when
  /// nothing changed (or an earlier interrupted command's record holds it all). Throws when
  /// there is no saved index to compare with.
  public func recordInterrupted(_ marker: Interrupted) throws(SpacesError) -> ChangeSummary? {
    defer { removeDoomed() }
    return try state.withValue { state throws(SpacesError) -> ChangeSummary? in try state.recordInterrupted(marker) }
  }

  /// Releases and removes an interrupted command's marker once its end is journaled.
  public func settle(_ marker: Interrupted, _ fd: Int32) {
    unlink(folder + "/running/" + marker.op)
    close(fd)
  }

  /// Call after the operation (whatever its outcome): compares its scope with the index, and
  /// when anything changed writes the record durably. Returns its summary (nil: nothing changed).
  ///
  /// Given `folders`, the folders that got new entries (the record's, the store's) are added to
  /// them instead of flushed, for the caller to flush with its journal (``PendingFlushes``).
  public func end(
    _ pending: Pending, opId: String, actor: Event.Actor, what: String, folders: PendingFlushes? = nil
  ) throws(SpacesError) -> ChangeSummary? {
    try state.withValue { state throws(SpacesError) -> ChangeSummary? in
      try state.end(pending, opId: opId, actor: actor, what: what, folders: folders)
    }
  }

  /// Drops the oldest records beyond the space's retention (``UndoConfig/keepOperations``,
  /// ``UndoConfig/maxBytes``), and sweeps the contents only they named, when an operation's end
  /// left that owed (``end(_:opId:actor:what:folders:)`` leaves it for after the answer).
  /// Readers of the records call it first, so that they never see more than is kept.
  public func settleRetention() {
    state.withValue { $0.settleRetention() }
    removeDoomed()
  }

  /// Removes the contents a sweep found unneeded, one at a time, each under the lock: a change
  /// of the space waits for one removal (a wait on the disk), never for a whole sweep's hundreds.
  /// A content written again meanwhile is taken back from them (``State/stage(_:hash:)``).
  private func removeDoomed() {
    guard state.withValue({ $0.hasDoomed }) else { return }
    beforeRemovingDoomed.withValue { $0 }?()
    while state.withValue({ $0.removeOneDoomed() }) {}
  }

  /// For tests: run before the contents a sweep found unneeded are removed (``removeDoomed()``).
  package let beforeRemovingDoomed = LockedValue<(@Sendable () -> Void)?>(nil)

  /// Queues ``settleRetention()`` on a dispatch thread when retention is owed and not queued yet:
  /// called once an operation is answered, so that the files retention removes are not waited
  /// for by the answer.
  public func settleRetentionLater() {
    let queue = state.withValue { state -> Bool in
      guard state.retentionOwed, !state.retentionQueued else { return false }
      state.retentionQueued = true
      return true
    }
    guard queue else { return }
    DispatchQueue.global(qos: .utility).async { [self] in
      beforeQueuedRetention.withValue { $0 }?()
      settleRetention()
    }
  }

  /// For tests: run by a queued retention (``settleRetentionLater()``) before it takes the lock.
  package let beforeQueuedRetention = LockedValue<(@Sendable () -> Void)?>(nil)

  /// Copies `content`, about to be written to the workspace by a file operation, into the store
  /// ahead of the write, so that one flush covers both (``flushStaged(with:)``) and the
  /// operation's end finds the content stored. Does nothing for a large content or one the store
  /// has; a failure here only leaves the end to copy it from the workspace, as for a command.
  public func stage(_ content: [UInt8]) {
    guard content.count <= config.largeFileBytes else { return }
    let hash = ContentHash.sha256(content)
    state.withValue { state in state.stage(content, hash: hash) }
  }

  /// Flushes the open file `fd` (a workspace file's temporary, before its rename) and the
  /// contents staged for it (``stage(_:)``) to disk, in one flush when the machine allows.
  public func flushStaged(with fd: Int32) throws(SpacesError) {
    let staged = state.withValue { $0.unflushed }
    try store.flushData(staged, with: [fd])
    state.withValue { $0.markFlushed(staged) }
  }

  /// Whether `path` of the index lies in `scope` ("" is everything).
  private static func inScope(_ path: String, _ scope: String) -> Bool {
    scope.isEmpty || path == scope || path.hasPrefix(scope + "/")
  }

  // MARK: - Records

  /// The order in a record's file name (its 19 leading digits).
  static func order(ofRecord name: String) -> Int64 {
    Int64(name.prefix { $0 != "-" }) ?? 0
  }

  /// The operation id in a record's file name.
  static func opId(ofRecord name: String) -> String {
    guard let dash = name.firstIndex(of: "-") else { return "" }
    return String(name[name.index(after: dash)...].dropLast(5))
  }

  /// Whether `id` looks like an operation id (so it can name a file): `[A-Za-z0-9_-]`, 1–64.
  static func validID(_ id: String) -> Bool {
    !id.isEmpty && id.utf8.count <= 64
      && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
  }

  private static func fileName(_ record: ChangeRecord) -> String {
    let order = String(record.order)
    return String(repeating: "0", count: max(0, 19 - order.count)) + order + "-" + record.opId + ".json"
  }

  /// Writes all of `data` to `fd` (again after a short write or an interrupt); false on an
  /// error, with `errno` set.
  static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
    data.withUnsafeBytes { bytes in
      var written = 0
      while written < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress.map { $0 + written }, bytes.count - written)
        if n < 0 {
          if errno == EINTR { continue }
          return false
        }
        written += n
      }
      return true
    }
  }

  /// Writes `data` to `path` in `folder`: a temporary file, flushed, renamed into place; then the
  /// folder, flushed.
  static func writeDurably(_ data: Data, to path: String, folder: String) throws(SpacesError) {
    let temporary = folder + "/" + ConfinedWorkspace.temporaryName()
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw BlobStore.failure("create \(temporary)", errno) }
    guard writeAll(fd, data) else {
      let code = errno
      close(fd)
      unlink(temporary)
      throw BlobStore.failure("write \(path)", code)
    }
    guard fsync(fd) == 0 else {
      let code = errno
      close(fd)
      unlink(temporary)
      throw BlobStore.failure("flush \(path) to disk", code)
    }
    close(fd)
    guard rename(temporary, path) == 0 else {
      let code = errno
      unlink(temporary)
      throw BlobStore.failure("write \(path)", code)
    }
    let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dir >= 0 {
      _ = fsync(dir)
      close(dir)
    }
  }

  // MARK: - Paths beneath the workspace

  /// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS.
  static let resolve: UInt64 = UInt64(CSPACES_RESOLVE_BENEATH) | 0x04 | UInt64(CSPACES_RESOLVE_NO_MAGICLINKS)

  // MARK: - Undo and restore

  /// One step of an undo: put `path` from `from` (as it is) to `to`.
  struct Step: Codable, Sendable {
    var path: String
    var from: EntryState?
    var to: EntryState?
  }

  /// What an undo is about to do, written durably before it starts (`changes/intent.json`).
  struct Intent: Codable, Sendable {
    var id: String
    var action: String
    var target: String
    var undid: [String]
    var what: String
    var order: Int64
    var steps: [Step]
  }

  /// Undoes `target` (or restores to before it): plans, writes the intent, applies it and
  /// writes the undo's own record. The caller journals it and then calls ``finish(_:)``.
  func undo(target: String, restore: Bool, id: String) throws(SpacesError) -> (Intent, ChangeRecord) {
    defer { removeDoomed() }
    return try state.withValue { state throws(SpacesError) -> (Intent, ChangeRecord) in
      try state.undo(target: target, restore: restore, id: id)
    }
  }

  /// The temporary name a step writes beside its path: the same every time the intent is
  /// applied, so applying it again after a crash first removes what the crash left.
  static func temporaryName(_ id: String, _ path: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in id.utf8 + [0] + path.utf8 {
      hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    let digits = String(hash, radix: 16)
    return ".spaces-" + String(repeating: "0", count: 16 - digits.count) + digits + ".tmp"
  }

  /// Removes the intent once the undo is journaled.
  func finish(_ intent: Intent) {
    unlink(folder + "/intent.json")
    let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dir >= 0 {
      _ = fsync(dir)
      close(dir)
    }
  }

  /// An undo a crash interrupted: finishes it (every step again, then its record) and returns
  /// it for the journal; nil when there is none, or another process is undoing right now.
  func recover() throws(SpacesError) -> (Intent, ChangeRecord)? {
    try state.withValue { state throws(SpacesError) -> (Intent, ChangeRecord)? in try state.recover() }
  }

  /// For the crash tests: `SPACES_TEST_UNDO_PAUSE_US` microseconds between steps of an undo.
  private static let pause: UInt32 = {
    guard let text = ProcessInfo.processInfo.environment["SPACES_TEST_UNDO_PAUSE_US"], let value = UInt32(text)
    else { return 0 }
    return min(value, 1_000_000)
  }()

  private static func testPause() {
    if pause > 0 { usleep(pause) }
  }
}

extension ChangeTracker {
  /// The tracker's index and everything that goes with it, held in the tracker's lock: one
  /// value, so the tracker is plainly `Sendable`. Its methods run under the lock (the tracker's
  /// entry points call them inside `withValue`), reading and writing the workspace, the store
  /// and the records as one critical section; none of them takes the lock again.
  struct State: ChangeFolder {
    // The tracker's own, copied here so the methods below read them beside the index.
    let root: String
    let folder: String
    let config: UndoConfig
    let store: BlobStore
    let rootFD: Int32
    /// Where commands changed things (nil: scans look everywhere).
    let watch: FolderWatch?
    private var index: [String: Known] = [:]
    private var complete = false
    private var active = 0
    private var lastOrder: Int64 = 0
    /// Contents read into the store during a look, put in place (flushed) at its end.
    private var unsynced: [BlobStore.Staged] = []
    /// Where the operation ending now (``end(_:opId:actor:what:folders:)``) has its folders'
    /// flushes wait for its journal's flush (nil: each folder is flushed at once).
    private var deferred: PendingFlushes?
    private var storeBytes: Int64?
    /// The records' file names, oldest first: as last listed, with those written since (nil: not
    /// listed yet). Retention reads the folder again only every 64 records (another process's
    /// records are then seen), not at every change.
    private var recordList: [String]?
    /// The contents each record names (its paths' hashes before and after), by file name, for
    /// the sweep: a record never changes once written, so each is read at most once.
    private var recordHashes: [String: [String]] = [:]
    private var writtenSinceListing = 0
    private var droppedSinceSweep = 0
    /// Whether the kept records and contents are known to be under their counts (records, stored
    /// bytes): then retention has nothing to drop, and no listing is needed to know it.
    private var withinRetention: Bool {
      guard let list = recordList, let bytes = storeBytes else { return false }
      return list.count <= config.keepOperations && bytes <= Int64(config.maxBytes)
    }
    /// Whether a record was written since retention last ran (``settleRetention()``): an
    /// operation's end leaves it for after its answer.
    private(set) var retentionOwed = false
    /// Contents the last sweep found unneeded, still in the store: removed one at a time
    /// (``removeOneDoomed()``), and taken back when written again before their turn.
    private var doomed = Set<String>()
    /// Whether a run of the owed retention is queued (``ChangeTracker/settleRetentionLater()``).
    var retentionQueued = false
    /// Why commands' changes are found by looking at the whole workspace (nil: the watch says
    /// where to look), as last written to `changes/recording`.
    private var slowReason: String?
    private var speedNoted = false
    /// Why the index saved on disk was not used, for the log (nil: it was, or there was none).
    var indexIssue: String?
    /// Whether the index came from `changes/index` (so a crash's changes can be told from it).
    private var indexLoaded = false
    /// Records written since the index was last saved (they are replayed onto it when it is
    /// read), and the paths they changed (each read again after a reopen).
    private var recordsSinceSave = 0
    private var pathsSinceSave = 0
    /// Files whose content was read (hashed), for the tests of the saved index.
    var reads = 0
    /// Whether the index holds a state no record and no saved index has (what changed outside
    /// any operation, the first look at the workspace).
    private var unsavedState = true
    /// Paths whose index entry came from disk and whose content was not read since: their hash is
    /// not taken on trust where undo compares the workspace with what it expects.
    private var unverified = Set<String>()
    /// Whether the index is to be saved before the next command: it holds a state only it has, or
    /// enough records were written since it was saved (at most 64, or half the records kept, so
    /// retention never drops one the saved index needs; at most 64 paths to read again).
    var saveDue: Bool {
      unsavedState || recordsSinceSave >= max(1, min(64, config.keepOperations / 2)) || pathsSinceSave >= 64
    }

    /// Opens the index: the one saved in `changes/index` with the records written since
    /// replayed onto it, or an empty one (the first look reads the whole workspace).
    init(root: String, folder: String, config: UndoConfig, store: BlobStore, rootFD: Int32) {
      self.root = root
      self.folder = folder
      self.config = config
      self.store = store
      self.rootFD = rootFD
      watch = ProcessInfo.processInfo.environment["SPACES_NO_INOTIFY"] == nil ? FolderWatch(root: root) : nil
      let names = recordNames()
      lastOrder = names.last.map(ChangeTracker.order(ofRecord:)) ?? 0
      switch IndexFile.load(folder + "/index") {
      case nil:
        break
      case .failure(let error):
        indexIssue =
          "the saved index of the workspace (changes/index) was discarded: \(error.message); "
          + "the workspace is read again in full"
        unlink(folder + "/index")
      case .success(let saved):
        indexLoaded = true
        index = saved.entries
        unverified = Set(saved.entries.keys)
        unsavedState = false
        lastOrder = max(lastOrder, saved.order)
        // What the records written after the save changed is in the workspace already.
        for name in names where ChangeTracker.order(ofRecord: name) > saved.order {
          guard let record = readRecord(name) else { continue }
          counted(record)
          for change in record.changes {
            if let after = change.after {
              index[change.path] = Known(print: Fingerprint(unknown: after), state: after)
              unverified.insert(change.path)
            } else {
              index[change.path] = nil
            }
          }
        }
      }
    }

    /// Counts a record written since the index was saved.
    private mutating func counted(_ record: ChangeRecord) {
      recordsSinceSave += 1
      pathsSinceSave += record.changes.count
    }

    /// Writes (or removes) `changes/recording` when whether the watch covers the workspace changes.
    private mutating func noteSpeed() {
      let reason: String?
      if let watch {
        reason = watch.failure.map { code in
          "not every folder can be watched (\(String(cString: strerror(code)))"
            + (code == ENOSPC ? ": raise fs.inotify.max_user_watches" : "")
            + "), so each command's changes are found by reading the whole workspace: slower on a large one"
        }
      } else {
        reason =
          ProcessInfo.processInfo.environment["SPACES_NO_INOTIFY"] != nil
          ? "SPACES_NO_INOTIFY is set, so each command's changes are found by reading the whole workspace"
          : "no inotify instance could be made (fs.inotify.max_user_instances), so each command's changes are "
            + "found by reading the whole workspace: slower on a large one"
      }
      guard !speedNoted || reason != slowReason else { return }
      speedNoted = true
      slowReason = reason
      if let reason {
        try? ChangeTracker.writeDurably(Data((reason + "\n").utf8), to: folder + "/recording", folder: folder)
      } else {
        unlink(folder + "/recording")
      }
    }

    /// Call before an operation that can change `scope`: brings the index up to date (unless
    /// another recorded operation is running, whose changes must not be taken for the
    /// workspace's own state).
    ///
    /// For a command (the whole workspace), the index is first saved when it holds anything the
    /// records don't (``IndexFile``), and the operation gets a marker in `changes/running`, so
    /// that if the runtime dies while it runs, the next open records what it changed
    /// (``recordInterrupted(_:)``). Call ``settle(_:)`` once its end is journaled.
    mutating func begin(_ scope: ChangeScope, opId: String, actor: Event.Actor, what: String) throws(SpacesError)
      -> Pending
    {
      let path: String
      switch scope {
      case .workspace: path = ""
      case .path(let given): path = firstMissing(given)
      }
      if active == 0 || !complete {
        if path.isEmpty {
          _ = try refresh(record: false)
          if saveDue { saveIndex() }
        } else {
          _ = try absorb(try scan(path), scope: path, record: false)
        }
      }
      let marker = path.isEmpty ? mark(Interrupted(op: opId, actor: actor, what: what)) : -1
      active += 1
      return Pending(scope: path, marker: marker, opId: opId)
    }

    /// Saves the index (``IndexFile``), durably; a failure only costs a full read at the next open.
    private mutating func saveIndex() {
      do {
        try ChangeTracker.writeDurably(
          Data(IndexFile.encode(index, order: lastOrder)), to: folder + "/index", folder: folder)
        recordsSinceSave = 0
        pathsSinceSave = 0
        unsavedState = false
      } catch {
        unlink(folder + "/index")
      }
    }

    /// Writes the marker of a running command, `changes/running/<op>`, and returns it open and
    /// locked (-1 when it can't be written: the command then runs unmarked).
    private mutating func mark(_ running: Interrupted) -> Int32 {
      guard ChangeTracker.validID(running.op) else { return -1 }
      let path = folder + "/running/" + running.op
      let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
      guard fd >= 0 else { return -1 }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      guard flock(fd, LOCK_EX | LOCK_NB) == 0, let data = try? encoder.encode(running),
        data.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == data.count
      else {
        unlink(path)
        close(fd)
        return -1
      }
      return fd
    }

    /// Records what the interrupted command `marker` changed: the workspace compared with the
    /// index saved before it (and the records written since). Returns its summary, nil when
    /// nothing changed (or an earlier interrupted command's record holds it all). Throws when
    /// there is no saved index to compare with.
    mutating func recordInterrupted(_ marker: Interrupted) throws(SpacesError) -> ChangeSummary? {
      if let done = self.record(of: marker.op) { return done.summary }
      guard indexLoaded else {
        throw SpacesError(
          .ioError,
          indexIssue.map { "the index from before it is unusable (\($0))" }
            ?? "the index from before it was not saved")
      }
      let changes = try refresh(record: true)
      guard !changes.isEmpty else { return nil }
      let record = ChangeRecord(
        opId: marker.op, order: nextOrder(), time: Event.timestamp(Date()), actor: marker.actor,
        what: String((marker.what + " (interrupted)").prefix(200)), changes: changes)
      try write(record)
      counted(record)
      enforceRetention()
      return record.summary
    }

    /// Brings the whole index up to date: only the folders the watch says changed, or everything
    /// when it can't say. With `record`, returns what differs.
    private mutating func refresh(record: Bool) throws(SpacesError) -> [PathChange] {
      if complete, let watch, let dirty = watch.drain() {
        var scopes: [String] = []
        for path in dirty.sorted(by: { $0.utf8.count < $1.utf8.count })
        where !scopes.contains(where: { ChangeTracker.inScope(path, $0) }) {
          scopes.append(path)
        }
        var changes: [PathChange] = []
        for scope in scopes {
          changes += try absorb(try scan(scope), scope: scope, record: record)
          // New folders in it are watched from now on.
          for (path, known) in index where known.state.kind == .folder && ChangeTracker.inScope(path, scope) {
            watch.watch(path)
          }
        }
        return changes.sorted { $0.path < $1.path }
      }
      let changes = try absorb(try scan(""), scope: "", record: record)
      if let watch {
        watch.reset()
        watch.watch("")
        for (path, known) in index where known.state.kind == .folder { watch.watch(path) }
        // What changed while the watches were set up is found by the next full look.
        if watch.drain() == nil { complete = false }
      }
      noteSpeed()
      return changes
    }

    /// Call after the operation (whatever its outcome): compares its scope with the index, and
    /// when anything changed writes the record durably. Returns its summary (nil: nothing changed).
    ///
    /// Given `folders`, the folders that got new entries (the record's, the store's) are added
    /// to them instead of flushed, for the caller to flush with its journal.
    mutating func end(
      _ pending: Pending, opId: String, actor: Event.Actor, what: String, folders: PendingFlushes? = nil
    ) throws(SpacesError) -> ChangeSummary? {
      active -= 1
      deferred = folders
      defer { deferred = nil }
      var changes: [PathChange]
      if pending.scope.isEmpty {
        changes = try refresh(record: true)
      } else {
        changes = try absorb(try scan(pending.scope), scope: pending.scope, record: true)
        // Its own changes are in the index now; what else the watch saw (a command running
        // meanwhile) is recorded here too.
        if complete, watch != nil {
          changes = (changes + (try refresh(record: true))).sorted { $0.path < $1.path }
        }
      }
      guard !changes.isEmpty else {
        try store.settle(&unsynced, folders: deferred)
        return nil
      }
      let record = ChangeRecord(
        opId: opId, order: nextOrder(), time: Event.timestamp(Date()), actor: actor, what: what, changes: changes)
      try write(record)
      counted(record)
      // Dropping the oldest records (and, now and then, sweeping the store) is left for after
      // the answer: it removes files, each a wait on this disk, none of which the answer needs.
      retentionOwed = !withinRetention
      return record.summary
    }

    /// Runs the retention an operation's end left owed (nothing when none is).
    mutating func settleRetention() {
      retentionQueued = false
      guard retentionOwed else { return }
      enforceRetention()
    }

    /// Whether contents wait to be removed (``removeOneDoomed()``).
    var hasDoomed: Bool { !doomed.isEmpty }

    /// Removes one content a sweep found unneeded; false when none is left.
    mutating func removeOneDoomed() -> Bool {
      guard let hash = doomed.popFirst() else { return false }
      store.remove(hash)
      return true
    }

    /// The part of `path` from which an operation on it can change things: the path itself, or
    /// its first folder that does not exist yet (which the operation would create).
    private func firstMissing(_ path: String) -> String {
      let parts = path.split(separator: "/").filter { $0 != "." && !$0.isEmpty }
      if parts.contains("..") { return "" }
      var prefix = ""
      for part in parts {
        prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
        guard let info = lstatBeneath(prefix) else { return prefix }
        if Fingerprint(info).kind != .folder { return prefix }
      }
      return prefix
    }

    /// Scans `scope` ("" is the whole workspace): the entry itself and everything beneath it.
    private func scan(_ scope: String) throws(SpacesError) -> [String: Fingerprint] {
      if scope.isEmpty { return try TreeScan.scan(rootFD, prefix: "") }
      guard let info = lstatBeneath(scope) else { return [:] }
      let print = Fingerprint(info)
      var found: [String: Fingerprint] = [:]
      if print.kind == .folder {
        let fd = openBeneath(scope, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return [scope: print] }
        defer { close(fd) }
        found = try TreeScan.scan(fd, prefix: scope)
      }
      found[scope] = print
      return found
    }

    /// Brings the index's `scope` to `current`; with `record`, returns what differs, sorted.
    private mutating func absorb(_ current: [String: Fingerprint], scope: String, record: Bool) throws(SpacesError)
      -> [PathChange]
    {
      var changes: [PathChange] = []
      for (path, print) in current {
        let known = index[path]
        if let known, known.print == print { continue }
        let state = try stateOf(path, print, stored: true, known: known)
        if let known, known.state.same(as: state) {
          index[path] = Known(print: print, state: state)
          continue
        }
        if record {
          changes.append(PathChange(path: path, before: known?.state, after: state))
        } else {
          unsavedState = true
        }
        index[path] = Known(print: print, state: state)
      }
      let scopeKeys: [String]
      if scope.isEmpty {
        scopeKeys = Array(index.keys)
      } else if index[scope]?.state.kind != .folder && current[scope]?.kind != .folder {
        // A file, link or nothing, before and after: nothing lies beneath it.
        scopeKeys = index[scope] == nil ? [] : [scope]
      } else {
        scopeKeys = index.keys.filter { ChangeTracker.inScope($0, scope) }
      }
      for path in scopeKeys where current[path] == nil {
        if record, let known = index[path] {
          changes.append(PathChange(path: path, before: known.state, after: nil))
        } else {
          unsavedState = true
        }
        index[path] = nil
      }
      if scope.isEmpty { complete = true }
      // An operation ending with its folders deferred flushes its contents with its record.
      if deferred == nil {
        try store.settle(&unsynced)
      }
      return changes.sorted { $0.path < $1.path }
    }

    /// The state of `path` as it is now (a file's content hashed and, unless large, stored).
    private mutating func stateOf(_ path: String, _ print: Fingerprint, stored: Bool, known: Known?) throws(SpacesError)
      -> EntryState
    {
      switch print.kind {
      case .folder:
        return EntryState(kind: .folder, mode: print.permissions)
      case .symlink:
        return EntryState(kind: .symlink, mode: print.permissions, target: readLink(path))
      case .other:
        return EntryState(kind: .other, mode: print.permissions)
      case .file:
        let keep = stored && print.size <= Int64(config.largeFileBytes)
        // The same file, untouched since it was read (its ctime too: a command can set a file's
        // mtime back after rewriting it at the same size, but not its ctime): the content is what
        // the index holds. A chmod changes the ctime, so the file is read again (correct, slower).
        if let known, known.state.kind == .file, known.print.size == print.size, known.print.mtime == print.mtime,
          known.print.ctime == print.ctime, known.print.ino == print.ino, let hash = known.state.sha256,
          !unverified.contains(path),
          !keep || known.state.stored != false
        {
          return EntryState(
            kind: .file, mode: print.permissions, size: print.size, sha256: hash, stored: known.state.stored)
        }
        unverified.remove(path)
        reads += 1
        let fd = openBeneath(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
          // Unreadable (mode 000) or gone meanwhile: known by its size only.
          return EntryState(kind: .file, mode: print.permissions, size: print.size, stored: false)
        }
        defer { close(fd) }
        let put = try store.put(from: fd, keep: keep, staged: unsynced)
        // Found in the store, it stays there (a sweep may have found it unneeded a moment ago).
        if doomed.remove(put.hash) != nil { storeBytes = storeBytes.map { $0 + put.size } }
        if let staged = put.staged {
          unsynced.append(staged)
          storeBytes = storeBytes.map { $0 + put.size }
        }
        return EntryState(
          kind: .file, mode: print.permissions, size: put.size, sha256: put.hash, stored: keep ? nil : false)
      }
    }

    /// Stages `content` (with `hash`) in the store unless it is there or staged already.
    mutating func stage(_ content: [UInt8], hash: String) {
      // Still in the store, waiting to be removed: it stays instead.
      if doomed.remove(hash) != nil {
        storeBytes = storeBytes.map { $0 + Int64(content.count) }
        return
      }
      guard !unsynced.contains(where: { $0.hash == hash }), !store.contains(hash),
        let staged = try? store.stage(content, hash: hash)
      else { return }
      unsynced.append(staged)
      storeBytes = storeBytes.map { $0 + Int64(content.count) }
    }

    /// The staged contents whose data is not on disk yet.
    var unflushed: [BlobStore.Staged] { unsynced.filter { !$0.flushed } }

    /// Notes that the data of `flushed` is on disk.
    mutating func markFlushed(_ flushed: [BlobStore.Staged]) {
      let names = Set(flushed.map(\.temporary))
      for index in unsynced.indices where names.contains(unsynced[index].temporary) {
        unsynced[index].flushed = true
      }
    }

    private mutating func nextOrder() -> Int64 {
      var now = timespec()
      clock_gettime(CLOCK_REALTIME, &now)
      let value = max(Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec), lastOrder + 1)
      lastOrder = value
      return value
    }

    /// Writes `record` durably (temporary file, flush, rename, flush of the folder).
    private mutating func write(_ record: ChangeRecord) throws(SpacesError) {
      // Written by hand, as Foundation's encoder with sorted keys would (a record per change).
      let data = Data(record.jsonBytes)
      if let deferred {
        try writeInPlace(data, record, flushingWith: deferred)
        return
      }
      // The contents the record needs are in place before it (the look that found them put
      // them there already, when nothing defers its flushes).
      try store.settle(&unsynced)
      try ChangeTracker.writeDurably(
        data, to: folder + "/records/" + ChangeTracker.fileName(record), folder: folder + "/records")
      listed(record)
    }

    /// Notes a record written (``recordList``).
    private mutating func listed(_ record: ChangeRecord) {
      let name = ChangeTracker.fileName(record)
      recordList?.append(name)
      recordHashes[name] = Self.hashes(of: record)
      writtenSinceListing += 1
    }

    /// Writes `record` (encoded as `data`) for an operation whose end flushes `pending` with its
    /// journal: the contents it needs are flushed (unless they were with the workspace file) and
    /// put in place first; the record itself is written under its own name and flushed with the
    /// journal. A crash before that flush can leave it torn; it is then skipped when read, and
    /// belongs to an operation that was never answered.
    private mutating func writeInPlace(_ data: Data, _ record: ChangeRecord, flushingWith pending: PendingFlushes)
      throws(SpacesError)
    {
      try store.settle(&unsynced, folders: pending)
      let path = folder + "/records/" + ChangeTracker.fileName(record)
      let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      guard fd >= 0 else { throw BlobStore.failure("write \(path)", errno) }
      defer { close(fd) }
      guard ChangeTracker.writeAll(fd, data) else {
        let code = errno
        unlink(path)
        throw BlobStore.failure("write \(path)", code)
      }
      try pending.add(file: fd)
      try pending.add(path: folder + "/records")
      listed(record)
    }

    /// Drops the oldest records beyond `keepOperations`, and beyond `maxBytes` of stored contents;
    /// removes contents no kept record or the index needs.
    private mutating func enforceRetention() {
      retentionOwed = false
      if withinRetention { return }
      var names: [String]
      // Taken out of the state while it changes, so that dropping from it copies nothing.
      if writtenSinceListing < 64, let list = recordList.take() {
        names = list
      } else {
        names = recordNames()
        writtenSinceListing = 0
      }
      defer { recordList = names }
      var dropped: [String] = []
      while names.count > config.keepOperations {
        dropped.append(names.removeFirst())
      }
      if storeBytes == nil { storeBytes = store.all().reduce(0) { $0 + $1.size } }
      // A sweep lists every record and reads those it has not read before: it runs once half of
      // the kept records have been replaced (or the store is over its bytes), so that its cost
      // per change stays small.
      var sweep = !dropped.isEmpty && droppedSinceSweep + dropped.count >= max(32, config.keepOperations / 2)
      if let bytes = storeBytes, bytes > Int64(config.maxBytes) { sweep = true }
      guard sweep || !dropped.isEmpty else { return }
      func drop(_ names: [String]) {
        guard !names.isEmpty else { return }
        let ids = names.map(ChangeTracker.opId(ofRecord:)).joined(separator: "\n") + "\n"
        let fd = open(folder + "/dropped", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd >= 0 {
          _ = ChangeTracker.writeAll(fd, Data(ids.utf8))
          close(fd)
        }
        for name in names {
          unlink(folder + "/records/" + name)
          recordHashes[name] = nil
        }
      }
      drop(dropped)
      droppedSinceSweep += dropped.count
      guard sweep else { return }
      // Mark and sweep; while the store is over its bytes, drop the oldest record and sweep again.
      while true {
        let owed = droppedSinceSweep
        droppedSinceSweep = 0
        var needed = Set<String>()
        for known in index.values { if let hash = known.state.sha256 { needed.insert(hash) } }
        // The saved index may be older than the one in memory: what it names stays too.
        if case .success(let saved)? = IndexFile.load(folder + "/index") {
          for known in saved.entries.values { if let hash = known.state.sha256 { needed.insert(hash) } }
        }
        // Every record on disk now, not the list kept in memory: another process's records
        // written since it was read name contents too.
        let onDisk = recordNames()
        for name in onDisk {
          if let hashes = recordHashes[name] {
            needed.formUnion(hashes)
          } else if let record = readRecord(name) {
            let hashes = Self.hashes(of: record)
            recordHashes[name] = hashes
            needed.formUnion(hashes)
          } else if recentlyModified(folder + "/records/" + name) {
            // Being written by another process (a record is written in place): what it names
            // is not known yet, so nothing is swept until the next time.
            droppedSinceSweep = owed
            return
          }
          // (An older one that can't be read was cut short by a crash: its operation was never
          // answered, and it is skipped as when records are listed.)
        }
        // Records dropped (by this process or another) are forgotten.
        if recordHashes.count > onDisk.count {
          let kept = Set(onDisk)
          recordHashes = recordHashes.filter { kept.contains($0.key) }
        }
        var total: Int64 = 0
        for blob in store.all() {
          if needed.contains(blob.hash) {
            total += blob.size
            doomed.remove(blob.hash)
          } else {
            doomed.insert(blob.hash)
          }
        }
        storeBytes = total
        guard total > Int64(config.maxBytes), !names.isEmpty else { return }
        let oldest = Array(names.prefix(max(1, names.count / 10)))
        names.removeFirst(oldest.count)
        drop(oldest)
      }
    }

    /// Whether the file at `path` was modified in the last minute.
    private func recentlyModified(_ path: String) -> Bool {
      var info = stat()
      guard lstat(path, &info) == 0 else { return false }
      return time(nil) - info.st_mtim.tv_sec < 60
    }

    /// The contents `record` names: its paths' hashes before and after.
    private static func hashes(of record: ChangeRecord) -> [String] {
      record.changes.flatMap { [$0.before?.sha256, $0.after?.sha256].compactMap { $0 } }
    }

    /// Opens `path` beneath the workspace, following no symlink on the way.
    func openBeneath(_ path: String, _ flags: Int32) -> Int32 {
      let bytes = ChangePath.bytes(path) + [0]
      return bytes.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) {
          cspaces_openat2(rootFD, $0.baseAddress, flags | O_CLOEXEC, 0, ChangeTracker.resolve)
        }
      }
    }

    /// The parent folder of `path`, opened beneath the workspace, and the last name.
    func openParent(_ path: String) -> (fd: Int32, name: [CChar])? {
      var bytes = ChangePath.bytes(path)
      var name: [UInt8]
      let fd: Int32
      if let slash = bytes.lastIndex(of: UInt8(ascii: "/")) {
        name = Array(bytes[(slash + 1)...])
        bytes = Array(bytes[..<slash])
        fd = openBeneath(ChangePath.key(bytes), O_RDONLY | O_DIRECTORY)
      } else {
        name = bytes
        fd = dup(rootFD)
      }
      guard fd >= 0, !name.isEmpty else {
        if fd >= 0 { close(fd) }
        return nil
      }
      name.append(0)
      return (fd, name.map { CChar(bitPattern: $0) })
    }

    /// lstat of `path` beneath the workspace (nil: not there, or a symlink on the way).
    func lstatBeneath(_ path: String) -> stat? {
      guard let (fd, name) = openParent(path) else { return nil }
      defer { close(fd) }
      var info = stat()
      return fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info : nil
    }

    /// A symlink's target.
    private func readLink(_ path: String) -> String {
      guard let (fd, name) = openParent(path) else { return "" }
      defer { close(fd) }
      var buffer = [CChar](repeating: 0, count: 4096)
      let count = readlinkat(fd, name, &buffer, 4096)
      return count > 0 ? ChangePath.key(buffer[0..<count].map { UInt8(bitPattern: $0) }) : ""
    }

    /// Plans an undo of `target` (or, with `restore`, of everything from `target` on), checks
    /// that it can be done, and returns the intent (nothing is changed yet).
    mutating func plan(target: String, restore: Bool, id: String) throws(SpacesError) -> Intent {
      guard ChangeTracker.validID(target) else {
        throw SpacesError(
          .invalidRequest, "\(EventText.quoted(target)) is not an operation id (op_… from `spaces log`)")
      }
      let names = recordNames()
      guard let at = names.firstIndex(where: { ChangeTracker.opId(ofRecord: $0) == target }),
        let record = readRecord(names[at])
      else {
        if wasDropped(target) {
          throw SpacesError(
            .undoRefused,
            "the change record of \(target) is gone: only the newest \(config.keepOperations) operations' records "
              + "(and at most undo.maxBytes of content) are kept; raise `undo` in space.json to keep more")
        }
        throw SpacesError(
          .undoRefused,
          "\(target) has no change record: it changed nothing in the workspace, or is not an operation of this space")
      }
      let later = names[(at + 1)...].compactMap(readRecord)
      // Later operations that were undone since cancel out with their undo.
      var active: [ChangeRecord] = []
      for other in later {
        guard let undid = other.undid, !undid.isEmpty else {
          active.append(other)
          continue
        }
        let cancelled = Set(undid).intersection(active.map(\.opId))
        active.removeAll { cancelled.contains($0.opId) }
        if cancelled.count < undid.count { active.append(other) }
      }
      let taken: [ChangeRecord]
      if restore {
        taken = [record] + later
      } else {
        let touched = Set(record.changes.map(\.path))
        let blocking = active.filter { other in
          other.changes.contains { change in touched.contains { ChangePath.overlaps($0, change.path) } }
        }
        if !blocking.isEmpty {
          let listed = blocking.reversed().map { "\($0.opId) (\($0.what))" }.joined(separator: ", ")
          throw SpacesError(
            .undoRefused,
            "\(target) can't be undone alone: later operations changed the same paths: \(listed). "
              + "Undo those first, or restore to before \(target) (`spaces restore SPACE --before \(target)`)")
        }
        taken = [record]
      }
      // The state each path must have now (what the newest record left) and the one to put back
      // (what the oldest record found).
      var expected: [String: EntryState?] = [:]
      var wanted: [String: EntryState?] = [:]
      for taking in taken.reversed() {
        for change in taking.changes {
          if expected[change.path] == nil { expected[change.path] = .some(change.after) }
          wanted[change.path] = .some(change.before)
        }
      }
      var steps: [Step] = []
      var lost: [String] = []
      var differs: [String] = []
      for path in wanted.keys.sorted() {
        let now = try currentState(path)
        let expect = expected[path] ?? nil
        let matches =
          switch (now, expect) {
          case (nil, nil): true
          case (let a?, let b?): a.same(as: b)
          default: false
          }
        if !matches { differs.append(path) }
        let to = wanted[path] ?? nil
        if let to, !to.restorable || (to.kind == .file && !(to.sha256.map(store.contains) ?? false)) {
          lost.append(path)
        }
        steps.append(Step(path: path, from: now, to: to))
      }
      if !differs.isEmpty {
        let listed = differs.prefix(5).map(ChangePath.shown).joined(separator: ", ")
        throw SpacesError(
          .undoRefused,
          "the workspace no longer has what \(restore ? "the operations" : target) left at \(listed)"
            + (differs.count > 5 ? " and \(differs.count - 5) more" : "")
            + ": changed since outside any recorded operation; nothing was changed")
      }
      if !lost.isEmpty {
        let listed = lost.prefix(5).map(ChangePath.shown).joined(separator: ", ")
        throw SpacesError(
          .undoRefused,
          "the earlier content of \(listed)\(lost.count > 5 ? " and \(lost.count - 5) more" : "") was not kept "
            + "(larger than undo.largeFileBytes, or unreadable), so it can't be put back; nothing was changed")
      }
      let what = restore ? "restore to before \(target)" : "undo \(target) (\(record.what))"
      return Intent(
        id: id, action: restore ? "restore" : "undo", target: target, undid: taken.reversed().map(\.opId), what: what,
        order: 0,
        steps: steps.filter { step in
          switch (step.from, step.to) {
          case (nil, nil): false
          case (let a?, let b?): !a.same(as: b)
          default: true
          }
        })
    }

    /// The state of `path` now, using the index for a file whose fingerprint it knows.
    private mutating func currentState(_ path: String) throws(SpacesError) -> EntryState? {
      guard let info = lstatBeneath(path) else { return nil }
      let print = Fingerprint(info)
      if let known = index[path], known.print == print, !unverified.contains(path) { return known.state }
      let state = try stateOf(path, print, stored: true, known: index[path])
      if let known = index[path], !known.state.same(as: state) { unsavedState = true }
      index[path] = Known(print: print, state: state)
      try store.settle(&unsynced)
      return state
    }

    /// Undoes `target` (or restores to before it): plans, writes the intent, applies it and
    /// writes the undo's own record. The caller journals it and then calls ``finish(_:)``.
    mutating func undo(target: String, restore: Bool, id: String) throws(SpacesError) -> (Intent, ChangeRecord) {
      let held = try exclusive()
      defer { release(held) }
      // A record retention owes dropping is gone for undo as for every reader.
      settleRetention()
      var intent = try plan(target: target, restore: restore, id: id)
      intent.order = nextOrder()
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      let data: Data
      do { data = try encoder.encode(intent) } catch {
        throw SpacesError(.ioError, "the undo could not be planned: \(error)")
      }
      try ChangeTracker.writeDurably(data, to: folder + "/intent.json", folder: folder)
      ChangeTracker.testPause()
      let record = try apply(intent)
      enforceRetention()
      return (intent, record)
    }

    /// Applies `intent` (again: every step puts a path in its final state, whatever it is now)
    /// and writes its record.
    private mutating func apply(_ intent: Intent) throws(SpacesError) -> ChangeRecord {
      let steps = intent.steps
      // Remove what must go or change kind, deepest first.
      for step in steps.sorted(by: { $0.path > $1.path }) {
        guard let info = lstatBeneath(step.path) else { continue }
        let kind = Fingerprint(info).kind
        if let to = step.to, to.kind == kind, kind != .symlink { continue }
        if let to = step.to, to.kind == .file, kind == .file { continue }
        try remove(step.path, folder: kind == .folder)
        ChangeTracker.testPause()
      }
      // Create folders, files and links, shallowest first.
      for step in steps.sorted(by: { $0.path < $1.path }) {
        guard let to = step.to else { continue }
        try put(step.path, to, temporary: ChangeTracker.temporaryName(intent.id, step.path))
        ChangeTracker.testPause()
      }
      // Folder modes last, deepest first (a read-only folder must not stop what goes in it).
      for step in steps.sorted(by: { $0.path > $1.path }) {
        guard let to = step.to, to.kind == .folder, let (fd, name) = openParent(step.path) else { continue }
        _ = fchmodat(fd, name, mode_t(to.mode), 0)
        close(fd)
      }
      // The index follows.
      for step in steps {
        if let to = step.to, let info = lstatBeneath(step.path) {
          index[step.path] = Known(print: Fingerprint(info), state: to)
        } else {
          index[step.path] = nil
        }
      }
      let record = ChangeRecord(
        opId: intent.id, order: intent.order, time: Event.timestamp(Date()), actor: .person, what: intent.what,
        undid: intent.undid, changes: steps.map { PathChange(path: $0.path, before: $0.from, after: $0.to) })
      try write(record)
      counted(record)
      return record
    }

    private mutating func remove(_ path: String, folder: Bool) throws(SpacesError) {
      guard let (fd, name) = openParent(path) else { return }
      defer { close(fd) }
      if unlinkat(fd, name, folder ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT {
        let code = errno
        throw SpacesError(
          .ioError,
          "undo could not remove \(ChangePath.shown(path)): \(String(cString: strerror(code))); "
            + "it is finished when the space is opened again",
          errno: code)
      }
    }

    private mutating func put(_ path: String, _ state: EntryState, temporary: String) throws(SpacesError) {
      guard let (fd, name) = openParent(path) else {
        throw SpacesError(
          .ioError,
          "undo could not reach the folder of \(ChangePath.shown(path)); it is finished when the space is opened again")
      }
      defer { close(fd) }
      func failure(_ action: String) -> SpacesError {
        let code = errno
        return SpacesError(
          .ioError, "undo could not \(action) \(ChangePath.shown(path)): \(String(cString: strerror(code)))",
          errno: code)
      }
      switch state.kind {
      case .folder:
        if mkdirat(fd, name, 0o700) != 0 && errno != EEXIST { throw failure("create the folder") }
      case .file:
        guard let hash = state.sha256 else { throw failure("find the content of") }
        // Locked from its creation to its rename, so the clean-up of interrupted writes (run
        // when a space opens, as this undo may be finished then) leaves it alone.
        guard let (out, _) = ConfinedWorkspace.createLockedTemporary(in: fd, mode: 0o600, named: temporary) else {
          throw failure("create a file beside")
        }
        defer { close(out) }
        do throws(SpacesError) {
          try store.copy(hash, to: out)
          guard fchmod(out, mode_t(state.mode)) == 0 else { throw failure("set the mode of") }
        } catch {
          unlinkat(fd, temporary, 0)
          throw error
        }
        guard renameat(fd, temporary, fd, name) == 0 else {
          let error = failure("put back")
          unlinkat(fd, temporary, 0)
          throw error
        }
      case .symlink:
        unlinkat(fd, temporary, 0)
        let target = (ChangePath.bytes(state.target ?? "") + [0]).map { CChar(bitPattern: $0) }
        guard symlinkat(target, fd, temporary) == 0 else { throw failure("create the link") }
        guard renameat(fd, temporary, fd, name) == 0 else {
          let error = failure("put back the link")
          unlinkat(fd, temporary, 0)
          throw error
        }
      case .other:
        break
      }
    }

    /// An undo a crash interrupted: finishes it (every step again, then its record) and returns
    /// it for the journal; nil when there is none, or another process is undoing right now.
    mutating func recover() throws(SpacesError) -> (Intent, ChangeRecord)? {
      guard let data = FileManager.default.contents(atPath: folder + "/intent.json") else { return nil }
      guard let held = try? exclusive(wait: false) else { return nil }
      defer { release(held) }
      // Read again under the lock: the undo that held it may have finished meanwhile.
      guard let again = FileManager.default.contents(atPath: folder + "/intent.json"), again == data,
        let intent = try? JSONDecoder().decode(Intent.self, from: data)
      else {
        if FileManager.default.fileExists(atPath: folder + "/intent.json") { unlink(folder + "/intent.json") }
        return nil
      }
      return (intent, try apply(intent))
    }

    /// Takes the space's undo lock (`changes/lock`, flock), so one process undoes at a time.
    private func exclusive(wait: Bool = true) throws(SpacesError) -> Int32 {
      let fd = open(folder + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
      guard fd >= 0 else { throw BlobStore.failure("open the undo lock", errno) }
      if flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
        close(fd)
        throw SpacesError(.undoRefused, "another undo of this space is running")
      }
      return fd
    }

    private func release(_ fd: Int32) {
      flock(fd, LOCK_UN)
      close(fd)
    }
  }
}

/// The kept records of a tracker's folder: read without the lock (a record is written whole,
/// by rename) by the tracker and by its state alike.
protocol ChangeFolder {
  /// The folder of records (`SPACE/changes`).
  var folder: String { get }
}

extension ChangeFolder {
  /// Every kept record's file name, oldest first.
  func recordNames() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/records")) ?? []
    return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
  }

  /// Reads a record by file name.
  func readRecord(_ name: String) -> ChangeRecord? {
    guard let data = FileManager.default.contents(atPath: folder + "/records/" + name) else { return nil }
    return try? JSONDecoder().decode(ChangeRecord.self, from: data)
  }

  /// Every kept record, oldest first.
  func records() -> [ChangeRecord] {
    recordNames().compactMap(readRecord)
  }

  /// The record of `opId`, or why there is none.
  func record(of opId: String) -> ChangeRecord? {
    guard ChangeTracker.validID(opId) else { return nil }
    guard let name = recordNames().first(where: { ChangeTracker.opId(ofRecord: $0) == opId }) else { return nil }
    return readRecord(name)
  }

  /// Whether the record of `opId` was dropped (retention).
  func wasDropped(_ opId: String) -> Bool {
    guard let text = try? String(contentsOfFile: folder + "/dropped", encoding: .utf8) else { return false }
    return text.split(separator: "\n").contains { $0 == opId }
  }
}
