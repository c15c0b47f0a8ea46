/// A simple command as parsed, before wrappers are looked through.
struct ParsedCommand {
  var words: [ShellWord] = []
  var assignments: [ShellWord] = []
  var redirects: [ParsedRedirect] = []
  var background = false
}

/// A redirect operator and its target word.
struct ParsedRedirect {
  var op: String
  var target: ShellWord
}

/// A recursive-descent parser for the POSIX shell grammar (plus `[[ … ]]` and `function`).
///
/// Compound commands are analyzed for the simple commands inside them; keywords are never
/// programs. The parser stops at the first error, keeping what it parsed so far.
struct ShellParser {
  private let tokens: [ShellToken]
  private var pos = 0
  private var depth: Int
  private(set) var commands: [ParsedCommand] = []
  /// Redirects on compound commands, such as `{ …; } > out`.
  private(set) var compoundRedirects: [ParsedRedirect] = []
  /// Function definitions: the name and the range of `commands` in the body.
  private(set) var functions: [(name: String, body: Range<Int>)] = []
  /// Variables assigned by `for NAME in …`.
  private(set) var loopVariables: [String] = []
  private(set) var error: String?

  private static let closers: Set<String> = [
    "}", "then", "else", "elif", "fi", "do", "done", "esac",
  ]
  private static let caseEnds: Set<String> = [";;", ";&", ";;&"]

  init(tokens: [ShellToken], depth: Int) {
    self.tokens = tokens
    self.depth = depth
  }

  mutating func parseScript() {
    parseList()
    if error == nil, let token = peek { fail("unexpected \(Self.describe(token))") }
  }

  // MARK: - Helpers

  private var peek: ShellToken? { pos < tokens.count ? tokens[pos] : nil }

  private func peekWord(_ offset: Int = 0) -> ShellWord? {
    guard pos + offset < tokens.count, case .word(let word) = tokens[pos + offset] else {
      return nil
    }
    return word
  }

  private func peekOp(_ offset: Int = 0) -> String? {
    guard pos + offset < tokens.count, case .op(let op) = tokens[pos + offset] else { return nil }
    return op
  }

  /// The reserved word at the current position, if any.
  private var reserved: String? {
    guard let word = peekWord(), word.isPlain else { return nil }
    return word.text
  }

  private var atListEnd: Bool {
    guard let token = peek else { return true }
    switch token {
    case .op(let op): return op == ")" || Self.caseEnds.contains(op)
    case .word: return reserved.map(Self.closers.contains) ?? false
    case .newline: return false
    }
  }

  private mutating func fail(_ message: String) {
    if error == nil { error = message }
  }

  private mutating func skipNewlines() {
    while peek == .newline { pos += 1 }
  }

  private mutating func expectWord(_ text: String) {
    guard error == nil else { return }
    guard reserved == text else {
      return fail("expected `\(text)` but found \(peek.map(Self.describe) ?? "the end")")
    }
    pos += 1
  }

  private mutating func expectOp(_ op: String) {
    guard error == nil else { return }
    guard peekOp() == op else {
      return fail("expected `\(op)` but found \(peek.map(Self.describe) ?? "the end")")
    }
    pos += 1
  }

  private static func describe(_ token: ShellToken) -> String {
    switch token {
    case .word(let word): "`\(word.text.clippedForReason)`"
    case .op(let op): "`\(op)`"
    case .newline: "a line break"
    }
  }

  private static func isRedirect(_ op: String) -> Bool {
    op.contains("<") || op.contains(">")
  }

  /// Runs `body` one nesting level deeper, failing past the limit.
  private mutating func nested(_ body: (inout ShellParser) -> Void) {
    guard error == nil else { return }
    depth += 1
    defer { depth -= 1 }
    guard depth <= ShellAnalyzer.maximumDepth else {
      return fail("nests more than \(ShellAnalyzer.maximumDepth) levels deep")
    }
    body(&self)
  }

  // MARK: - Lists and pipelines

  private mutating func parseList() {
    while error == nil {
      skipNewlines()
      if atListEnd { return }
      let start = commands.count
      parseAndOr()
      guard error == nil else { return }
      if peekOp() == ";" || peek == .newline {
        pos += 1
      } else if peekOp() == "&" {
        pos += 1
        for index in start..<commands.count { commands[index].background = true }
      } else if !atListEnd {
        return fail("unexpected \(peek.map(Self.describe) ?? "end")")
      }
    }
  }

  private mutating func parseAndOr() {
    parsePipeline()
    while error == nil, let op = peekOp(), op == "&&" || op == "||" {
      pos += 1
      skipNewlines()
      parsePipeline()
    }
  }

  private mutating func parsePipeline() {
    if reserved == "!" { pos += 1 }
    parseCommand()
    while error == nil, let op = peekOp(), op == "|" || op == "|&" {
      pos += 1
      skipNewlines()
      parseCommand()
    }
  }

  // MARK: - Commands

  private mutating func parseCommand() {
    guard error == nil else { return }
    guard let token = peek else { return fail("a command is missing at the end") }
    switch token {
    case .op("("):
      nested { parser in
        parser.pos += 1
        parser.parseList()
        parser.expectOp(")")
      }
      parseCompoundRedirects()
    case .op(let op) where Self.isRedirect(op):
      parseSimple()
    case .op(let op):
      fail("unexpected `\(op)` where a command should be")
    case .newline:
      fail("a command is missing before a line break")
    case .word(let word):
      if word.isPlain, parseKeyword(word.text) { return }
      if peekOp(1) == "(", peekOp(2) == ")" {
        pos += 3
        parseFunctionBody(name: word.text)
      } else {
        parseSimple()
      }
    }
  }

  /// Parses a compound command starting with the keyword `text`; false if it is none.
  private mutating func parseKeyword(_ text: String) -> Bool {
    switch text {
    case "{":
      nested { parser in
        parser.pos += 1
        parser.parseList()
        parser.expectWord("}")
      }
    case "if": nested { $0.parseIf() }
    case "while", "until":
      nested { parser in
        parser.pos += 1
        parser.parseList()
        parser.expectWord("do")
        parser.parseList()
        parser.expectWord("done")
      }
    case "for": nested { $0.parseFor() }
    case "case": nested { $0.parseCase() }
    case "function":
      pos += 1
      guard let name = peekWord(), name.isPlain else {
        fail("`function` needs a name")
        return true
      }
      pos += 1
      if peekOp() == "(", peekOp(1) == ")" { pos += 2 }
      parseFunctionBody(name: name.text)
      return true
    case "select", "coproc":
      fail("`\(text)` is not supported")
      return true
    case _ where Self.closers.contains(text):
      fail("unexpected `\(text)`")
      return true
    default:
      return false
    }
    parseCompoundRedirects()
    return true
  }

  private mutating func parseIf() {
    pos += 1
    parseList()
    expectWord("then")
    parseList()
    while error == nil, reserved == "elif" {
      pos += 1
      parseList()
      expectWord("then")
      parseList()
    }
    if error == nil, reserved == "else" {
      pos += 1
      parseList()
    }
    expectWord("fi")
  }

  private mutating func parseFor() {
    pos += 1
    guard let name = peekWord(), name.isPlain, name.text.isShellName else {
      return fail("`for` needs a variable name")
    }
    loopVariables.append(name.text)
    pos += 1
    skipNewlines()
    if reserved == "in" {
      pos += 1
      while peekWord() != nil { pos += 1 }
      if peekOp() == ";" || peek == .newline { pos += 1 }
    } else if peekOp() == ";" {
      pos += 1
    }
    skipNewlines()
    expectWord("do")
    parseList()
    expectWord("done")
  }

  private mutating func parseCase() {
    pos += 1
    guard peekWord() != nil else { return fail("`case` needs a word") }
    pos += 1
    skipNewlines()
    expectWord("in")
    while error == nil {
      skipNewlines()
      if reserved == "esac" {
        pos += 1
        return
      }
      if peekOp() == "(" { pos += 1 }
      guard peekWord() != nil else { return fail("`case` needs a pattern") }
      pos += 1
      while error == nil, peekOp() == "|" {
        pos += 1
        guard peekWord() != nil else { return fail("`case` needs a pattern after `|`") }
        pos += 1
      }
      expectOp(")")
      parseList()
      if let op = peekOp(), Self.caseEnds.contains(op) {
        pos += 1
      } else if reserved != "esac" {
        fail("a `case` item must end with `;;`")
      }
    }
  }

  private mutating func parseFunctionBody(name: String) {
    skipNewlines()
    let start = commands.count
    let compound =
      peekOp() == "(" || ["{", "if", "while", "until", "for", "case"].contains(reserved)
    guard compound else { return fail("the body of function `\(name)` must be a compound command") }
    parseCommand()
    functions.append((name, start..<commands.count))
  }

  private mutating func parseCompoundRedirects() {
    while error == nil, let op = peekOp(), Self.isRedirect(op) {
      pos += 1
      guard let target = peekWord() else { return fail("`\(op)` needs a target") }
      pos += 1
      compoundRedirects.append(ParsedRedirect(op: op, target: target))
    }
  }

  private mutating func parseSimple() {
    var command = ParsedCommand()
    if let first = peekWord(), first.isPlain("[[") {
      command.words.append(first)
      pos += 1
      while error == nil {
        guard let token = peek, token != .newline else {
          return fail("`[[` is never closed by `]]`")
        }
        pos += 1
        if case .word(let word) = token {
          command.words.append(word)
          if word.isPlain("]]") { break }
        } else if case .op(let op) = token {
          command.words.append(ShellWord(text: op))
        }
      }
    }
    while error == nil, let token = peek {
      if case .word(let word) = token {
        if command.words.isEmpty, word.assignment {
          command.assignments.append(word)
        } else {
          command.words.append(word)
        }
        pos += 1
      } else if case .op(let op) = token, Self.isRedirect(op) {
        pos += 1
        guard let target = peekWord() else { return fail("`\(op)` needs a target") }
        pos += 1
        command.redirects.append(ParsedRedirect(op: op, target: target))
      } else {
        break
      }
    }
    guard error == nil else { return }
    commands.append(command)
  }
}

extension String {
  /// Whether the string is a valid shell variable name: a letter or `_`, then letters, digits
  /// and `_` (what the parser takes for an assignment, and what a warm shell can `export`).
  package var isShellName: Bool {
    guard let first = utf8.first,
      first == UInt8(ascii: "_") || (first | 0x20) >= 97 && (first | 0x20) <= 122
    else { return false }
    return utf8.allSatisfy { byte in
      byte == UInt8(ascii: "_") || (byte | 0x20) >= 97 && (byte | 0x20) <= 122
        || (byte >= 48 && byte <= 57)
    }
  }
}
