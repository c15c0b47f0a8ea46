import SpacesModel

/// The commands `xargs` and `find -exec` run, so they are judged like any other command.
///
/// Both stay hazards (`wrapper`, `findExec`): without a sandbox the analyzer can't know what
/// the input adds to the command. In a sandbox the inner command is what is judged.
enum InnerCommand {
  /// The inner commands of `words` (program first), each with the wrapper that runs it.
  static func words(_ words: [ShellWord]) -> [(words: [ShellWord], via: String)] {
    guard let program = words.first?.text else { return [] }
    switch program {
    case "xargs": return xargs(Array(words.dropFirst())).map { [($0, "xargs")] } ?? []
    case "find": return findExec(Array(words.dropFirst()))
    default: return []
    }
  }

  private static let xargsFlags: Set<String> = [
    "-0", "-r", "-t", "-p", "-x", "-o", "--null", "--no-run-if-empty", "--verbose", "--interactive", "--exit",
    "--open-tty",
  ]
  private static let xargsValued: Set<String> = ["-n", "-L", "-P", "-s", "-d", "-E", "-a", "-I"]
  private static let xargsLong = [
    "--max-args=", "--max-lines=", "--max-procs=", "--delimiter=", "--replace=", "--arg-file=", "--eof=",
    "--max-chars=", "--process-slot-var=",
  ]

  /// `xargs [options] program args…`: nil when an option is unknown or no program is named.
  static func xargs(_ args: [ShellWord]) -> [ShellWord]? {
    var index = 0
    while index < args.count, args[index].text.hasPrefix("-") {
      let option = args[index].text
      index += 1
      if option == "--" { break }
      if xargsFlags.contains(option) || xargsLong.contains(where: option.hasPrefix) { continue }
      if xargsValued.contains(option) {
        index += 1
        continue
      }
      let letter = String(option.prefix(2))
      if xargsValued.contains(letter) || letter == "-i" || letter == "-l" || letter == "-e" { continue }
      return nil
    }
    guard index < args.count, !args[index].expansion, !args[index].substitution else { return nil }
    return Array(args[index...])
  }

  /// Each `-exec`/`-execdir`/`-ok`/`-okdir … ;` or `… +` of a `find`.
  static func findExec(_ args: [ShellWord]) -> [(words: [ShellWord], via: String)] {
    var result: [(words: [ShellWord], via: String)] = []
    var index = 0
    while index < args.count {
      let text = args[index].text
      index += 1
      guard ["-exec", "-execdir", "-ok", "-okdir"].contains(text) else { continue }
      var inner: [ShellWord] = []
      while index < args.count, args[index].text != ";", !(args[index].text == "+" && inner.last?.text == "{}") {
        inner.append(args[index])
        index += 1
      }
      index += 1
      if let first = inner.first, !first.expansion, !first.substitution { result.append((inner, "find \(text)")) }
    }
    return result
  }
}

/// Arguments that name paths outside the workspace, or the person's secrets: what the policy
/// asks about when nothing else guards the host.
enum OutsidePaths {
  /// Places that hold secrets, as path prefixes (`~` is the person's home).
  static let secrets: [(prefix: String, what: String)] = [
    ("~/.ssh", "your SSH keys"), ("~/.aws", "your AWS credentials"),
    ("~/.config/gcloud", "your Google Cloud credentials"),
    ("~/.azure", "your Azure credentials"), ("~/.kube", "your Kubernetes credentials"),
    ("~/.docker/config.json", "your container registry logins"), ("~/.netrc", "your network logins"),
    ("~/.git-credentials", "your git passwords"), ("~/.config/gh", "your GitHub token"),
    ("~/.npmrc", "your npm token"), ("~/.pypirc", "your PyPI token"), ("~/.gnupg", "your GPG keys"),
    ("~/.password-store", "your passwords"), ("~/.local/share/keyrings", "your keyring"),
    ("/etc/shadow", "the system's password hashes"), ("/etc/gshadow", "the system's group passwords"),
    ("/etc/sudoers", "who may become root"), ("/root", "root's files"),
    ("/proc/self/environ", "the runtime's environment"),
  ]

  /// Programs whose arguments are text, not paths.
  static let textOnly: Set<String> = ["echo", "printf", "true", "false", ":", "exit", "return", "test", "[", "[["]

  /// The arguments that may be paths: a sed script, a grep pattern or an awk program is not.
  static func pathCandidates(_ words: [ShellWord]) -> [ShellWord] {
    let program = words[0].text
    var args = Array(words.dropFirst())
    let scripted = ["sed", "grep", "egrep", "fgrep", "rg", "awk", "gawk", "mawk", "jq"]
    guard scripted.contains(program) else { return args }
    var result: [ShellWord] = []
    var sawScript = false
    var index = 0
    while index < args.count {
      let text = args[index].text
      if ["-e", "--expression", "--regexp", "-f", "--file", "-F", "-v"].contains(text) {
        sawScript = sawScript || text != "-F" && text != "-v"
        if text == "-f" || text == "--file" { result.append(contentsOf: args[safe: index + 1]) }
        index += 2
        continue
      }
      if text.hasPrefix("--expression=") || text.hasPrefix("--regexp=") { sawScript = true }
      if !text.hasPrefix("-"), !sawScript {
        sawScript = true
        index += 1
        continue
      }
      result.append(args[index])
      index += 1
    }
    args = result
    return args
  }

  /// Adds `outsideWorkspace` or `secretPath` hazards for arguments that leave the workspace.
  static func check(_ words: [ShellWord], into sink: inout ShellSink) {
    guard let program = words.first?.text, !textOnly.contains(program) else { return }
    for arg in pathCandidates(words) {
      var path = arg
      if arg.text.hasPrefix("-"), let equals = arg.text.firstIndex(of: "=") {
        path.text = String(arg.text[arg.text.index(after: equals)...])
      } else if arg.text.hasPrefix("-") {
        continue
      }
      let text = path.text
      let homeSpelled = ["$HOME", "${HOME}"].first { text == $0 || text.hasPrefix($0 + "/") }
      let home = homeSpelled.map { "~" + text.dropFirst($0.count) } ?? text
      if let secret = secrets.first(where: { home == $0.prefix || home.hasPrefix($0.prefix + "/") }) {
        sink.add(
          .secretPath, "`\(program) \(text.clippedForReason)` reaches `\(secret.prefix)`, which holds \(secret.what)")
        continue
      }
      if text.contains("://") || WorkspacePath.harmlessDevices.contains(text) { continue }
      if path.substitution || (path.expansion && homeSpelled == nil) { continue }
      if let why = homeSpelled != nil ? "is in the home folder" : WorkspacePath.escape(path, from: sink.startDepth) {
        sink.add(
          .outsideWorkspace,
          "`\(program) \(text.clippedForReason)` names a path outside the workspace: it \(why)")
      }
    }
  }
}

extension Array {
  /// The element at `index` as a one-element array, or none.
  fileprivate subscript(safe index: Int) -> [Element] { indices.contains(index) ? [self[index]] : [] }
}
