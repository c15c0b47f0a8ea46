import SpacesModel

/// A rule for simple commands: a program, an argument prefix, and a verdict.
///
/// Patterns: `program`, each `prefix` element and each `anywhere` element may use `*` (any
/// text), `?` (one character), `\` (take the next character literally) and `|` between
/// alternatives, as in `"install|add"`. A pattern without those characters matches exactly;
/// `"*"` as the program matches any program. A one-letter option pattern in `anywhere`,
/// such as `-r`, also matches a cluster of short options such as `-rf`.
///
/// JSON form: `{"program":"git","prefix":["push"],"decision":"ask","reason":"…","name":"…"}`;
/// `prefix` and `anywhere` may be left out.
public struct CommandRule: Sendable, Equatable, Codable {
  /// The program pattern, matched against the command word exactly as written (`/bin/ls`
  /// does not match `ls`).
  public var program: String
  /// Patterns the first arguments must match in order; `[]` matches any arguments.
  public var prefix: [String]
  /// Patterns that must each match some argument, in any position.
  public var anywhere: [String]
  /// The verdict when the rule matches.
  public var decision: Decision.Verdict
  /// A sentence for a person explaining the verdict.
  public var reason: String
  /// A stable name, such as `standard:git-status`.
  public var name: String

  /// Creates a rule.
  public init(
    program: String, prefix: [String] = [], anywhere: [String] = [],
    decision: Decision.Verdict, reason: String, name: String
  ) {
    self.program = program
    self.prefix = prefix
    self.anywhere = anywhere
    self.decision = decision
    self.reason = reason
    self.name = name
  }

  private enum CodingKeys: String, CodingKey {
    case program, prefix, anywhere, decision, reason, name
  }

  /// Decodes a rule, treating a missing `prefix` or `anywhere` as empty.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    program = try container.decode(String.self, forKey: .program)
    prefix = try container.decodeIfPresent([String].self, forKey: .prefix) ?? []
    anywhere = try container.decodeIfPresent([String].self, forKey: .anywhere) ?? []
    decision = try container.decode(Decision.Verdict.self, forKey: .decision)
    reason = try container.decode(String.self, forKey: .reason)
    name = try container.decode(String.self, forKey: .name)
  }

  /// Whether the rule matches a simple command.
  ///
  /// Arguments are compared after dropping options that can't change what a program does
  /// (see ``CommandRule/significantArguments(of:)``).
  public func matches(_ command: SimpleCommand) -> Bool {
    guard ShellPattern.matches(program, command.program) else { return false }
    let args = Self.significantArguments(of: command)
    guard args.count >= prefix.count else { return false }
    for (pattern, argument) in zip(prefix, args) where !ShellPattern.matches(pattern, argument) {
      return false
    }
    return anywhere.allSatisfy { pattern in
      args.contains { ShellPattern.matches(pattern, $0, optionClusters: true) }
    }
  }

  /// The arguments rules are matched against.
  ///
  /// For `git`, leading global options that only change printing or path matching
  /// (`--no-pager`, `-P`, `--no-optional-locks`, `--literal-pathspecs` …) are skipped, as is
  /// `-C folder` (the analyzer flags folders outside the workspace), so `git --no-pager diff`
  /// matches a `diff` rule. Any other option before the subcommand stays, so a rule for the
  /// subcommand won't match and the command falls to `unmatched`. For `cargo`, a leading
  /// `+toolchain` is skipped.
  public static func significantArguments(of command: SimpleCommand) -> ArraySlice<String> {
    var args = command.arguments[...]
    switch command.program {
    case "git":
      while let first = args.first {
        if ProgramChecks.harmlessGitOptions.contains(first) {
          args = args.dropFirst()
        } else if first == "-C", args.count >= 2 {
          args = args.dropFirst(2)
        } else {
          break
        }
      }
    case "cargo":
      if args.first?.hasPrefix("+") == true { args = args.dropFirst() }
    default:
      break
    }
    return args
  }
}

/// Matches rule patterns: `*`, `?`, `\` escapes and `|` alternatives.
enum ShellPattern {
  private static let special: Set<Unicode.Scalar> = ["*", "?", "\\", "|"]

  /// Whether `pattern` uses any pattern characters.
  static func isPattern(_ pattern: String) -> Bool {
    pattern.unicodeScalars.contains(where: special.contains)
  }

  static func matches(_ pattern: String, _ text: String, optionClusters: Bool = false) -> Bool {
    guard isPattern(pattern) else {
      return pattern == text || (optionClusters && inCluster(pattern, text))
    }
    let target = Array(text.unicodeScalars)
    return alternatives(pattern).contains { alternative in
      glob(alternative, target)
        || (optionClusters && inCluster(String(String.UnicodeScalarView(alternative)), text))
    }
  }

  /// Whether `option` (such as `-r`) is one of the letters of a cluster like `-rf`.
  private static func inCluster(_ option: String, _ text: String) -> Bool {
    let letters = option.unicodeScalars.dropFirst()
    guard option.hasPrefix("-"), letters.count == 1, let letter = letters.first else {
      return false
    }
    return text.hasPrefix("-") && !text.hasPrefix("--") && !text.contains("=")
      && text.unicodeScalars.dropFirst().contains(letter)
  }

  /// Splits on unescaped `|`, keeping escapes for `glob`.
  private static func alternatives(_ pattern: String) -> [[Unicode.Scalar]] {
    var result: [[Unicode.Scalar]] = [[]]
    var escaped = false
    for scalar in pattern.unicodeScalars {
      if !escaped, scalar == "|" {
        result.append([])
        continue
      }
      escaped = !escaped && scalar == "\\"
      result[result.count - 1].append(scalar)
    }
    return result
  }

  /// Glob matching with one-star backtracking: time linear in pattern times text.
  private static func glob(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
    var p = 0
    var t = 0
    var star: (p: Int, t: Int)?
    while t < text.count {
      if p < pattern.count, pattern[p] == "*" {
        star = (p + 1, t)
        p += 1
        continue
      }
      if p < pattern.count {
        let escaped = pattern[p] == "\\" && p + 1 < pattern.count
        let literal = escaped ? pattern[p + 1] : pattern[p]
        if (!escaped && literal == "?") || literal == text[t] {
          p += escaped ? 2 : 1
          t += 1
          continue
        }
      }
      guard let resume = star else { return false }
      p = resume.p
      t = resume.t + 1
      star = (resume.p, resume.t + 1)
    }
    while p < pattern.count, pattern[p] == "*" { p += 1 }
    return p == pattern.count
  }
}
