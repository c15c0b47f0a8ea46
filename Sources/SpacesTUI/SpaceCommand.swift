import ArgumentParser
import Foundation
import SpacesKit
import SpacesModel
import SpacesPolicy
import SpacesSandbox

extension PolicyPreset: ExpressibleByArgument {}
extension BackendKind: ExpressibleByArgument {}

struct SpaceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "space",
    abstract: "Create, list, inspect and remove spaces.",
    subcommands: [Create.self, List.self, Show.self, Remove.self]
  )

  struct Create: ParsableCommand {
    // No `-h`: a name mistyped with a leading dash (`-dash`) would read as `-d -a -s -h` and print help.
    static let configuration = CommandConfiguration(abstract: "Create a space.", helpNames: [.long])

    @Argument(help: "The space's name: lowercase letters, digits, '-', '_', '.'.")
    var name: String
    @Option(help: "The policy preset: restrictive, standard or permissive.")
    var policy: PolicyPreset = .standard
    @Option(help: "Where commands run: bubblewrap (isolated), container, or host (no isolation).")
    var backend: BackendKind = .bubblewrap
    @Option(help: "Use this existing folder as the workspace (it is never deleted with the space).")
    var workspace: String?
    @Flag(help: "Let shell commands reach the network.")
    var network = false
    @Option(help: "The container image, for the container backend (default \(ContainerBackend.defaultImage)).")
    var image: String?
    @Option(help: "The container engine's CLI, for the container backend: podman, docker or a path.")
    var engine: String?
    @Flag(help: "Print the new space's config as JSON.")
    var json = false
    @OptionGroup var options: HomeOptions

    func run() throws {
      do {
        let config = try options.spacesHome.create(
          name: name, policy: policy, backend: backend, workspace: workspace, network: network,
          image: image, engine: engine)
        if json {
          CLI.print(SpacesJSON.pretty(config))
        } else {
          CLI.print(
            "created space \(config.name) (\(SpaceText.backend(config)), \(config.policy.rawValue) policy) at \(config.workspace)"
          )
        }
      } catch {
        throw CLI.fail(error)
      }
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the spaces.")
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var options: HomeOptions

    func run() throws {
      let home = options.spacesHome
      var configs: [SpaceConfig] = []
      var problems: [String] = []
      for name in home.names() {
        do { configs.append(try home.load(name)) } catch { problems.append(error.message) }
      }
      if json {
        CLI.print(SpacesJSON.pretty(configs))
      } else if configs.isEmpty {
        CLI.print("no spaces yet; create one with `spaces space create NAME`")
      } else {
        let rows = configs.map {
          [
            $0.name, SpaceText.backend($0), SpaceText.preset(home, $0), $0.capabilities.network ? "on" : "off",
            $0.workspace,
          ]
        }
        CLI.print(SpaceText.table(header: ["NAME", "BACKEND", "POLICY", "NETWORK", "WORKSPACE"], rows: rows))
      }
      for problem in problems {
        CLI.writeError("spaces: \(problem)\n")
      }
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one space's config.")
    @Argument(help: "The space's name.") var name: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var options: HomeOptions

    func run() throws {
      do {
        let home = options.spacesHome
        let config = try home.load(name)
        let session = ShellSessionStore(path: home.sessionPath(name)).load()
        if json {
          let slow = ChangeTracker.slowRecording(folder: home.spaceFolder(name) + "/changes")
          CLI.print(SpacesJSON.pretty(ShownSpace(config: config, session: session, slowRecording: slow)))
          return
        }
        let journal = try Journal(path: home.journalPath(name))
        let limits = config.limits
        CLI.print(
          """
          name:       \(config.name)
          workspace:  \(config.workspace)\(config.ownsWorkspace ? "" : " (brought with --workspace; kept when the space is removed)")
          backend:    \(SpaceText.backend(config))\(config.image.map { " image \($0)" } ?? "")
          policy:     \(SpaceText.policy(home, config))
          network:    \(config.capabilities.network ? "on" : "off")
          limits:     files \(SpaceText.bytes(limits.maxFileSizeBytes)), timeout \(limits.shell.timeoutMs) ms, output \(SpaceText.bytes(limits.shell.outputCapBytes)) per stream, \(limits.shell.maxProcesses) processes, memory \(SpaceText.bytes(limits.shell.memoryBytes)), CPU \(limits.shell.cpuSeconds) s
          created:    \(config.created)
          journal:    \(home.journalPath(name)) (\(journal.lastSeq) events)
          shell:      in \(SpaceText.folder(session.cwd))\(SpaceText.variables(session))
          """)
        if !config.undo.enabled {
          CLI.print("recording:  off (undo.enabled is false)")
        } else if let slow = ChangeTracker.slowRecording(folder: home.spaceFolder(name) + "/changes") {
          CLI.print("recording:  SLOWER: \(slow)")
        }
        for issue in journal.issues {
          CLI.writeError("spaces: \(issue)\n")
        }
      } catch {
        throw CLI.fail(error)
      }
    }
  }

  struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rm",
      abstract: "Remove a space: its config, journal and own workspace (a --workspace folder is kept).")
    @Argument(help: "The space's name.") var name: String
    @OptionGroup var options: HomeOptions

    func run() throws {
      do {
        let home = options.spacesHome
        let config = try home.load(name)
        try home.delete(name)
        let kept = config.ownsWorkspace ? "" : "; kept its workspace \(config.workspace)"
        CLI.print("removed space \(name)\(kept)")
      } catch {
        throw CLI.fail(error)
      }
    }
  }
}

/// Small text helpers for the CLI's human output.
enum SpaceText {
  /// The shell session's folder for a person: `the workspace root` or `src/lib`, control
  /// characters shown as `^X`.
  static func folder(_ cwd: String) -> String {
    cwd == "." ? "the workspace root" : EventText.sanitize(cwd)
  }

  /// `, carrying FOO, BAR` for the variables a session carries; empty when none.
  static func variables(_ session: ShellSession) -> String {
    let names = session.environment.keys.sorted()
    guard !names.isEmpty else { return "" }
    let shown = names.prefix(10).map { EventText.sanitize($0) }.joined(separator: ", ")
    return ", carrying \(shown)\(names.count > 10 ? " and \(names.count - 10) more" : "")"
  }

  /// The preset policy.yaml names (it rules; space.json's only seeded it), or `invalid`.
  static func preset(_ home: SpacesHome, _ config: SpaceConfig) -> String {
    let store = try? PolicyStore(path: home.policyPath(config.name), fallback: config.policy)
    return (try? store?.current().preset.rawValue) ?? "invalid"
  }

  /// The preset in force and where the policy file is (or why it can't be read).
  static func policy(_ home: SpacesHome, _ config: SpaceConfig) -> String {
    let path = home.policyPath(config.name)
    do {
      let store = try PolicyStore(path: path, fallback: config.policy)
      let engine = try store.current()
      return "\(engine.preset.rawValue), \(engine.file.rules.count) rules (\(path))"
    } catch {
      return "INVALID: \(error.message)"
    }
  }

  static func backend(_ config: SpaceConfig) -> String {
    config.backend.isolated ? config.backend.rawValue : "host (UNISOLATED)"
  }

  static func bytes(_ count: Int) -> String {
    if count >= 1 << 30, count % (1 << 30) == 0 { return "\(count >> 30) GiB" }
    if count >= 1 << 20, count % (1 << 20) == 0 { return "\(count >> 20) MiB" }
    if count >= 1 << 10, count % (1 << 10) == 0 { return "\(count >> 10) KiB" }
    return "\(count) B"
  }

  static func table(header: [String], rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
      row.enumerated().map { index, cell in
        index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }.joined(separator: "\n")
  }
}

/// `spaces space show --json`: the config's fields and the shell session.
struct ShownSpace: Encodable {
  let config: SpaceConfig
  let session: ShellSession
  /// Why recording for undo reads the whole workspace for each command (nil: it doesn't).
  let slowRecording: String?

  private enum Keys: String, CodingKey { case session, slowRecording }
  private struct Session: Encodable {
    /// The folder relative to the workspace (`.` the root).
    let cwd: String
    /// The names of the variables carried from earlier commands.
    let variables: [String]
  }

  func encode(to encoder: any Encoder) throws {
    try config.encode(to: encoder)
    var container = encoder.container(keyedBy: Keys.self)
    try container.encode(
      Session(cwd: session.cwd, variables: session.environment.keys.sorted()), forKey: .session)
    try container.encodeIfPresent(slowRecording, forKey: .slowRecording)
  }
}
