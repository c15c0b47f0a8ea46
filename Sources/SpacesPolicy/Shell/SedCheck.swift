/// Checks `sed` options and scripts for in-place edits, `e` (run a command) and `w` (write).
enum SedCheck {
  private static let harmlessLongOptions: Set<String> = [
    "--quiet", "--silent", "--regexp-extended", "--separate", "--null-data", "--zero-terminated",
    "--unbuffered", "--posix", "--debug", "--sandbox", "--binary",
  ]

  static func check(_ args: [ShellWord], into sink: inout ShellSink) {
    var scripts: [String] = []
    var operands: [String] = []
    var index = 0
    var optionsEnded = false
    func flag(_ detail: String) { sink.add(.sedExecute, detail) }
    while index < args.count {
      let text = args[index].text
      index += 1
      if optionsEnded || !text.hasPrefix("-") || text == "-" {
        operands.append(text)
      } else if text == "--" {
        optionsEnded = true
      } else if text.hasPrefix("--in-place") {
        flag("`sed --in-place` edits files in place")
      } else if text.hasPrefix("--file") {
        flag("`sed --file` runs a script file the analyzer can't check")
      } else if text == "--expression" {
        if index < args.count { scripts.append(args[index].text) }
        index += 1
      } else if text.hasPrefix("--expression=") {
        scripts.append(String(text.dropFirst("--expression=".count)))
      } else if text.hasPrefix("--") {
        if !harmlessLongOptions.contains(text), !text.hasPrefix("--line-length=") {
          flag("`sed \(text.clippedForReason)` is an option the analyzer doesn't know")
        }
      } else {
        var letters = text.dropFirst()
        while let letter = letters.popFirst() {
          switch letter {
          case "n", "E", "r", "s", "u", "z": continue
          case "i": flag("`sed -i` edits files in place")
          case "f": flag("`sed -f` runs a script file the analyzer can't check")
          case "e":
            if letters.isEmpty {
              if index < args.count { scripts.append(args[index].text) }
              index += 1
            } else {
              scripts.append(String(letters))
            }
          case "l": if letters.isEmpty { index += 1 }
          default: flag("`sed -\(letter)` is an option the analyzer doesn't know")
          }
          if "iefl".contains(letter) { break }
        }
      }
    }
    if scripts.isEmpty, let first = operands.first { scripts.append(first) }
    for script in scripts {
      if let problem = problem(in: Array(script.utf8)) { flag(problem) }
    }
  }

  /// Why a sed script is not pure text transformation, or nil when it is.
  static func problem(in script: [UInt8]) -> String? {
    var reader = SedReader(bytes: script)
    return reader.run()
  }
}

/// Walks a sed script command by command.
private struct SedReader {
  let bytes: [UInt8]
  var i = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  private var current: Character? { i < bytes.count ? Character(Unicode.Scalar(bytes[i])) : nil }

  private mutating func skip(while condition: (Character) -> Bool) {
    while let c = current, condition(c) { i += 1 }
  }

  /// Skips to the end of a delimited part (`/regex/`), honoring backslashes; false if open.
  private mutating func skipDelimited(_ delimiter: UInt8) -> Bool {
    while i < bytes.count, bytes[i] != delimiter { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
    guard i < bytes.count else { return false }
    i += 1
    return true
  }

  private mutating func skipAddress() -> Bool {
    for part in 0..<2 {
      skip { $0 == " " || $0 == "\t" }
      guard let c = current else { return true }
      if c.isNumber || (part == 1 && (c == "+" || c == "~")) {
        i += 1
        skip { $0.isNumber || $0 == "~" }
      } else if c == "$" {
        i += 1
      } else if c == "/" || c == "\\" {
        if c == "\\" { i += 1 }
        guard i < bytes.count else { return false }
        let delimiter = bytes[i]
        i += 1
        guard skipDelimited(delimiter) else { return false }
        skip { $0 == "I" || $0 == "M" }
      } else {
        return true
      }
      skip { $0 == " " || $0 == "\t" }
      guard current == "," else { return true }
      i += 1
    }
    return true
  }

  mutating func run() -> String? {
    let unreadable = "the sed script can't be read with confidence"
    while true {
      skip { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ";" }
      guard current != nil else { return nil }
      guard skipAddress() else { return unreadable }
      skip { $0 == " " || $0 == "\t" || $0 == "!" }
      guard let command = current else { return unreadable }
      i += 1
      switch command {
      case "{", "}", "=", "d", "D", "g", "G", "h", "H", "n", "N", "p", "P", "x", "z", "F":
        continue
      case "#", "a", "i", "c", "r", "R":
        skip { $0 != "\n" }
      case ":", "b", "t", "T", "v":
        skip { $0 != "\n" && $0 != ";" && $0 != "}" }
      case "q", "Q", "l", "L":
        skip { $0 == " " || $0.isNumber }
      case "e": return "`e` in a sed script runs a shell command"
      case "w", "W": return "`w` in a sed script writes to a file"
      case "s", "y":
        guard i < bytes.count, bytes[i] != UInt8(ascii: "\n"), bytes[i] != UInt8(ascii: "\\") else {
          return unreadable
        }
        let delimiter = bytes[i]
        i += 1
        guard skipDelimited(delimiter), skipDelimited(delimiter) else { return unreadable }
        guard command == "s" else { continue }
        while let flag = current, flag != ";", flag != "\n", flag != "}" {
          switch flag {
          case "e": return "the `e` flag of `s///e` runs the result as a shell command"
          case "w", "W": return "the `w` flag of `s///w` writes to a file"
          case "g", "p", "i", "I", "m", "M", " ", "\t": i += 1
          case _ where flag.isNumber: i += 1
          default: return unreadable
          }
        }
      default:
        return "the sed command `\(command)` is one the analyzer doesn't know"
      }
    }
  }
}
