/// A path a command reads or writes, as the analyzer sees it in a redirect or in a program's
/// arguments: what lets the policy name a protected path before anything runs.
public struct PathAccess: Sendable, Equatable {
  /// What the command does with the path.
  public enum Mode: String, Sendable, Equatable {
    /// Reads it (`cat`, `<`, `source`, a copy's source).
    case read
    /// Creates, changes or deletes it (`>`, `tee`, `cp`'s target, `sed -i` …).
    case write
    /// A program the analyzer doesn't know was given it: it may do either.
    case unknown
  }

  /// The path as written, after quote removal (`~/x`, `$HOME/x` kept as written).
  public var path: String
  /// What is done with it.
  public var mode: Mode
  /// The text that names it, for a person: "`> .git/hooks/pre-commit`", "`cp a .envrc`".
  public var route: String
  /// Workspace-relative folders the command may be in when it uses the path (`""` is the
  /// workspace): the start folder and every folder a `cd` before it named.
  public var folders: [String]
  /// The path holds an unquoted glob pattern.
  public var pattern: Bool

  /// Creates an access.
  public init(path: String, mode: Mode, route: String, folders: [String] = [""], pattern: Bool = false) {
    self.path = path
    self.mode = mode
    self.route = route
    self.folders = folders
    self.pattern = pattern
  }

  /// The workspace-relative paths this access may name, given the absolute paths at which
  /// the command sees the workspace. `~`, `$HOME` and `${HOME}` are the workspace in every
  /// backend. Paths outside the workspace, and paths only known when the command runs, give
  /// none.
  public func workspacePaths(workspaceAliases: [String]) -> [String] {
    var text = path
    var anchored = false
    for home in ["~", "$HOME", "${HOME}"] where text == home || text.hasPrefix(home + "/") {
      text = String(text.dropFirst(home.count))
      anchored = true
      break
    }
    if !anchored {
      for alias in workspaceAliases where !alias.isEmpty {
        let trimmed = alias.hasSuffix("/") ? String(alias.dropLast()) : alias
        if text == trimmed || text.hasPrefix(trimmed + "/") {
          text = String(text.dropFirst(trimmed.count))
          anchored = true
          break
        }
      }
    }
    if text.contains("$") || text.contains("`") { return [] }
    if !anchored, text.hasPrefix("/") || text.hasPrefix("~") { return [] }
    let bases = anchored ? [""] : folders
    var result: [String] = []
    for base in bases {
      if let joined = Self.normalize(base.isEmpty ? text : base + "/" + text), !result.contains(joined) {
        result.append(joined)
      }
    }
    return result
  }

  /// `a/./b/../c` → `a/c`; nil when it climbs out of the workspace.
  static func normalize(_ path: String) -> String? {
    var parts: [Substring] = []
    for component in path.split(separator: "/") where component != "." {
      if component == ".." {
        guard !parts.isEmpty else { return nil }
        parts.removeLast()
      } else {
        parts.append(component)
      }
    }
    return parts.joined(separator: "/")
  }
}

/// Finds the paths a simple command's program reads and writes from its arguments.
enum PathArguments {
  /// Programs that only look at names or metadata, never at contents.
  static let nameOnly: Set<String> = [
    "ls", "stat", "test", "[", "[[", "echo", "printf", "basename", "dirname", "realpath", "readlink",
    "which", "find", "file", "du", "df", "pwd", "cd", "type", "command", "true", "false", ":",
    "exit", "return", "export", "unset", "set", "wait", "sleep", "date", "seq", "kill", "pkill", "killall",
  ]

  /// Programs that read the files named by their operands.
  static let readers: Set<String> = [
    "cat", "head", "tail", "less", "more", "nl", "tac", "wc", "diff", "cmp", "sort", "cut", "base64",
    "xxd", "od", "hexdump", "strings", "md5sum", "sha1sum", "sha256sum", "sha512sum", "source", ".", "paste",
    "column", "fold", "fmt", "comm", "join", "iconv", "bat", "view", "zcat", "gzip", "bzip2", "xz",
  ]

  /// Programs whose first operand is a pattern or program text, not a file.
  static let patternFirst: Set<String> = ["grep", "egrep", "fgrep", "rg", "ag", "ack", "awk", "gawk", "mawk", "jq"]

  /// Programs that write every operand.
  static let writeAll: Set<String> = ["tee", "touch", "rm", "rmdir", "mkdir", "truncate", "shred", "unlink"]

  /// The paths `words` (a resolved simple command, program first) reads and writes.
  static func accesses(_ words: [ShellWord]) -> [(word: ShellWord, mode: PathAccess.Mode)] {
    guard let program = words.first?.text else { return [] }
    let args = Array(words.dropFirst())
    let base = program.split(separator: "/").last.map(String.init) ?? program
    if nameOnly.contains(base) { return [] }
    let operands = Self.operands(args)
    func all(_ mode: PathAccess.Mode) -> [(word: ShellWord, mode: PathAccess.Mode)] {
      operands.map { ($0, mode) }
    }
    switch base {
    case "cp", "install", "mv", "ln":
      return copyLike(base, args, operands)
    case _ where writeAll.contains(base):
      return all(.write)
    case "chmod", "chown", "chgrp":
      let hasReference = args.contains { $0.text.hasPrefix("--reference") }
      return operands.dropFirst(hasReference ? 0 : 1).map { ($0, .write) }
    case "sed":
      let inPlace = args.contains { word in
        let text = word.text
        return text.hasPrefix("--in-place")
          || (text.hasPrefix("-") && !text.hasPrefix("--") && text.dropFirst().prefix { $0 != "." }.contains("i"))
      }
      let scripted = args.contains {
        ["-e", "-f", "--expression", "--file"].contains($0.text) || $0.text.hasPrefix("--expression=")
      }
      let files = scripted ? operands : Array(operands.dropFirst())
      return files.map { ($0, inPlace ? .write : .read) }
    case "perl", "ruby":
      let inPlace = args.contains { $0.text.hasPrefix("-") && !$0.text.hasPrefix("--") && $0.text.contains("i") }
      guard inPlace else { return all(.unknown) }
      return operands.map { ($0, .write) }
    case "dd":
      return args.compactMap { word in
        var path = word
        if word.text.hasPrefix("of=") {
          path.text = String(word.text.dropFirst(3))
          return (path, .write)
        }
        if word.text.hasPrefix("if=") {
          path.text = String(word.text.dropFirst(3))
          return (path, .read)
        }
        return nil
      }
    case "uniq":
      return operands.enumerated().map { ($0.element, $0.offset == 0 ? .read : .write) }
    case "curl", "wget":
      return outputOptions(args, names: ["-o", "--output", "-O", "--output-document"]).map { ($0, .write) }
    case "git":
      return GitPaths.accesses(args)
    case _ where readers.contains(base):
      return all(.read) + outputOptions(args, names: ["-o", "--output"]).map { ($0, .write) }
    case _ where patternFirst.contains(base):
      let hasPatternOption = args.contains { ["-e", "-f", "--regexp", "--file"].contains($0.text) }
      return (hasPatternOption ? operands : Array(operands.dropFirst())).map { ($0, .read) }
    default:
      // A program the analyzer doesn't know: every operand and option value may be read or written.
      return all(.unknown) + optionValues(args).map { ($0, .unknown) }
    }
  }

  /// The words after the options (`--` ends them; `-o value` pairs are not known in general,
  /// so option words are skipped alone).
  static func operands(_ args: [ShellWord]) -> [ShellWord] {
    var result: [ShellWord] = []
    var ended = false
    for arg in args {
      if !ended, arg.text == "--" {
        ended = true
        continue
      }
      if !ended, arg.text.hasPrefix("-"), arg.text.count > 1 { continue }
      result.append(arg)
    }
    return result
  }

  /// The values of `--name=value` options.
  static func optionValues(_ args: [ShellWord]) -> [ShellWord] {
    args.compactMap { arg in
      guard arg.text.hasPrefix("--"), let equals = arg.text.firstIndex(of: "=") else { return nil }
      var value = arg
      value.text = String(arg.text[arg.text.index(after: equals)...])
      return value
    }
  }

  /// The values of the named output options (`-o FILE`, `-oFILE`, `--output=FILE`).
  static func outputOptions(_ args: [ShellWord], names: [String]) -> [ShellWord] {
    var result: [ShellWord] = []
    for (index, arg) in args.enumerated() {
      for name in names {
        if arg.text == name, index + 1 < args.count {
          result.append(args[index + 1])
        } else if name.hasPrefix("--"), arg.text.hasPrefix(name + "=") {
          var value = arg
          value.text = String(arg.text.dropFirst(name.count + 1))
          result.append(value)
        } else if !name.hasPrefix("--"), arg.text.hasPrefix(name), arg.text.count > name.count,
          !arg.text.hasPrefix("--")
        {
          var value = arg
          value.text = String(arg.text.dropFirst(name.count))
          result.append(value)
        }
      }
    }
    return result
  }

  /// `cp`, `install`, `mv`, `ln`: the target (and the target/name of each source when the
  /// target is a folder) is written; sources are read (`mv`: removed, so written).
  private static func copyLike(_ program: String, _ args: [ShellWord], _ operands: [ShellWord])
    -> [(word: ShellWord, mode: PathAccess.Mode)]
  {
    var targets = outputOptions(args, names: ["-t", "--target-directory"])
    var sources = operands
    if targets.isEmpty {
      if let last = operands.last, operands.count >= 2 {
        targets = [last]
        sources = Array(operands.dropLast())
      } else if program == "ln", let only = operands.first {
        // `ln target` makes a link named after the target in the current folder.
        var name = only
        name.text = only.text.split(separator: "/").last.map(String.init) ?? only.text
        return [(name, .write)]
      }
    }
    var result: [(word: ShellWord, mode: PathAccess.Mode)] = []
    let sourceMode: PathAccess.Mode = program == "mv" ? .write : program == "ln" ? .unknown : .read
    if program != "ln" { result += sources.map { ($0, sourceMode) } }
    for target in targets {
      result.append((target, .write))
      for source in sources {
        guard let name = source.text.split(separator: "/").last else { continue }
        var inside = target
        inside.text = (target.text.hasSuffix("/") ? target.text : target.text + "/") + name
        result.append((inside, .write))
      }
    }
    return result
  }
}

/// The protected git files a `git` command writes: risky configuration keys (``GitConfigRisk``),
/// templates that install hooks, paths that checkout-like commands overwrite.
enum GitPaths {
  static func accesses(_ args: [ShellWord]) -> [(word: ShellWord, mode: PathAccess.Mode)] {
    var index = 0
    while index < args.count, args[index].text.hasPrefix("-") {
      let option = args[index].text
      index += 1
      if ["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env"].contains(option) { index += 1 }
    }
    guard index < args.count else { return [] }
    let subcommand = args[index].text
    let rest = Array(args[(index + 1)...])
    func word(_ text: String) -> ShellWord { ShellWord(text: text) }
    switch subcommand {
    case "config":
      return config(rest).map { ($0, .write) }
    case "init", "clone":
      var result: [(word: ShellWord, mode: PathAccess.Mode)] = []
      let operands = PathArguments.operands(rest).filter { !$0.text.contains("://") && !$0.text.contains("@") }
      let folder = subcommand == "init" ? operands.first?.text : (operands.count >= 2 ? operands.last?.text : nil)
      let prefix = folder.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? ""
      for (offset, arg) in rest.enumerated() {
        let text = arg.text
        if text.hasPrefix("--template") {
          result.append((word(prefix + ".git/hooks/(from the template)"), .write))
        } else if text == "-c" || text == "--config" || text.hasPrefix("--config=") {
          let setting =
            text.hasPrefix("--config=")
            ? String(text.dropFirst(9)) : offset + 1 < rest.count ? rest[offset + 1].text : ""
          let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
          if let key = parts.first, GitConfigRisk.isRisky(key: key.lowercased(), value: parts.count > 1 ? parts[1] : "")
          {
            result.append((word(prefix + ".git/config"), .write))
          }
        }
      }
      return result
    case "checkout", "restore", "rm", "mv", "stash":
      return PathArguments.operands(rest).map { ($0, .write) }
    case "submodule":
      return rest.first?.text == "add" ? [(word(".gitmodules"), .write)] : []
    default:
      return PathArguments.operands(rest).map { ($0, .read) }
    }
  }

  /// `git config …`: the config file written when the command sets a key that runs a program,
  /// or edits the file whole; nothing for reads and harmless keys (`user.email`).
  static func config(_ args: [ShellWord]) -> [ShellWord] {
    var file = ".git/config"
    var operands: [String] = []
    var index = 0
    var reading = false
    var subcommand: String?
    let readOptions: Set<String> = [
      "--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l", "--get-color", "--get-colorbool",
      "--show-origin", "--show-scope", "--name-only",
    ]
    let removing: Set<String> = ["--unset", "--unset-all", "--remove-section", "--rename-section"]
    var removes = false
    while index < args.count {
      let text = args[index].text
      index += 1
      if text == "-f" || text == "--file" || text == "--blob" {
        if index < args.count { file = args[index].text }
        index += 1
      } else if text.hasPrefix("--file=") {
        file = String(text.dropFirst(7))
      } else if text == "-e" || text == "--edit" {
        return [ShellWord(text: file)]
      } else if readOptions.contains(text) {
        reading = true
      } else if removing.contains(text) {
        removes = true
      } else if text == "--type" || text == "--default" || text == "--comment" {
        index += 1
      } else if text.hasPrefix("-") {
        continue
      } else if operands.isEmpty, subcommand == nil,
        ["set", "get", "unset", "list", "edit", "rename-section", "remove-section"].contains(text)
      {
        subcommand = text
        if text == "edit" { return [ShellWord(text: file)] }
        if ["get", "list"].contains(text) { reading = true }
        if ["unset", "rename-section", "remove-section"].contains(text) { removes = true }
      } else {
        operands.append(text)
      }
    }
    if reading || removes { return [] }
    guard let key = operands.first else { return [] }
    let value = operands.count > 1 ? operands[1] : ""
    if file != ".git/config" || key.contains("$") || GitConfigRisk.isRisky(key: key.lowercased(), value: value) {
      return [ShellWord(text: file)]
    }
    return []
  }
}
