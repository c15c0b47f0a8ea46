import ArgumentParser
import Foundation
import SpacesKit
import SpacesModel
import SpacesPolicy

/// `spaces bench prompts`: the share of recorded agent operations the standard preset would
/// ask about, per backend.
struct BenchPrompts: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "prompts",
    abstract: "Replay recorded agent operations through the policy and print how many would ask.",
    discussion: """
      Reads a corpus of JSON lines ({"source":…,"kind":"shell","command":…} or a file operation
      with "path"), judges each operation with the same decision function as `spaces policy
      check`, once per backend profile (network off), and prints the share that asks with the
      asks grouped by rule. The default corpus is Tests/Fixtures/transcripts/ops.jsonl.
      """)

  @Option(help: "The corpus (JSON lines).") var corpus = "Tests/Fixtures/transcripts/ops.jsonl"
  @Option(help: "The preset: restrictive, standard or permissive.") var preset = "standard"
  @Option(help: "How many ask rules to list per backend.") var top = 12

  func run() throws {
    guard let preset = PolicyPreset(rawValue: preset) else {
      throw ValidationError("--preset must be restrictive, standard or permissive")
    }
    let samples: [PromptRate.Sample]
    guard let data = FileManager.default.contents(atPath: corpus) else {
      throw CLI.fail(SpacesError(.notFound, "no corpus at \(corpus)"))
    }
    do {
      samples = try PromptRate.parse(String(decoding: data, as: UTF8.self))
    } catch {
      throw CLI.fail(error)
    }
    let sources = Set(samples.map { $0.source.split(separator: ":").first.map(String.init) ?? $0.source })
    CLI.print("\(samples.count) operations from \(sources.count) repositories; preset \(preset.rawValue), network off")
    for kind in [BackendKind.bubblewrap, .container, .host] {
      let engine = PolicyEngine(preset: preset, profile: .of(kind, network: false, workspace: "/workspace"))
      let report = PromptRate.report(samples, engine: engine)
      CLI.print(
        String(
          format: "\n%@: %d of %d ask (%.1f%%), %d denied", kind.rawValue, report.asked, report.total,
          report.askShare * 100, report.denied))
      for group in report.askRules.prefix(top) {
        let example = group.example.replacingOccurrences(of: "\n", with: " ")
        CLI.print(
          "  \(String(group.count).padding(toLength: 5, withPad: " ", startingAt: 0))\(group.rule)   e.g. \(String(example.prefix(90)))"
        )
      }
    }
  }
}
