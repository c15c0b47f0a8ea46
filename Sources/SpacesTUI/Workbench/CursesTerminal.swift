import CCurses
import Foundation
import SpacesWorkbench

/// The one place that talks to ncurses: it sets the terminal up and restores it, turns a
/// ``Canvas`` into screen writes, reads keys, and suspends for `$EDITOR`.
///
/// Use it from a single thread (the workbench's UI thread).
final class CursesTerminal {
  /// How many colours are used.
  enum Depth: String {
    case none
    case ansi8 = "8"
    case ansi16 = "16"
    case indexed256 = "256"
    case direct = "truecolor"
  }

  private(set) var width = 0
  private(set) var height = 0
  private(set) var depth: Depth = .none
  private var screen: OpaquePointer?
  private var pairs: [Role: (pair: Int32, attrs: attr_t)] = [:]
  private var previous: Canvas?
  private var ended = false

  /// Takes over the terminal (the alternate screen), with `theme`'s colours unless `noColor`.
  init(theme: Theme, noColor: Bool, mouse: Bool = true) throws {
    setlocale(LC_ALL, "")
    let ctype = setlocale(LC_CTYPE, nil).map { String(cString: $0) } ?? ""
    if !ctype.uppercased().contains("UTF-8") && !ctype.uppercased().contains("UTF8") {
      setlocale(LC_CTYPE, "C.UTF-8")
    }
    let term = ProcessInfo.processInfo.environment["TERM"] ?? "xterm"
    guard let screen = ccurses_newterm(nil) else {
      throw WorkbenchFailure("the terminal \"\(term)\" is unknown to ncurses; try TERM=xterm-256color")
    }
    self.screen = screen
    set_term(screen)
    raw()
    noecho()
    nonl()
    keypad(ccurses_stdscr(), true)
    nodelay(ccurses_stdscr(), true)
    set_escdelay(25)
    curs_set(0)
    leaveok(ccurses_stdscr(), true)
    if mouse { ccurses_mouse_on() }
    if !noColor && has_colors() {
      start_color()
      use_default_colors()
      let colors = ccurses_colors()
      depth =
        colors >= 0x1000000
        ? .direct : colors >= 256 ? .indexed256 : colors >= 16 ? .ansi16 : colors >= 8 ? .ansi8 : .none
    }
    setTheme(theme)
    updateSize()
  }

  deinit { end() }

  /// Applies a theme: one colour pair per role.
  func setTheme(_ theme: Theme) {
    pairs = [:]
    for (index, role) in Role.allCases.enumerated() {
      let look = theme.look(role)
      var attrs = ccurses_a_normal()
      if look.bold { attrs |= ccurses_a_bold() }
      if look.underline { attrs |= ccurses_a_underline() }
      if look.reverse { attrs |= ccurses_a_reverse() }
      if look.dim { attrs |= ccurses_a_dim() }
      let pair = Int32(index + 1)
      if depth == .none {
        // Without colour, a role with a background shows reversed so bars and selections stay visible.
        if look.background != .terminalDefault && !look.reverse { attrs |= ccurses_a_reverse() }
        pairs[role] = (0, attrs)
        continue
      }
      if depth == .ansi8 {
        // Bright colours don't exist here: see Theme.ansi8 (nothing drawn black on black).
        let mapped = theme.ansi8(role)
        if mapped.dim { attrs |= ccurses_a_dim() }
        init_extended_pair(pair, Int32(mapped.foreground), Int32(mapped.background))
      } else {
        init_extended_pair(pair, color(look.foreground), color(look.background))
      }
      pairs[role] = (pair, attrs)
    }
    previous = nil
  }

  private func color(_ value: ThemeColor) -> Int32 {
    switch depth {
    case .none: return -1
    case .direct:
      let (red, green, blue) = value.rgbValue
      return red < 0 ? -1 : Int32(red << 16 | green << 8 | blue)
    case .indexed256: return Int32(value.index256)
    case .ansi16: return Int32(value.index16)
    case .ansi8:
      let index = value.index16
      return index < 0 ? -1 : Int32(index % 8)
    }
  }

  /// Re-reads the terminal size (after SIGWINCH or a KEY_RESIZE); returns whether it changed.
  @discardableResult
  func updateSize() -> Bool {
    var size = winsize()
    if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 {
      let (rows, columns) = (Int32(size.ws_row), Int32(size.ws_col))
      if rows != ccurses_lines() || columns != ccurses_cols() { resizeterm(rows, columns) }
    }
    let changed = width != Int(ccurses_cols()) || height != Int(ccurses_lines())
    width = Int(ccurses_cols())
    height = Int(ccurses_lines())
    if changed { previous = nil }
    return changed
  }

  /// Draws a canvas: rewrites only the rows that changed since the last one, then updates the
  /// screen once.
  func draw(_ canvas: Canvas) {
    guard !ended else { return }
    let full = previous == nil || previous?.width != canvas.width || previous?.height != canvas.height
    if full { erase() }
    for row in 0..<canvas.height {
      if !full, let previous, rowEqual(previous, canvas, row) { continue }
      var column = 0
      while column < canvas.width {
        let style = canvas[column, row].style
        var run: [wchar_t] = []
        let start = column
        while column < canvas.width, canvas[column, row].style == style {
          for scalar in canvas[column, row].text.unicodeScalars { run.append(wchar_t(bitPattern: scalar.value)) }
          column += 1
        }
        run.append(0)
        let look = pairs[style.role] ?? (0, ccurses_a_normal())
        var attrs = look.attrs
        if style.bold { attrs |= ccurses_a_bold() }
        if style.underline { attrs |= ccurses_a_underline() }
        if style.reverse { attrs |= ccurses_a_reverse() }
        _ = ccurses_attr_set(attrs, look.pair)
        _ = mvaddwstr(Int32(row), Int32(start), run)
      }
    }
    previous = canvas
    wnoutrefresh(ccurses_stdscr())
    doupdate()
  }

  private func rowEqual(_ a: Canvas, _ b: Canvas, _ row: Int) -> Bool {
    let start = row * a.width
    for index in start..<(start + a.width) where a.cells[index] != b.cells[index] { return false }
    return true
  }

  /// Reads the keys waiting (never blocks). A resize comes back as `resized`.
  func readKeys() -> (keys: [Key], resized: Bool) {
    var keys: [Key] = []
    var resized = false
    var value: wint_t = 0
    while true {
      let status = get_wch(&value)
      if status == ERR { break }
      if status == KEY_CODE_YES {
        switch Int32(value) {
        case KEY_RESIZE: resized = true
        case KEY_UP: keys.append(.up)
        case KEY_DOWN: keys.append(.down)
        case KEY_LEFT: keys.append(.left)
        case KEY_RIGHT: keys.append(.right)
        case KEY_NPAGE: keys.append(.pageDown)
        case KEY_PPAGE: keys.append(.pageUp)
        case KEY_HOME: keys.append(.home)
        case KEY_END: keys.append(.end)
        case KEY_BTAB: keys.append(.backTab)
        case KEY_BACKSPACE: keys.append(.backspace)
        case KEY_DC: keys.append(.delete)
        case KEY_ENTER: keys.append(.enter)
        case KEY_MOUSE:
          var (x, y, kind): (Int32, Int32, Int32) = (0, 0, 0)
          guard ccurses_mouse_event(&x, &y, &kind) != 0 else { break }
          switch kind {
          case 1: keys.append(.click(x: Int(x), y: Int(y)))
          case 4, 5: keys.append(.wheel(x: Int(x), y: Int(y), up: kind == 4))
          default: break
          }
        default: break
        }
        continue
      }
      switch value {
      case 9: keys.append(.tab)
      case 10, 13: keys.append(.enter)
      case 27: keys.append(.escape)
      case 8, 127: keys.append(.backspace)
      case 1...26:
        keys.append(.ctrl(Character(Unicode.Scalar(UInt8(value) + 96))))
      default:
        if let scalar = Unicode.Scalar(value) { keys.append(.char(Character(scalar))) }
      }
    }
    return (keys, resized)
  }

  /// Rings the bell.
  func bell() { beep() }

  /// A desktop notification through the terminal: OSC 777 where it is understood (VTE
  /// terminals, urxvt), else OSC 9 (iTerm2, kitty, WezTerm, Windows Terminal…); wrapped for
  /// tmux's passthrough under tmux. Written after the frame, outside curses' own output.
  func notify(title: String, body: String) {
    guard !ended else { return }
    func clean(_ text: String) -> String {
      String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && $0 != ";" }.prefix(200))
    }
    let environment = ProcessInfo.processInfo.environment
    let term = environment["TERM"] ?? ""
    var sequence =
      environment["VTE_VERSION"] != nil || term.contains("rxvt")
      ? "\u{1B}]777;notify;\(clean(title));\(clean(body))\u{07}" : "\u{1B}]9;\(clean(title)): \(clean(body))\u{07}"
    if environment["TMUX"] != nil {
      sequence = "\u{1B}Ptmux;" + sequence.replacingOccurrences(of: "\u{1B}", with: "\u{1B}\u{1B}") + "\u{1B}\\"
    }
    let bytes = Array(sequence.utf8)
    _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
  }

  /// Gives the terminal back (for `$EDITOR`).
  func suspend() {
    def_prog_mode()
    endwin()
  }

  /// Takes the terminal again after ``suspend()``.
  func resume() {
    reset_prog_mode()
    previous = nil
    updateSize()
    clearok(ccurses_stdscr(), true)
  }

  /// Restores the terminal for good. Safe to call more than once.
  func end() {
    guard !ended else { return }
    ended = true
    endwin()
    if let screen { delscreen(screen) }
    screen = nil
  }
}

/// A failure that stops the workbench, with a message for the person.
struct WorkbenchFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
