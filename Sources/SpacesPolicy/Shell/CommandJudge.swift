import SpacesModel

/// Judges whole command strings against command rules.
public enum CommandJudge {
  /// The decision for a whole command string.
  ///
  /// Every simple command must pass: the strictest verdict wins (deny > ask > allow).
  /// ``hardStopRules`` always apply on top of `rules`. Hazards make the decision at least
  /// `ask` (a fork bomb or raw-device write: `deny`). A simple command no rule matches gets
  /// `unmatched`. The result names the hazards first, then the rules (or unmatched commands)
  /// that decided the verdict.
  public static func judge(_ command: String, rules: [CommandRule], unmatched: Decision.Verdict)
    -> Decision
  {
    judge(ShellAnalyzer.analyze(command), rules: rules, unmatched: unmatched)
  }

  /// The decision for a command string already analyzed.
  public static func judge(
    _ analysis: ShellAnalysis, rules: [CommandRule], unmatched: Decision.Verdict
  ) -> Decision {
    if analysis.commands.isEmpty, analysis.hazards.isEmpty {
      return Decision(.allow, reasons: ["an empty command does nothing"], rules: ["analyzer:empty"])
    }
    let hazards = analysis.hazards.map {
      ($0.kind.minimumVerdict, $0.detail, "analyzer:\($0.kind.rawValue)")
    }
    var verdicts: [(verdict: Decision.Verdict, reason: String, rule: String?)] = []
    let allRules = hardStopRules + rules
    let patterned = allRules.filter { ShellPattern.isPattern($0.program) }
    let byProgram = Dictionary(
      grouping: allRules.filter { !ShellPattern.isPattern($0.program) }, by: \.program)
    for command in analysis.commands {
      if let stop = hardStop(for: command) {
        verdicts.append((stop.decision, stop.reason, stop.name))
        continue
      }
      let matching = ((byProgram[command.program] ?? []) + patterned).filter { $0.matches(command) }
      if let top = matching.map(\.decision).max() {
        verdicts += matching.filter { $0.decision == top }.map { ($0.decision, $0.reason, $0.name) }
      } else {
        let shown =
          command.program.isEmpty ? "this command" : "`\(command.program.clippedForReason)`"
        verdicts.append((unmatched, "no rule covers \(shown)", nil))
      }
    }
    let final = (hazards.map(\.0) + verdicts.map(\.verdict)).max() ?? .allow
    let deciding =
      hazards.map { ($0.1, Optional($0.2)) }
      + verdicts.filter { $0.verdict == final }.map { ($0.reason, $0.rule) }
    var decision = Decision(final)
    var seen: Set<String> = []
    for (reason, rule) in deciding {
      if seen.insert("reason:" + reason).inserted { decision.reasons.append(reason) }
      if let rule, seen.insert("rule:" + rule).inserted { decision.rules.append(rule) }
    }
    return decision
  }
}
