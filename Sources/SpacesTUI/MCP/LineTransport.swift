import Foundation
import Logging
import MCP
import SpacesKit
import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// An MCP transport over two file descriptors carrying newline-delimited JSON (stdio).
///
/// Reads block on a thread of their own and writes go straight to the descriptor, so a message
/// costs no polling delay and a message of several MiB passes in one piece.
actor LineTransport: Transport {
  nonisolated let logger: Logger
  private let input: Int32
  private let output: Int32
  private let stream: AsyncThrowingStream<Data, any Error>
  private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
  private var reader: Thread?

  /// Uses `input` and `output` (stdin and stdout by default).
  init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, logger: Logger) {
    self.input = input
    self.output = output
    self.logger = logger
    (stream, continuation) = AsyncThrowingStream.makeStream(of: Data.self)
  }

  func connect() async throws {
    guard reader == nil else { return }
    let input = input
    let continuation = continuation
    let thread = Thread {
      var pending = Data()
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      while true {
        let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { break }
        var start = 0
        for index in 0..<count where buffer[index] == 0x0A {
          pending.append(contentsOf: buffer[start..<index])
          if !pending.isEmpty { continuation.yield(pending) }
          pending = Data()
          start = index + 1
        }
        pending.append(contentsOf: buffer[start..<count])
      }
      if !pending.isEmpty { continuation.yield(pending) }
      continuation.finish()
    }
    thread.start()
    reader = thread
  }

  func disconnect() async {
    continuation.finish()
  }

  func send(_ data: Data) async throws {
    var bytes = [UInt8](data)
    if bytes.last != 0x0A { bytes.append(0x0A) }
    var done = 0
    while done < bytes.count {
      let written = bytes.withUnsafeBytes { write(output, $0.baseAddress.map { $0 + done }, bytes.count - done) }
      if written < 0, errno == EINTR { continue }
      guard written > 0 else {
        throw SpacesError(.ioError, "can't write to the MCP client: \(String(cString: strerror(errno)))")
      }
      done += written
    }
  }

  func receive() -> AsyncThrowingStream<Data, any Error> {
    stream
  }
}
