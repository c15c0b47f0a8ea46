import Testing

@testable import SpacesKit
@testable import SpacesPolicy

/// One parser case: the words of each simple command and the exact set of hazard kinds.
struct ParseCase: Sendable, CustomTestStringConvertible {
  let input: String
  let commands: [[String]]
  let hazards: Set<Hazard.Kind>
  var testDescription: String { input.debugDescription }

  init(_ input: String, _ commands: [[String]], _ hazards: Set<Hazard.Kind> = []) {
    self.input = input
    self.commands = commands
    self.hazards = hazards
  }
}

let parseCases: [ParseCase] = [
  // Words, quotes and escapes.
  ParseCase("ls -la", [["ls", "-la"]]),
  ParseCase("echo 'a b' \"c d\"", [["echo", "a b", "c d"]]),
  ParseCase(#"echo "a\"b" 'c\d' "e\f""#, [["echo", "a\"b", #"c\d"#, #"e\f"#]]),
  ParseCase(#"echo a\ b \$x"#, [["echo", "a b", "$x"]]),
  ParseCase("echo a#b", [["echo", "a#b"]]),
  ParseCase("l\"\"s -la", [["ls", "-la"]]),
  ParseCase("c'u'rl x", [["curl", "x"]]),
  ParseCase("$'\\x63url' x", [["\\x63url", "x"]], [.ansiCQuoting]),
  ParseCase("echo ''", [["echo", ""]]),
  // Comments and line continuations.
  ParseCase("ls # a comment $(curl x)", [["ls"]]),
  ParseCase("ls \\\n  -la", [["ls", "-la"]]),
  ParseCase("# only a comment", []),
  // Lists and pipelines.
  ParseCase("ls; pwd", [["ls"], ["pwd"]]),
  ParseCase("ls && pwd || echo no", [["ls"], ["pwd"], ["echo", "no"]]),
  ParseCase("cat a | grep b | sort", [["cat", "a"], ["grep", "b"], ["sort"]]),
  ParseCase("ls |& cat", [["ls"], ["cat"]]),
  ParseCase("sleep 1 & pwd", [["sleep", "1"], ["pwd"]]),
  ParseCase("ls\npwd\n", [["ls"], ["pwd"]]),
  ParseCase("ls &&\n  pwd", [["ls"], ["pwd"]]),
  ParseCase("! grep x f", [["grep", "x", "f"]]),
  // Compound commands.
  ParseCase("(cd src && ls)", [["cd", "src"], ["ls"]]),
  ParseCase("((((ls))))", [["ls"]]),
  ParseCase("{ ls; pwd; }", [["ls"], ["pwd"]]),
  ParseCase(
    "if test -f a; then cat a; elif true; then echo b; else echo c; fi",
    [["test", "-f", "a"], ["cat", "a"], ["true"], ["echo", "b"], ["echo", "c"]]),
  ParseCase("for f in a b; do echo x; done", [["echo", "x"]], [.environmentPrefix]),
  ParseCase("while true; do sleep 1; done", [["true"], ["sleep", "1"]]),
  ParseCase("until false\ndo\n  echo x\ndone", [["false"], ["echo", "x"]]),
  ParseCase("case x in a|b) echo a;; *) echo other;; esac", [["echo", "a"], ["echo", "other"]]),
  ParseCase("case x in\n  (a) ls ;;\nesac", [["ls"]]),
  ParseCase("f() { ls; }; f", [["ls"], ["f"]]),
  ParseCase("function g { pwd; }", [["pwd"]]),
  ParseCase("[[ -f a && -n b ]] && ls", [["[[", "-f", "a", "&&", "-n", "b", "]]"], ["ls"]]),
  ParseCase("echo if then fi", [["echo", "if", "then", "fi"]]),
  // Here-documents.
  ParseCase("cat <<EOF\nhello $(whoami)\nEOF", [["cat"]], [.commandSubstitution]),
  ParseCase("cat <<'EOF'\nhello $(whoami)\nEOF", [["cat"]]),
  ParseCase("cat <<\\EOF\n`id`\nEOF\nls", [["cat"], ["ls"]]),
  ParseCase("cat <<-EOF\n\tbody\n\tEOF\nls", [["cat"], ["ls"]]),
  ParseCase("cat <<A <<B\na\nA\nb\nB\npwd", [["cat"], ["pwd"]]),
  ParseCase("cat <<EOF | grep x\nbody; curl x\nEOF", [["cat"], ["grep", "x"]]),
  // Substitutions and expansions.
  ParseCase("echo $(date)", [["date"], ["echo", "$(date)"]], [.commandSubstitution]),
  ParseCase("echo `date`", [["date"], ["echo", "`date`"]], [.commandSubstitution]),
  ParseCase(
    "echo \"$(echo \"in\")\"", [["echo", "in"], ["echo", "$(echo \"in\")"]], [.commandSubstitution]),
  ParseCase(
    "diff <(ls a) <(ls b)", [["ls", "a"], ["ls", "b"], ["diff", "<(ls a)", "<(ls b)"]],
    [.processSubstitution]),
  ParseCase("echo ${HOME}", [["echo", "${HOME}"]], [.parameterExpansion]),
  ParseCase("echo $((1 + 2)) $?", [["echo", "$((1 + 2))", "$?"]]),
  ParseCase("echo $(( $(id) ))", [["echo", "$(( $(id) ))"]], [.commandSubstitution]),
  ParseCase(
    "for x in $(ls); do echo; done", [["ls"], ["echo"]], [.commandSubstitution, .environmentPrefix]),
  ParseCase("{curl,x}", [["{curl,x}"]], [.braceExpansion]),
  // Assignments, wrappers and shells.
  ParseCase("X=1 ls", [["ls"]], [.environmentPrefix]),
  ParseCase("a=1; b+=2", [[""], [""]], [.environmentPrefix]),
  ParseCase("nice -n 5 ls", [["ls"]]),
  ParseCase("timeout -s KILL 5s ls -la", [["ls", "-la"]]),
  ParseCase("env A=b ls", [["ls"]], [.environmentPrefix]),
  ParseCase("command ls; command -v git", [["ls"], ["command", "-v", "git"]]),
  ParseCase("time nohup make", [["make"]]),
  ParseCase("sh -c 'ls; pwd'", [["ls"], ["pwd"]]),
  ParseCase("bash -ec \"curl x\"", [["curl", "x"]]),
  ParseCase("sudo ls", [["sudo", "ls"]], [.wrapper]),
  ParseCase("2>/dev/null ls -a", [["ls", "-a"]]),
  ParseCase("> out.txt", [[""]]),
  // Errors.
  ParseCase("echo \"unterminated", [["echo"]], [.parseError]),
  ParseCase("echo 'x", [["echo"]], [.parseError]),
  ParseCase("(ls", [["ls"]], [.parseError]),
  ParseCase("ls )", [["ls"]], [.parseError]),
  ParseCase("if true; then ls", [["true"], ["ls"]], [.parseError]),
  ParseCase("ls;;", [["ls"]], [.parseError]),
  ParseCase("cat <<EOF", [["cat"]], [.parseError]),
  ParseCase("echo $(ls", [["echo"]], [.parseError]),
  ParseCase("ls > ", [], [.parseError]),
  ParseCase("for ((i=0;i<3;i++)); do ls; done", [], [.parseError]),
]

@Test(arguments: parseCases)
func parses(_ testCase: ParseCase) {
  let analysis = ShellAnalyzer.analyze(testCase.input)
  #expect(analysis.commands.map { [$0.program] + $0.arguments } == testCase.commands)
  #expect(Set(analysis.hazards.map(\.kind)) == testCase.hazards, "\(analysis.hazards)")
}

@Test func parserTableIsLarge() {
  #expect(parseCases.count >= 40)
}

@Test func recordsRedirectsAssignmentsAndBackground() {
  let analysis = ShellAnalyzer.analyze("A=1 ls -l > out.txt 2>&1 < in.txt &")
  #expect(
    analysis.commands == [
      SimpleCommand(
        program: "ls", arguments: ["-l"], assignments: ["A=1"],
        redirects: [Redirect(">", "out.txt"), Redirect("2>&", "1"), Redirect("<", "in.txt")],
        background: true)
    ])
  let heredoc = ShellAnalyzer.analyze("cat > f.txt <<'EOF'\nx\nEOF")
  #expect(heredoc.commands.first?.redirects == [Redirect(">", "f.txt"), Redirect("<<", "EOF")])
  #expect(heredoc.hazards.isEmpty)
}

@Test func recordsWrappersLookedThrough() {
  let analysis = ShellAnalyzer.analyze("nice timeout 5 sh -c 'ls -a'")
  #expect(
    analysis.commands == [
      SimpleCommand(program: "ls", arguments: ["-a"], wrappers: ["nice", "timeout", "sh -c"])
    ])
  #expect(analysis.hazards.isEmpty)
}

@Test func backgroundAppliesToTheWholeAndOrList() {
  let analysis = ShellAnalyzer.analyze("ls && pwd & echo x")
  #expect(analysis.commands.map(\.background) == [true, true, false])
}

@Test func everyHazardHasASentence() {
  let analysis = ShellAnalyzer.analyze("X=1 eval `id` $(curl x) <(y) > /etc/x; sudo find / -delete")
  #expect(analysis.hazards.count >= 6)
  for hazard in analysis.hazards {
    #expect(hazard.detail.count > 20, "\(hazard)")
  }
}
