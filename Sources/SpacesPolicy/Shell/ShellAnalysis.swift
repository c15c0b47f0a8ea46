import SpacesModel

/// What the shell analyzer found in one command string.
///
/// `hazards` empty means every part of the string was understood; only then can the
/// commands be judged by rules alone.
public struct ShellAnalysis: Sendable, Equatable {
  /// Every simple command found, in the order the shell would start them (the commands
  /// inside a `$(…)` come before the command that uses its output).
  public var commands: [SimpleCommand]
  /// Why the string can't be auto-allowed; empty when it was fully understood.
  public var hazards: [Hazard]
  /// The paths the commands read and write, as far as redirects and the programs' arguments
  /// show them.
  public var accesses: [PathAccess]

  /// Creates an analysis.
  public init(commands: [SimpleCommand] = [], hazards: [Hazard] = [], accesses: [PathAccess] = []) {
    self.commands = commands
    self.hazards = hazards
    self.accesses = accesses
  }
}

/// One program run with its words, as the shell would start it.
public struct SimpleCommand: Sendable, Equatable {
  /// The command word after quote removal, such as `git` or `/usr/bin/git`.
  public var program: String
  /// The remaining words after quote removal; expansions are kept as written (`$HOME`).
  public var arguments: [String]
  /// `NAME=value` words before the program (or given to `env`).
  public var assignments: [String]
  /// Redirections, in order.
  public var redirects: [Redirect]
  /// Whether the command runs in the background (`&`).
  public var background: Bool
  /// Wrappers the analyzer looked through to find `program`, such as `nice` or `sh -c`.
  public var wrappers: [String]

  /// Creates a simple command.
  public init(
    program: String, arguments: [String] = [], assignments: [String] = [],
    redirects: [Redirect] = [], background: Bool = false, wrappers: [String] = []
  ) {
    self.program = program
    self.arguments = arguments
    self.assignments = assignments
    self.redirects = redirects
    self.background = background
    self.wrappers = wrappers
  }
}

/// A redirection such as `> out.txt` or `2>&1`.
public struct Redirect: Sendable, Equatable {
  /// The operator with its file descriptor, such as `>`, `>>`, `2>`, `&>`, `<<`, `2>&`.
  public var op: String
  /// The target word after quote removal; for a here-document, its delimiter.
  public var target: String

  /// Creates a redirect.
  public init(_ op: String, _ target: String) {
    self.op = op
    self.target = target
  }
}

/// A reason a command can't be auto-allowed, with a sentence a person understands.
public struct Hazard: Sendable, Equatable, Hashable {
  /// The families of hazards.
  public enum Kind: String, Sendable, CaseIterable {
    /// `$(…)`, backticks, or `$((…))` that may run a command.
    case commandSubstitution
    /// `<(…)` or `>(…)`.
    case processSubstitution
    /// `$NAME`, `${…}`, `$1`: a word only known when the command runs.
    case parameterExpansion
    /// `{a,b}` or `{1..3}` expanding into several words.
    case braceExpansion
    /// A glob pattern in the program position.
    case glob
    /// `$'…'` quoting, which can spell any text with escape codes.
    case ansiCQuoting
    /// `eval`.
    case eval
    /// `exec`.
    case exec
    /// `source` or `.`.
    case source
    /// A shell run on a string or on standard input rather than a script file.
    case shellInvocation
    /// A program that runs another program (`sudo`, `xargs`, `env -S` …).
    case wrapper
    /// A `NAME=value` assignment, alone or before a program.
    case environmentPrefix
    /// A redirect whose target is outside the workspace.
    case redirectOutsideWorkspace
    /// A redirect through bash's `/dev/tcp` or `/dev/udp`.
    case networkRedirect
    /// A redirect or argument that writes to a raw device (`/dev/sda`).
    case deviceWrite
    /// A path argument that leaves the workspace where the program writes or runs it.
    case pathOutsideWorkspace
    /// `find` with `-exec`, `-execdir`, `-ok`, `-okdir`, `-delete`, `-fprint*` or `-fls`.
    case findExec
    /// A `git` option or subcommand that can run programs or reach outside the workspace.
    case gitConfigTrick
    /// `sed -i`, `sed -f`, or a sed script with `e` or `w`.
    case sedExecute
    /// An `awk` program that runs commands, pipes or writes files.
    case awkExecute
    /// A program named by a path that is absolute or climbs out of the workspace.
    case absolutePath
    /// A function that calls itself: the fork-bomb pattern.
    case forkBomb
    /// Something the analyzer could not parse confidently.
    case parseError
    /// An argument that names a path outside the workspace (read or written): only a concern
    /// without a sandbox.
    case outsideWorkspace
    /// An argument that names a place holding the person's secrets (`~/.ssh`, `/etc/shadow` …).
    case secretPath

    /// Whether a sandbox (``IsolationProfile/sandboxed``) contains what this hazard hides: the
    /// command may do anything inside it, and nothing outside. A parse error, a network
    /// redirect, a raw-device write and a fork bomb are not contained.
    public var containedBySandbox: Bool {
      switch self {
      case .parseError, .networkRedirect, .deviceWrite, .forkBomb: false
      default: true
      }
    }

    /// The least strict verdict a command with this hazard can get.
    public var minimumVerdict: Decision.Verdict {
      switch self {
      case .forkBomb, .deviceWrite: .deny
      default: .ask
      }
    }
  }

  /// The family.
  public var kind: Kind
  /// A sentence for a person, naming the offending text.
  public var detail: String

  /// Creates a hazard.
  public init(_ kind: Kind, _ detail: String) {
    self.kind = kind
    self.detail = detail
  }
}
