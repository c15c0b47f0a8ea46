import ArgumentParser
import Foundation
import SpacesKit
import SpacesModel
import SpacesSandbox

struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the spaces runtime as a server (JSON-RPC 2.0 over a Unix socket).",
    discussion: """
      Listens on $SPACES_HOME/spaces.sock (mode 0600). Agents connect and submit operations; approvals wait \
      for a supervisor (the workbench, or `spaces approve`). The supervisor token is in $SPACES_HOME/supervisor.token.
      """
  )

  @Option(
    help: ArgumentHelp("Also listen on loopback TCP, e.g. 127.0.0.1:7777 (needs the token).", valueName: "HOST:PORT"))
  var listen: String?
  @Option(help: "The largest message accepted, in bytes.")
  var maxMessageBytes = SpacesProtocol.defaultMaxMessageBytes
  @Flag(
    help:
      "Let agents create spaces: only sandboxed ones, of their own folder, without network, no wider than their own space's policy."
  )
  var allowAgentSpaces = false
  @OptionGroup var options: HomeOptions

  func validate() throws {
    if let listen, Self.parse(listen) == nil {
      throw ValidationError("--listen takes 127.0.0.1:PORT, [::1]:PORT or localhost:PORT; other addresses are refused")
    }
    if maxMessageBytes < 1024 { throw ValidationError("--max-message-bytes must be at least 1024") }
  }

  static func parse(_ listen: String) -> (host: String, port: Int)? {
    guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
      (0...65535).contains(port)
    else { return nil }
    let host = listen[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    return ["127.0.0.1", "::1", "localhost"].contains(host) ? (host, port) : nil
  }

  func run() async throws {
    let runtime = SpacesRuntime(home: options.spacesHome, supervised: true, logger: CLI.logger)
    var serverOptions = SpacesServerOptions()
    serverOptions.maxMessageBytes = maxMessageBytes
    serverOptions.version = SpacesVersion.current
    serverOptions.allowAgentSpaces = allowAgentSpaces
    if let listen, let address = Self.parse(listen) {
      serverOptions.tcpHost = address.host
      serverOptions.tcpPort = address.port
    }
    // Said before the socket exists, so whoever waits for the socket has it in the log already.
    if let why = BubblewrapBackend.persistentSandboxUnavailable {
      CLI.logger.warning("bubblewrap spaces start a sandbox for every shell command: \(why)")
    }
    let server: SpacesServer
    do {
      server = try await SpacesServer.start(runtime: runtime, options: serverOptions, logger: CLI.logger)
    } catch let error as SpacesError {
      throw CLI.fail(error)
    }
    let stop = Signals.onTermination { Task { await server.shutdown() } }
    defer { for source in stop { source.cancel() } }
    var place = server.socketPath
    if let port = server.tcpPort { place += " and \(serverOptions.tcpHost):\(port)" }
    CLI.writeError("spaces: serving on \(place)\n")
    await server.wait()
    await server.shutdown()
  }
}

/// Runs a handler on SIGINT or SIGTERM.
enum Signals {
  /// Installs the handler; cancel the returned sources to remove it.
  static func onTermination(_ handler: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler(handler: handler)
      source.resume()
      return source
    }
  }
}
