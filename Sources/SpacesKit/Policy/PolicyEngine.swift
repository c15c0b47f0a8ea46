/// Judges every operation before it runs: allow, ask or deny, with the rules that matched and
/// reasons a person understands.
///
/// Order: hard stops and the shell analyzer's hazards can't be loosened by anything; then the
/// policy file's rules and this session's grants (among those that match, the strictest wins);
/// when none match, the preset decides.
public struct PolicyEngine: Sendable {
  /// The policy file (or a bare preset).
  public var file: PolicyFile

  /// Creates an engine for a policy.
  public init(file: PolicyFile) {
    self.file = file
  }

  /// Creates an engine for a bare preset.
  public init(preset: PolicyPreset) {
    self.init(file: PolicyFile(preset: preset))
  }

  /// The preset.
  public var preset: PolicyPreset { file.preset }

  /// The space's shell limits with the policy file's overrides applied.
  public func effectiveShellLimits(_ limits: ShellLimits) -> ShellLimits {
    var limits = limits
    for (key, value) in file.shellLimits {
      switch key {
      case "timeoutMs": limits.timeoutMs = value
      case "outputCapBytes": limits.outputCapBytes = value
      case "maxProcesses": limits.maxProcesses = value
      case "memoryBytes": limits.memoryBytes = value
      case "fileSizeBytes": limits.fileSizeBytes = value
      case "cpuSeconds": limits.cpuSeconds = value
      default: break
      }
    }
    return limits
  }

  /// The decision for one operation, given the grants a person made this session.
  public func evaluate(_ operation: Op, grants: SessionGrants = SessionGrants()) -> Decision {
    switch operation {
    case .shell(let command, _):
      return evaluateShell(command, grants: grants)
    default:
      return evaluateFile(operation, grants: grants)
    }
  }

  /// The narrow rules an `always` answer would save for `operation`; empty when it can't be
  /// covered by one (a command with substitutions, say).
  public func suggestedRules(for operation: Op, decision: Decision) -> [PolicyRule] {
    switch operation {
    case .shell(let command, _):
      let analysis = ShellAnalyzer.analyze(command)
      guard analysis.hazards.isEmpty else { return [] }
      var rules: [PolicyRule] = []
      for simple in analysis.commands where verdict(for: simple, grants: SessionGrants()).decision != .allow {
        let words = PolicyEngine.narrowPrefix(simple)
        let rule = PolicyRule(
          name: "allow " + words.joined(separator: " "), kinds: [.shell], command: words,
          decision: .allow, reason: "approved by a person")
        if !rules.contains(rule) { rules.append(rule) }
      }
      return rules
    default:
      guard let path = operation.path, let normalized = try? ConfinedWorkspace.normalize(path) else { return [] }
      return [
        PolicyRule(
          name: "allow \(operation.kind.rawValue) \(normalized)", kinds: [operation.kind], paths: [normalized],
          decision: .allow, reason: "approved by a person")
      ]
    }
  }

  /// Programs whose first argument names a subcommand (`git push`, `npm install`).
  static let programsWithSubcommands: Set<String> = [
    "apt", "apt-get", "brew", "bun", "cargo", "composer", "conda", "deno", "docker", "dotnet", "gem", "gh",
    "git", "go", "gradle", "helm", "kubectl", "make", "mvn", "npm", "pip", "pip3", "pipenv", "pnpm", "podman",
    "poetry", "rustup", "swift", "systemctl", "terraform", "uv", "yarn",
  ]

  /// The prefix an `always` rule saves: the program, and its first argument only when that is a
  /// subcommand (`git push`, `npm install`): never an argument such as a name, a flag or a URL
  /// (`./dist/greet Ada` → `./dist/greet`, `curl -s …` → `curl`, `wget https://…` → `wget`).
  public static func narrowPrefix(_ command: SimpleCommand) -> [String] {
    let name = command.program.split(separator: "/").last.map(String.init) ?? command.program
    guard programsWithSubcommands.contains(name), let first = command.arguments.first,
      let head = first.unicodeScalars.first, ("a"..."z").contains(head),
      first.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
    else { return [command.program] }
    return [command.program, first]
  }

  // MARK: - Files and messages

  private func evaluateFile(_ operation: Op, grants: SessionGrants) -> Decision {
    let kind = operation.kind
    let path = operation.path.flatMap { try? ConfinedWorkspace.normalize($0) }
    let matching = (file.rules + grants.rules).filter { rule in
      guard rule.kinds.isEmpty || rule.kinds.contains(kind), rule.command == nil else { return false }
      guard !rule.paths.isEmpty else { return true }
      guard let path else { return false }
      return rule.paths.contains { Glob($0).matches(path) }
    }
    if let decision = Self.strictest(matching) { return decision }
    return presetDecision(for: operation, path: path)
  }

  private func presetDecision(for operation: Op, path: String?) -> Decision {
    let kind = operation.kind
    let rule = "preset:\(preset.rawValue)"
    switch preset {
    case .restrictive:
      if kind.writes {
        return .deny("the restrictive policy is read-only: \(kind.rawValue) is not allowed", rule: rule)
      }
      return .allow("\(kind.rawValue) is allowed by the restrictive policy", rule: rule)
    case .standard:
      if let path, kind != .message {
        for protected in Self.protectedPaths where protected.kinds.contains(kind) {
          if protected.globs.contains(where: { Glob($0).matches(path) }) {
            return Decision(.ask, reasons: [protected.reason], rules: ["\(rule):\(protected.name)"])
          }
        }
      }
      if case .deleteFile(_, true) = operation {
        return Decision(
          .ask, reasons: ["deletes a folder and everything in it"], rules: ["\(rule):recursive-delete"])
      }
      return .allow("\(kind.rawValue) in the workspace is allowed by the standard policy", rule: rule)
    case .permissive:
      return .allow("\(kind.rawValue) is allowed by the permissive policy", rule: rule)
    }
  }

  private struct Protected {
    var name: String
    var globs: [String]
    var kinds: [Op.Kind]
    var reason: String
  }

  private static let protectedPaths: [Protected] = [
    Protected(
      name: "git-internals", globs: [".git/**", "**/.git/**"], kinds: [.createFile, .editFile, .deleteFile],
      reason: "changes git's internals (hooks and config run code later, outside your review)"),
    Protected(
      name: "env-files", globs: [".env*", "**/.env*"], kinds: [.createFile, .readFile, .editFile, .deleteFile],
      reason: "touches an .env file, which usually holds secrets"),
  ]

  // MARK: - Shell

  private func evaluateShell(_ command: String, grants: SessionGrants) -> Decision {
    let analysis = ShellAnalyzer.analyze(command)
    var verdicts: [Decision] = []
    // Hard stops first: nothing loosens them.
    for simple in analysis.commands {
      let stops = CommandJudge.hardStopRules.filter { $0.matches(simple) }
      if let stop = stops.first {
        return Decision(.deny, reasons: [stop.reason], rules: [stop.name])
      }
    }
    if preset == .restrictive, Self.strictest(file.rules.filter { $0.kinds.contains(.shell) }) == nil {
      return .deny("the restrictive policy allows no shell commands", rule: "preset:restrictive")
    }
    if let stop = analysis.hazards.first(where: { $0.kind.minimumVerdict == .deny }) {
      return Decision(.deny, reasons: [stop.detail], rules: ["analyzer:\(stop.kind.rawValue)"])
    }
    if grants.commands.contains(command) {
      return .allow("approved for this session by a person", rule: "session:exact")
    }
    // Hazards make a command at least ask; a fork bomb or a write to a device denies.
    for hazard in analysis.hazards {
      verdicts.append(
        Decision(
          max(hazard.kind.minimumVerdict, .ask), reasons: [hazard.detail], rules: ["analyzer:\(hazard.kind.rawValue)"]))
    }
    if analysis.commands.isEmpty, analysis.hazards.isEmpty {
      verdicts.append(.allow("an empty command does nothing", rule: "analyzer:empty"))
    }
    for simple in analysis.commands {
      verdicts.append(verdict(for: simple, grants: grants))
    }
    return Self.combine(verdicts)
  }

  /// The decision for one simple command: file rules and grants first, then the preset.
  private func verdict(for simple: SimpleCommand, grants: SessionGrants) -> Decision {
    let matching = (file.rules + grants.rules).filter { rule in
      guard rule.kinds.isEmpty || rule.kinds.contains(.shell), rule.paths.isEmpty else { return false }
      guard let words = rule.command else { return true }
      return ([simple.program] + simple.arguments).starts(with: words)
    }
    if let decision = Self.strictest(matching) { return decision }
    switch preset {
    case .restrictive:
      return .deny("the restrictive policy allows no shell commands", rule: "preset:restrictive")
    case .standard:
      let rules = CommandJudge.standardCommandRules.filter { $0.matches(simple) }
      guard let strictest = rules.max(by: { $0.decision < $1.decision }) else {
        return Decision(
          .ask, reasons: ["`\(simple.program)` is not on the standard policy's list of commands"],
          rules: ["preset:standard:unlisted"])
      }
      let top = rules.filter { $0.decision == strictest.decision }
      return Decision(strictest.decision, reasons: top.map(\.reason), rules: top.map(\.name))
    case .permissive:
      return .allow("allowed by the permissive policy", rule: "preset:permissive")
    }
  }

  // MARK: - Combining

  private static func strictest(_ rules: [PolicyRule]) -> Decision? {
    guard let top = rules.map(\.decision).max() else { return nil }
    let winners = rules.filter { $0.decision == top }
    return Decision(top, reasons: unique(winners.map(\.reason)), rules: unique(winners.map(\.name)))
  }

  static func combine(_ decisions: [Decision]) -> Decision {
    guard let top = decisions.map(\.decision).max() else {
      return .allow("nothing to judge", rule: "analyzer:empty")
    }
    let winners = decisions.filter { $0.decision == top }
    return Decision(top, reasons: unique(winners.flatMap(\.reasons)), rules: unique(winners.flatMap(\.rules)))
  }

  private static func unique(_ items: [String]) -> [String] {
    var seen = Set<String>()
    return items.filter { seen.insert($0).inserted }
  }
}

/// What a person allowed for the rest of this session in one space.
public struct SessionGrants: Sendable, Equatable {
  /// Exact shell command strings.
  public var commands: Set<String> = []
  /// Rules (a command prefix, or a kind and path).
  public var rules: [PolicyRule] = []

  /// No grants.
  public init() {}
}
