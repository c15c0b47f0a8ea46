import ArgumentParser
import Foundation
import Logging
import SpacesKit
import SpacesWorkbench

/// Opens the workbench for `spaces` with no subcommand.
enum WorkbenchCommand {
  static func run(_ command: Spaces) async throws {
    guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
      FileHandle.standardError.write(
        Data("spaces: the workbench needs a terminal; for scripts use the subcommands (spaces --help)\n".utf8))
      throw ExitCode(ExitStatus.usage)
    }
    let home = command.options.spacesHome
    let environment = ProcessInfo.processInfo.environment
    do {
      try SpacesHome.validate(name: command.space)
      if (try? home.load(command.space)) == nil {
        _ = try home.create(name: command.space, policy: .standard, backend: .bubblewrap)
      }
    } catch {
      throw CLI.fail(error)
    }
    try? FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
    let logPath = home.path + "/workbench.log"
    let logger = Logger(label: "workbench") { FileLogHandler(label: $0, path: logPath) }

    let themeName = command.theme ?? environment["SPACES_THEME"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
    let paths = Theme.searchPaths(environment: environment, executable: CommandLine.arguments[0])
    var theme = Theme.builtIn
    var problem: String?
    do {
      theme = try Theme.load(name: themeName, searchPaths: paths)
    } catch {
      problem = "theme: \(error.message)"
    }
    let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
    let runtime = SpacesRuntime(home: home, supervised: true, logger: logger)
    // Serve this runtime on the socket, so agents (`--agent`, `spaces mcp`, the SDKs) work in
    // it while the person approves here. When another server owns the socket, stay embedded.
    let socket = home.path + "/" + SpacesProtocol.socketName
    var server: SpacesServer?
    var connection = "embedded"
    if SocketProbe.isLive(socket) {
      connection = "embedded (another spaces serve owns the socket)"
    } else {
      do {
        server = try await SpacesServer.start(runtime: runtime, logger: logger)
        connection = "serving spaces.sock"
      } catch {
        logger.warning("could not serve \(socket): \(error)")
      }
    }
    let options = WorkbenchOptions(
      space: command.space, demo: command.demo, agent: command.agent, theme: theme, themeProblem: problem,
      noColor: noColor, home: home, demoPause: .milliseconds(max(0, command.demoPauseMs)), run: command.run,
      connection: connection)
    let app: WorkbenchApp
    do {
      app = try WorkbenchApp(options: options, runtime: runtime, logger: logger)
    } catch {
      FileHandle.standardError.write(Data("spaces: \(error)\n".utf8))
      throw ExitCode(ExitStatus.failed)
    }
    let failure = await app.run()
    await server?.shutdown()
    server = nil
    if let failure {
      FileHandle.standardError.write(Data("spaces: \(failure)\n".utf8))
      throw ExitCode(ExitStatus.failed)
    }
  }
}
