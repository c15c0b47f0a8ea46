import Foundation
import SpacesModel

/// Replays recorded agent operations through the policy and counts how many would ask: the
/// prompt-rate benchmark (`spaces bench prompts`).
///
/// The corpus is JSON lines, one operation each:
/// `{"source":"owner/repo:path","kind":"shell","command":"…"}` or
/// `{"source":…,"kind":"readFile","path":"…"}` (also `createFile`, `editFile`, `deleteFile`).
public enum PromptRate {
  /// One recorded operation.
  public struct Sample: Sendable, Equatable {
    /// Where it was recorded: repository and path.
    public var source: String
    /// The operation.
    public var operation: Op
  }

  /// What one profile made of a corpus.
  public struct Report: Sendable, Equatable {
    /// The backend's name.
    public var backend: String
    /// How many operations were judged.
    public var total: Int
    /// How many asked.
    public var asked: Int
    /// How many were denied.
    public var denied: Int
    /// The asks grouped by the rule that decided them, most frequent first.
    public var askRules: [(rule: String, count: Int, example: String)]

    /// The share that asked, 0 to 1.
    public var askShare: Double { total == 0 ? 0 : Double(asked) / Double(total) }

    public static func == (lhs: Report, rhs: Report) -> Bool {
      lhs.backend == rhs.backend && lhs.total == rhs.total && lhs.asked == rhs.asked && lhs.denied == rhs.denied
    }
  }

  /// Parses a corpus; lines that aren't operations are errors naming the line.
  public static func parse(_ text: String) throws(SpacesError) -> [Sample] {
    var samples: [Sample] = []
    for (number, line) in text.split(separator: "\n").enumerated() {
      guard let data = line.data(using: .utf8),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let kind = object["kind"] as? String, let source = object["source"] as? String
      else {
        throw SpacesError(.invalidRequest, "line \(number + 1): not a recorded operation")
      }
      let path = object["path"] as? String ?? ""
      let operation: Op
      switch kind {
      case "shell": operation = .shell(command: object["command"] as? String ?? "", timeoutMs: nil)
      case "readFile": operation = .readFile(path: path)
      case "createFile": operation = .createFile(path: path, content: "", encoding: .utf8)
      case "editFile": operation = .editFile(path: path, oldText: "", newText: "")
      case "deleteFile": operation = .deleteFile(path: path, recursive: object["recursive"] as? Bool ?? false)
      default: throw SpacesError(.invalidRequest, "line \(number + 1): unknown kind \(kind)")
      }
      samples.append(Sample(source: source, operation: operation))
    }
    return samples
  }

  /// Judges every sample with `engine` (the same ``PolicyEngine/evaluate(_:grants:)`` the
  /// runtime and `spaces policy check` call).
  public static func report(_ samples: [Sample], engine: PolicyEngine) -> Report {
    var asked = 0
    var denied = 0
    var byRule: [String: (count: Int, example: String)] = [:]
    for sample in samples {
      let decision = engine.evaluate(sample.operation)
      switch decision.decision {
      case .allow: continue
      case .deny: denied += 1
      case .ask: asked += 1
      }
      guard decision.decision == .ask else { continue }
      let rule = decision.rules.first ?? "unnamed"
      let example: String
      switch sample.operation {
      case .shell(let command, _, _): example = command
      default: example = "\(sample.operation.kind.rawValue) \(sample.operation.path ?? "")"
      }
      byRule[rule, default: (0, example)].count += 1
    }
    let rules = byRule.map { (rule: $0.key, count: $0.value.count, example: $0.value.example) }
      .sorted { $0.count != $1.count ? $0.count > $1.count : $0.rule < $1.rule }
    return Report(
      backend: engine.profile.backend, total: samples.count, asked: asked, denied: denied, askRules: rules)
  }
}
