/// Programs that run another program given in their arguments.
enum Wrappers {
  /// What to do with a command's leading program.
  enum Unwrap {
    /// The program is the command: judge it.
    case keep
    /// Drop `skip` words and judge the command they wrapped; `assignments` came from `env`.
    case inner(skip: Int, assignments: [ShellWord])
  }

  /// Wrappers the analyzer never looks through: their options are too rich to follow.
  static let opaque: Set<String> = [
    "xargs", "sudo", "doas", "su", "runuser", "pkexec", "builtin", "busybox", "toybox", "stdbuf",
    "setsid", "chroot", "unshare", "nsenter", "strace", "ltrace", "flock", "watch", "script",
    "parallel", "ionice", "chrt", "taskset", "fakeroot", "firejail", "bwrap", "systemd-run",
    "unbuffer", "gdb", "valgrind", "setpriv", "capsh", "run-parts", "expect", "rlwrap", "sg",
    "newgrp", "dbus-launch", "catchsegv", "proot", "faketime",
  ]

  /// Decides whether `words` start with a wrapper to look through, adding hazards for
  /// wrappers that can't be.
  static func unwrap(_ words: [ShellWord], into sink: inout ShellSink) -> Unwrap {
    guard let program = words.first?.text, words.count > 1 else {
      if let program = words.first?.text, program == "exec" || opaque.contains(program) {
        addHazard(program, into: &sink)
      }
      return .keep
    }
    let args = words.dropFirst().map(\.text)
    switch program {
    case "env": return unwrapEnv(words, into: &sink)
    case "nohup": return args[0].hasPrefix("-") ? .keep : .inner(skip: 1, assignments: [])
    case "nice": return unwrapNice(args, into: &sink)
    case "timeout": return unwrapTimeout(args, into: &sink)
    case "time": return unwrapOptions(program, args, allowed: ["-p"], into: &sink)
    case "command":
      if args[0] == "-v" || args[0] == "-V" { return .keep }
      return unwrapOptions(program, args, allowed: ["--"], into: &sink)
    case "exec":
      addHazard(program, into: &sink)
      return unwrapOptions(program, args, allowed: ["--"], into: &sink)
    case _ where opaque.contains(program):
      addHazard(program, into: &sink)
      return .keep
    default:
      return .keep
    }
  }

  private static func addHazard(_ program: String, into sink: inout ShellSink) {
    if program == "exec" {
      sink.add(.exec, "`exec` replaces the shell with another program")
    } else {
      sink.add(.wrapper, "`\(program)` runs another command in a way the analyzer can't follow")
    }
  }

  /// `env NAME=value … program`: without options, the assignments become the program's.
  private static func unwrapEnv(_ words: [ShellWord], into sink: inout ShellSink) -> Unwrap {
    var index = 1
    while index < words.count, words[index].assignment { index += 1 }
    if index < words.count, words[index].text.hasPrefix("-") {
      sink.add(
        .wrapper,
        "`env` with options (such as -S or -i) runs another command in a way the analyzer can't follow"
      )
      return .keep
    }
    return index < words.count ? .inner(skip: index, assignments: Array(words[1..<index])) : .keep
  }

  /// `nice [-n N | -N | --adjustment=N] program`.
  private static func unwrapNice(_ args: [String], into sink: inout ShellSink) -> Unwrap {
    var skip = 1
    if args[0] == "-n" {
      skip = 3
    } else if args[0].hasPrefix("-n") || args[0].hasPrefix("--adjustment=")
      || args[0].dropFirst().allSatisfy(\.isNumber)
    {
      skip = args[0].hasPrefix("-") ? 2 : 1
    } else if args[0].hasPrefix("-") {
      sink.add(
        .wrapper, "`nice \(args[0].clippedForReason)` is an option the analyzer doesn't know")
      return .keep
    }
    return skip <= args.count ? .inner(skip: skip, assignments: []) : .keep
  }

  /// `timeout [--preserve-status | --foreground | -v | -k D | -s SIG] DURATION program`.
  private static func unwrapTimeout(_ args: [String], into sink: inout ShellSink) -> Unwrap {
    var index = 0
    while index < args.count, args[index].hasPrefix("-") {
      let option = args[index]
      if ["-k", "-s", "--kill-after", "--signal"].contains(option) {
        index += 2
      } else if ["--preserve-status", "--foreground", "-v", "--verbose"].contains(option)
        || option.hasPrefix("-k") || option.hasPrefix("-s") || option.hasPrefix("--kill-after=")
        || option.hasPrefix("--signal=")
      {
        index += 1
      } else {
        sink.add(
          .wrapper, "`timeout \(option.clippedForReason)` is an option the analyzer doesn't know")
        return .keep
      }
    }
    guard index + 1 < args.count else { return .keep }
    let duration = args[index]
    let number =
      duration.last.map { "smhd".contains($0) } == true ? duration.dropLast() : Substring(duration)
    guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }) else {
      sink.add(
        .wrapper, "`timeout` with the duration `\(duration.clippedForReason)` can't be followed")
      return .keep
    }
    return .inner(skip: index + 2, assignments: [])
  }

  /// `program [allowed options] inner`, for wrappers whose only options are harmless.
  private static func unwrapOptions(
    _ program: String, _ args: [String], allowed: Set<String>, into sink: inout ShellSink
  ) -> Unwrap {
    var index = 0
    while index < args.count, args[index].hasPrefix("-") {
      guard allowed.contains(args[index]) else {
        sink.add(
          .wrapper,
          "`\(program) \(args[index].clippedForReason)` runs another command in a way the analyzer can't follow"
        )
        return .keep
      }
      index += 1
      if args[index - 1] == "--" { break }
    }
    return index < args.count ? .inner(skip: index + 1, assignments: []) : .keep
  }
}
