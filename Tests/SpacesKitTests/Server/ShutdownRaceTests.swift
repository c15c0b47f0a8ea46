import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

@Suite struct ShutdownRaceTests {
  /// Clients that connect while the server shuts down are closed, never left hanging, and the
  /// server process survives (an accepted connection nobody serves must still be torn down).
  @Test func connectionsRacingAShutdownAreClosed() async throws {
    for _ in 0..<20 {
      let server = try await TestServer.start()
      let path = server.socketPath
      let stop = LockedValue(false)
      // A plain thread: its blocking reads must not hold a thread of the cooperative pool.
      let hung = LockedValue(0)
      let done = DispatchSemaphore(value: 0)
      Thread {
        while !stop.withValue({ $0 }) {
          // A generous timeout: a process another test spawns meanwhile (with Foundation's
          // Process, which passes on every descriptor) may hold a copy of an accepted socket
          // until it exits; an orphan nobody closes holds it for ever.
          guard let socket = try? RawSocket(unixPath: path, timeoutSeconds: 20) else {
            // Refused (the server is gone): a short pause, not a spin that takes a core from
            // the test that is to stop this loop.
            usleep(500)
            continue
          }
          // An accepted connection either answers or is closed; a timeout means it was left open.
          socket.send(#"{"jsonrpc":"2.0","id":1,"method":"hello"}"# + "\n")
          if socket.readLine() == nil, socket.timedOut { hung.withValue { $0 += 1 } }
        }
        done.signal()
      }.start()
      try await Task.sleep(for: .milliseconds(5))
      await server.stop()
      stop.withValue { $0 = true }
      try await blocking { done.wait() }
      #expect(hung.withValue { $0 } == 0, "a connection accepted during shutdown was left open")
    }
  }
}
