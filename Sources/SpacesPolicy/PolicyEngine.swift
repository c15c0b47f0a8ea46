import Foundation
import SpacesModel

/// Judges every operation before it runs: allow, ask or deny, with the rules that matched and
/// reasons a person understands.
///
/// The engine judges with the space's ``IsolationProfile``: in a sandbox it asks only for what
/// the sandbox can't contain (the network when the space has none, protected paths, changes
/// inside the workspace can be undone); without one, for anything it can't see into.
///
/// Order: hard stops and what can't be parsed can't be loosened by anything; protected paths
/// the command names ask unless a person granted this exact command; then the policy file's
/// rules and this session's grants (among those that match, the strictest wins); when none
/// match, the preset decides with the profile.
public struct PolicyEngine: Sendable {
  /// The policy file (or a bare preset).
  public var file: PolicyFile
  /// What the backend guarantees, with the network as the space's config and the policy file
  /// decide it (the restrictive preset has none).
  public let profile: IsolationProfile

  /// Creates an engine for a policy. `profile` is the backend's with the space's network
  /// capability; the file's `network:` overrides it. Without one, no sandbox is assumed.
  public init(file: PolicyFile, profile: IsolationProfile = .host()) {
    self.file = file
    self.profile = profile.with(network: file.preset != .restrictive && (file.network ?? profile.network))
  }

  /// Creates an engine for a bare preset.
  public init(preset: PolicyPreset, profile: IsolationProfile = .host()) {
    self.init(file: PolicyFile(preset: preset), profile: profile)
  }

  /// The preset.
  public var preset: PolicyPreset { file.preset }

  /// Rule names that mark an ask about reaching the network: when a person approves such an
  /// operation, that one operation runs with the network on.
  public static let networkRulePrefix = "sandbox:network"

  /// Whether `decision` asked because the command reaches the network the space doesn't have,
  /// so an approval grants the network to that one operation.
  public func approvalGrantsNetwork(_ decision: Decision) -> Bool {
    !profile.network && decision.decision == .ask && decision.rules.contains { $0.hasPrefix(Self.networkRulePrefix) }
  }

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

  /// The decision for one operation, given the grants a person made this session and, for a
  /// shell command, the shell session it runs in (its folder and carried variables; nil is a
  /// fresh one).
  public func evaluate(
    _ operation: Op, grants: SessionGrants = SessionGrants(), session: ShellSession? = nil
  ) -> Decision {
    switch operation {
    case .shell(let command, _, let fresh):
      return evaluateShell(command, grants: grants, session: fresh ? .fresh : session ?? .fresh)
    default:
      return evaluateFile(operation, grants: grants)
    }
  }

  /// The narrow rules an `always` answer would save for `operation`; empty when it can't be
  /// covered by one (a command with substitutions, say).
  public func suggestedRules(for operation: Op, decision: Decision) -> [PolicyRule] {
    switch operation {
    case .shell(let command, _, _):
      let analysis = ShellAnalyzer.analyze(command)
      let applicable = analysis.hazards.filter { !(profile.sandboxed && $0.kind.containedBySandbox) }
      // A network ask is approved per operation: a saved rule couldn't turn the network on.
      guard applicable.isEmpty, protectedFindings(analysis).isEmpty, !approvalGrantsNetwork(decision) else {
        return []
      }
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
      guard let path = operation.path, let normalized = try? RelativePath.normalize(path) else { return [] }
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
    let path = operation.path.flatMap { try? RelativePath.normalize($0) }
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
    if preset != .restrictive, let path, kind != .message, let entry = protectedEntry(for: path, kind: kind) {
      return Decision(
        .ask, reasons: ["`\(path)` is a protected path: \(entry.reason)"], rules: ["protected:\(entry.name)"])
    }
    switch preset {
    case .restrictive:
      if kind.writes {
        return .deny("the restrictive policy is read-only: \(kind.rawValue) is not allowed", rule: rule)
      }
      return .allow("\(kind.rawValue) is allowed by the restrictive policy", rule: rule)
    case .standard:
      // Deleting a folder inside the workspace is recorded like any change and can be undone.
      return .allow("\(kind.rawValue) in the workspace is allowed by the standard policy", rule: rule)
    case .permissive:
      return .allow("\(kind.rawValue) is allowed by the permissive policy", rule: rule)
    }
  }

  /// The protected entry `kind` touches at `path`, if any.
  private func protectedEntry(for path: String, kind: Op.Kind) -> ProtectedPaths.Entry? {
    switch kind {
    case .readFile: file.protected.readEntry(for: path)
    case .createFile, .editFile, .deleteFile: file.protected.writeEntry(for: path)
    case .shell, .message: nil
    }
  }

  // MARK: - Shell

  /// The key of a command a person approved for the session: the command in its folder.
  public static func sessionKey(command: String, folder: String) -> String {
    folder.isEmpty ? command : folder + "\u{0}" + command
  }

  private func evaluateShell(_ command: String, grants: SessionGrants, session: ShellSession) -> Decision {
    let analysis = ShellAnalyzer.analyze(command, folder: session.folder)
    var verdicts: [Decision] = []
    // Hard stops first: nothing loosens them.
    for simple in analysis.commands {
      if let stop = CommandJudge.hardStop(for: simple) {
        return Decision(.deny, reasons: [stop.reason], rules: [stop.name])
      }
    }
    if preset == .restrictive, Self.strictest(file.rules.filter { $0.kinds.contains(.shell) }) == nil {
      return .deny("the restrictive policy allows no shell commands", rule: "preset:restrictive")
    }
    if let stop = analysis.hazards.first(where: { $0.kind.minimumVerdict == .deny }) {
      return Decision(.deny, reasons: [stop.detail], rules: ["analyzer:\(stop.kind.rawValue)"])
    }
    if grants.commands.contains(Self.sessionKey(command: command, folder: session.folder)) {
      return .allow("approved for this session by a person", rule: "session:exact")
    }
    // Variables carried from earlier commands change how this one runs, as a `VAR=… cmd`
    // prefix would (PATH, LD_PRELOAD …): without a sandbox that is the person's to decide.
    if !profile.sandboxed, !session.environment.isEmpty {
      let names = session.environment.keys.sorted().prefix(8).joined(separator: ", ")
      verdicts.append(
        Decision(
          .ask,
          reasons: [
            "the shell session carries exported variables from earlier commands (\(names)), which can change how "
              + "programs run; a fresh shell (\"fresh\": true) carries none"
          ], rules: ["analyzer:\(Hazard.Kind.environmentPrefix.rawValue)"]))
    }
    // Hazards make a command at least ask, unless the sandbox contains what they hide.
    for hazard in analysis.hazards where !(profile.sandboxed && hazard.kind.containedBySandbox) {
      if hazard.kind == .networkRedirect, profile.sandboxed {
        if !profile.network, preset != .permissive { verdicts.append(networkAsk(hazard.detail)) }
        continue
      }
      verdicts.append(
        Decision(
          max(hazard.kind.minimumVerdict, .ask), reasons: [hazard.detail], rules: ["analyzer:\(hazard.kind.rawValue)"]))
    }
    // Protected paths: the sandbox can't protect what runs later on the person's machine.
    verdicts += protectedFindings(analysis)
    if analysis.commands.isEmpty, analysis.hazards.isEmpty {
      verdicts.append(.allow("an empty command does nothing", rule: "analyzer:empty"))
    }
    for simple in analysis.commands {
      verdicts.append(verdict(for: simple, grants: grants))
    }
    return Self.combine(verdicts)
  }

  /// The asks for protected paths the command names in redirects and arguments.
  func protectedFindings(_ analysis: ShellAnalysis) -> [Decision] {
    var found: [Decision] = []
    for access in analysis.accesses {
      for path in access.workspacePaths(workspaceAliases: profile.workspacePaths) {
        let entries = access.pattern ? patternEntries(path, mode: access.mode) : entries(for: path, mode: access.mode)
        for entry in entries {
          let verb = access.mode == .read || entry.access == .readWrite && access.mode != .write ? "names" : "writes"
          let decision = Decision(
            .ask,
            reasons: [
              "\(access.route) \(verb) the protected path `\(path)`: \(entry.reason)"
                + (profile.sandboxed ? " (the sandbox can't protect you from that)" : "")
            ],
            rules: ["protected:\(entry.name)"])
          if !found.contains(decision) { found.append(decision) }
        }
      }
    }
    return found
  }

  private func entries(for path: String, mode: PathAccess.Mode) -> [ProtectedPaths.Entry] {
    var result: [ProtectedPaths.Entry] = []
    if mode != .read, let entry = file.protected.writeEntry(for: path) { result.append(entry) }
    if mode != .write, let entry = file.protected.readEntry(for: path), !result.contains(entry) { result.append(entry) }
    return result
  }

  /// Protected entries a glob pattern such as `.git/hook?/*` may name: the pattern's folders
  /// are matched one by one against each entry's glob (either way round, with `fnmatch`).
  private func patternEntries(_ pattern: String, mode: PathAccess.Mode) -> [ProtectedPaths.Entry] {
    let parts = pattern.split(separator: "/").map(String.init)
    return file.protected.entries.filter { entry in
      guard mode != .read || entry.access == .readWrite else { return false }
      return entry.globs.contains { glob in
        var example = glob.split(separator: "/").map(String.init)
        while example.first == "**" { example.removeFirst() }
        for (part, expected) in zip(parts, example) where expected != "**" {
          let plainPart = part.filter { !"*?[]{}".contains($0) }
          let plainExpected = expected.filter { !"*?[]{}".contains($0) }
          guard fnmatch(part, plainExpected, 0) == 0 || fnmatch(expected, plainPart, 0) == 0 else { return false }
        }
        return !parts.isEmpty
      }
    }
  }

  private func networkAsk(_ what: String) -> Decision {
    Decision(
      .ask,
      reasons: [
        "\(what), and this space has no network: approving runs this one operation with the network on"
      ],
      rules: [Self.networkRulePrefix])
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
    case .standard where profile.sandboxed:
      return sandboxVerdict(for: simple)
    case .standard:
      let rules = (StandardRules.hostAsked + CommandJudge.standardCommandRules).filter { $0.matches(simple) }
      guard let strictest = rules.max(by: { $0.decision < $1.decision }) else {
        return Decision(
          .ask,
          reasons: [
            "`\(simple.program.clippedForReason)` is not on the standard policy's list of commands, and it would run on your machine with no sandbox"
          ],
          rules: ["preset:standard:unlisted"])
      }
      let top = rules.filter { $0.decision == strictest.decision }
      return Decision(strictest.decision, reasons: top.map(\.reason), rules: top.map(\.name))
    case .permissive:
      return .allow(
        "allowed by the permissive policy; it \(profile.summary)",
        rule: profile.sandboxed ? "preset:permissive:sandbox" : "preset:permissive")
    }
  }

  /// The standard preset in a sandbox: what stays inside runs (deleting and rewriting in the
  /// workspace too: every change is recorded and can be undone); reaching the network the space
  /// doesn't have asks.
  private func sandboxVerdict(for simple: SimpleCommand) -> Decision {
    if !profile.network, let rule = StandardRules.network.first(where: { $0.matches(simple) }),
      !StandardRules.isLocalClone(simple)
    {
      return networkAsk("`\(simple.program.clippedForReason)` \(rule.reason)")
    }
    return .allow(profile.summary, rule: "sandbox:contained")
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

  /// The paths this policy protects: the defaults and the policy's own (`protect:`), for the
  /// sandbox's read-only binds and the runtime's check after each command.
  public var protected: ProtectedPaths { file.protected }
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
