import Foundation
import SpacesModel
import Yams

/// A space's policy file (`policy.yaml` in the space's folder): a preset, rules, and settings.
///
/// ```yaml
/// preset: standard            # restrictive | standard | permissive
/// network: false              # optional: overrides the space's capability
/// approvalTimeoutSeconds: 300 # 0 denies at once when nobody decides
/// protect:                    # more protected paths (globs): writing them asks
///   - deploy/**
///   - {path: "secrets/**", read: true}   # reading them asks too
/// rules:
///   - name: no-push
///     kinds: [shell]
///     command: git push
///     decision: deny
///     reason: pushing happens after review, not from the sandbox
///   - kinds: [createFile, editFile, deleteFile]
///     paths: ["migrations/**"]
///     decision: ask
///     reason: migrations change production data
/// ```
public struct PolicyFile: Sendable, Equatable {
  /// The preset the rules refine.
  public var preset: PolicyPreset
  /// Whether shell commands may reach the network, when the file says.
  public var network: Bool?
  /// How long an operation waits for a person before it is denied.
  public var approvalTimeoutSeconds: Int
  /// Shell limits that override the space's config, key by key.
  public var shellLimits: [String: Int]
  /// The rules, in file order.
  public var rules: [PolicyRule]
  /// The protected paths: ``ProtectedPaths/defaults`` plus the file's `protect:` entries.
  public var protected: ProtectedPaths

  /// A policy with only a preset.
  public init(preset: PolicyPreset) {
    self.preset = preset
    network = nil
    approvalTimeoutSeconds = 300
    shellLimits = [:]
    rules = []
    protected = ProtectedPaths()
  }

  /// The text of a new policy file for a space.
  public static func template(preset: PolicyPreset, space: String) -> String {
    """
    # The policy of the space "\(space)". Agent Spaces reads it before every operation.
    # Rules are checked first; among the rules that match, the strictest wins
    # (deny > ask > allow). When no rule matches, the preset decides. Hard stops and what
    # the shell analyzer can't prove harmless can't be loosened by a rule.
    #
    #   - name: no-push               # optional
    #     kinds: [shell]              # createFile readFile editFile deleteFile shell message
    #     command: git push           # shell: program and argument prefix
    #     paths: ["secrets/**"]       # file operations: globs (* within a folder, ** any depth)
    #     decision: deny              # allow | ask | deny
    #     reason: pushing happens after review
    preset: \(preset.rawValue)
    approvalTimeoutSeconds: 300
    rules:

    """
  }

  /// The values `approvalTimeoutSeconds` accepts.
  public static let approvalTimeoutRange = 0...86_400

  static let shellLimitKeys = [
    "timeoutMs", "outputCapBytes", "maxProcesses", "memoryBytes", "fileSizeBytes", "cpuSeconds",
  ]

  /// Parses a policy file; errors name the file, line and column.
  public static func parse(_ text: String, file: String = "policy.yaml") throws(SpacesError) -> PolicyFile {
    func fail(_ mark: Mark?, _ message: String) -> SpacesError {
      let place = mark.map { "\(file):\($0.line):\($0.column)" } ?? file
      return SpacesError(.invalidConfig, "\(place): \(message)")
    }
    let root: Node?
    do {
      root = try Yams.compose(yaml: text)
    } catch let error as YamlError {
      switch error {
      case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
        .composer(_, let problem, let mark, _):
        throw fail(mark, "not valid YAML: \(problem)")
      default:
        throw fail(nil, "not valid YAML: \(error)")
      }
    } catch {
      throw fail(nil, "not valid YAML: \(error)")
    }
    guard let root else { throw fail(nil, "the file is empty; it needs at least `preset: standard`") }
    guard let mapping = root.mapping else {
      throw fail(root.mark, "expected keys such as `preset:` and `rules:` at the top level")
    }

    var policy = PolicyFile(preset: .standard)
    var sawPreset = false
    for (keyNode, value) in mapping {
      let key = keyNode.string ?? ""
      switch key {
      case "preset":
        guard let name = value.string, let preset = PolicyPreset(rawValue: name) else {
          throw fail(value.mark, "`preset` must be restrictive, standard or permissive")
        }
        policy.preset = preset
        sawPreset = true
      case "network":
        guard let flag = value.bool else { throw fail(value.mark, "`network` must be true or false") }
        policy.network = flag
      case "approvalTimeoutSeconds":
        guard let seconds = wholeNumber(value), Self.approvalTimeoutRange.contains(seconds) else {
          throw fail(
            value.mark,
            "`approvalTimeoutSeconds` must be a whole number of seconds in digits, from 0 to \(Self.approvalTimeoutRange.upperBound) (a day)"
          )
        }
        policy.approvalTimeoutSeconds = seconds
      case "limits":
        guard let limits = value.mapping else {
          throw fail(value.mark, "`limits` must map names to numbers, e.g. `timeoutMs: 60000`")
        }
        for (limitKey, limitValue) in limits {
          let name = limitKey.string ?? ""
          guard shellLimitKeys.contains(name) else {
            throw fail(
              limitKey.mark,
              "unknown limit `\(name)`; known: \(shellLimitKeys.joined(separator: ", "))")
          }
          guard let number = wholeNumber(limitValue), number > 0 else {
            throw fail(
              limitValue.mark, "the limit `\(name)` must be a whole number above 0, in digits (at most \(Int.max))")
          }
          do {
            policy.shellLimits[name] = try ShellLimits.check(name, number)
          } catch {
            throw fail(limitValue.mark, error.message)
          }
        }
      case "rules":
        if value.null != nil { continue }
        guard let items = value.sequence else {
          throw fail(value.mark, "`rules` must be a list; start each rule with `- `")
        }
        for (index, item) in items.enumerated() {
          policy.rules.append(try rule(item, index: index, fail: fail))
        }
      case "protect":
        if value.null != nil { continue }
        guard let items = value.sequence else {
          throw fail(value.mark, "`protect` must be a list of workspace-relative globs, e.g. [\"deploy/**\"]")
        }
        var extra: [ProtectedPaths.Entry] = []
        for item in items { extra.append(try protectedEntry(item, fail: fail)) }
        policy.protected = ProtectedPaths(extra: extra)
      default:
        throw fail(
          keyNode.mark, "unknown key `\(key)`; known: preset, network, approvalTimeoutSeconds, limits, rules, protect")
      }
    }
    if !sawPreset { throw fail(root.mark, "the policy needs a preset, e.g. `preset: standard`") }
    return policy
  }

  /// A whole number from a scalar, or nil when it isn't one or doesn't fit an `Int`.
  ///
  /// Yams' `Node.int` reads YAML 1.1's base-60 form (`1:30:00`) with unchecked arithmetic, so
  /// `1:2:3:4:5:6:7:8:9:10:11:12` traps; numbers with a `:` are refused before it sees them.
  static func wholeNumber(_ node: Node) -> Int? {
    guard let scalar = node.scalar, !scalar.string.contains(":") else { return nil }
    return node.int
  }

  /// One `protect:` item: a glob, or `{path: GLOB, read: true}`.
  private static func protectedEntry(_ node: Node, fail: (Mark?, String) -> SpacesError) throws(SpacesError)
    -> ProtectedPaths.Entry
  {
    func glob(_ value: Node) throws(SpacesError) -> String {
      guard let text = value.string, !text.isEmpty, !text.hasPrefix("/"), !text.hasPrefix("~"),
        !text.split(separator: "/").contains("..")
      else {
        throw fail(value.mark, "a protected path must be a workspace-relative glob, e.g. \"deploy/**\"")
      }
      return text
    }
    if node.scalar != nil {
      let path = try glob(node)
      return ProtectedPaths.Entry(
        name: "policy:\(path)", globs: [path], reason: "is protected by this space's policy file (protect:)")
    }
    guard let fields = node.mapping else {
      throw fail(node.mark, "a protected path is a glob or `{path: GLOB, read: true}`")
    }
    var path: String?
    var read = false
    for (keyNode, value) in fields {
      switch keyNode.string ?? "" {
      case "path": path = try glob(value)
      case "read":
        guard let flag = value.bool else { throw fail(value.mark, "`read` must be true or false") }
        read = flag
      default:
        throw fail(keyNode.mark, "unknown key `\(keyNode.string ?? "")` in a protected path; known: path, read")
      }
    }
    guard let path else { throw fail(node.mark, "this protected path has no `path:`") }
    return ProtectedPaths.Entry(
      name: "policy:\(path)", globs: [path], access: read ? .readWrite : .write,
      reason: read
        ? "is protected by this space's policy file (protect:, reading too)"
        : "is protected by this space's policy file (protect:)")
  }

  private static func rule(
    _ node: Node, index: Int, fail: (Mark?, String) -> SpacesError
  ) throws(SpacesError) -> PolicyRule {
    guard let fields = node.mapping else {
      throw fail(node.mark, "a rule must have keys such as `decision:` and `reason:`")
    }
    var rule = PolicyRule(
      name: "rule \(index + 1) (line \(node.mark?.line ?? 0))", decision: .ask, reason: "")
    var sawDecision = false
    for (keyNode, value) in fields {
      let key = keyNode.string ?? ""
      switch key {
      case "name":
        guard let name = value.string, !name.isEmpty else { throw fail(value.mark, "`name` must be text") }
        rule.name = name
      case "kinds":
        let names = value.sequence.map { $0.map { $0.string ?? "" } } ?? value.string.map { [$0] }
        guard let names else { throw fail(value.mark, "`kinds` must be a list, e.g. [createFile, editFile]") }
        for name in names {
          guard let kind = Op.Kind(rawValue: name) else {
            throw fail(
              value.mark,
              "unknown operation kind `\(name)`; known: \(Op.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
          }
          rule.kinds.append(kind)
        }
      case "paths":
        let globs = value.sequence.map { $0.compactMap(\.string) } ?? value.string.map { [$0] }
        guard let globs, !globs.isEmpty, globs.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("/") }) else {
          throw fail(value.mark, "`paths` must be a list of workspace-relative globs, e.g. [\"src/**\"]")
        }
        rule.paths = globs
      case "command":
        guard let text = value.string else {
          throw fail(value.mark, "`command` must be a program and an argument prefix, e.g. `git push`")
        }
        let words = text.split(separator: " ").map(String.init)
        guard !words.isEmpty else { throw fail(value.mark, "`command` is empty") }
        rule.command = words
      case "decision":
        guard let text = value.string, let verdict = Decision.Verdict(rawValue: text) else {
          throw fail(value.mark, "`decision` must be allow, ask or deny")
        }
        rule.decision = verdict
        sawDecision = true
      case "reason":
        guard let text = value.string else { throw fail(value.mark, "`reason` must be text") }
        rule.reason = text
      default:
        throw fail(keyNode.mark, "unknown rule key `\(key)`; known: name, kinds, paths, command, decision, reason")
      }
    }
    guard sawDecision else { throw fail(node.mark, "this rule has no `decision:` (allow, ask or deny)") }
    if rule.reason.isEmpty { rule.reason = "\(rule.decision.rawValue) by the rule \(rule.name)" }
    if rule.command != nil, rule.kinds.isEmpty { rule.kinds = [.shell] }
    if !rule.paths.isEmpty, rule.kinds.isEmpty {
      rule.kinds = [.createFile, .readFile, .editFile, .deleteFile]
    }
    return rule
  }
}
