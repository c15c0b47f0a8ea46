import ArgumentParser
import Foundation
import Logging
import SpacesKit
import SpacesModel
import SpacesWorkbench

/// Opens the workbench for `spaces` with no subcommand.
enum WorkbenchCommand {
  /// The away-mode `notify` command: `SPACES_NOTIFY`, else `notify = …` in
  /// `SPACES_HOME/workbench.conf` (lines `key = value`, `#` comments).
  static func notifyCommand(home: SpacesHome, environment: [String: String]) -> String? {
    if let command = environment["SPACES_NOTIFY"], !command.isEmpty { return command }
    guard let text = try? String(contentsOfFile: home.path + "/workbench.conf", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let parts = line.split(separator: "=", maxSplits: 1)
      guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "notify" else { continue }
      let command = parts[1].trimmingCharacters(in: .whitespaces)
      return command.isEmpty ? nil : command
    }
    return nil
  }

  static func run(_ command: WorkbenchOptionsCommand) async throws {
    let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
    if term == "dumb" {
      CLI.writeError(
        "spaces: this terminal (TERM=dumb) can't show the workbench: it can't move the cursor or draw panes.\n"
          + "  Follow a space's output with: spaces log -f SPACE\n"
          + "  See and answer its approvals: spaces approvals, spaces approve ID (--deny to deny)\n"
          + "  Or run the workbench in a terminal with TERM=xterm-256color.\n")
      throw ExitCode(ExitStatus.usage)
    }
    guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
      CLI.writeError("spaces: the workbench needs a terminal; for scripts use the subcommands (spaces --help)\n")
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
    // Attach to a running `spaces serve`; otherwise embed the runtime and serve it on the
    // socket, so agents (`--agent`, `spaces mcp`, the SDKs) are supervised here.
    let socket = home.path + "/" + SpacesProtocol.socketName
    var server: SpacesServer?
    let source: any WorkbenchSource
    let submitAsAgent: @Sendable (Op, String) async -> OperationResult
    if SocketProbe.isLive(socket) {
      do {
        let attached = try await ServerSource.attach(home: home, logger: logger)
        source = attached
        submitAsAgent = { operation, space in await attached.submitAsAgent(operation, to: space) }
      } catch {
        CLI.writeError("spaces: can't attach to the server on \(socket): \(error)\n")
        throw ExitCode(ExitStatus.failed)
      }
    } else {
      let runtime = SpacesRuntime(home: home, supervised: true, logger: logger)
      var connection = "embedded"
      do {
        server = try await SpacesServer.start(runtime: runtime, logger: logger)
        connection = "serving spaces.sock"
      } catch {
        logger.warning("could not serve \(socket): \(error)")
      }
      source = EmbeddedSource(runtime: runtime, connection: connection)
      submitAsAgent = { operation, space in await runtime.submit(operation, to: space, actor: .agent) }
    }
    let options = WorkbenchOptions(
      space: command.space, demo: command.demo, agent: command.agent, theme: theme, themeProblem: problem,
      noColor: noColor, home: home, demoPause: .milliseconds(max(0, command.demoPauseMs)), run: command.run,
      notifyCommand: notifyCommand(home: home, environment: environment), mouse: !command.noMouse)
    let app: WorkbenchApp
    do {
      app = try WorkbenchApp(options: options, source: source, submitAsAgent: submitAsAgent, logger: logger)
    } catch {
      CLI.writeError("spaces: \(error)\n")
      throw ExitCode(ExitStatus.failed)
    }
    let failure = await app.run()
    await server?.shutdown()
    server = nil
    if let failure {
      CLI.writeError("spaces: \(failure)\n")
      throw ExitCode(ExitStatus.failed)
    }
  }
}
