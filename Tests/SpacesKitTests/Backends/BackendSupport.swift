import SpacesModel
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

/// Records what `onOutput` was given.
final class Recorder: Sendable {
  struct Chunk: Sendable {
    var kind: OutputStreamKind
    var text: String
    var at: ContinuousClock.Instant
  }
  private let store = LockedValue<[Chunk]>([])

  var onOutput: @Sendable (OutputStreamKind, String) -> Void {
    { [self] kind, text in store.withValue { $0.append(Chunk(kind: kind, text: text, at: .now)) } }
  }

  var all: [Chunk] { store.withValue { $0 } }
  func text(_ kind: OutputStreamKind) -> String {
    all.filter { $0.kind == kind }.map(\.text).joined()
  }
}

/// Processes whose argv matches, found by scanning /proc.
func processes(where matches: ([String]) -> Bool) -> [pid_t] {
  guard let dir = opendir("/proc") else { return [] }
  defer { closedir(dir) }
  var found: [pid_t] = []
  while let entry = readdir(dir) {
    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    guard let pid = pid_t(name), pid != getpid() else { continue }
    guard let cmdline = Sys.readFile("/proc/\(pid)/cmdline"), !cmdline.isEmpty else { continue }
    let argv = cmdline.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
      .dropLast()
    if matches(Array(argv)) { found.append(pid) }
  }
  return found
}

func processes(argv: [String]) -> [pid_t] { processes { $0 == argv } }

/// Kills processes matching a predicate (cleanup that runs whatever happened).
func killAll(where matches: ([String]) -> Bool) {
  for pid in processes(where: matches) { kill(pid, SIGKILL) }
}

/// A TCP listener on 127.0.0.1 with a random port (connections queue in the backlog).
struct Listener {
  let fd: Int32
  let port: UInt16
  init?() {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      _ = Glibc.close(fd)
      return nil
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    self.fd = fd
    self.port = UInt16(bigEndian: address.sin_port)
  }
  func close() { _ = Glibc.close(fd) }
}
