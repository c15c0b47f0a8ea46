import SpacesModel

extension CommandJudge {
  /// The `standard` preset's command rules: a curated allow-list plus `ask` rules for
  /// commands that reach the network, delete recursively or change permissions.
  ///
  /// Everything else is left to `unmatched` (`ask` under `standard`). The rules assume the
  /// analyzer's hazards are applied too: `sed` is allowed because `sed -i`, `e` and `w` are
  /// hazards, `cp` because paths outside the workspace are.
  ///
  /// Decisions worth knowing:
  /// - Interpreters running workspace code are allowed (`python3 x.py`, `sh build.sh`, and
  ///   `python3 -c`, `node -e`, `perl -e`, `ruby -e` too): the policy can't judge Python or
  ///   JavaScript either way, and a script file is no safer than a `-c` string, so the sandbox
  ///   is the boundary for both. `sh -c 'string'` is different: the string is shell, which
  ///   the analyzer reads and judges command by command.
  /// - `git commit` asks: it runs hooks from `.git/hooks`, which the agent can write, and it
  ///   changes the person's history. (Allowed git commands can also run programs named in
  ///   `.git/config`, which the agent can write too; that is workspace code like any script,
  ///   contained by the sandbox.)
  /// - `rm` of files is allowed (the agent may delete workspace files anyway); recursive `rm`
  ///   asks; `rm -rf /` and friends are hard stops. `ln` is allowed, `ln -s` asks: a symbolic
  ///   link can point outside the workspace and the path checks are lexical.
  /// - Workspace programs such as `./build.sh` match no rule, so they ask; a person can allow
  ///   one by name with a rule whose program is `./build.sh`.
  /// - `tar` asks: its options can run programs (`--to-command`, `-I`, `--checkpoint-action`).
  public static let standardCommandRules: [CommandRule] =
    StandardRules.allowed + StandardRules.asked

  /// Rules that deny whatever other rules say: wiping the root or home folder, formatting
  /// disks, writing raw devices, powering off. Writes to raw devices through redirects and
  /// the fork bomb are caught by the analyzer as `deviceWrite` and `forkBomb` hazards.
  public static let hardStopRules: [CommandRule] = StandardRules.hardStops

  /// The hard stop `command` hits, if any, in every spelling of its program and paths:
  /// `/sbin/mkfs.ext4` is `mkfs.ext4`, and `${HOME}/*`, `"$HOME"`, `~/` are the home folder.
  public static func hardStop(for command: SimpleCommand) -> CommandRule? {
    var canonical = command
    canonical.program = command.program.split(separator: "/").last.map(String.init) ?? command.program
    canonical.arguments = command.arguments.map(StandardRules.canonicalTarget)
    if let stop = hardStopRules.first(where: { $0.matches(command) || $0.matches(canonical) }) { return stop }
    // `sudo rm -rf /`: a wrapper the analyzer can't follow still doesn't hide a hard stop.
    guard Wrappers.opaque.contains(canonical.program) || canonical.program == "exec" else { return nil }
    for (index, word) in command.arguments.enumerated() where !word.hasPrefix("-") {
      let inner = SimpleCommand(program: word, arguments: Array(command.arguments[(index + 1)...]))
      if let stop = hardStop(for: inner) { return stop }
    }
    return nil
  }
}

/// The rule tables behind the presets.
enum StandardRules {
  private static func rule(
    _ decision: Decision.Verdict, _ name: String, _ program: String, anywhere: [String] = [],
    _ reason: String
  ) -> CommandRule {
    rule(decision, name, program, [], anywhere: anywhere, reason)
  }

  private static func rule(
    _ decision: Decision.Verdict, _ name: String, _ program: String, _ prefix: [String],
    anywhere: [String] = [], _ reason: String
  ) -> CommandRule {
    CommandRule(
      program: program, prefix: prefix, anywhere: anywhere, decision: decision, reason: reason,
      name: (decision == .deny ? "hard-stop:" : "standard:") + name)
  }

  private static let readers = [
    "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "rg", "sort", "uniq", "cut", "tr",
    "diff", "cmp", "echo", "printf", "pwd", "true", "false", "test", "[", "[[", ":", "basename",
    "dirname", "realpath", "readlink", "stat", "file", "which", "date", "sleep", "jq", "nl", "tac",
    "du", "df", "seq", "md5sum", "sha256sum",
  ]

  private static let changers = ["mkdir", "touch", "cp", "mv", "ln", "tee", "rm", "rmdir", "cd"]

  static let allowed: [CommandRule] =
    readers.map { rule(.allow, $0, $0, "`\($0)` only reads files or prints text") }
    + changers.map {
      rule(.allow, $0, $0, "`\($0)` works on files in the workspace (paths outside it are flagged)")
    }
    + [
      rule(.allow, "sed", "sed", "`sed` transforms text (in-place edits, `e` and `w` are flagged)"),
      rule(
        .allow, "awk", "awk|gawk|mawk",
        "`awk` transforms text (`system`, pipes and writes are flagged)"),
      rule(
        .allow, "find", "find", "`find` lists files (`-exec`, `-delete` and `-fprint` are flagged)"),
      rule(.allow, "command-v", "command", ["-v|-V"], "`command -v` looks a program up"),
      rule(
        .allow, "git-read", "git",
        [
          "status|diff|log|show|branch|rev-parse|ls-files|blame|grep|describe|ls-tree|cat-file|merge-base|shortlog|--version"
        ],
        "reads the repository in the workspace"),
      rule(
        .allow, "git-stage", "git", ["add|init"],
        "stages files or creates a repository in the workspace"),
      rule(
        .allow, "swift", "swift", ["build|test|run"],
        "builds, tests or runs the workspace's Swift package"),
      rule(
        .allow, "go", "go", ["build|test|run|vet"], "builds, tests or runs the workspace's Go code"),
      rule(
        .allow, "cargo", "cargo", ["build|test|run|check"],
        "builds, tests or runs the workspace's Rust code"),
      rule(.allow, "make", "make", "runs the workspace's Makefile"),
      rule(
        .allow, "npm-run", "npm|pnpm|yarn", ["run|run-script|test"],
        "runs a script from the workspace's package.json"),
      rule(.allow, "tsc", "tsc", "compiles the workspace's TypeScript"),
      rule(.allow, "pytest", "pytest", "runs the workspace's tests"),
      rule(
        .allow, "python-script", "python|python3", ["*.py"],
        "runs a Python script from the workspace"),
      rule(.allow, "python-code", "python|python3", ["-c"], "runs Python code, as a script would"),
      rule(
        .allow, "python-test", "python|python3", ["-m", "pytest|unittest"],
        "runs the workspace's tests"),
      rule(
        .allow, "node-script", "node", ["*.js|*.mjs|*.cjs|*.ts"],
        "runs a JavaScript file from the workspace"),
      rule(.allow, "node-code", "node", ["-e"], "runs JavaScript code, as a script would"),
      rule(
        .allow, "bun", "bun", ["run|test|*.ts|*.tsx|*.js|*.mjs"], "runs code from the workspace"),
      rule(.allow, "deno", "deno", ["run|test"], "runs code from the workspace"),
      rule(.allow, "ruby", "ruby", ["*.rb|-e"], "runs Ruby code from the workspace"),
      rule(.allow, "perl", "perl", ["*.pl|-e"], "runs Perl code from the workspace"),
      rule(
        .allow, "shell-script", "sh|bash|dash", ["*.sh"], "runs a shell script from the workspace"),
    ]

  static let asked: [CommandRule] = [
    rule(
      .ask, "network", "curl|wget|nc|ncat|netcat|socat|ssh|scp|sftp|rsync|telnet|ftp",
      "reaches the network"),
    rule(
      .ask, "git-network", "git", ["push|fetch|pull|clone|remote|submodule|ls-remote"],
      "talks to another repository over the network"),
    rule(
      .ask, "git-commit", "git", ["commit"], "adds to your history and runs the repository's hooks"),
    rule(.ask, "git-clean", "git", ["clean"], "deletes untracked files"),
    rule(
      .ask, "git-reset-hard", "git", ["reset"], anywhere: ["--hard"], "discards uncommitted changes"
    ),
    rule(
      .ask, "git-branch-change", "git", ["branch"],
      anywhere: ["-d|-D|--delete|-m|-M|--move|-c|-C|--copy|-f|--force"],
      "deletes, renames or overwrites a branch"),
    rule(
      .ask, "pip-install", "pip|pip3", ["install|download|uninstall"],
      "installs packages from the network"),
    rule(
      .ask, "python-pip", "python|python3", ["-m", "pip|ensurepip"],
      "installs packages from the network"),
    rule(
      .ask, "js-install", "npm|pnpm|yarn|bun",
      ["install|i|ci|add|publish|update|upgrade|exec|dlx|x"],
      "installs or publishes packages over the network"),
    rule(.ask, "npx", "npx|pnpx|bunx", "downloads and runs a package"),
    rule(
      .ask, "cargo-install", "cargo", ["install|publish|add|update"],
      "installs or publishes crates over the network"),
    rule(.ask, "go-get", "go", ["get|install|mod"], "downloads modules over the network"),
    rule(
      .ask, "go-remote", "go", ["run|install|get"], anywhere: ["*@*"],
      "downloads and runs a module from the network"),
    rule(
      .ask, "deno-remote", "deno", anywhere: ["http://*|https://*|npm:*|jsr:*"],
      "downloads and runs code from the network"),
    rule(.ask, "packages", "apt|apt-get|dpkg|snap|brew", "installs system packages"),
    rule(.ask, "containers", "docker|podman|kubectl", "controls containers outside the sandbox"),
    rule(
      .ask, "rm-recursive", "rm", anywhere: ["-r|-R|--recursive"],
      "deletes folders and everything in them"),
    rule(
      .ask, "symlink", "ln", anywhere: ["-s|--symbolic"],
      "makes a symbolic link, which can point outside the workspace"),
    rule(
      .ask, "cp-symlink", "cp", anywhere: ["-s|--symbolic-link"],
      "makes symbolic links, which can point outside the workspace"),
    rule(.ask, "permissions", "chmod|chown|chgrp", "changes permissions or ownership"),
    rule(.ask, "signals", "kill|pkill|killall", "stops other processes"),
    rule(
      .ask, "sort-compress", "sort", anywhere: ["--compress-program*"],
      "runs a compression program of the command's choosing"),
    rule(
      .ask, "rg-pre", "rg", anywhere: ["--pre|--pre=*"], "runs a preprocessor program on every file"
    ),
    rule(.ask, "date-set", "date", anywhere: ["-s|--set|--set=*"], "sets the system clock"),
    rule(
      .ask, "printf-var", "printf", anywhere: ["-v"],
      "assigns a shell variable, which can change how programs run"),
    rule(
      .ask, "tar", "tar", "tar's options can run programs (--to-command, -I, --checkpoint-action)"),
  ]

  /// The rules that reach the network: what a sandbox without network asks about (approving
  /// runs that one operation with the network on).
  static let network: [CommandRule] = [
    rule(
      .ask, "network", "curl|wget|nc|ncat|netcat|socat|ssh|scp|sftp|rsync|telnet|ftp|aria2c|http|https",
      "reaches the network"),
    rule(
      .ask, "git-network", "git", ["push|fetch|pull|clone|submodule|ls-remote"],
      "talks to another repository over the network"),
    rule(
      .ask, "git-remote-network", "git", ["remote", "update|show|prune|set-head"],
      "talks to another repository over the network"),
    rule(
      .ask, "pip-install", "pip|pip3|uv|poetry|pipx", ["install|download|add|sync|lock|update"],
      "installs packages from the network"),
    rule(
      .ask, "python-pip", "python|python3", ["-m", "pip|ensurepip"], "installs packages from the network"),
    rule(
      .ask, "js-install", "npm|pnpm|yarn|bun", ["install|i|ci|add|publish|update|upgrade"],
      "installs or publishes packages over the network"),
    rule(
      .ask, "cargo-install", "cargo", ["install|publish|add|update|fetch"],
      "installs or publishes crates over the network"),
    rule(.ask, "go-get", "go", ["get|install|mod"], "downloads modules over the network"),
    rule(
      .ask, "go-remote", "go", ["run"], anywhere: ["*@*"], "downloads and runs a module from the network"),
    rule(
      .ask, "deno-remote", "deno", anywhere: ["http://*|https://*|npm:*|jsr:*"],
      "downloads and runs code from the network"),
    rule(.ask, "packages", "apt|apt-get|snap|brew", "installs system packages from the network"),
  ]

  /// Whether `command` clones a repository from a path rather than over the network.
  static func isLocalClone(_ command: SimpleCommand) -> Bool {
    guard command.program == "git", CommandRule.significantArguments(of: command).first == "clone" else { return false }
    let operands = command.arguments.drop { $0 != "clone" }.dropFirst().filter { !$0.hasPrefix("-") }
    guard let source = operands.first else { return false }
    let url =
      source.contains("://") || source.contains("@")
      || (source.firstIndex(of: ":").map { colon in !source[..<colon].contains("/") } ?? false)
    return !url
  }

  /// Without a sandbox: programs that run code the policy can't see into ask, whatever the
  /// allow-list says (strictest wins).
  static let hostAsked: [CommandRule] = [
    rule(
      .ask, "host-code",
      "python|python3|node|bun|deno|ruby|perl|php|lua|Rscript|sh|bash|dash|zsh|ksh|fish|tsx|ts-node",
      "runs code the policy can't see into, on your machine with no sandbox"),
    rule(
      .ask, "host-build",
      "swift|go|cargo|make|cmake|ninja|gradle|gradlew|mvn|tsc|pytest|tox|nox|npm|pnpm|yarn|npx|pnpx|bunx|uv|poetry|pip|pip3|dotnet|mix|rake|bundle",
      "builds or runs the workspace's code or package scripts, which can do anything on your machine with no sandbox"
    ),
    rule(
      .ask, "host-awk", "awk|gawk|mawk|nawk",
      "awk can run commands (system, pipes, indirect calls such as @f()), on your machine with no sandbox"),
    rule(
      .ask, "host-program-option", "rg", anywhere: ["--pre|--pre=*|--hostname-bin|--hostname-bin=*"],
      "names a program for ripgrep to run, on your machine with no sandbox"),
    rule(
      .ask, "host-git-commit", "git", ["commit|merge|rebase|am|cherry-pick|revert|pull|checkout|switch"],
      "runs the repository's hooks, on your machine with no sandbox"),
  ]

  /// One spelling per path for the hard stops: `${HOME}` and `$HOME` are `~`; repeated and
  /// trailing slashes, a trailing `/.` or `/*` go.
  static func canonicalTarget(_ argument: String) -> String {
    var text = argument
    for home in ["${HOME}", "$HOME"] where text == home || text.hasPrefix(home + "/") {
      text = "~" + text.dropFirst(home.count)
    }
    while text.contains("//") { text = text.replacingOccurrences(of: "//", with: "/") }
    while text.count > 1 {
      if text.hasSuffix("/*") || text.hasSuffix("/.") {
        text.removeLast(2)
      } else if text.hasSuffix("/") {
        text.removeLast()
      } else if text.hasSuffix("/..") {
        text = "/"
      } else {
        break
      }
      if text.isEmpty { text = "/" }
    }
    return text
  }

  /// Arguments naming the root folder, the home folder, or a top-level system folder.
  private static let systemTargets: String = {
    let roots = [
      "/", "/\\*", "//", "/.", "/..", "/./", "~", "~/", "~/\\*", "$HOME", "$HOME/", "$HOME/\\*",
      "${HOME}", "${HOME}/",
    ]
    let tops = [
      "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/sbin",
      "/srv", "/sys", "/usr", "/var",
    ]
    return (roots + tops.flatMap { [$0, $0 + "/", $0 + "/\\*"] }).joined(separator: "|")
  }()

  private static let rawDevices =
    ["sd", "hd", "vd", "xvd", "nvme", "mmcblk", "dm-", "md", "loop", "mapper/", "disk/"].map {
      "of=/dev/\($0)*"
    }
    + ["of=/dev/mem", "of=/dev/kmem", "of=/dev/port"]

  static let hardStops: [CommandRule] = [
    rule(
      .deny, "rm-system", "rm", anywhere: ["-r|-R|--recursive", systemTargets],
      "deletes the root, home or a system folder recursively"),
    rule(
      .deny, "rm-no-preserve-root", "rm", anywhere: ["--no-preserve-root"],
      "disables rm's protection of the root folder"),
    rule(
      .deny, "chmod-system", "chmod|chown|chgrp", anywhere: ["-R|--recursive", systemTargets],
      "changes permissions of the root, home or a system folder recursively"),
    rule(.deny, "mkfs", "mkfs*|mke2fs|mkswap|wipefs", "formats or wipes a disk"),
    rule(
      .deny, "dd-device", "dd", anywhere: [rawDevices.joined(separator: "|")],
      "writes over a disk or memory device"),
    rule(.deny, "power", "shutdown|reboot|halt|poweroff", "powers off or restarts the machine"),
    rule(
      .deny, "systemctl-power", "systemctl", ["poweroff|reboot|halt|kexec"],
      "powers off or restarts the machine"),
    rule(.deny, "init-power", "init|telinit", ["0|6"], "powers off or restarts the machine"),
  ]
}
