import ArgumentParser
import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

struct OpCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "op",
    abstract: "Run one operation in a space and print its result as JSON.",
    discussion: """
      OPERATION is one JSON object, e.g. '{"kind":"shell","command":"ls -la"}', or - to read it from stdin.
      Exit status: 0 completed, 1 failed, 2 bad usage or invalid JSON, 3 denied.
      """
  )

  @Argument(help: "The space's name.") var space: String
  @Argument(help: "The operation as JSON, or - for stdin.") var operation: String
  @Option(
    help: ArgumentHelp(
      "Why you need this (at most \(StatedReason.maxLength) characters): journaled with the operation and shown to the person who approves it.",
      valueName: "TEXT"))
  var reason: String?
  @Flag(help: "Indent the result JSON.") var pretty = false
  @OptionGroup var options: HomeOptions

  func run() async throws {
    let text: String
    if operation == "-" {
      text = CLI.readStandardInput()
    } else {
      text = operation
    }
    let parsed: Op
    let statedReason: String?
    do {
      parsed = try Op.parse(text)
      statedReason = try StatedReason.validate(reason)
    } catch {
      throw CLI.fail(error)
    }
    let result = try await submit(parsed, reason: statedReason)
    if result.id.isEmpty, let error = result.error {
      // The space itself could not be opened: say so plainly, as for other commands.
      throw CLI.fail(SpacesError(.init(rawValue: error.code), error.message))
    }
    CLI.print(pretty ? SpacesJSON.pretty(result) : SpacesJSON.line(result))
    throw ExitCode(result.processExitCode)
  }

  /// Runs the operation on the server when one answers at SPACES_HOME, else in this process.
  private func submit(_ op: Op, reason: String?) async throws -> OperationResult {
    let home = options.spacesHome
    guard SocketProbe.isLive(home.path + "/" + SpacesProtocol.socketName) else {
      return await options.runtime().submit(op, to: space, reason: reason)
    }
    do throws(SpacesError) {
      let client = try await SpacesClient.connect(home: home.path)
      try await client.hello(role: .agent, client: "spaces-op")
      let result = try await client.submit(op, to: space, reason: reason)
      await client.close()
      return result
    } catch {
      throw CLI.fail(error)
    }
  }
}
