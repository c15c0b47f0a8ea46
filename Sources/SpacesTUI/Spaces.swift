import ArgumentParser
import Foundation
import Logging
import SpacesKit
import SpacesModel

/// The `spaces` command: the workbench (with no subcommand) and the scripting CLI.
struct Spaces: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "spaces",
    abstract: "Isolated workspaces for AI agents, with a policy engine and a journal.",
    discussion:
      "With no subcommand, opens the workbench: the terminal UI for watching, approving, browsing and editing.",
    version: SpacesVersion.current,
    subcommands: [
      SpaceCommand.self, OpCommand.self, LogCommand.self, ChangesCommand.self, UndoCommand.self, RestoreCommand.self,
      PolicyCommand.self, DemoCommand.self, BenchCommand.self,
      MCPCommand.self, ServeCommand.self, ApprovalsCommand.self, ApproveCommand.self, WorkbenchOptionsCommand.self,
    ],
    defaultSubcommand: WorkbenchOptionsCommand.self
  )
}

/// `spaces` with no subcommand (or `spaces workbench`): the workbench.
struct WorkbenchOptionsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "workbench",
    abstract: "Open the workbench: watch the agent, approve or deny, browse and edit (the default).")

  @Option(help: "The space to open (created with the standard policy and bubblewrap backend if missing).")
  var space = "default"
  @Flag(help: "Run the scripted demo agent in the space, so every pane has something to show.")
  var demo = false
  @Option(
    help: ArgumentHelp("Start an agent process connected through the socket of `spaces serve`.", valueName: "CMD"))
  var agent: String?
  @Option(help: "The colour theme (default, light, high-contrast, mono; default: $SPACES_THEME or default).")
  var theme: String?
  @Option(help: ArgumentHelp("The pause between the demo agent's steps.", valueName: "MS"))
  var demoPauseMs = 1200
  @Option(help: ArgumentHelp("Run this shell command as the person when the workbench opens.", valueName: "CMD"))
  var run: String?
  @Flag(help: "Leave the mouse to the terminal (no click to focus, no wheel scrolling; selecting text works as usual).")
  var noMouse = false
  @OptionGroup var options: HomeOptions

  func run() async throws {
    try await WorkbenchCommand.run(self)
  }
}

/// The exit statuses of the CLI.
enum ExitStatus {
  static let completed: Int32 = 0
  static let failed: Int32 = 1
  static let usage: Int32 = 2
  static let denied: Int32 = 3
}

/// Options every command that touches spaces takes.
struct HomeOptions: ParsableArguments {
  @Option(
    name: .customLong("home"),
    help: ArgumentHelp(
      "The folder that holds the spaces (default: $SPACES_HOME, else $XDG_DATA_HOME/agent-spaces, else ~/.local/share/agent-spaces).",
      valueName: "DIR"))
  var home: String?

  var spacesHome: SpacesHome {
    home.map(SpacesHome.init(path:)) ?? .fromEnvironment(ProcessInfo.processInfo.environment)
  }

  /// A runtime embedded in this process; nobody can answer approvals in it.
  func runtime() -> SpacesRuntime {
    SpacesRuntime(home: spacesHome, supervised: false, logger: CLI.logger)
  }
}

enum CLI {
  static let logger: Logger = {
    var logger = Logger(label: "spaces") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .warning
    return logger
  }()

  /// Prints an error for a person on stderr and returns the exit status for it.
  static func fail(_ error: SpacesError) -> ExitCode {
    CLI.writeError("spaces: \(error.message)\n")
    switch error.code {
    case .invalidRequest, .invalidName: return ExitCode(ExitStatus.usage)
    default: return ExitCode(ExitStatus.failed)
    }
  }

  static func print(_ text: String) {
    writeOut(text + "\n")
  }

  /// All of stdin as text (empty when it can't be read), without Foundation's trapping reads.
  static func readStandardInput() -> String {
    String(decoding: (try? FileHandle.standardInput.readToEnd()) ?? Data(), as: UTF8.self)
  }

  /// Writes to stdout; false when nobody reads it any more (a closed pipe, a terminal that went
  /// away). Never traps, unlike Foundation's `FileHandle.write(_:)`.
  @discardableResult
  static func writeOut(_ text: String) -> Bool {
    write(text, to: STDOUT_FILENO)
  }

  /// Writes to stderr; false when nobody reads it any more.
  @discardableResult
  static func writeError(_ text: String) -> Bool {
    write(text, to: STDERR_FILENO)
  }

  private static func write(_ text: String, to fd: Int32) -> Bool {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
      let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if written < 0 && errno == EINTR { continue }
      guard written > 0 else { return false }
      bytes = bytes.dropFirst(written)
    }
    return true
  }
}

@main
enum Main {
  static func main() async {
    do {
      var command = try Spaces.parseAsRoot()
      if var command = command as? any AsyncParsableCommand {
        try await command.run()
      } else {
        try command.run()
      }
    } catch {
      let code = Spaces.exitCode(for: error)
      if code == .validationFailure {
        CLI.writeError(Spaces.fullMessage(for: error) + "\n")
        exit(ExitStatus.usage)
      }
      Spaces.exit(withError: error)
    }
  }
}
