/// One word after quote removal, with what the shell will still do to it at run time.
struct ShellWord: Equatable {
  /// The text after quote removal; expansions and substitutions are kept as written.
  var text: String
  /// Some part was quoted or escaped.
  var quoted = false
  /// Holds `$NAME`, `${…}`, `$1`, `$((…))`: its value is only known at run time.
  var expansion = false
  /// Holds `$(…)`, backticks or `<(…)`.
  var substitution = false
  /// Holds an unquoted `*`, `?` or `[…]`.
  var glob = false
  /// Holds an unquoted `{a,b}` or `{1..3}`.
  var brace = false
  /// Starts with an unquoted `~` (or has one after `=` or `:`).
  var tilde = false
  /// Is a `NAME=value` assignment.
  var assignment = false

  /// Whether the word is exactly its text: no quoting and nothing left to expand.
  var isPlain: Bool { !quoted && !expansion && !substitution }

  /// Whether the word is the unquoted reserved word or operator text `text`.
  func isPlain(_ text: String) -> Bool { isPlain && self.text == text }
}

/// A token of the shell grammar.
enum ShellToken: Equatable {
  case word(ShellWord)
  /// A control or redirect operator, such as `;`, `&&`, `|`, `(`, `2>`, `<<-`.
  case op(String)
  case newline
}

/// Splits a command string into tokens, reading here-document bodies as data.
///
/// Substitutions (`$(…)`, backticks, `<(…)`) are analyzed recursively into the sink as they
/// are found. The lexer stops at the first error, keeping the tokens read so far.
struct ShellLexer {
  private let bytes: [UInt8]
  private let depth: Int
  private var i = 0
  private(set) var tokens: [ShellToken] = []
  private(set) var error: String?
  private var pendingHeredocs: [(delimiter: [UInt8], stripTabs: Bool, quoted: Bool)] = []
  private var expectingDelimiter: Bool?

  /// The deepest nesting of parentheses and quotes a substitution may have.
  static let maximumNesting = 256

  init(bytes: [UInt8], depth: Int) {
    self.bytes = bytes
    self.depth = depth
  }

  mutating func run(_ sink: inout ShellSink) {
    while i < bytes.count, error == nil {
      switch bytes[i] {
      case .space, .tab:
        i += 1
      case .newline:
        emit(.newline)
        i += 1
        readHeredocs(&sink)
      case .hash:
        while i < bytes.count, bytes[i] != .newline { i += 1 }
      case .backslash where i + 1 < bytes.count && bytes[i + 1] == .newline:
        i += 2
      case .semicolon, .ampersand, .pipe, .openParen, .closeParen:
        lexOperator()
      case .less, .greater:
        if i + 1 < bytes.count, bytes[i + 1] == .openParen {
          lexProcessSubstitution(&sink)
        } else {
          lexRedirect(prefix: "")
        }
      default:
        lexWord(&sink)
      }
    }
    if error == nil, expectingDelimiter != nil || !pendingHeredocs.isEmpty {
      fail("a here-document has no end line")
    }
  }

  private mutating func fail(_ message: String) {
    if error == nil { error = message }
  }

  private mutating func emit(_ token: ShellToken) {
    if let stripTabs = expectingDelimiter {
      guard case .word(let word) = token else { return fail("`<<` needs a delimiter word") }
      pendingHeredocs.append((Array(word.text.utf8), stripTabs, word.quoted))
      expectingDelimiter = nil
    }
    tokens.append(token)
  }

  private func starts(with text: String, at index: Int) -> Bool {
    var k = index
    for byte in text.utf8 {
      guard k < bytes.count, bytes[k] == byte else { return false }
      k += 1
    }
    return true
  }

  private mutating func lexOperator() {
    for op in [";;&", ";;", ";&", ";", "&&", "&>>", "&>", "&", "||", "|&", "|", "(", ")"]
    where starts(with: op, at: i) {
      i += op.utf8.count
      return emit(.op(op))
    }
  }

  private mutating func lexRedirect(prefix: String) {
    for op in ["<<<", "<<-", "<<", "<>", "<&", "<", ">>", ">|", ">&", ">"]
    where starts(with: op, at: i) {
      i += op.utf8.count
      emit(.op(prefix + op))
      if op == "<<" || op == "<<-" { expectingDelimiter = op == "<<-" }
      return
    }
  }

  private mutating func lexProcessSubstitution(_ sink: inout ShellSink) {
    guard let close = matchingClose(from: i + 1) else {
      return fail("`\(Character(Unicode.Scalar(bytes[i])))(` is never closed")
    }
    sink.add(
      .processSubstitution,
      "`<(…)` or `>(…)` runs a command connected to this one through a file")
    ShellAnalyzer.analyze(Array(bytes[(i + 2)..<close]), depth: depth + 1, into: &sink)
    var word = ShellWord(text: String(decoding: bytes[i...close], as: UTF8.self))
    word.substitution = true
    i = close + 1
    emit(.word(word))
  }

  // MARK: - Words

  private mutating func lexWord(_ sink: inout ShellSink) {
    var out: [UInt8] = []
    var word = ShellWord(text: "")
    var bracketOpen = false
    var braceDepth = 0
    var braceSeparator = false
    var nameSoFar = true
    while i < bytes.count, error == nil, !bytes[i].isShellMeta {
      let c = bytes[i]
      if nameSoFar, !c.isNameByte(first: out.isEmpty) {
        nameSoFar = false
        let plusEquals = c == .plus && i + 1 < bytes.count && bytes[i + 1] == .equals
        if !out.isEmpty, c == .equals || plusEquals { word.assignment = true }
      }
      switch c {
      case .backslash:
        if i + 1 < bytes.count {
          if bytes[i + 1] != .newline { out.append(bytes[i + 1]) }
          word.quoted = true
          i += 2
        } else {
          out.append(c)
          i += 1
        }
      case .singleQuote:
        guard let end = bytes[(i + 1)...].firstIndex(of: .singleQuote) else {
          return fail("a single quote is never closed")
        }
        out += bytes[(i + 1)..<end]
        word.quoted = true
        i = end + 1
      case .doubleQuote:
        lexDoubleQuoted(&out, &word, &sink)
      case .backtick:
        lexBacktick(&out, &word, inDoubleQuotes: false, &sink)
      case .dollar:
        lexDollar(&out, &word, inDoubleQuotes: false, &sink)
      default:
        switch c {
        case .star, .question: word.glob = true
        case .openBracket: bracketOpen = true
        case .closeBracket where bracketOpen: word.glob = true
        case .openBrace: braceDepth += 1
        case .closeBrace where braceDepth > 0:
          braceDepth -= 1
          if braceSeparator { word.brace = true }
        case .comma where braceDepth > 0: braceSeparator = true
        case .dot where braceDepth > 0 && out.last == .dot: braceSeparator = true
        case .tilde where out.isEmpty || out.last == .equals || out.last == .colon:
          word.tilde = true
        default: break
        }
        out.append(c)
        i += 1
      }
    }
    guard error == nil else { return }
    if !word.quoted, !out.isEmpty, out.allSatisfy(\.isDigit), i < bytes.count,
      bytes[i] == .less || bytes[i] == .greater
    {
      return lexRedirect(prefix: String(decoding: out, as: UTF8.self))
    }
    word.text = String(decoding: out, as: UTF8.self)
    if word.brace {
      sink.add(
        .braceExpansion,
        "`\(word.text.clippedForReason)` expands into several words the policy can't see")
    }
    emit(.word(word))
  }

  private mutating func lexDoubleQuoted(
    _ out: inout [UInt8], _ word: inout ShellWord, _ sink: inout ShellSink
  ) {
    word.quoted = true
    i += 1
    while i < bytes.count, error == nil {
      let c = bytes[i]
      switch c {
      case .doubleQuote:
        i += 1
        return
      case .backslash where i + 1 < bytes.count && bytes[i + 1].isEscapableInDoubleQuotes:
        if bytes[i + 1] != .newline { out.append(bytes[i + 1]) }
        i += 2
      case .backtick:
        lexBacktick(&out, &word, inDoubleQuotes: true, &sink)
      case .dollar:
        lexDollar(&out, &word, inDoubleQuotes: true, &sink)
      default:
        out.append(c)
        i += 1
      }
    }
    fail("a double quote is never closed")
  }

  private mutating func lexBacktick(
    _ out: inout [UInt8], _ word: inout ShellWord, inDoubleQuotes: Bool, _ sink: inout ShellSink
  ) {
    var inner: [UInt8] = []
    var j = i + 1
    while j < bytes.count, bytes[j] != .backtick {
      if bytes[j] == .backslash, j + 1 < bytes.count {
        let next = bytes[j + 1]
        let unescapes = next == .backslash || next == .backtick || next == .dollar
        if !(unescapes || (inDoubleQuotes && next == .doubleQuote)) { inner.append(.backslash) }
        inner.append(next)
        j += 2
      } else {
        inner.append(bytes[j])
        j += 1
      }
    }
    guard j < bytes.count else { return fail("a backtick is never closed") }
    sink.add(.commandSubstitution, "backticks run a command whose output becomes part of this one")
    ShellAnalyzer.analyze(inner, depth: depth + 1, into: &sink)
    out += bytes[i...j]
    word.substitution = true
    i = j + 1
  }

  private mutating func lexDollar(
    _ out: inout [UInt8], _ word: inout ShellWord, inDoubleQuotes: Bool, _ sink: inout ShellSink
  ) {
    guard i + 1 < bytes.count else {
      out.append(.dollar)
      i += 1
      return
    }
    let next = bytes[i + 1]
    switch next {
    case .openParen:
      guard let close = matchingClose(from: i + 1) else { return fail("`$(` is never closed") }
      let inner = Array(bytes[(i + 2)..<close])
      if inner.first == .openParen, inner.last == .closeParen {
        classifyArithmetic(inner, &word, &sink)
      } else {
        sink.add(
          .commandSubstitution, "`$(…)` runs a command whose output becomes part of this one")
        ShellAnalyzer.analyze(inner, depth: depth + 1, into: &sink)
        word.substitution = true
      }
      out += bytes[i...close]
      i = close + 1
    case .openBrace:
      guard let close = matchingClose(from: i + 1) else { return fail("`${` is never closed") }
      let inner = bytes[(i + 2)..<close]
      if inner.containsSubstitution {
        sink.add(.commandSubstitution, "`${…}` holds a `$(…)` or backticks, which run a command")
      }
      let text = String(decoding: bytes[i...close], as: UTF8.self)
      sink.add(
        .parameterExpansion, "`\(text.clippedForReason)` is only known when the command runs")
      word.expansion = true
      out += bytes[i...close]
      i = close + 1
    case .singleQuote where !inDoubleQuotes:
      var j = i + 2
      while j < bytes.count, bytes[j] != .singleQuote { j += bytes[j] == .backslash ? 2 : 1 }
      guard j < bytes.count else { return fail("a `$'` quote is never closed") }
      sink.add(.ansiCQuoting, "`$'…'` quoting can spell any text with escape codes")
      out += bytes[(i + 2)..<j]
      word.quoted = true
      i = j + 1
    case .doubleQuote where !inDoubleQuotes:
      i += 1
    case _ where next.isNameByte(first: true):
      var j = i + 1
      while j < bytes.count, bytes[j].isNameByte(first: false) { j += 1 }
      let text = String(decoding: bytes[i..<j], as: UTF8.self)
      sink.add(
        .parameterExpansion, "`\(text.clippedForReason)` is only known when the command runs")
      word.expansion = true
      out += bytes[i..<j]
      i = j
    case _ where next.isDigit || next == .at || next == .star || next == .bang || next == .minus:
      let text = String(decoding: bytes[i...(i + 1)], as: UTF8.self)
      sink.add(.parameterExpansion, "`\(text)` is only known when the command runs")
      word.expansion = true
      out += bytes[i...(i + 1)]
      i += 2
    case .question, .hash, .dollar:
      // `$?`, `$#` and `$$` are always non-empty numbers: nothing to split or glob.
      out += bytes[i...(i + 1)]
      i += 2
    default:
      out.append(.dollar)
      i += 1
    }
  }

  /// Judges `$((…))`: plain numbers are harmless; names can hold commands (`a[$(…)]`).
  private func classifyArithmetic(
    _ inner: [UInt8], _ word: inout ShellWord, _ sink: inout ShellSink
  ) {
    if inner.containsSubstitution {
      sink.add(.commandSubstitution, "`$((…))` holds a `$(…)` or backticks, which run a command")
      word.substitution = true
    } else if !inner.allSatisfy(\.isArithmeticByte) {
      sink.add(
        .parameterExpansion,
        "`$((…))` evaluates names whose values are only known when the command runs")
      word.expansion = true
    }
  }

  // MARK: - Nesting

  /// The index of the `)` or `}` closing the bracket at `open`, skipping quotes, nested
  /// substitutions and comments; nil when unterminated or nested too deeply.
  private func matchingClose(from open: Int) -> Int? {
    var stack: [UInt8] = [bytes[open]]
    var j = open + 1
    while j < bytes.count {
      let c = bytes[j]
      let top = stack[stack.count - 1]
      let next: UInt8? = j + 1 < bytes.count ? bytes[j + 1] : nil
      switch top {
      case .doubleQuote:
        switch c {
        case .backslash: j += 1
        case .doubleQuote: stack.removeLast()
        case .backtick: stack.append(.backtick)
        case .dollar where next == .openParen || next == .openBrace:
          stack.append(bytes[j + 1])
          j += 1
        default: break
        }
      case .backtick:
        if c == .backslash { j += 1 } else if c == .backtick { stack.removeLast() }
      default:
        switch c {
        case .backslash: j += 1
        case .singleQuote:
          guard let end = bytes[(j + 1)...].firstIndex(of: .singleQuote) else { return nil }
          j = end
        case .doubleQuote, .backtick, .openParen: stack.append(c)
        case .dollar where next == .openBrace:
          stack.append(.openBrace)
          j += 1
        case .openBrace where top == .openBrace: stack.append(c)
        case .hash where top == .openParen && (j == 0 || bytes[j - 1].isCommentBoundary):
          while j + 1 < bytes.count, bytes[j + 1] != .newline { j += 1 }
        case .closeParen where top == .openParen, .closeBrace where top == .openBrace:
          stack.removeLast()
          if stack.isEmpty { return j }
        default: break
        }
      }
      if stack.count > Self.maximumNesting { return nil }
      j += 1
    }
    return nil
  }

  // MARK: - Here-documents

  private mutating func readHeredocs(_ sink: inout ShellSink) {
    for doc in pendingHeredocs {
      var found = false
      var flagged = false
      while i < bytes.count {
        let end = bytes[i...].firstIndex(of: .newline) ?? bytes.count
        var start = i
        if doc.stripTabs { while start < end, bytes[start] == .tab { start += 1 } }
        let line = bytes[start..<end]
        i = min(end + 1, bytes.count)
        if line.elementsEqual(doc.delimiter) {
          found = true
          break
        }
        if !doc.quoted, !flagged, line.containsSubstitution {
          flagged = true
          sink.add(
            .commandSubstitution,
            "a here-document with an unquoted delimiter runs the `$(…)` or backticks in its body")
        }
      }
      guard found else {
        return fail(
          "here-document `\(String(decoding: doc.delimiter, as: UTF8.self))` has no end line")
      }
    }
    pendingHeredocs = []
  }
}

// MARK: - Bytes

extension UInt8 {
  fileprivate static let tab = UInt8(ascii: "\t")
  fileprivate static let newline = UInt8(ascii: "\n")
  fileprivate static let space = UInt8(ascii: " ")
  fileprivate static let bang = UInt8(ascii: "!")
  fileprivate static let doubleQuote = UInt8(ascii: "\"")
  fileprivate static let hash = UInt8(ascii: "#")
  fileprivate static let dollar = UInt8(ascii: "$")
  fileprivate static let ampersand = UInt8(ascii: "&")
  fileprivate static let singleQuote = UInt8(ascii: "'")
  fileprivate static let openParen = UInt8(ascii: "(")
  fileprivate static let closeParen = UInt8(ascii: ")")
  fileprivate static let star = UInt8(ascii: "*")
  fileprivate static let plus = UInt8(ascii: "+")
  fileprivate static let comma = UInt8(ascii: ",")
  fileprivate static let minus = UInt8(ascii: "-")
  fileprivate static let dot = UInt8(ascii: ".")
  fileprivate static let colon = UInt8(ascii: ":")
  fileprivate static let semicolon = UInt8(ascii: ";")
  fileprivate static let less = UInt8(ascii: "<")
  fileprivate static let equals = UInt8(ascii: "=")
  fileprivate static let greater = UInt8(ascii: ">")
  fileprivate static let question = UInt8(ascii: "?")
  fileprivate static let at = UInt8(ascii: "@")
  fileprivate static let openBracket = UInt8(ascii: "[")
  fileprivate static let backslash = UInt8(ascii: "\\")
  fileprivate static let closeBracket = UInt8(ascii: "]")
  fileprivate static let backtick = UInt8(ascii: "`")
  fileprivate static let openBrace = UInt8(ascii: "{")
  fileprivate static let pipe = UInt8(ascii: "|")
  fileprivate static let closeBrace = UInt8(ascii: "}")
  fileprivate static let tilde = UInt8(ascii: "~")

  fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }

  /// Whether the byte ends an unquoted word.
  fileprivate var isShellMeta: Bool {
    switch self {
    case .space, .tab, .newline, .semicolon, .ampersand, .pipe, .openParen, .closeParen, .less,
      .greater:
      true
    default: false
    }
  }

  fileprivate func isNameByte(first: Bool) -> Bool {
    let letter = (self | 0x20) >= UInt8(ascii: "a") && (self | 0x20) <= UInt8(ascii: "z")
    return letter || self == UInt8(ascii: "_") || (!first && isDigit)
  }

  fileprivate var isEscapableInDoubleQuotes: Bool {
    self == .dollar || self == .backtick || self == .doubleQuote || self == .backslash
      || self == .newline
  }

  fileprivate var isCommentBoundary: Bool {
    isShellMeta
  }

  /// Digits, blanks and operators: arithmetic that can't name a variable.
  fileprivate var isArithmeticByte: Bool {
    isDigit || " \t\n+-*/%<>=!&|^~?:,()".utf8.contains(self)
  }
}

extension Collection<UInt8> {
  /// Whether the bytes hold `$(` or a backtick.
  fileprivate var containsSubstitution: Bool {
    var previous: UInt8 = 0
    for byte in self {
      if byte == .backtick || (previous == .dollar && byte == .openParen) { return true }
      previous = byte
    }
    return false
  }
}

extension String {
  /// The string cut to a length fit for a one-line reason.
  var clippedForReason: String {
    count <= 40 ? self : String(prefix(37)) + "…"
  }
}
