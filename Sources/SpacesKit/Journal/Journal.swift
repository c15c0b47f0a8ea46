import CSpacesSys
import Foundation
import SpacesModel
import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

/// A problem found in a journal file: a torn or corrupt line that was skipped.
public struct JournalIssue: Sendable, Equatable, CustomStringConvertible {
  /// The 1-based line number, when known.
  public var line: Int?
  /// The byte offset where the bad line starts.
  public var offset: Int
  /// What was wrong.
  public var message: String

  public var description: String {
    let place = line.map { "line \($0)" } ?? "byte \(offset)"
    return "journal \(place): \(message)"
  }
}

/// A space's append-only record of events: JSON Lines, one event per line.
///
/// Appends from several threads or processes are serialized with a ``LockedValue`` and `flock`, and
/// sequence numbers stay increasing across them. ``append(_:sync:)`` with `sync: true` returns
/// only after the data is on disk (`fsync`). A torn last line (a crash mid-write) is found on
/// open, reported in ``issues``, closed off with a newline so later records stay intact, and
/// skipped by readers; nothing before it is lost.
public final class Journal: Sendable {
  /// The journal file's path.
  public let path: String
  /// Problems found when the journal was opened.
  public var issues: [JournalIssue] { tail.withValue { $0.issues } }

  /// The end of the file as this process knows it; held while appending.
  private struct Tail {
    var knownEnd = 0
    var seq = 0
    /// A write failure to simulate (``Journal/failNextWrite(afterBytes:)``).
    var injectedFault: Int?
    var issues: [JournalIssue] = []
  }
  private let tail = LockedValue(Tail())
  /// What is on disk; held while flushing (taken before `tail`, never inside it).
  private struct Flushed {
    var syncedEnd = 0
    var flushes = 0
    var fileSystemFlushes = 0
  }
  private let flushed = LockedValue(Flushed())
  /// How many `syncfs` for changes have started (read without waiting for a running flush).
  private let fileSystemFlushesStarted = LockedValue(0)
  private let fd: Int32

  /// Opens (creating if needed) the journal at `path`.
  public init(path: String) throws(SpacesError) {
    self.path = path
    let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      let code = errno
      if code == EMFILE || code == ENFILE { throw SpacesError.system(code, "open the journal \(path)") }
      throw SpacesError(
        .journalError, "can't open the journal \(path): \(String(cString: strerror(code)))", errno: code)
    }
    self.fd = fd
    do {
      try withFileLock { () throws(SpacesError) in
        try tail.withValue { tail throws(SpacesError) in try catchUp(&tail) }
      }
    } catch {
      close(fd)
      throw error
    }
  }

  deinit { close(fd) }

  /// The highest sequence number written so far.
  public var lastSeq: Int {
    tail.withValue { $0.seq }
  }

  /// Assigns sequence numbers to `events`, appends them, and returns them as written.
  ///
  /// With `sync`, the data (and everything appended before) is on disk when this returns.
  @discardableResult
  public func append(_ events: [Event], sync: Bool) throws(SpacesError) -> [Event] {
    let written = try tail.withValue { tail throws(SpacesError) -> [Event] in
      try withFileLock { () throws(SpacesError) -> [Event] in
        try catchUp(&tail)
        let before = tail.seq
        var written: [Event] = []
        var writer = JSONWriter(capacity: 512 + (events.first?.output?.data.utf8.count ?? 0))
        var ends: [(start: Int, end: Int)] = []
        for var event in events {
          tail.seq += 1
          event.seq = tail.seq
          // The same hand-written encoder as the wire's: the journal's line is the event's JSON.
          let start = writer.bytes.count
          event.write(to: &writer)
          ends.append((start, writer.bytes.count))
          writer.bytes.append(0x0A)
          written.append(event)
        }
        let bytes = writer.bytes
        // The wire sends these same bytes (see `Event.written`).
        for index in written.indices {
          written[index].written = WrittenJSON(bytes[ends[index].start..<ends[index].end])
        }
        do throws(SpacesError) {
          try writeAll(bytes, &tail)
        } catch {
          // Nothing of a failed append stays: not its sequence numbers (the next append takes
          // them, so there is no gap) and not the part of it that reached the file (a full
          // disk can take half a record), so the file ends with the last whole record again.
          tail.seq = before
          _ = ftruncate(fd, off_t(tail.knownEnd))
          throw error
        }
        tail.knownEnd += bytes.count
        return written
      }
    }
    if sync { try self.sync() }
    return written
  }

  /// The offset of a line from which reading finds every event with `seq` ≥ `target`: every
  /// record before it has a smaller `seq`, and few records after it do (they are skipped).
  ///
  /// A binary search over the file (sequence numbers grow with the offset), so a subscriber
  /// that resumes from an old `seq` doesn't read a long journal from its start.
  public func startOffset(forSeq target: Int) -> Int {
    let end = tail.withValue { $0.knownEnd }
    var low = 0
    var high = end
    while high - low > 256 * 1024 {
      let middle = low + (high - low) / 2
      guard let probe = probeLine(from: middle, before: high, end: end) else {
        high = middle
        continue
      }
      if probe.seq < target {
        low = probe.next
      } else {
        high = middle
      }
    }
    return low
  }

  /// The first readable record that starts after `from` and before `limit` (the file holds
  /// `end` bytes): its `seq` and where the line after it starts.
  private func probeLine(from: Int, before limit: Int, end: Int) -> (seq: Int, next: Int)? {
    guard var start = try? pastNewline(from: from, below: limit), start < limit else { return nil }
    while start < limit {
      guard let next = try? pastNewline(from: start, below: end) else { return nil }
      if let seq = try? sequence(ofLineFrom: start, to: next) { return (seq, next) }
      start = next
    }
    return nil
  }

  /// The `seq` of the record in [start, next - 1) (`next` is just past its newline); nil when
  /// the line is not a readable record.
  private func sequence(ofLineFrom start: Int, to next: Int) throws(SpacesError) -> Int? {
    let line = try readBytes(from: start, count: next - 1 - start)
    return (try? SpacesJSON.decoder.decode(SeqProbe.self, from: Data(line)))?.seq
  }

  /// Just past the first newline at or after `from` and below `limit`, if there is one.
  private func pastNewline(from: Int, below limit: Int) throws(SpacesError) -> Int? {
    var position = from
    let block = 64 * 1024
    while position < limit {
      let count = min(block, limit - position)
      let chunk = try readBytes(from: position, count: count)
      if let newline = chunk.firstIndex(of: 0x0A) { return position + newline + 1 }
      position += count
    }
    return nil
  }

  /// The text of an operation's `output` events from `fromSeq` through `lastSeq`: what a result
  /// that refers to them (``OperationResult/streamed``) needs to be whole again.
  public func streamedOutput(of opId: String, from fromSeq: Int, through lastSeq: Int) throws(SpacesError) -> (
    stdout: String, stderr: String
  ) {
    try Self.streamedOutput(path: path, offset: startOffset(forSeq: fromSeq), of: opId, from: fromSeq, through: lastSeq)
  }

  /// The text of an operation's `output` events from `fromSeq` through `lastSeq`, read from the
  /// journal at `path` from `offset` (the start of a line before them; 0 reads from the start).
  public static func streamedOutput(
    path: String, offset: Int = 0, of opId: String, from fromSeq: Int, through lastSeq: Int
  ) throws(SpacesError) -> (stdout: String, stderr: String) {
    var reader = try JournalReader(path: path, from: offset)
    var stdout = ""
    var stderr = ""
    while true {
      let batch = try reader.readAvailable(final: true, limit: 512, byteLimit: 1 << 20)
      if batch.events.isEmpty && batch.issues.isEmpty { break }
      for event in batch.events where event.seq >= fromSeq && event.opId == opId {
        if event.seq > lastSeq { break }
        guard let (stream, data) = event.output else { continue }
        if stream == .stderr { stderr += data } else { stdout += data }
      }
      if let last = batch.events.last, last.seq >= lastSeq { break }
    }
    return (stdout, stderr)
  }

  /// The event with its result whole: a result that refers to the operation's `output` events
  /// for its output (``OperationResult/streamed``) gets it back from them; any other event is
  /// returned as it is (also when the journal can't be read: then the result keeps the reference).
  public func withWholeOutput(_ event: Event) -> Event {
    guard let result = event.result, let streamed = result.streamed,
      let text = try? streamedOutput(of: event.opId, from: streamed.fromSeq, through: event.seq)
    else { return event }
    return event.replacingResult(result.reassembled(streamedStdout: text.stdout, streamedStderr: text.stderr))
  }

  /// Flushes everything appended so far to disk, with what a change wrote when `pending` is given.
  ///
  /// Group commit: callers that arrive while a flush runs wait for it, and one flush then
  /// covers all of them, so many clients appending at once share the disk's flushes instead
  /// of queueing one each. A change's files and folders (``PendingFlushes``) are flushed with the
  /// journal by one `syncfs` of its file system when the machine is quiet, and callers share
  /// those too: a `syncfs` that started after a caller arrived covers it. Otherwise they are
  /// flushed one by one by their caller, outside the group commit, then the journal as usual.
  public func sync(alongWith pending: PendingFlushes? = nil) throws(SpacesError) {
    guard let pending, !pending.isEmpty, try pending.flushUnshared(besides: fd) == .syncfs else {
      return try sync()
    }
    // Every `syncfs` started from now on covers what the caller wrote before it came here.
    let started = fileSystemFlushesStarted.withValue { $0 }
    try flushed.withValue { flushed throws(SpacesError) in
      // The flushes run under this lock, one at a time: a count done beyond what had started
      // when the caller arrived is one that started after it.
      if flushed.fileSystemFlushes > started { return }
      let covered = tail.withValue { $0.knownEnd }
      fileSystemFlushesStarted.withValue { $0 += 1 }
      if cspaces_syncfs(fd) != 0 { throw failure("can't flush the journal's file system to disk") }
      flushed.syncedEnd = max(flushed.syncedEnd, covered)
      flushed.flushes += 1
      flushed.fileSystemFlushes += 1
    }
    pending.drop()
  }

  /// Flushes everything appended so far to disk (the group commit of ``sync(alongWith:)``).
  public func sync() throws(SpacesError) {
    let wanted = tail.withValue { $0.knownEnd }
    try flushed.withValue { flushed throws(SpacesError) in
      if flushed.syncedEnd >= wanted { return }
      // Everything written before this point is covered by the fsync below.
      let covered = tail.withValue { $0.knownEnd }
      if fsync(fd) != 0 { throw failure("can't flush the journal to disk") }
      flushed.syncedEnd = covered
      flushed.flushes += 1
    }
  }

  /// Has everything appended so far flushed to disk by the next group commit, soon (within
  /// milliseconds) but without waiting for it: for records that must survive the runtime being
  /// killed (they are written already) and reach the disk shortly, such as reads and messages.
  public func flushSoon() {
    JournalFlusher.shared.schedule(self)
  }

  /// Whether everything appended so far is on disk (for tests).
  var isSynced: Bool {
    let wanted = tail.withValue { $0.knownEnd }
    return flushed.withValue { $0.syncedEnd >= wanted }
  }

  /// How many times the journal was flushed to disk (for tests).
  var flushCount: Int { flushed.withValue { $0.flushes } }

  /// How many of those flushes were one `syncfs` for the journal and a change's folders (for tests).
  var fileSystemFlushCount: Int { flushed.withValue { $0.fileSystemFlushes } }

  /// Reads every event in the journal at `path`, with the problems found on the way.
  public static func read(path: String) throws(SpacesError) -> (
    events: [Event], issues: [JournalIssue]
  ) {
    var reader = try JournalReader(path: path)
    return try reader.readAvailable(final: true)
  }

  // MARK: - Internals (called holding `tail` and the file lock)

  /// Brings `seq` and `knownEnd` up to date with what other writers appended, and closes off a
  /// torn last line.
  private func catchUp(_ tail: inout Tail) throws(SpacesError) {
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw failure("can't inspect the journal") }
    let size = Int(info.st_size)
    if size == tail.knownEnd { return }
    if size > 0 {
      var last: UInt8 = 0
      if pread(fd, &last, 1, off_t(size - 1)) != 1 { throw failure("can't read the journal") }
      if last != 0x0A {
        let start = try lineStart(before: size)
        try writeAll([0x0A], &tail)
        if fsync(fd) != 0 { throw failure("can't flush the journal to disk") }
        tail.knownEnd = size + 1
        // A record cut off after its last byte, before its newline, is whole once closed off:
        // readers take it, so its `seq` is taken too (never given to the next record as well).
        if let whole = try sequence(ofLineFrom: start, to: size + 1) {
          tail.seq = max(tail.seq, whole)
        } else {
          tail.issues.append(
            JournalIssue(
              line: nil, offset: start,
              message:
                "the last record (\(size - start) bytes) was cut off mid-write, probably by a crash; it is kept in the file but skipped"
            ))
          tail.seq = max(tail.seq, try lastSequence(endingAt: start))
        }
        return
      }
    }
    tail.knownEnd = size
    tail.seq = max(tail.seq, try lastSequence(endingAt: size))
  }

  /// The sequence number of the last well-formed line that ends at or before `end`.
  private func lastSequence(endingAt end: Int) throws(SpacesError) -> Int {
    var lineEnd = end
    while lineEnd > 0 {
      // `lineEnd` is just past a newline; the line is [start, lineEnd - 1).
      let start = try lineStart(before: lineEnd - 1)
      if let seq = try sequence(ofLineFrom: start, to: lineEnd) { return seq }
      lineEnd = start
    }
    return 0
  }

  /// The offset where the line containing the byte before `end` starts.
  private func lineStart(before end: Int) throws(SpacesError) -> Int {
    var position = end
    let block = 64 * 1024
    while position > 0 {
      let from = max(0, position - block)
      let chunk = try readBytes(from: from, count: position - from)
      if let newline = chunk.lastIndex(of: 0x0A) { return from + newline + 1 }
      position = from
    }
    return 0
  }

  private func readBytes(from offset: Int, count: Int) throws(SpacesError) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: count)
    var done = 0
    while done < count {
      let n = buffer.withUnsafeMutableBytes { raw in
        pread(fd, raw.baseAddress.map { $0 + done }, count - done, off_t(offset + done))
      }
      if n < 0, errno == EINTR { continue }
      guard n > 0 else { throw failure("can't read the journal") }
      done += n
    }
    return buffer
  }

  private func writeAll(_ bytes: [UInt8], _ tail: inout Tail) throws(SpacesError) {
    let fault = tail.injectedFault
    tail.injectedFault = nil
    let end = min(fault ?? bytes.count, bytes.count)
    var done = 0
    while done < end {
      let n = bytes.withUnsafeBytes { raw in
        write(fd, raw.baseAddress.map { $0 + done }, end - done)
      }
      if n < 0, errno == EINTR { continue }
      guard n > 0 else { throw failure("can't write the journal (disk full?)") }
      done += n
    }
    if fault != nil {
      errno = ENOSPC
      throw failure("can't write the journal (disk full?)")
    }
  }

  /// For tests: the next write to the file stores only its first `bytes` bytes and then fails
  /// with ENOSPC, as on a disk that fills up in the middle of a record.
  func failNextWrite(afterBytes bytes: Int) {
    tail.withValue { $0.injectedFault = bytes }
  }

  private func withFileLock<T>(_ body: () throws(SpacesError) -> T) throws(SpacesError) -> T {
    while flock(fd, LOCK_EX) != 0 {
      if errno != EINTR { throw failure("can't lock the journal") }
    }
    defer { flock(fd, LOCK_UN) }
    return try body()
  }

  private func failure(_ what: String) -> SpacesError {
    let code = errno
    return SpacesError(
      .journalError, "\(what): \(path): \(String(cString: strerror(code)))", errno: code)
  }

  private struct SeqProbe: Decodable { var seq: Int }
}

/// The group commit for records that need not wait for the disk: one thread that flushes the
/// journals it is given 2 ms after the first of them (``gathering``; a flush already running
/// covers what was appended before it began; the next one covers the rest), so such a record is
/// on disk within 2 ms and about one `fsync` of being written.
final class JournalFlusher: @unchecked Sendable {
  // @unchecked: `pending` and `started` are guarded by `condition` (a thread sleeps on it).
  /// The one flusher of the process.
  static let shared = JournalFlusher()

  /// The flusher thread sleeps on this until a journal has records to flush: a thread really
  /// waits here, so a condition variable rather than a ``LockedValue``.
  private let condition = NSCondition()
  /// Journals with records to flush (guarded by `condition`).
  private var pending: [ObjectIdentifier: Journal] = [:]
  private var started = false

  /// Has `journal` flushed by the next group commit.
  ///
  /// Inside ``wakingAfter(_:)`` the flusher is woken when that returns, not here.
  func schedule(_ journal: Journal) {
    condition.lock()
    // Only the first journal of a round wakes the flusher: one already gathering needs no
    // signal (each woke it for nothing, a thread wake-up per read).
    let idle = pending.isEmpty
    pending[ObjectIdentifier(journal)] = journal
    if !started {
      started = true
      let thread = Thread { [self] in run() }
      thread.name = "journal-flush"
      thread.stackSize = 256 << 10
      thread.start()
    }
    condition.unlock()
    // Signalled after the unlock: the woken flusher doesn't find the lock still held (and block
    // on it, to be woken a second time). The flusher looks at `pending` under the lock before it
    // waits, so a signal given after the unlock is never lost.
    if idle, cspaces_wake_hold_request() == 0 { condition.signal() }
  }

  /// Runs `body`, and wakes the flusher after it when a record `body` wrote asked for it: for
  /// an answer written from the thread that read the request (a read answered on the event
  /// loop), so that waking another thread, tens of microseconds on an idle machine, comes after
  /// the answer instead of before. The hold is the thread's, whatever flusher schedules inside
  /// it: use it on the flusher the body's records go to (the process has one, ``shared``).
  func wakingAfter<T>(_ body: () throws -> T) rethrows -> T {
    let earlier = cspaces_wake_hold_begin()
    defer {
      if cspaces_wake_hold_end(earlier) != 0 { condition.signal() }
    }
    return try body()
  }

  /// How long the flusher gathers records after the first one arrives before it flushes: reads
  /// that come one after another share a flush instead of each starting one (a flush running
  /// while the next read appends its record slows that read), and a record is still on disk
  /// within this plus one `fsync`.
  static let gathering: TimeInterval = 0.002

  private func run() {
    while true {
      condition.lock()
      while pending.isEmpty { condition.wait() }
      let deadline = Date(timeIntervalSinceNow: Self.gathering)
      while Date() < deadline { _ = condition.wait(until: deadline) }
      let journals = Array(pending.values)
      pending.removeAll(keepingCapacity: true)
      condition.unlock()
      // A failure here is reported by the next operation that needs the disk (its own sync
      // fails the same way); the record itself is written already.
      for journal in journals { try? journal.sync() }
    }
  }
}

/// Reads a journal file from the start (or from a line's offset), and then whatever is
/// appended (for following), in batches of bounded size.
public struct JournalReader: ~Copyable {
  /// The journal file's path.
  public let path: String
  private let fd: Int32
  /// The file offset of `buffer[0]`.
  private var offset = 0
  /// Lines read so far; nil when reading began in the middle of the file.
  private var line: Int? = 0
  /// Bytes read from the file and not yet taken.
  private var buffer: [UInt8] = []
  /// The bytes of the records the last ``readAvailable(final:limit:byteLimit:)`` returned.
  public private(set) var lastBytes = 0

  /// Opens the journal at `path` for reading, from `offset` (the start of a line, e.g. from
  /// ``Journal/startOffset(forSeq:)``).
  public init(path: String, from offset: Int = 0) throws(SpacesError) {
    self.path = path
    fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      if code == ENOENT {
        throw SpacesError(.notFound, "no journal at \(path)", errno: code)
      }
      if code == EMFILE || code == ENFILE { throw SpacesError.system(code, "open the journal \(path)") }
      throw SpacesError(
        .journalError, "can't open the journal \(path): \(String(cString: strerror(code)))",
        errno: code)
    }
    if offset > 0 {
      lseek(fd, off_t(offset), SEEK_SET)
      self.offset = offset
      line = nil
    }
  }

  deinit { close(fd) }

  /// Reads the complete lines available now, at most `limit` events and about `byteLimit` bytes
  /// of them, at least one (call again for the rest: memory stays bounded however long the
  /// journal is and however large its records).
  ///
  /// With `final`, a last line without a newline is reported as torn; without it (while
  /// following a live journal) it is kept until the rest arrives.
  public mutating func readAvailable(final: Bool, limit: Int = .max, byteLimit: Int = .max) throws(SpacesError) -> (
    events: [Event], issues: [JournalIssue]
  ) {
    var events: [Event] = []
    var issues: [JournalIssue] = []
    var taken = 0
    var exhausted = false
    var bytes = 0
    while events.count < limit, bytes < byteLimit {
      if let newline = buffer[taken...].firstIndex(of: 0x0A) {
        take(buffer[taken..<newline], &events, &issues)
        bytes += newline + 1 - taken
        taken = newline + 1
        continue
      }
      buffer.removeFirst(taken)
      taken = 0
      var chunk = [UInt8](repeating: 0, count: 256 * 1024)
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0, errno == EINTR { continue }
      if n < 0 {
        throw SpacesError(
          .journalError, "can't read the journal \(path): \(String(cString: strerror(errno)))")
      }
      if n == 0 {
        exhausted = true
        break
      }
      buffer += chunk[0..<n]
    }
    buffer.removeFirst(taken)
    if final, exhausted, !buffer.isEmpty {
      line = line.map { $0 + 1 }
      issues.append(
        JournalIssue(
          line: line, offset: offset,
          message: "the last record was cut off mid-write (\(buffer.count) bytes); skipped"))
      offset += buffer.count
      buffer = []
    }
    lastBytes = bytes
    return (events, issues)
  }

  private mutating func take(
    _ record: ArraySlice<UInt8>, _ events: inout [Event], _ issues: inout [JournalIssue]
  ) {
    line = line.map { $0 + 1 }
    defer { offset += record.count + 1 }
    if record.isEmpty { return }
    do {
      events.append(try SpacesJSON.decoder.decode(Event.self, from: Data(record)))
    } catch {
      let torn = record.first != UInt8(ascii: "{") || record.last != UInt8(ascii: "}")
      issues.append(
        JournalIssue(
          line: line, offset: offset,
          message: torn
            ? "a record cut off mid-write (a crash?); skipped"
            : "a record that is not a valid event (\(SpacesJSON.describe(error))); skipped"))
    }
  }
}
