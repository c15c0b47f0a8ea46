import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Small wrappers over the system calls the runner needs.
package enum Sys {
  /// Runs blocking work (waits on the kernel, sleeps between retries) on a dispatch thread, so
  /// it never holds one of the few threads every task in the process shares.
  static package func offloaded<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
  }

  /// Runs long blocking `work` (a command's whole life) on a thread of its own (one of
  /// ``WorkerThreads``, which keeps it for the next command) and returns its value.
  ///
  /// Dispatch's shared threads are few: commands that held them for their whole run once kept
  /// every other space's journal flush waiting behind a connection's `sleep`s.
  static package func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      WorkerThreads.shared.run { continuation.resume(returning: work()) }
    }
  }

  /// Reads a small file (procfs, cgroupfs) whole; nil when it can't be opened.
  static func readFile(_ path: String, limit: Int = 1 << 20) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while bytes.count < limit {
      let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if got < 0 && errno == EINTR { continue }
      guard got > 0 else { break }
      bytes.append(contentsOf: buffer[0..<got])
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Writes a string to an existing file (cgroupfs); returns false on failure.
  @discardableResult
  static func writeFile(_ path: String, _ text: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    return written == bytes.count
  }

  /// Whether a path exists and is a directory (following symlinks).
  static package func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// Whether a path exists (without following a final symlink).
  static func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
  }

  /// Whether a path is an executable regular file.
  static func isExecutableFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
  }

  /// The target of a symlink, or nil when the path isn't one.
  static func symlinkTarget(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Finds an executable by name in a `PATH`-style list.
  static func which(_ name: String, path: String?) -> String? {
    if name.contains("/") { return isExecutableFile(name) ? name : nil }
    let dirs =
      (path ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/local/bin"]
    for dir in dirs where !dir.isEmpty {
      let candidate = dir + "/" + name
      if isExecutableFile(candidate) { return candidate }
    }
    return nil
  }

  /// The value of an environment variable of this process.
  static func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
  }

  /// Sends a signal to a process, ignoring errors.
  static func signal(_ pid: pid_t, _ sig: Int32) {
    _ = kill(pid, sig)
  }

  /// Sends a signal to a process group, ignoring errors.
  static func signalGroup(_ pgid: pid_t, _ sig: Int32) {
    guard pgid > 1 else { return }
    _ = kill(-pgid, sig)
  }

  /// Waits until `fd` is readable or `timeoutMs` passes; returns which of the fds became readable.
  static func pollReadable(_ fds: [Int32], timeoutMs: Int) -> [Bool] {
    var pfds = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    let rc = pfds.withUnsafeMutableBufferPointer {
      poll($0.baseAddress, nfds_t($0.count), Int32(clamping: timeoutMs))
    }
    guard rc > 0 else { return fds.map { _ in false } }
    return pfds.map { $0.fd >= 0 && $0.revents != 0 }
  }

  /// This process's resident set size in bytes (from /proc/self/status).
  static func residentBytes() -> Int {
    guard let status = readFile("/proc/self/status") else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      let digits = line.filter(\.isNumber)
      return (Int(digits) ?? 0) * 1024
    }
    return 0
  }
}

extension Sys {
  /// The canonical absolute path (symlinks resolved), or the path itself when that fails.
  package static func realPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
  }
}
