import Foundation
import Logging
import NIOCore
import NIOPosix
import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// How a ``SpacesServer`` listens and what it allows.
public struct SpacesServerOptions: Sendable {
  /// The Unix socket's path (default `SPACES_HOME/spaces.sock`).
  public var socketPath: String?
  /// A loopback TCP port to listen on as well (0 picks a free one); TCP needs the token.
  public var tcpPort: Int?
  /// The TCP host: only `127.0.0.1`, `::1` or `localhost`.
  public var tcpHost = "127.0.0.1"
  /// The longest message accepted, in bytes.
  public var maxMessageBytes = SpacesProtocol.defaultMaxMessageBytes
  /// Event notifications are dropped (subscriptions catch up later) while this many bytes wait.
  public var eventBufferBytes = 4 << 20
  /// A client that lets this many bytes of responses pile up unread is disconnected.
  public var maxBufferedBytes = 64 << 20
  /// A connection's next request is not read while this many bytes of answers wait for it.
  public var pauseReadingBytes = 8 << 20
  /// The largest file a `readFile` answered on the event loop that read it may take (larger
  /// ones are read in the request's task): the loop serves many connections, so what one of
  /// them asks for there must stay small (``Space/submitNow(_:actor:id:reason:readingAtMost:)``).
  public var readNowBytes = Space.readNowLimit
  /// The server-wide budget for answers and events waiting for clients to read them (see
  /// ``ReplyBudget``): events give way at half of it; past it, the connection holding the most
  /// is disconnected.
  public var replyBudgetBytes = 256 << 20
  /// The server-wide budget for request lines of 1 MiB or more while they are read and wait to
  /// be handled (see ``InboundAccount``); it counts against the reply budget too.
  public var inboundBudgetBytes = 64 << 20
  /// The most requests one connection may have running at once.
  public var maxInFlight = 1024
  /// The most shell commands one connection may have running at once; more wait as `queued`.
  public var maxRunningPerConnection = 8
  /// Whether agents may create spaces (sandboxed, of their own folder, no network, a preset no
  /// wider than their own space's); off by default: only a supervisor creates spaces.
  public var allowAgentSpaces = false
  /// The version `hello` reports.
  public var version = "dev"

  /// Default options.
  public init() {}
}

/// The runtime as a server: JSON-RPC 2.0 over newline-delimited JSON on a Unix socket (and
/// optionally loopback TCP). See the protocol section of the README.
public final class SpacesServer: Sendable {
  /// The runtime every connection shares.
  public let runtime: SpacesRuntime
  /// The options.
  public let options: SpacesServerOptions
  /// The Unix socket's path.
  public let socketPath: String
  /// The TCP port actually bound, if any.
  public let tcpPort: Int?
  let token: String
  let logger: Logger
  private let channels: [Channel]
  private let registry: ConnectionRegistry
  private let accepting: LockedValue<Task<Void, Never>?> = LockedValue(nil)
  /// Gives malloc's free pages back once a second (``SpacesRuntime/releaseFreeMemory()``): one
  /// task for the whole process however many servers it runs (the tests run many at once, and
  /// `malloc_trim` walks every arena under its lock). Started by the first server.
  private static let trimming = Task.detached {
    while !Task.isCancelled {
      try? await Task.sleep(for: .seconds(1))
      SpacesRuntime.releaseFreeMemory()
    }
  }
  private let connectionCounter = LockedValue(0)
  /// What every connection's unread lines may take together.
  let budget: ReplyBudget
  /// What large request lines may take while they are read (see ``InboundAccount``).
  let inbound: ByteGate

  /// Binds the socket (and the TCP port) and starts accepting connections.
  ///
  /// Refuses to start when another server answers on the socket; replaces a stale socket file.
  public static func start(
    runtime: SpacesRuntime, options: SpacesServerOptions = SpacesServerOptions(),
    logger: Logger = Logger(label: "spaces-serve")
  ) async throws -> SpacesServer {
    let home = runtime.home
    SpacesRuntime.enableSpareProcesses()
    SpacesRuntime.returnLargeBuffers()
    SpacesRuntime.raiseDescriptorLimit()
    let token = try SupervisorToken.loadOrCreate(in: home)
    let path = options.socketPath ?? home.path + "/" + SpacesProtocol.socketName
    try claimSocketPath(path)
    if let port = options.tcpPort, !["127.0.0.1", "::1", "localhost"].contains(options.tcpHost) || port < 0 {
      throw SpacesError(
        .invalidRequest,
        "--listen accepts only a loopback address (127.0.0.1, ::1 or localhost), not \(options.tcpHost)")
    }
    let maxMessage = options.maxMessageBytes
    let registry = ConnectionRegistry()
    let inbound = ByteGate(limit: options.inboundBudgetBytes)
    // A connection's lines go to its RequestReader, which hands them to the connection once the
    // accept loop has made it; the registry closes connections accepted while the server stops.
    let initializer = { (tcp: Bool) -> @Sendable (Channel) -> EventLoopFuture<Accepted> in
      { channel in
        channel.eventLoop.makeCompletedFuture {
          guard registry.admit(channel) else {
            channel.close(promise: nil)
            throw ChannelError.ioOnClosedChannel
          }
          let account = InboundAccount(gate: inbound, trusted: !tcp) { channel.read() }
          let handlers = channel.pipeline.syncOperations
          try handlers.addHandler(InboundPause(account: account))
          try handlers.addHandler(ByteToMessageHandler(LineDecoder(maxLength: maxMessage, account: account)))
          // Lines under 1 MiB are not counted: few of them wait unread.
          let reader = RequestReader(account: account, logger: logger)
          try handlers.addHandler(reader)
          return Accepted(
            channel: channel, reader: NIOLoopBound(reader, eventLoop: channel.eventLoop), account: account)
        }
      }
    }
    let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.backlog, value: 4096)
      .childChannelOption(.allowRemoteHalfClosure, value: false)
    let unix = try await bindPrivately(bootstrap, path: path, initializer: initializer(false))
    var listeners = [(unix, false)]
    if let port = options.tcpPort {
      do {
        let tcp = try await bootstrap.bind(
          host: options.tcpHost, port: port, childChannelInitializer: initializer(true))
        listeners.append((tcp, true))
      } catch {
        try? await unix.channel.close()
        throw SpacesError(.ioError, "can't listen on \(options.tcpHost):\(port): \(error)")
      }
    }
    let server = SpacesServer(
      runtime: runtime, options: options, socketPath: path,
      tcpPort: listeners.count > 1 ? listeners[1].0.channel.localAddress?.port : nil, token: token,
      logger: logger, channels: listeners.map(\.0.channel), registry: registry, inbound: inbound)
    let bound = listeners
    _ = Self.trimming
    server.accepting.withValue {
      $0 = Task {
        await withDiscardingTaskGroup { group in
          for (listener, tcp) in bound {
            group.addTask { await server.accept(listener, tcp: tcp) }
          }
        }
      }
    }
    return server
  }

  private init(
    runtime: SpacesRuntime, options: SpacesServerOptions, socketPath: String, tcpPort: Int?, token: String,
    logger: Logger, channels: [Channel], registry: ConnectionRegistry, inbound: ByteGate
  ) {
    self.runtime = runtime
    self.options = options
    self.socketPath = socketPath
    self.tcpPort = tcpPort
    self.token = token
    self.logger = logger
    self.channels = channels
    self.registry = registry
    self.inbound = inbound
    self.budget = ReplyBudget(limit: options.replyBudgetBytes, contents: [runtime.contents, inbound])
  }

  /// Waits until the server stops (after ``shutdown()``).
  public func wait() async {
    await accepting.withValue { $0 }?.value
  }

  /// Stops listening, disconnects every client (cancelling their operations) and removes the socket.
  public func shutdown() async {
    // Closing the listeners ends the accept loops, which then cancel their connections; the
    // loops are not cancelled directly, so every accepted channel is still closed properly.
    for channel in channels { try? await channel.close() }
    // Connections accepted as the listeners closed may never reach an accept loop: close them too.
    for channel in registry.closeAll() { channel.close(promise: nil) }
    await accepting.withValue { $0 }?.value
    unlink(socketPath)
  }

  private func accept(_ listener: NIOAsyncChannel<Accepted, Never>, tcp: Bool) async {
    do {
      try await listener.executeThenClose { inbound in
        await withDiscardingTaskGroup { group in
          do {
            for try await accepted in inbound {
              group.addTask { await self.serve(accepted, tcp: tcp) }
            }
          } catch {
            logger.error("stopped accepting connections: \(error)")
          }
          // Stop listening now rather than after the connections end, so nobody connects to a
          // listener that no longer serves.
          listener.channel.close(promise: nil)
          group.cancelAll()
        }
      }
    } catch {
      logger.debug("listener closed: \(error)")
    }
  }

  private func serve(_ accepted: Accepted, tcp: Bool) async {
    let channel = accepted.channel
    let number = connectionCounter.withValue {
      $0 += 1
      return $0
    }
    let outbox = Outbox(
      channel: channel, eventLimit: options.eventBufferBytes, hardLimit: options.maxBufferedBytes,
      pauseLimit: options.pauseReadingBytes, budget: budget)
    let connection = ServerConnection(
      server: self, outbox: outbox, tcp: tcp, number: number, inbound: accepted.account)
    // From here on, lines are handled on the connection's event loop (``RequestReader``); this
    // task only waits for the connection to close (or for the server to stop, which closes it).
    let (reader, contents) = (accepted.reader, runtime.contents)
    channel.eventLoop.execute { reader.value.attach(connection, outbox: outbox, contents: contents) }
    await withTaskCancellationHandler {
      do {
        try await channel.closeFuture.get()
      } catch {
        logger.debug("connection \(number) closed: \(error)")
      }
    } onCancel: {
      channel.close(promise: nil)
    }
    connection.disconnected()
    await connection.cancelRequests()
  }

  /// Binds the Unix socket so that nobody else can connect at any moment: it is bound inside a
  /// fresh 0700 folder, made 0600, and only then renamed to `path` (binding at `path` and
  /// chmod-ing afterwards would leave it open to the umask for an instant).
  private static func bindPrivately(
    _ bootstrap: ServerBootstrap, path: String,
    initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Accepted>
  ) async throws -> NIOAsyncChannel<Accepted, Never> {
    let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    let folder = parent + "/.spaces-bind-\(getpid())"
    let staged = folder + "/s"
    // Too long for a socket address: bind in place (chmod follows at once).
    guard staged.utf8.count < 100, mkdir(folder, 0o700) == 0 else {
      let unix = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
      chmod(path, 0o600)
      return unix
    }
    defer { rmdir(folder) }
    let unix: NIOAsyncChannel<Accepted, Never>
    do {
      unix = try await bootstrap.bind(unixDomainSocketPath: staged, childChannelInitializer: initializer)
    } catch {
      unlink(staged)
      throw error
    }
    guard chmod(staged, 0o600) == 0, rename(staged, path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? await unix.channel.close()
      unlink(staged)
      throw SpacesError(.ioError, "can't put the socket at \(path): \(reason)")
    }
    return unix
  }

  /// Makes `path` free for a new socket: refuses if a server answers there, removes a stale one.
  static func claimSocketPath(_ path: String) throws(SpacesError) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    guard info.st_mode & S_IFMT == S_IFSOCK else {
      throw SpacesError(.ioError, "\(path) exists and is not a socket; move it away first")
    }
    if SocketProbe.isLive(path) {
      throw SpacesError(
        .spaceExists, "a server is already running at \(path); stop it first, or use it (spaces op talks to it)")
    }
    guard unlink(path) == 0 || errno == ENOENT else {
      throw SpacesError(.ioError, "can't remove the stale socket \(path): \(String(cString: strerror(errno)))")
    }
  }
}

/// An accepted connection: its channel, the handler that reads its lines, and the account of
/// what its lines take of the inbound budget.
struct Accepted: Sendable {
  var channel: Channel
  var reader: NIOLoopBound<RequestReader>
  var account: InboundAccount
}

/// The server's open connections, so that shutting down closes every one of them, including a
/// connection accepted in the instant the listener closed that no accept loop will ever serve.
final class ConnectionRegistry: Sendable {
  private struct State {
    var open: [ObjectIdentifier: Channel] = [:]
    var closing = false
  }
  private let state = LockedValue(State())

  /// Records a new connection; false once the server is shutting down.
  func admit(_ channel: Channel) -> Bool {
    let admitted = state.withValue { state -> Bool in
      guard !state.closing else { return false }
      state.open[ObjectIdentifier(channel)] = channel
      return true
    }
    if admitted {
      channel.closeFuture.whenComplete { [state] _ in
        state.withValue { _ = $0.open.removeValue(forKey: ObjectIdentifier(channel)) }
      }
    }
    return admitted
  }

  /// Refuses new connections from now on and returns the open ones.
  func closeAll() -> [Channel] {
    state.withValue { state in
      state.closing = true
      return Array(state.open.values)
    }
  }
}

/// Checks whether something listens on a Unix socket.
public enum SocketProbe {
  /// True when connecting to the socket at `path` succeeds.
  public static func isLive(_ path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in bytes.enumerated() { raw[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    return connected == 0
  }
}
