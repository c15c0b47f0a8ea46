import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesClientKit
@testable import SpacesKit
@testable import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// A server on a fresh SPACES_HOME with one host-backend space "s", stopped by `stop()`.
struct TestServer {
  let folder: TempFolder
  let home: SpacesHome
  let server: SpacesServer
  var token: String { server.token }
  var socketPath: String { server.socketPath }

  static func start(
    policy: PolicyPreset = .permissive, configure: (inout SpacesServerOptions) -> Void = { _ in }
  ) async throws -> TestServer {
    let folder = TempFolder("srv")
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "s", policy: policy, backend: .host)
    var options = SpacesServerOptions()
    configure(&options)
    let server = try await SpacesServer.start(runtime: SpacesRuntime(home: home), options: options)
    return TestServer(folder: folder, home: home, server: server)
  }

  func agent(space: String? = nil) async throws -> SpacesClient {
    let client = try await SpacesClient.connect(unixPath: socketPath)
    try await client.hello(role: .agent, space: space)
    return client
  }

  func supervisor() async throws -> SpacesClient {
    let client = try await SpacesClient.connect(unixPath: socketPath)
    try await client.hello(role: .supervisor, token: token)
    return client
  }

  func stop() async { await server.shutdown() }
}

/// A blocking line-oriented socket for raw protocol tests; reads time out after 60 s (the whole
/// suite runs at once on two cores, and a server under that load can take seconds to answer).
final class RawSocket {
  let fd: Int32
  private var buffer: [UInt8] = []
  /// Whether the last failed read timed out (rather than reaching the end).
  private(set) var timedOut = false

  init(unixPath: String, timeoutSeconds: Int = Int(patience.components.seconds)) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in unixPath.utf8.enumerated() { raw[index] = byte }
    }
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard result == 0 else {
      let code = errno
      close(fd)
      throw SpacesError(.ioError, "connect failed: \(code)")
    }
    self.fd = fd
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  deinit { close(fd) }

  func send(_ text: String) { sendBytes(Array(text.utf8)) }

  func sendBytes(_ bytes: [UInt8]) {
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + done }, bytes.count - done) }
      if n <= 0 { return }
      done += n
    }
  }

  /// The next line, or nil on EOF or timeout.
  func readLine() -> String? {
    while true {
      if let newline = buffer.firstIndex(of: 0x0A) {
        let line = String(decoding: buffer[..<newline], as: UTF8.self)
        buffer.removeSubrange(...newline)
        return line
      }
      var chunk = [UInt8](repeating: 0, count: 65536)
      let n = read(fd, &chunk, chunk.count)
      if n <= 0 {
        timedOut = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
        return nil
      }
      buffer += chunk[..<n]
    }
  }

  /// Sends one line and returns the next response (skipping notifications) as JSON.
  func request(_ text: String) -> [String: Any]? {
    responseLine(after: text).flatMap(Self.object)
  }

  /// The next line, read on a GCD thread: a blocking read on the concurrency pool holds one of
  /// its threads (two here), which the server under test may need to answer it.
  func readLine() async -> String? {
    try? await blocking { self.readLine() }
  }

  /// ``request(_:)``, reading on a GCD thread (see ``readLine()-swift.method``).
  func request(_ text: String) async -> [String: Any]? {
    (try? await blocking { self.responseLine(after: text) })?.flatMap(Self.object)
  }

  /// Sends one line and returns the next response line (skipping notifications).
  private func responseLine(after text: String) -> String? {
    send(text + "\n")
    while let line = readLine() {
      guard let object = Self.object(line) else { return nil }
      if object["method"] == nil { return line }
    }
    return nil
  }

  private static func object(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
  }
}

// A test's raw sockets are used by one thread at a time: the test's, then a blocking reader's.
extension RawSocket: @unchecked Sendable {}

extension [String: Any] {
  var errorCode: Int? { (self["error"] as? [String: Any])?["code"] as? Int }
  var errorMessage: String { (self["error"] as? [String: Any])?["message"] as? String ?? "" }
}

/// Runs blocking code (raw sockets) on a GCD thread, never on the concurrency pool the server uses.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
  }
}

/// The ids of a process's children.
func childProcesses(of pid: Int32) -> [Int32] {
  let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
  return text.split(separator: " ").compactMap { Int32($0) }
}

/// Expects `body` to throw the ``SpacesError`` of an error response with the JSON-RPC `code`.
func expectRPCError(
  _ code: Int, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
  do {
    try await body()
    Issue.record("expected error \(code), but it succeeded", sourceLocation: sourceLocation)
  } catch let error as SpacesError {
    #expect(error.rpcCode == code, "\(error.message)", sourceLocation: sourceLocation)
    #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
  } catch {
    Issue.record("expected error \(code), got \(error)", sourceLocation: sourceLocation)
  }
}

/// Collects `count` events from a stream, failing after `deadline`.
func collect(_ stream: AsyncStream<Event>, count: Int, deadline: Duration = patience) async throws -> [Event] {
  try await withThrowingTaskGroup(of: [Event]?.self) { group in
    group.addTask {
      var events: [Event] = []
      for await event in stream {
        events.append(event)
        if events.count == count { break }
      }
      return events
    }
    group.addTask {
      try await Task.sleep(for: deadline)
      return nil
    }
    let first = try await group.next() ?? nil
    group.cancelAll()
    guard let first else {
      Issue.record("timed out collecting \(count) events")
      throw CancellationError()
    }
    return first
  }
}
