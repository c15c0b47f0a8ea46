import ArgumentParser
import Foundation
import Logging
import MCP
import SpacesClientKit
import SpacesKit
import SpacesModel

struct MCPCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mcp",
    abstract: "Serve a space to an MCP client (Claude Code, Codex, Cursor…) over stdio.",
    discussion: """
      Exposes the six operations as tools. Every call goes through the space's policy and journal;
      a call the policy asks about waits for a person's decision in the workbench or via
      `spaces approve` while `spaces serve` runs. Logs go to stderr; stdout is the MCP channel.
      """)

  @Option(help: "The space to work in (created with the standard policy if missing).")
  var space = "default"
  @OptionGroup var options: HomeOptions

  func run() async throws {
    var logger = Logger(label: "spaces-mcp") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .warning
    let gateway: Gateway
    do throws(SpacesError) {
      gateway = try await Gateway.open(home: options.spacesHome, space: space, runtime: options.runtime())
    } catch {
      throw CLI.fail(error)
    }
    let server = Server(
      name: "agent-spaces", version: SpacesVersion.current,
      instructions: "A sandboxed workspace (space \"\(space)\"). Paths are relative to the workspace root.",
      capabilities: .init(tools: .init(listChanged: false)))
    let name = space
    await server.withMethodHandler(ListTools.self) { _ in .init(tools: SpaceTools.all) }
    await server.withMethodHandler(CallTool.self) { params in
      let call: (op: Op, reason: String?)
      do throws(SpacesError) {
        call = try SpaceTools.operation(name: params.name, arguments: params.arguments)
      } catch {
        return .init(content: [.text(text: error.message, annotations: nil, _meta: nil)], isError: true)
      }
      return SpaceTools.result(await gateway.submit(call.op, to: name, reason: call.reason))
    }
    let transport = LineTransport(logger: logger)
    try await server.start(transport: transport)
    await server.waitUntilCompleted()
  }
}

/// Where MCP calls go: the running `spaces serve` (where a person can approve), or a runtime
/// in this process when no server runs (where an ask is denied at once, saying why).
enum Gateway: Sendable {
  case server(SpacesClient)
  case embedded(SpacesRuntime)

  static func open(home: SpacesHome, space: String, runtime: SpacesRuntime) async throws(SpacesError) -> Gateway {
    if SocketProbe.isLive(home.path + "/" + SpacesProtocol.socketName) {
      let client = try await SpacesClient.connect(home: home.path)
      _ = try await client.hello(role: .agent, space: space, client: "spaces-mcp")
      return .server(client)
    }
    if (try? runtime.home.load(space)) == nil { _ = try runtime.home.create(name: space) }
    _ = try runtime.space(space)
    return .embedded(runtime)
  }

  func submit(_ operation: Op, to space: String, reason: String?) async -> OperationResult {
    switch self {
    case .embedded(let runtime):
      return await runtime.submit(operation, to: space, reason: reason)
    case .server(let client):
      do throws(SpacesError) {
        return try await client.submit(operation, to: space, reason: reason)
      } catch {
        return .callFailed(operation, in: space, error: error)
      }
    }
  }
}
