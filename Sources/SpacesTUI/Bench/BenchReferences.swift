import Foundation
import SpacesKit
import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// The bare references the benchmarks compare with, measured in the same run: a minimal
/// line-echo server on a Unix socket, and the system calls of one durable write.
enum BenchReference {
  /// Runs `body` on a thread of its own (blocking system calls must not hold one of the few
  /// threads every task shares, where the server answers) and returns its value.
  static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { continuation.resume(with: Result { try body() }) }
      thread.stackSize = 1 << 20
      thread.start()
    }
  }

  /// Times `body` `count` times (after a few warm-up calls) in microseconds.
  static func samples(_ count: Int, warmUp: Int = 20, _ body: () throws -> Void) rethrows -> [Double] {
    for _ in 0..<warmUp { try body() }
    let clock = ContinuousClock()
    var samples: [Double] = []
    samples.reserveCapacity(count)
    for _ in 0..<count {
      let start = clock.now
      try body()
      samples.append(microseconds(clock.now - start))
    }
    return samples
  }

  /// A duration in microseconds.
  static func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
  }

  /// Forks and execs `argv` (posix_spawn, as bare as a spawn gets) and waits for it; with
  /// `readOutput`, reads its whole stdout through a pipe and returns how many bytes came.
  @discardableResult
  static func spawnAndWait(_ argv: [String], readOutput: Bool = false) throws -> Int {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var pipeFDs: [Int32] = [-1, -1]
    if readOutput {
      guard pipe(&pipeFDs) == 0 else { throw SpacesError(.ioError, "pipe") }
      for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
      posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    }
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let cStrings = argv.map { strdup($0) }
    defer { for pointer in cStrings { free(pointer) } }
    let arguments = cStrings + [nil]
    let environment: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), nil]
    defer { free(environment[0]) }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, argv[0], &actions, nil, arguments, environment)
    if readOutput { close(pipeFDs[1]) }
    guard spawned == 0 else {
      if readOutput { close(pipeFDs[0]) }
      throw SpacesError(.ioError, "spawn \(argv[0]): \(String(cString: strerror(spawned)))")
    }
    var total = 0
    if readOutput {
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      while true {
        let count = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { break }
        total += count
      }
      close(pipeFDs[0])
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    return total
  }

  /// The bare system calls one durable `createFile` of `content` needs: write a temporary file,
  /// `fsync` it, rename it into place, append a journal line, `fdatasync` the journal.
  static func durableWrite(folder: String, content: [UInt8], journal: Int32, line: [UInt8]) throws {
    let temporary = folder + "/.durable.tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw SpacesError(.ioError, "open \(temporary): \(String(cString: strerror(errno)))") }
    let written = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    let synced = fsync(fd)
    close(fd)
    guard written == content.count, synced == 0 else { throw SpacesError(.ioError, "write \(temporary)") }
    guard rename(temporary, folder + "/durable") == 0 else { throw SpacesError(.ioError, "rename \(temporary)") }
    let appended = line.withUnsafeBytes { write(journal, $0.baseAddress, $0.count) }
    guard appended == line.count, fdatasync(journal) == 0 else { throw SpacesError(.ioError, "append the journal") }
  }
}

/// A minimal line-echo server on a Unix socket: each line it reads is written back as it is.
///
/// The reference for the socket benchmarks: what one round trip over the same kind of socket
/// costs with no work at all behind it (one thread per connection, blocking reads and writes).
final class LineEchoServer: Sendable {
  /// The socket's path.
  let path: String
  private let listener: Int32

  /// Binds `path` and starts accepting connections.
  init(path: String) throws {
    self.path = path
    unlink(path)
    let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    self.listener = listener
    guard listener >= 0 else { throw SpacesError(.ioError, "socket: \(String(cString: strerror(errno)))") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      close(listener)
      throw SpacesError(.invalidPath, "the socket path is too long: \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in bytes.enumerated() { raw[index] = byte }
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard bound == 0, listen(listener, 8) == 0 else {
      close(listener)
      throw SpacesError(.ioError, "bind \(path): \(String(cString: strerror(errno)))")
    }
    Thread.detachNewThread {
      while true {
        let client = accept(listener, nil, nil)
        if client < 0 {
          if errno == EINTR { continue }
          return
        }
        Thread.detachNewThread { Self.echo(client) }
      }
    }
  }

  /// Stops accepting (connections already open end when their clients close them).
  func stop() {
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
    unlink(path)
  }

  private static func echo(_ fd: Int32) {
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 65536)
    var pending: [UInt8] = []
    while true {
      let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return }
      pending += buffer[..<count]
      guard let newline = pending.lastIndex(of: 0x0A) else { continue }
      let lines = Array(pending[...newline])
      pending.removeFirst(newline + 1)
      var sent = 0
      while sent < lines.count {
        let n = lines.withUnsafeBytes {
          send(fd, $0.baseAddress.map { $0 + sent }, lines.count - sent, Int32(MSG_NOSIGNAL))
        }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { return }
        sent += n
      }
    }
  }
}
