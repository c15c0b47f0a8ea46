import ArgumentParser
import Foundation
import SpacesKit
import SpacesModel
import SpacesPolicy
import SpacesSandbox

struct PolicyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "policy",
    abstract: "Inspect a space's policy.",
    subcommands: [Check.self, Path.self]
  )

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the policy's decision for an operation, without running it.",
      discussion: "Exit status: 0 allow, 3 deny, 4 ask, 1 error, 2 bad usage.")
    @Argument(help: "The space's name.") var space: String
    @Argument(help: "The operation as JSON, or - for stdin.") var operation: String
    @Flag(help: "Print JSON: {\"decision\":…,\"reasons\":[…],\"rules\":[…]}.") var json = false
    @OptionGroup var options: HomeOptions

    func run() throws {
      let text =
        operation == "-"
        ? CLI.readStandardInput() : operation
      let decision: Decision
      let engine: PolicyEngine
      do {
        let parsed = try Op.parse(text)
        let home = options.spacesHome
        let config = try home.load(space)
        let profile = Space.profile(config: config, backend: Backends.make(for: config, home: home))
        let store = try PolicyStore(path: home.policyPath(space), fallback: config.policy, profile: profile)
        engine = try store.current()
        // Judged in the folder the space's shell session is in, as the runtime would.
        decision = engine.evaluate(parsed, session: ShellSessionStore(path: home.sessionPath(space)).load())
      } catch {
        throw CLI.fail(error)
      }
      if json {
        CLI.print(SpacesJSON.line(decision))
      } else {
        CLI.print(decision.decision.rawValue)
        CLI.print("  backend \(engine.profile.backend), \(engine.preset.rawValue) preset: \(engine.profile.summary)")
        for (index, reason) in decision.reasons.enumerated() {
          let rule = index < decision.rules.count ? " [\(decision.rules[index])]" : ""
          CLI.print("  - \(reason)\(rule)")
        }
        if decision.reasons.count < decision.rules.count {
          CLI.print("  rules: " + decision.rules.joined(separator: ", "))
        }
      }
      switch decision.decision {
      case .allow: return
      case .deny: throw ExitCode(ExitStatus.denied)
      case .ask: throw ExitCode(4)
      }
    }
  }

  struct Path: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the path of a space's policy file.")
    @Argument(help: "The space's name.") var space: String
    @OptionGroup var options: HomeOptions

    func run() throws {
      do {
        let home = options.spacesHome
        _ = try home.load(space)
        CLI.print(home.policyPath(space))
      } catch {
        throw CLI.fail(error)
      }
    }
  }
}
