import Foundation

/// A colour in a theme.
public enum ThemeColor: Equatable, Sendable {
  /// The terminal's own foreground or background.
  case terminalDefault
  /// One of the 16 ANSI colours (0–7 normal, 8–15 bright).
  case ansi(Int)
  /// One of the 256 indexed colours.
  case indexed(Int)
  /// A 24-bit colour.
  case rgb(UInt8, UInt8, UInt8)

  static let names = [
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
  ]

  /// Parses `default`, a colour name (`red`, `bright-red`), `0`–`255` or `#rrggbb`.
  public static func parse(_ word: String) -> ThemeColor? {
    let word = word.lowercased()
    if word == "default" { return .terminalDefault }
    if let index = names.firstIndex(of: word) { return .ansi(index) }
    if word.hasPrefix("bright-"), let index = names.firstIndex(of: String(word.dropFirst(7))) {
      return .ansi(index + 8)
    }
    if word == "gray" || word == "grey" { return .ansi(8) }
    if let number = Int(word), (0...255).contains(number) { return number < 16 ? .ansi(number) : .indexed(number) }
    if word.hasPrefix("#"), word.count == 7, let value = UInt32(word.dropFirst(), radix: 16) {
      return .rgb(UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF))
    }
    return nil
  }

  /// The nearest colour among the 256 (a colour index, or -1 for the terminal default).
  public var index256: Int {
    switch self {
    case .terminalDefault: return -1
    case .ansi(let index), .indexed(let index): return index
    case .rgb(let red, let green, let blue):
      func level(_ value: UInt8) -> Int { value < 48 ? 0 : value < 115 ? 1 : (Int(value) - 35) / 40 }
      let (r, g, b) = (level(red), level(green), level(blue))
      let cube = 16 + 36 * r + 6 * g + b
      let average = (Int(red) + Int(green) + Int(blue)) / 3
      let gray = average > 238 ? 255 : 232 + max(0, (average - 3) / 10)
      func distance(_ index: Int) -> Int {
        let (cr, cg, cb) = ThemeColor.rgbOf256(index)
        return (cr - Int(red)) * (cr - Int(red)) + (cg - Int(green)) * (cg - Int(green))
          + (cb - Int(blue)) * (cb - Int(blue))
      }
      return distance(gray) < distance(cube) ? gray : cube
    }
  }

  /// The nearest of the 16 ANSI colours (or -1 for the terminal default).
  public var index16: Int {
    switch self {
    case .terminalDefault: return -1
    case .ansi(let index): return index
    case .indexed, .rgb:
      let (red, green, blue) = rgbValue
      var best = 7
      var bestDistance = Int.max
      for index in 0..<16 {
        let (r, g, b) = ThemeColor.rgbOf256(index)
        let distance = (r - red) * (r - red) + (g - green) * (g - green) + (b - blue) * (b - blue)
        if distance < bestDistance {
          best = index
          bestDistance = distance
        }
      }
      return best
    }
  }

  /// The colour as 24-bit red, green, blue.
  public var rgbValue: (Int, Int, Int) {
    switch self {
    case .terminalDefault: return (-1, -1, -1)
    case .ansi(let index), .indexed(let index): return Self.rgbOf256(index)
    case .rgb(let red, let green, let blue): return (Int(red), Int(green), Int(blue))
    }
  }

  static func rgbOf256(_ index: Int) -> (Int, Int, Int) {
    let base16 = [
      (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
      (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
      (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ]
    if index < 16 { return base16[max(0, index)] }
    if index >= 232 {
      let level = 8 + (index - 232) * 10
      return (level, level, level)
    }
    let cube = index - 16
    func scale(_ value: Int) -> Int { value == 0 ? 0 : 55 + value * 40 }
    return (scale(cube / 36), scale(cube / 6 % 6), scale(cube % 6))
  }
}

/// How one role looks.
public struct RoleLook: Equatable, Sendable {
  /// Foreground.
  public var foreground: ThemeColor = .terminalDefault
  /// Background.
  public var background: ThemeColor = .terminalDefault
  /// Bold.
  public var bold = false
  /// Underlined.
  public var underline = false
  /// Reversed.
  public var reverse = false
  /// Dim.
  public var dim = false

  /// A look with default colours and no attributes.
  public init() {}
}

/// A colour theme: a look for every ``Role``.
///
/// The file format (`themes/*.theme`) is one `role = look` per line; a look is a foreground
/// colour, optionally `on` a background colour, and any of `bold`, `underline`, `reverse`,
/// `dim`. Colours are `default`, the eight names (`red`…) with an optional `bright-` prefix,
/// `0`–`255`, or `#rrggbb`. A line starting with `#` is a comment; `name = …` names the theme. A role left out
/// looks like `text`.
public struct Theme: Equatable, Sendable {
  /// The theme's name.
  public var name: String
  /// The looks by role.
  public var looks: [Role: RoleLook]

  /// How a role looks (falling back to `text`).
  public func look(_ role: Role) -> RoleLook {
    looks[role] ?? looks[.text] ?? RoleLook()
  }

  /// Parses a theme file's text.
  public static func parse(_ text: String, name: String) throws(ThemeError) -> Theme {
    var theme = Theme(name: name, looks: [:])
    for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let trimmed = raw.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
      let parts = trimmed.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2 else {
        throw ThemeError(line: number + 1, message: "expected `role = look`, got \"\(trimmed)\"")
      }
      if parts[0] == "name" {
        theme.name = parts[1]
        continue
      }
      guard let role = Role(rawValue: parts[0]) else {
        let known = Role.allCases.map(\.rawValue).joined(separator: ", ")
        throw ThemeError(line: number + 1, message: "unknown role \"\(parts[0])\"; roles are: \(known)")
      }
      theme.looks[role] = try parseLook(parts[1], line: number + 1)
    }
    return theme
  }

  static func parseLook(_ text: String, line: Int) throws(ThemeError) -> RoleLook {
    var look = RoleLook()
    var words = text.split(separator: " ").map(String.init)[...]
    var sawForeground = false
    while let word = words.popFirst() {
      switch word.lowercased() {
      case "bold": look.bold = true
      case "underline": look.underline = true
      case "reverse": look.reverse = true
      case "dim": look.dim = true
      case "on":
        guard let next = words.popFirst(), let color = ThemeColor.parse(next) else {
          throw ThemeError(line: line, message: "`on` needs a background colour")
        }
        look.background = color
      default:
        guard !sawForeground, let color = ThemeColor.parse(word) else {
          throw ThemeError(
            line: line,
            message: "\"\(word)\" is not a colour (default, red, bright-red, 0-255, #rrggbb) or attribute")
        }
        look.foreground = color
        sawForeground = true
      }
    }
    return look
  }

  /// The built-in default theme (the same text as `themes/default.theme`).
  public static let builtIn: Theme = {
    (try? parse(defaultText, name: "default")) ?? Theme(name: "default", looks: [:])
  }()

  /// The default theme's file text.
  public static let defaultText = """
    # Agent Spaces workbench theme: default (dark terminals).
    # role = foreground [on background] [bold] [underline] [reverse] [dim]
    # colours: default, black…white, bright-black…bright-white, 0-255, #rrggbb
    name = default
    text = default
    dim = 245
    border = 240
    border.focus = #5fafff bold
    title = 250
    title.focus = #5fafff bold
    selection = black on #5fafff
    selection.blur = default on 237
    folder = #5fafff bold
    added = #87d75f
    modified = #ffd75f
    deleted = #ff5f5f
    stdout = default
    stderr = #ff875f
    op.header = #afafff bold
    running = #5fd7ff
    ok = #87d75f
    failed = #ff5f5f bold
    denied = #ff5f87
    waiting = #ffaf00 bold
    prompt = default
    prompt.title = black on #ffaf00 bold
    diff.add = #87d75f
    diff.delete = #ff5f5f
    diff.hunk = #87afd7
    line.number = 242
    status = 252 on 236
    status.key = #ffaf00 on 236 bold
    status.space = black on #5fafff bold
    danger = bright-white on #d70000 bold
    notice = black on #ffd75f
    match = black on #ffd75f
    input = bright-white on 238
    key = #ffaf00 bold
    message = #d7afff
    person = #87d7af

    """

  /// The folders searched for `NAME.theme`, in order: `$SPACES_THEMES`, `themes/` beside the
  /// executable, `../share/agent-spaces/themes` from it, and the source tree's `themes/`.
  public static func searchPaths(environment: [String: String], executable: String) -> [String] {
    var paths: [String] = []
    if let folder = environment["SPACES_THEMES"], !folder.isEmpty { paths.append(folder) }
    let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    paths.append(binary.appendingPathComponent("themes").path)
    paths.append(binary.appendingPathComponent("../share/agent-spaces/themes").standardized.path)
    // From .build/<triple>/debug/spaces up to the package root.
    var folder = binary
    for _ in 0..<4 {
      folder = folder.deletingLastPathComponent()
      paths.append(folder.appendingPathComponent("themes").path)
    }
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../../themes").standardized.path
    paths.append(source)
    return paths
  }

  /// Loads the theme called `name` from the first folder that has it; `default` falls back to
  /// the built-in copy. Throws when the theme is missing or invalid.
  public static func load(name: String, searchPaths: [String]) throws(ThemeError) -> Theme {
    for folder in searchPaths {
      let path = folder + "/" + name + ".theme"
      guard let data = FileManager.default.contents(atPath: path) else { continue }
      do throws(ThemeError) {
        return try parse(String(decoding: data, as: UTF8.self), name: name)
      } catch {
        throw ThemeError(line: error.line, message: "\(path): \(error.message)")
      }
    }
    if name == "default" { return builtIn }
    throw ThemeError(
      line: 0,
      message:
        "no theme \"\(name)\" in \(searchPaths.first(where: { FileManager.default.fileExists(atPath: $0) }) ?? "themes/"); using the default"
    )
  }

  /// The theme names found in the search paths.
  public static func available(searchPaths: [String]) -> [String] {
    var names = Set(["default"])
    for folder in searchPaths {
      for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasSuffix(".theme") {
        names.insert(String(file.dropLast(6)))
      }
    }
    return names.sorted()
  }
}

/// A theme file that can't be used.
public struct ThemeError: Error, Sendable {
  /// The line (1-based; 0 when not about a line).
  public var line: Int
  /// What is wrong.
  public var message: String
}

extension Theme {
  /// Whether the theme is made for a light terminal background (its name says `light`).
  public var forLightBackground: Bool { name.lowercased().contains("light") }

  /// A role's colours on an 8-colour terminal: indices 0–7 (-1 is the terminal's own), and
  /// whether to dim the foreground.
  ///
  /// Bright colours become their normal forms, except bright-black (grey, which the themes use
  /// for dim text, borders and markers): that becomes white dimmed on a dark background (black
  /// dimmed on a light one), never the background's own black. A foreground that would still
  /// match the background beneath it (the role's, else the terminal's: black for dark themes,
  /// white for light ones) takes the contrasting one.
  public func ansi8(_ role: Role) -> (foreground: Int, background: Int, dim: Bool) {
    let look = look(role)
    let light = forLightBackground
    var dim = false
    func reduce(_ color: ThemeColor, foreground: Bool) -> Int {
      let index = color.index16
      if index < 0 { return -1 }
      if index == 8 {
        if foreground { dim = true }
        return foreground ? (light ? 0 : 7) : 0
      }
      return index % 8
    }
    var foreground = reduce(look.foreground, foreground: true)
    let background = reduce(look.background, foreground: false)
    let beneath = background >= 0 ? background : (light ? 7 : 0)
    if foreground == beneath { foreground = beneath == 0 || beneath == 4 || beneath == 1 ? 7 : 0 }
    return (foreground, background, dim)
  }
}
