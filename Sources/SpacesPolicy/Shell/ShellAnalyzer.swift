import SpacesModel

/// Parses shell command strings into simple commands and the hazards that keep them from
/// being auto-allowed.
///
/// The analyzer reads the dash/bash subset an agent uses: quotes, escapes, comments, line
/// continuations, here-documents, pipelines and lists, subshells, groups, `if`, `for`,
/// `while`, `until`, `case` and functions. It looks through harmless wrappers (`nice`,
/// `timeout 5`, `env A=b`, `command`, `time`, `nohup`) and analyzes `sh -c '…'` strings and
/// substitutions recursively. It never crashes and runs in time linear in the input for a
/// bounded nesting depth.
public enum ShellAnalyzer {
  /// How deeply subshells, groups, substitutions and `sh -c` strings may nest.
  public static let maximumDepth = 64

  /// Analyzes one command string run in `folder` (relative to the workspace, `""` its root:
  /// the shell session's folder): relative paths are resolved against it.
  public static func analyze(_ command: String, folder: String = "") -> ShellAnalysis {
    var sink = ShellSink()
    if let start = PathAccess.normalize(folder), !start.isEmpty {
      sink.folders = [start]
      sink.startDepth = start.split(separator: "/").count
    }
    analyze(Array(command.utf8), depth: 0, into: &sink)
    return ShellAnalysis(commands: sink.commands, hazards: sink.hazards, accesses: sink.accesses)
  }

  /// Analyzes `bytes` at a nesting depth, adding what it finds to `sink`.
  static func analyze(_ bytes: [UInt8], depth: Int, into sink: inout ShellSink) {
    guard depth <= maximumDepth else {
      return sink.add(.parseError, "the command nests more than \(maximumDepth) levels deep")
    }
    if bytes.contains(0) {
      sink.add(.parseError, "the command holds a NUL byte, where the shell would cut it short")
    }
    var lexer = ShellLexer(bytes: bytes, depth: depth)
    lexer.run(&sink)
    var parser = ShellParser(tokens: lexer.tokens, depth: depth)
    parser.parseScript()
    if let error = lexer.error ?? parser.error {
      sink.add(.parseError, "the command can't be parsed: \(error)")
    }
    for name in parser.loopVariables {
      sink.add(
        .environmentPrefix,
        "`for \(name)` assigns the variable `\(name)`, which can change how programs run")
    }
    for redirect in parser.compoundRedirects { checkRedirect(redirect, into: &sink) }
    for command in parser.commands { resolve(command, depth: depth, into: &sink) }
    for function in parser.functions
    where parser.commands[function.body].contains(where: { $0.words.first?.text == function.name }) {
      sink.add(
        .forkBomb,
        "function `\(function.name.clippedForReason)` calls itself: the fork-bomb pattern")
    }
  }

  /// Looks through wrappers, checks the program and its arguments, and records the command.
  private static func resolve(_ parsed: ParsedCommand, depth: Int, into sink: inout ShellSink) {
    for assignment in parsed.assignments { addAssignmentHazard(assignment, into: &sink) }
    for redirect in parsed.redirects { checkRedirect(redirect, into: &sink) }
    resolve(words: parsed.words, parsed: parsed, depth: depth, into: &sink)
  }

  /// Resolves `words` (a command's, or the command `xargs` or `find -exec` runs).
  private static func resolve(
    words initial: [ShellWord], parsed: ParsedCommand, depth: Int, outerWrappers: [String] = [],
    into sink: inout ShellSink
  ) {
    var words = initial
    var assignments = parsed.assignments.map(\.text)
    var wrappers: [String] = outerWrappers
    while case .inner(let skip, let extra) = Wrappers.unwrap(words, into: &sink) {
      wrappers.append(words[0].text)
      for assignment in extra { addAssignmentHazard(assignment, into: &sink) }
      assignments += extra.map(\.text)
      words.removeFirst(skip)
    }
    if let program = words.first {
      checkProgramWord(program, into: &sink)
      if let script = ProgramChecks.shellScript(words, into: &sink) {
        let start = sink.commands.count
        analyze(Array(script.utf8), depth: depth + 1, into: &sink)
        for index in start..<sink.commands.count {
          sink.commands[index].wrappers.insert(contentsOf: wrappers + ["\(program.text) -c"], at: 0)
          sink.commands[index].background = sink.commands[index].background || parsed.background
        }
        return
      }
      ProgramChecks.check(words, into: &sink)
      recordAccesses(words, into: &sink)
      for (inner, via) in InnerCommand.words(words) {
        let start = sink.commands.count
        resolve(words: inner, parsed: ParsedCommand(), depth: depth + 1, outerWrappers: wrappers + [via], into: &sink)
        for index in start..<sink.commands.count {
          sink.commands[index].background = sink.commands[index].background || parsed.background
        }
      }
    }
    sink.commands.append(
      SimpleCommand(
        program: words.first?.text ?? "", arguments: words.dropFirst().map(\.text),
        assignments: assignments,
        redirects: parsed.redirects.map { Redirect($0.op, $0.target.text) },
        background: parsed.background, wrappers: wrappers))
  }

  /// Records the paths a resolved command reads and writes, and follows `cd`.
  private static func recordAccesses(_ words: [ShellWord], into sink: inout ShellSink) {
    let shown = words.map(\.text).joined(separator: " ").clippedForReason
    for (word, mode) in PathArguments.accesses(words) {
      sink.access(word, mode, route: "`\(shown)`")
    }
    if words.first?.text == "cd", let folder = words.dropFirst().first(where: { !$0.text.hasPrefix("-") }) {
      sink.enter(folder)
    }
    OutsidePaths.check(words, into: &sink)
  }

  private static func addAssignmentHazard(_ word: ShellWord, into sink: inout ShellSink) {
    let name = word.text.prefix { $0 != "=" && $0 != "+" }
    sink.add(
      .environmentPrefix,
      "`\(String(name).clippedForReason)=…` sets a variable, which can change how programs run"
        + " (PATH, LD_PRELOAD, GIT_*, PAGER …)")
  }

  private static func checkProgramWord(_ program: ShellWord, into sink: inout ShellSink) {
    let text = program.text.clippedForReason
    if program.glob {
      sink.add(.glob, "the program name `\(text)` is a pattern that expands when the command runs")
    }
    if program.text.contains("/") || program.tilde, WorkspacePath.escape(program, from: sink.startDepth) != nil {
      sink.add(
        .absolutePath,
        "`\(text)` is run by a path outside the workspace, which dodges rules written for program names"
      )
    }
    switch program.text {
    case "eval": sink.add(.eval, "`eval` runs a string as shell code")
    case "source", ".": sink.add(.source, "`\(program.text)` runs a file's commands in this shell")
    default: break
    }
  }

  /// Flags redirects that write outside the workspace, to raw devices, or to the network.
  static func checkRedirect(_ redirect: ParsedRedirect, into sink: inout ShellSink) {
    let op = String(redirect.op.drop { $0.isNumber })
    let target = redirect.target
    let text = target.text
    let shown = "`\(redirect.op) \(text.clippedForReason)`"
    if WorkspacePath.isNetwork(text), op != "<<", op != "<<-", op != "<<<" {
      return sink.add(.networkRedirect, "\(shown) opens a network connection")
    }
    let duplicatesDescriptor =
      target.isPlain && (text == "-" || (!text.isEmpty && text.allSatisfy(\.isNumber)))
    if op == "<" || op == "<>" {
      sink.access(target, op == "<" ? .read : .write, route: shown)
    } else if !["<<", "<<-", "<<<", "<&"].contains(op), !(op == ">&" && duplicatesDescriptor) {
      sink.access(target, .write, route: shown)
    }
    if ["<<", "<<-", "<<<", "<", "<&"].contains(op) || (op == ">&" && duplicatesDescriptor) {
      return
    }
    if WorkspacePath.isRawDevice(text) {
      sink.add(.deviceWrite, "\(shown) writes to a raw device")
    } else if WorkspacePath.harmlessDevices.contains(text) && !target.expansion {
      return
    } else if let why = WorkspacePath.escape(target, from: sink.startDepth) {
      sink.add(
        .redirectOutsideWorkspace, "\(shown) writes to a file outside the workspace: it \(why)")
    }
  }
}

/// Collects commands and hazards (each hazard once) while analyzing.
struct ShellSink {
  var commands: [SimpleCommand] = []
  private(set) var hazards: [Hazard] = []
  private var seen: Set<Hazard> = []
  /// Paths read and written, in order.
  var accesses: [PathAccess] = []
  /// The workspace-relative folders a command may run in: the start and every folder a `cd`
  /// named (a `cd` inside a subshell is counted too: more places checked, never fewer).
  var folders: [String] = [""]
  /// How many folders deep in the workspace the command starts: how far `..` may climb.
  var startDepth = 0

  /// Records that `word` is read or written, unless it is only known when the command runs
  /// (the runtime's check after the command covers those).
  mutating func access(_ word: ShellWord, _ mode: PathAccess.Mode, route: String) {
    guard !word.text.isEmpty, !word.substitution else { return }
    if word.expansion, !["~", "$HOME", "${HOME}"].contains(where: { word.text == $0 || word.text.hasPrefix($0 + "/") })
    {
      return
    }
    let item = PathAccess(path: word.text, mode: mode, route: route, folders: folders, pattern: word.glob || word.brace)
    if !accesses.contains(item) { accesses.append(item) }
  }

  /// Follows `cd folder`: later relative paths are checked against it too.
  mutating func enter(_ word: ShellWord) {
    let candidates = PathAccess(path: word.text, mode: .read, route: "", folders: folders)
      .workspacePaths(workspaceAliases: ["/workspace"])
    for folder in candidates where !folders.contains(folder) { folders.append(folder) }
  }

  mutating func add(_ kind: Hazard.Kind, _ detail: String) {
    let hazard = Hazard(kind, detail)
    if seen.insert(hazard).inserted { hazards.append(hazard) }
  }
}

/// Lexical checks on paths: the workspace is the current folder when the command starts.
///
/// The checks see text, not the file system: a symlink inside the workspace that points
/// outside is invisible to them. The sandbox is the boundary that stops such writes.
enum WorkspacePath {
  /// Device files a redirect or an argument may always name: they hold nothing of the
  /// person's and change nothing.
  static let harmlessDevices: Set<String> = [
    "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/stdin", "/dev/stdout", "/dev/stderr",
    "/dev/fd/0", "/dev/fd/1", "/dev/fd/2",
  ]

  /// Why `word` may name a place outside the workspace, or nil when it stays inside.
  /// `depth` is how many folders deep in the workspace the command starts.
  static func escape(_ word: ShellWord, from depth: Int = 0) -> String? {
    if word.expansion { return "is only known when the command runs" }
    if word.tilde { return "is in the home folder" }
    return escape(word.text, from: depth)
  }

  /// Why the path `text` leaves the workspace when used `depth` folders deep in it, or nil
  /// when it stays inside.
  static func escape(_ text: String, from start: Int = 0) -> String? {
    if text.hasPrefix("/") { return "is an absolute path" }
    var depth = start
    for component in text.split(separator: "/") where component != "." {
      depth += component == ".." ? -1 : 1
      if depth < 0 { return "climbs out of the workspace with `..`" }
    }
    return nil
  }

  /// Whether `text` names a disk or memory device.
  static func isRawDevice(_ text: String) -> Bool {
    let prefixes = [
      "/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", "/dev/nvme", "/dev/mmcblk", "/dev/dm-",
      "/dev/mapper/", "/dev/disk/", "/dev/md", "/dev/loop",
    ]
    return prefixes.contains(where: text.hasPrefix)
      || ["/dev/mem", "/dev/kmem", "/dev/port"].contains(text)
  }

  /// Whether `text` is one of bash's network pseudo-files.
  static func isNetwork(_ text: String) -> Bool {
    text.hasPrefix("/dev/tcp/") || text.hasPrefix("/dev/udp/")
  }
}
