import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// A `spaces serve` child process of the soak benchmark, with its own SPACES_HOME, whose memory
/// and CPU time are read from `/proc`.
final class SoakServer: Sendable {
  let home: SpacesHome
  let pid: Int32
  private let process: Process

  /// Starts the binary this process runs (`/proc/self/exe`) as `spaces serve` on `home`, and
  /// waits (at most 30 s) until its socket answers.
  static func start(home: SpacesHome, log: String) async throws -> SoakServer {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    process.arguments = ["serve", "--home", home.path, "--allow-agent-spaces"]
    var environment = ProcessInfo.processInfo.environment
    environment["SPACES_HOME"] = home.path
    process.environment = environment
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle(forWritingAtPath: log) ?? FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let server = SoakServer(home: home, process: process)
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(30)
    while clock.now < deadline {
      guard process.isRunning else {
        throw SpacesError(.ioError, "spaces serve exited at start (status \(process.terminationStatus)); see \(log)")
      }
      if let client = try? await SpacesClient.connect(home: home.path) {
        await client.close()
        if FileManager.default.fileExists(atPath: home.path + "/supervisor.token") { return server }
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    server.kill()
    throw SpacesError(.timeout, "spaces serve didn't answer on its socket within 30 s; see \(log)")
  }

  private init(home: SpacesHome, process: Process) {
    self.home = home
    self.process = process
    self.pid = process.processIdentifier
  }

  /// The supervisor token the server wrote.
  var token: String {
    get throws {
      try String(contentsOfFile: home.path + "/supervisor.token", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }
  }

  /// Whether the process still runs.
  var isRunning: Bool { process.isRunning }

  /// Stops the server with SIGTERM (it cancels what runs and journals it) and waits for it, at
  /// most `deadline`; then SIGKILL. Returns whether it exited by itself.
  func stop(deadline: Duration = .seconds(60)) async -> Bool {
    guard process.isRunning else { return true }
    Glibc.kill(pid, SIGTERM)
    let clock = ContinuousClock()
    let end = clock.now + deadline
    while process.isRunning, clock.now < end {
      try? await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning {
      kill()
      return false
    }
    return true
  }

  private func kill() {
    Glibc.kill(pid, SIGKILL)
    process.waitUntilExit()
  }

  /// The server's resident memory now and its high-water mark, in bytes (from
  /// `/proc/PID/status`), or nil once it has exited.
  func memory() -> (rss: Int, hwm: Int)? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    var rss: Int?
    var hwm: Int?
    for line in status.split(separator: "\n") {
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.count >= 2, let kib = Int(fields[1]) else { continue }
      if fields[0] == "VmRSS:" { rss = kib * 1024 }
      if fields[0] == "VmHWM:" { hwm = kib * 1024 }
    }
    guard let rss, let hwm else { return nil }
    return (rss, hwm)
  }

  /// The CPU seconds the server has used (user + system, its own threads).
  func cpuSeconds() -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return 0 }
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }
}

/// Samples a server's VmRSS every 100 ms on a thread of its own (so a busy task pool can't delay
/// it), until stopped.
final class RSSSampler: Sendable {
  private struct State {
    var peak = 0
    var samples = 0
    var stopped = false
  }
  private let state = LockedValue(State())
  private let done = DispatchSemaphore(value: 0)

  init(_ server: SoakServer) {
    let state = state
    let done = done
    let thread = Thread {
      // Bounded: stops when asked, or when the server has gone.
      while !state.withValue({ $0.stopped }), let memory = server.memory() {
        state.withValue {
          $0.peak = max($0.peak, memory.rss)
          $0.samples += 1
        }
        usleep(100_000)
      }
      done.signal()
    }
    thread.name = "soak-rss"
    thread.start()
  }

  /// Stops sampling; returns the highest VmRSS seen and how many samples were taken.
  func stop() -> (peak: Int, samples: Int) {
    state.withValue { $0.stopped = true }
    done.wait()
    return state.withValue { ($0.peak, $0.samples) }
  }
}

/// This process's own CPU seconds (user + system): the clients' side of the benchmark.
func ownCPUSeconds() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
  return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// A blocking Unix-socket client speaking raw lines, for the misbehaving agents that send what
/// `SpacesClient` never would, or never read. Used by one thread at a time.
final class SoakSocket: @unchecked Sendable {
  // @unchecked: its socket and read buffer are used by one thread at a time (a blocking test client).
  private var fd: Int32
  private var pending: [UInt8] = []

  /// Connects to `path`; reads and writes give up after `timeoutSeconds`.
  init(path: String, timeoutSeconds: Int = 10) throws {
    fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SpacesError(.ioError, "socket: \(String(cString: strerror(errno)))") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      Glibc.close(fd)
      throw SpacesError(.invalidPath, "the socket path is too long: \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in bytes.enumerated() { raw[index] = byte }
    }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      let code = errno
      Glibc.close(fd)
      throw SpacesError(.ioError, "connect: \(String(cString: strerror(code)))", errno: code)
    }
  }

  deinit { close() }

  /// Closes the socket (again is harmless).
  func close() {
    if fd >= 0 { Glibc.close(fd) }
    fd = -1
  }

  /// Writes all of `bytes`; false when the socket closed or the write timed out.
  @discardableResult
  func send(_ bytes: [UInt8]) -> Bool {
    guard fd >= 0 else { return false }
    var sent = 0
    while sent < bytes.count {
      let count = bytes.withUnsafeBytes { raw in
        Glibc.send(fd, raw.baseAddress.map { $0 + sent }, bytes.count - sent, Int32(MSG_NOSIGNAL))
      }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return false }
      sent += count
    }
    return true
  }

  /// Writes one line (a newline is added).
  @discardableResult
  func send(line: String) -> Bool { send(Array((line + "\n").utf8)) }

  /// The next line, or nil at the end of the stream or after the read timeout.
  func readLine() -> [UInt8]? {
    guard fd >= 0 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 65536)
    // Bounded: each pass either returns or waits for the read timeout at most.
    while true {
      if let newline = pending.firstIndex(of: 0x0A) {
        let line = Array(pending[..<newline])
        pending.removeFirst(newline + 1)
        return line
      }
      let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return nil }
      pending += buffer[..<count]
    }
  }

  /// Reads lines until the answer with `id` (skipping notifications); nil if none came.
  func answer(id: Int) -> [String: Any]? {
    while let line = readLine() {
      guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { continue }
      if (object["id"] as? Int) == id { return object }
    }
    return nil
  }

  /// Whether the server has closed its side (seen without reading what waits unread).
  var hungUp: Bool {
    guard fd >= 0 else { return true }
    // POLLRDHUP (Linux; not imported without _GNU_SOURCE): the peer closed its side.
    let readHangUp: Int16 = 0x2000
    var entry = pollfd(fd: fd, events: readHangUp, revents: 0)
    guard poll(&entry, 1, 0) == 1 else { return false }
    return entry.revents & (Int16(POLLHUP | POLLERR) | readHangUp) != 0
  }
}

/// A flag that tells the misbehaving agents to stop.
final class StopFlag: Sendable {
  private let value = LockedValue(false)
  /// Whether stop was asked.
  var isSet: Bool { value.withValue { $0 } }
  /// Asks everyone to stop.
  func set() { value.withValue { $0 = true } }
}

/// Latency statistics of a set of samples, in milliseconds.
struct LatencySummary: Codable, Sendable {
  var count: Int
  var p50: Double
  var p99: Double
  var max: Double

  init(_ samples: [Double]) {
    let sorted = samples.sorted()
    count = sorted.count
    func quantile(_ q: Double) -> Double {
      guard !sorted.isEmpty else { return 0 }
      let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
      return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
    }
    p50 = quantile(0.5)
    p99 = quantile(0.99)
    max = sorted.last ?? 0
  }
}

extension Duration {
  /// The duration in milliseconds.
  var milliseconds: Double {
    Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
  }
}
