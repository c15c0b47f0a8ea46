import Foundation

/// The workspace paths a sandbox can't protect the person from: files that run code later on
/// the person's machine (git hooks, direnv, editor tasks, CI workflows, git config keys that
/// name a program) or that hold secrets (`.env*`).
///
/// One list for every part that decides about them: the policy asks before a file operation or
/// a command that names one, the sandbox mounts them read-only, and the runtime checks them
/// after every shell operation. `policy.yaml`'s `protect:` list adds entries.
public struct ProtectedPaths: Sendable, Equatable {
  /// What of a path is protected.
  public enum Access: String, Sendable, Equatable, Codable {
    /// Changing it (create, modify, delete, rename) asks.
    case write
    /// Reading it asks too (secrets).
    case readWrite
  }

  /// One protected kind of path.
  public struct Entry: Sendable, Equatable {
    /// A short name, used in rule names (`protected:git-hooks`).
    public var name: String
    /// Workspace-relative globs (``Glob``) of the paths.
    public var globs: [String] { didSet { compiled = globs.map(Glob.init) } }
    /// Globs of paths the entry leaves alone (git's inert `*.sample` hooks).
    public var except: [String] { didSet { compiledExcept = except.map(Glob.init) } }
    /// The globs, compiled once (an entry is checked for every file operation).
    private var compiled: [Glob]
    private var compiledExcept: [Glob]
    /// What is protected.
    public var access: Access
    /// Why, for a person: what would happen later.
    public var reason: String

    /// Creates an entry.
    public init(name: String, globs: [String], except: [String] = [], access: Access = .write, reason: String) {
      self.name = name
      self.globs = globs
      self.except = except
      self.access = access
      self.reason = reason
      compiled = globs.map(Glob.init)
      compiledExcept = except.map(Glob.init)
    }

    /// Whether the entry covers the workspace-relative `path` (normalized, no leading `./`).
    public func covers(_ path: String) -> Bool {
      covers(parts: Glob.parts(path))
    }

    /// Whether the entry covers the path split by ``Glob/parts(_:)``.
    public func covers(parts: [[UInt8]]) -> Bool {
      compiled.contains { $0.matches(parts: parts) } && !compiledExcept.contains { $0.matches(parts: parts) }
    }
  }

  /// The entries, defaults first.
  public var entries: [Entry]

  /// The defaults plus `extra` (from `policy.yaml`'s `protect:`).
  public init(extra: [Entry] = []) {
    entries = Self.defaults + extra
  }

  /// The defaults: what runs code later or holds secrets in most projects.
  public static let defaults: [Entry] = [
    Entry(
      name: "git-hooks", globs: [".git/hooks/**", "**/.git/hooks/**"], except: ["**/*.sample"],
      reason: "writes a git hook, which git runs later on your machine, outside any sandbox"),
    Entry(
      name: "git-config", globs: [".git/config", "**/.git/config"],
      reason:
        "changes .git/config, where keys such as core.fsmonitor, core.hooksPath or an alias starting with ! make git run a program later on your machine"
    ),
    Entry(
      name: "gitmodules", globs: [".gitmodules", "**/.gitmodules"],
      reason: "changes .gitmodules, which decides what git fetches and runs for submodules"),
    Entry(
      name: "envrc", globs: [".envrc", "**/.envrc"],
      reason: "writes .envrc, which direnv runs when you enter the folder"),
    Entry(
      name: "editor-tasks", globs: [".vscode/tasks.json", ".vscode/launch.json"],
      reason: "writes your editor's tasks or launch settings, which run programs when you use them"),
    Entry(
      name: "ci-workflows", globs: [".github/workflows/**"],
      reason: "writes a CI workflow, which runs with the repository's secrets when pushed"),
    Entry(
      name: "env-files", globs: [".env*", "**/.env*"],
      // Templates that projects commit for others to copy hold no secrets.
      except: [
        ".env.example", "**/.env.example", ".env.sample", "**/.env.sample", ".env.template", "**/.env.template",
      ],
      access: .readWrite, reason: "an .env file usually holds secrets"),
  ]

  /// The entry that protects writing `path`, if any.
  public func writeEntry(for path: String) -> Entry? {
    let parts = Glob.parts(path)
    return entries.first { $0.covers(parts: parts) }
  }

  /// The entry that protects reading `path`, if any.
  public func readEntry(for path: String) -> Entry? {
    let parts = Glob.parts(path)
    return entries.first { $0.access == .readWrite && $0.covers(parts: parts) }
  }
}

/// The keys of a git config file that make git run a program, read another file, or send what
/// it fetches and pushes elsewhere: what the runtime protects in `.git/config` (the rest, such
/// as `user.email` or a new remote, is the agent's to change).
public enum GitConfigRisk {
  /// The risky `key=value` entries of a git config file's text, in file order (keys lowercased
  /// as git compares them, subsections kept).
  public static func riskyEntries(in text: String) -> [String] {
    entries(in: text).filter { isRisky(key: $0.key, value: $0.value) }.map { "\($0.key)=\($0.value)" }
  }

  /// Whether the (lowercased) `key` with `value` makes git run a program or read another file.
  public static func isRisky(key: String, value: String) -> Bool {
    let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard let section = parts.first, let name = parts.last, parts.count >= 2 else { return false }
    let hasSubsection = parts.count > 2
    switch section {
    case "core":
      return [
        "fsmonitor", "hookspath", "pager", "editor", "sshcommand", "askpass", "gitproxy",
        "alternaterefscommand", "worktree",
      ].contains(name)
    case "credential": return name == "helper"
    case "filter": return true
    case "diff": return ["textconv", "command", "external"].contains(name)
    case "merge": return hasSubsection && name == "driver"
    case "alias": return value.trimmingCharacters(in: .whitespaces).hasPrefix("!")
    case "include": return name == "path"
    case "includeif": return name == "path"
    case "sequence": return name == "editor"
    case "gpg": return name == "program"
    case "uploadpack": return name == "packobjectshook"
    case "pager", "browser", "difftool", "mergetool", "instaweb", "sendemail", "url", "protocol", "submodule":
      return true
    case "remote": return ["uploadpack", "receivepack", "proxy", "vcs"].contains(name)
    case "http": return name == "proxy" || name == "sslkeylogfile"
    case "web": return name == "browser"
    case "man": return name == "viewer" || name.hasSuffix("cmd") || name == "path"
    default: return false
    }
  }

  /// Every `key=value` of a git config file's text, with git's syntax: `[section]`,
  /// `[section "subsection"]`, `[section.subsection]`, `key = value`, a bare `key` (true),
  /// comments after `#` or `;` outside quotes, and lines continued with a trailing backslash.
  public static func entries(in text: String) -> [(key: String, value: String)] {
    var found: [(key: String, value: String)] = []
    var section = ""
    var lines: [String] = []
    var pending = ""
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      var line = String(raw)
      if line.hasSuffix("\r") { line.removeLast() }
      if line.hasSuffix("\\"), !line.hasSuffix("\\\\") {
        pending += String(line.dropLast())
        continue
      }
      lines.append(pending + line)
      pending = ""
    }
    if !pending.isEmpty { lines.append(pending) }
    for var line in lines {
      line = line.trimmingCharacters(in: .whitespaces)
      if line.hasPrefix("[") {
        guard let close = line.lastIndex(of: "]") else { continue }
        let header = line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces)
        if let quote = header.firstIndex(of: "\"") {
          let name = header[..<quote].trimmingCharacters(in: .whitespaces).lowercased()
          let sub = header[header.index(after: quote)...].replacingOccurrences(of: "\"", with: "")
          section = name + "." + sub
        } else {
          // `[section.subsection]`: the old syntax lowercases the subsection too.
          section = header.lowercased()
        }
        // A key may follow the header on the same line.
        line = String(line[line.index(after: close)...]).trimmingCharacters(in: .whitespaces)
        if line.isEmpty { continue }
      }
      guard let first = line.first, first != "#", first != ";", !section.isEmpty else { continue }
      let key: String
      var value = "true"
      if let equals = line.firstIndex(of: "=") {
        key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
        value = stripComment(String(line[line.index(after: equals)...])).trimmingCharacters(in: .whitespaces)
      } else {
        key = stripComment(line).trimmingCharacters(in: .whitespaces).lowercased()
      }
      guard !key.isEmpty else { continue }
      found.append((section + "." + key, value))
    }
    return found
  }

  private static func stripComment(_ text: String) -> String {
    var inQuotes = false
    var escaped = false
    var out = ""
    for character in text {
      if escaped {
        out.append(character)
        escaped = false
        continue
      }
      switch character {
      case "\\":
        escaped = true
        out.append(character)
      case "\"":
        inQuotes.toggle()
      case "#" where !inQuotes, ";" where !inQuotes:
        return out
      default:
        out.append(character)
      }
    }
    return out
  }
}
