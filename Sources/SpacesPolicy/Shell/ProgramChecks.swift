import SpacesModel

/// Argument checks for programs whose options can run code or write anywhere.
enum ProgramChecks {
  /// Shells that run scripts.
  static let shells: Set<String> = [
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "rbash", "yash",
    "posh",
  ]
  /// Interpreters whose script argument must come from the workspace.
  static let interpreters: Set<String> = shells.union([
    "python", "python3", "node", "bun", "deno", "ruby", "perl", "php", "lua", "Rscript",
  ])
  /// Programs that create, change or delete the files named by their operands.
  static let writers: Set<String> = [
    "rm", "rmdir", "mkdir", "touch", "cp", "mv", "ln", "tee", "uniq", "chmod", "chown", "chgrp",
    "truncate", "install", "cd",
  ]

  /// The `-c` string of a shell invocation the analyzer can follow, or nil (adding hazards
  /// for invocations it can't).
  static func shellScript(_ words: [ShellWord], into sink: inout ShellSink) -> String? {
    let program = words[0].text
    guard shells.contains(program) else { return nil }
    var index = 1
    var hasCommandString = false
    while index < words.count, let flag = words[index].text.first, flag == "-" || flag == "+" {
      let option = words[index].text
      index += 1
      if option == "--" { break }
      if option == "-o" || option == "+o" {
        index += 1
      } else if ["--norc", "--noprofile", "--posix"].contains(option) {
        continue
      } else if option.count > 1, option.dropFirst().allSatisfy("ceuxvfn".contains) {
        hasCommandString = hasCommandString || option.contains("c")
      } else {
        sink.add(
          .shellInvocation,
          "`\(program) \(option.clippedForReason)` changes how the shell starts or where it reads commands"
        )
        return nil
      }
    }
    guard hasCommandString else {
      if index >= words.count {
        sink.add(
          .shellInvocation,
          "`\(program)` without a script file reads commands from standard input, which can't be checked"
        )
      }
      return nil
    }
    guard index < words.count, !words[index].expansion, !words[index].substitution else {
      sink.add(
        .shellInvocation, "`\(program) -c` runs a string that is only known when the command runs")
      return nil
    }
    return words[index].text
  }

  /// Adds the hazards of one simple command's program and arguments.
  static func check(_ words: [ShellWord], into sink: inout ShellSink) {
    let program = words[0].text
    let args = Array(words.dropFirst())
    switch program {
    case "git": checkGit(args, into: &sink)
    case "find": checkFind(args, into: &sink)
    case "sed": SedCheck.check(args, into: &sink)
    case "awk", "gawk", "mawk", "nawk": checkAwk(program, args, into: &sink)
    case "sort": checkOutputOption(program, args, short: "-o", long: "--output", into: &sink)
    case "cd" where args.isEmpty || args[0].text == "-":
      sink.add(.pathOutsideWorkspace, "`cd` without a folder inside the workspace leaves it")
    default: break
    }
    if writers.contains(program) {
      checkOperands(program, args, what: "changes", into: &sink)
    } else if interpreters.contains(program) {
      let code = args.firstIndex {
        ["-c", "-e", "-m", "--eval", "-E", "-p", "--print"].contains($0.text)
      }
      checkOperands(program, Array(args[..<(code ?? args.count)]), what: "runs", into: &sink)
    }
  }

  /// Flags operands (and `--option=value` values) that leave the workspace.
  private static func checkOperands(
    _ program: String, _ args: [ShellWord], what: String, into sink: inout ShellSink
  ) {
    var optionsEnded = false
    for arg in args {
      var path = arg
      if !optionsEnded, arg.text.hasPrefix("-") {
        if arg.text == "--" {
          optionsEnded = true
          continue
        }
        if let equals = arg.text.firstIndex(of: "=") {
          path.text = String(arg.text[arg.text.index(after: equals)...])
        } else if !arg.text.hasPrefix("--"), let slash = arg.text.firstIndex(of: "/") {
          path.text = String(arg.text[slash...])
        } else {
          continue
        }
      }
      let shown = "`\(program) \(arg.text.clippedForReason)`"
      if WorkspacePath.isRawDevice(path.text), what == "changes" {
        sink.add(.deviceWrite, "\(shown) writes to a raw device")
      } else if let why = WorkspacePath.escape(path, from: sink.startDepth),
        !(WorkspacePath.harmlessDevices.contains(path.text) && !path.expansion)
      {
        sink.add(.pathOutsideWorkspace, "\(shown) \(what) a path outside the workspace: it \(why)")
      }
    }
  }

  /// Flags an output option (`-o FILE`, `-oFILE`, `--output=FILE`) outside the workspace.
  private static func checkOutputOption(
    _ program: String, _ args: [ShellWord], short: String, long: String, into sink: inout ShellSink
  ) {
    for (index, arg) in args.enumerated() {
      var target: ShellWord?
      if arg.text == short || arg.text == long, index + 1 < args.count {
        target = args[index + 1]
      } else if arg.text.hasPrefix(long + "=") {
        target = arg
        target?.text = String(arg.text.dropFirst(long.count + 1))
      } else if arg.text.hasPrefix(short), !arg.text.hasPrefix("--") {
        target = arg
        target?.text = String(arg.text.dropFirst(short.count))
      }
      if let target, let why = WorkspacePath.escape(target, from: sink.startDepth) {
        sink.add(
          .pathOutsideWorkspace,
          "`\(program) \(arg.text.clippedForReason)` writes outside the workspace: it \(why)")
      }
    }
  }

  // MARK: - git

  /// Global options that only change how git prints or matches paths.
  static let harmlessGitOptions: Set<String> = [
    "--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs", "--glob-pathspecs",
    "--noglob-pathspecs", "--icase-pathspecs", "--no-replace-objects", "--bare", "--no-advice",
  ]

  private static func checkGit(_ args: [ShellWord], into sink: inout ShellSink) {
    func flag(_ detail: String) { sink.add(.gitConfigTrick, detail) }
    var index = 0
    while index < args.count, args[index].text.hasPrefix("-") {
      let option = args[index].text
      index += 1
      if option == "-c" || option == "--config-env" || option.hasPrefix("--config-env=")
        || (option.hasPrefix("-c") && !option.hasPrefix("--"))
      {
        flag(
          "`git -c` sets configuration that can run programs (core.pager, alias.*, core.sshCommand)"
        )
        if option == "-c" || option == "--config-env" { index += 1 }
      } else if option.hasPrefix("--exec-path=") {
        flag("`git --exec-path=…` runs git's helper programs from another folder")
      } else if option == "-C" || (option.hasPrefix("-C") && !option.hasPrefix("--")) {
        var folder = index < args.count ? args[index] : ShellWord(text: "")
        if option == "-C" {
          index += 1
        } else {
          folder.text = String(option.dropFirst(2))
        }
        if let why = WorkspacePath.escape(folder, from: sink.startDepth) {
          flag(
            "`git -C \(folder.text.clippedForReason)` works on a repository outside the workspace: it \(why)"
          )
        }
      } else if ["--git-dir", "--work-tree", "--namespace", "--super-prefix"].contains(
        where: option.hasPrefix)
      {
        flag("`git \(option.clippedForReason)` points git at another repository or work tree")
        if !option.contains("=") { index += 1 }
      } else if option == "-p" || option == "--paginate" {
        flag("`git \(option)` forces a pager, which configuration can point at any program")
      }
    }
    guard index < args.count else { return }
    let subcommand = args[index].text
    if subcommand == "config" {
      flag(
        "`git config` changes settings that can run programs (core.pager, core.hooksPath, alias.*)")
    }
    let rest = args[(index + 1)...]
    for (offset, arg) in zip(rest.indices, rest) {
      let text = arg.text
      if ["--upload-pack", "--receive-pack", "--exec", "-u"].contains(where: {
        text == $0 || text.hasPrefix($0 + "=")
      })
        && (text != "-u"
          || ["fetch", "pull", "clone", "ls-remote", "archive"].contains(subcommand))
      {
        flag(
          "`git \(subcommand) \(text.clippedForReason)` runs a program of the command's choosing")
      } else if text == "--ext-diff" || text == "--textconv" {
        flag("`\(text)` runs the external diff or text conversion program from configuration")
      } else if text.hasPrefix("--template") || text.hasPrefix("--config")
        || (subcommand == "clone" && text == "-c")
      {
        flag(
          "`git \(subcommand) \(text.clippedForReason)` installs configuration or hooks that can run programs"
        )
      } else if subcommand == "grep",
        text.hasPrefix("-O") || text.hasPrefix("--open-files-in-pager")
      {
        flag(
          "`git grep \(text.clippedForReason)` opens results in a program of the command's choosing"
        )
      } else if subcommand == "rebase", text == "-x" || text.hasPrefix("--exec") {
        flag("`git rebase \(text.clippedForReason)` runs a command after each commit")
      } else if text == "--output" || text.hasPrefix("--output=") {
        var target = text == "--output" && offset + 1 < args.count ? args[offset + 1] : arg
        if text != "--output" { target.text = String(text.dropFirst("--output=".count)) }
        if let why = WorkspacePath.escape(target, from: sink.startDepth) {
          flag(
            "`git \(subcommand) \(text.clippedForReason)` writes outside the workspace: it \(why)")
        }
      }
    }
  }

  // MARK: - find and awk

  private static func checkFind(_ args: [ShellWord], into sink: inout ShellSink) {
    for arg in args {
      switch arg.text {
      case "-exec", "-execdir", "-ok", "-okdir":
        sink.add(.findExec, "`find \(arg.text)` runs a command for each file it finds")
      case "-delete":
        sink.add(.findExec, "`find -delete` deletes every file it finds")
      case "-fprint", "-fprint0", "-fprintf", "-fls":
        sink.add(.findExec, "`find \(arg.text)` writes its results to a file")
      default: break
      }
    }
  }

  private static func checkAwk(_ program: String, _ args: [ShellWord], into sink: inout ShellSink) {
    var index = 0
    while index < args.count, args[index].text.hasPrefix("-"), args[index].text != "-" {
      let option = args[index].text
      index += 1
      if option == "--" { break }
      if option == "-F" || option == "-v" {
        index += 1
      } else if !(option.hasPrefix("-F") || option.hasPrefix("-v")) || option.hasPrefix("--") {
        sink.add(
          .awkExecute,
          "`\(program) \(option.clippedForReason)` loads a program or extension the analyzer can't check"
        )
        return
      }
    }
    guard index < args.count else { return }
    let text = args[index].text
    for (needle, why) in [
      ("system", "calls `system`, which runs a shell command"), ("|", "pipes to or from a command"),
      (">", "may write to a file with `>`"), ("@load", "loads an extension"),
      ("@include", "includes a file"),
    ] where text.contains(needle) {
      sink.add(.awkExecute, "the \(program) program \(why)")
    }
  }
}
