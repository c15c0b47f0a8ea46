/// A key press, as the terminal layer decodes it.
public enum Key: Hashable, Sendable {
  /// A printable character.
  case char(Character)
  /// Control plus a letter (`ctrl("c")`).
  case ctrl(Character)
  case up, down, left, right, pageUp, pageDown, home, end
  case enter, escape, tab, backTab, backspace, delete
  /// A press of the mouse's first button at a cell.
  case click(x: Int, y: Int)
  /// The mouse wheel turned over a cell.
  case wheel(x: Int, y: Int, up: Bool)

  /// The key's name in help and the keymap table.
  public var name: String {
    switch self {
    case .char(" "): "space"
    case .char(let character): String(character)
    case .ctrl(let character): "ctrl-\(character)"
    case .up: "↑"
    case .down: "↓"
    case .left: "←"
    case .right: "→"
    case .pageUp: "pgup"
    case .pageDown: "pgdn"
    case .home: "home"
    case .end: "end"
    case .enter: "enter"
    case .escape: "esc"
    case .tab: "tab"
    case .backTab: "shift-tab"
    case .backspace: "backspace"
    case .delete: "del"
    case .click: "click"
    case .wheel(_, _, let up): up ? "wheel up" : "wheel down"
    }
  }
}

/// The panes that can hold the focus.
public enum Pane: Int, CaseIterable, Sendable {
  case files = 1
  case log, operations, spaces

  /// The pane's title.
  public var title: String {
    switch self {
    case .files: "Files"
    case .log: "Log"
    case .operations: "Operations"
    case .spaces: "Spaces"
    }
  }
}

/// Where a binding applies.
public enum KeyContext: String, CaseIterable, Sendable {
  case global, files, log, operations, spaces, viewer, details, decisions, prompt
  /// A yes/no question (quit, delete, take back, overwrite, undo, restore).
  case confirm
  /// A one-line text field (filter, search, new file, feedback, rule).
  case input
  /// The help screen.
  case help
  /// The banner above the status line.
  case banner

  /// Whether keys this context doesn't bind fall back to the global bindings: the panes'
  /// contexts do; the prompt and the banner take their own keys first and leave the rest to the
  /// focused pane; a question, a text field and help take every key themselves.
  public var fallsBackToGlobal: Bool {
    switch self {
    case .global, .files, .log, .operations, .spaces, .viewer, .details, .decisions: true
    case .prompt, .confirm, .input, .help, .banner: false
    }
  }

  /// The heading in help.
  public var title: String {
    switch self {
    case .global: "Everywhere"
    case .files: "Files"
    case .log: "Log"
    case .operations: "Operations"
    case .spaces: "Spaces"
    case .viewer: "File viewer"
    case .details: "Operation details"
    case .decisions: "Decisions"
    case .prompt: "Approval prompt"
    case .confirm: "Yes/no questions"
    case .input: "Text fields"
    case .help: "Help"
    case .banner: "Banner"
    }
  }
}

/// What a key does.
public enum Action: Hashable, Sendable {
  case focusNext, focusPrevious
  case focus(Pane)
  case down, up, pageDown, pageUp, top, bottom
  case open, collapse, expand
  case filter, nextMatch, previousMatch, follow, help, quit, close
  case edit, newFile, deleteFile, refresh, switchSpace
  case approveOnce, approveSession, approveAlways, deny, extendDeadline
  case nextRequest, previousRequest, clearFilter, away, decisions, revoke
  case undo, restore
  /// Say yes to a question.
  case confirm
  /// Say no to a question.
  case decline
  /// Accept a text field.
  case accept
  /// Leave a text field without using it.
  case cancel
  /// Type the character pressed into a text field.
  case type
  /// Delete a text field's last character.
  case deleteBackward
  /// Empty a text field.
  case clearField
}

/// Keys a binding takes beyond the ones it lists, when nothing else in its context binds them.
public enum KeyClass: Sendable {
  /// Any printable character.
  case characters
  /// Any key at all (the mouse included).
  case anyOther

  /// Whether `key` belongs to the class.
  public func contains(_ key: Key) -> Bool {
    switch self {
    case .characters:
      if case .char = key { return true }
      return false
    case .anyOther:
      return true
    }
  }

  /// The class as help and the README show it.
  public var name: String {
    switch self {
    case .characters: "any character"
    case .anyOther: "any other key"
    }
  }
}

/// One row of the keymap: keys, where they apply, what they do, and the help text.
public struct KeyBinding: Sendable {
  /// The keys.
  public var keys: [Key]
  /// Where it applies.
  public var context: KeyContext
  /// What it does.
  public var action: Action
  /// Help text.
  public var help: String
  /// Keys it takes beyond `keys` when its context binds them to nothing else.
  public var others: KeyClass?

  /// Creates a binding.
  public init(keys: [Key], others: KeyClass? = nil, context: KeyContext, action: Action, help: String) {
    self.keys = keys
    self.others = others
    self.context = context
    self.action = action
    self.help = help
  }

  /// The keys as help shows them (`j/↓`, `any character`).
  public var keyLabel: String { (keys.map(\.name) + [others?.name].compactMap { $0 }).joined(separator: "/") }
}

/// The workbench's keymap: the one table key handling, help and the key hints all use.
public enum Keymap {
  /// Every binding, in help order.
  public static let bindings: [KeyBinding] = [
    KeyBinding(keys: [.tab], context: .global, action: .focusNext, help: "next pane"),
    KeyBinding(keys: [.backTab], context: .global, action: .focusPrevious, help: "previous pane"),
    KeyBinding(keys: [.char("1")], context: .global, action: .focus(.files), help: "focus Files"),
    KeyBinding(keys: [.char("2")], context: .global, action: .focus(.log), help: "focus Log"),
    KeyBinding(keys: [.char("3")], context: .global, action: .focus(.operations), help: "focus Operations"),
    KeyBinding(keys: [.char("4")], context: .global, action: .focus(.spaces), help: "focus Spaces"),
    KeyBinding(keys: [.char("j"), .down], context: .global, action: .down, help: "move down"),
    KeyBinding(keys: [.char("k"), .up], context: .global, action: .up, help: "move up"),
    KeyBinding(keys: [.pageDown, .ctrl("d")], context: .global, action: .pageDown, help: "page down"),
    KeyBinding(keys: [.pageUp, .ctrl("u")], context: .global, action: .pageUp, help: "page up"),
    KeyBinding(keys: [.char("g"), .home], context: .global, action: .top, help: "go to the top"),
    KeyBinding(keys: [.char("G"), .end], context: .global, action: .bottom, help: "go to the bottom"),
    KeyBinding(keys: [.char("/")], context: .global, action: .filter, help: "filter / search the pane"),
    KeyBinding(keys: [.char("?")], context: .global, action: .help, help: "this help"),
    KeyBinding(
      keys: [.char("q"), .ctrl("c")], context: .global, action: .quit, help: "quit (asks while operations run)"),
    KeyBinding(
      keys: [.char("]")], context: .global, action: .nextRequest, help: "next waiting approval (in any space)"),
    KeyBinding(
      keys: [.char("[")], context: .global, action: .previousRequest,
      help: "previous waiting approval (in any space)"),
    KeyBinding(
      keys: [.char("D")], context: .global, action: .decisions,
      help: "decisions: every answer and denial, this session's grants, the policy's rules"),
    KeyBinding(
      keys: [.char("A")], context: .global, action: .away,
      help: "away mode on/off: notify on the desktop when an approval waits or a run fails"),
    KeyBinding(keys: [.enter, .char("l"), .right], context: .files, action: .open, help: "open file / expand folder"),
    KeyBinding(keys: [.char("h"), .left], context: .files, action: .collapse, help: "collapse folder"),
    KeyBinding(keys: [.char("e")], context: .files, action: .edit, help: "edit in $EDITOR"),
    KeyBinding(keys: [.char("c")], context: .files, action: .newFile, help: "create a file"),
    KeyBinding(keys: [.char("d")], context: .files, action: .deleteFile, help: "delete (asks first)"),
    KeyBinding(keys: [.char("r")], context: .files, action: .refresh, help: "re-read the tree"),
    KeyBinding(keys: [.escape], context: .files, action: .clearFilter, help: "clear the filter"),
    KeyBinding(keys: [.char("F")], context: .log, action: .follow, help: "follow new output on/off"),
    KeyBinding(keys: [.char("n")], context: .log, action: .nextMatch, help: "next match"),
    KeyBinding(keys: [.char("N")], context: .log, action: .previousMatch, help: "previous match"),
    KeyBinding(
      keys: [.enter], context: .operations, action: .open, help: "details, full output and what it changed (diff)"),
    KeyBinding(
      keys: [.char("u")], context: .operations, action: .undo, help: "undo what it changed (shows what will happen)"),
    KeyBinding(
      keys: [.char("R")], context: .operations, action: .restore,
      help: "restore the workspace to before it (asks first)"),
    KeyBinding(keys: [.char("F")], context: .operations, action: .follow, help: "follow the newest on/off"),
    KeyBinding(keys: [.escape], context: .operations, action: .clearFilter, help: "clear the filter"),
    KeyBinding(keys: [.enter], context: .spaces, action: .switchSpace, help: "switch to the space"),
    KeyBinding(keys: [.char("n")], context: .viewer, action: .nextMatch, help: "next match"),
    KeyBinding(keys: [.char("N")], context: .viewer, action: .previousMatch, help: "previous match"),
    KeyBinding(keys: [.char("e")], context: .viewer, action: .edit, help: "edit in $EDITOR"),
    KeyBinding(keys: [.escape, .char("q")], context: .viewer, action: .close, help: "close the viewer"),
    KeyBinding(
      keys: [.escape, .char("q")], context: .details, action: .close, help: "close the details (back to Operations)"),
    KeyBinding(keys: [.char("u")], context: .details, action: .undo, help: "undo what it changed (asks first)"),
    KeyBinding(
      keys: [.char("R")], context: .details, action: .restore, help: "restore the workspace to before it (asks first)"),
    KeyBinding(
      keys: [.char("x")], context: .decisions, action: .revoke, help: "take back the grant or rule (asks first)"),
    KeyBinding(keys: [.escape, .char("q")], context: .decisions, action: .close, help: "close the decisions"),
    KeyBinding(keys: [.char("y")], context: .prompt, action: .approveOnce, help: "approve once"),
    KeyBinding(keys: [.char("a")], context: .prompt, action: .approveSession, help: "approve for this session"),
    KeyBinding(
      keys: [.char("p")], context: .prompt, action: .approveAlways,
      help: "always: save the rule shown (editable) to the policy"),
    KeyBinding(keys: [.char("n")], context: .prompt, action: .deny, help: "deny, with feedback for the agent"),
    KeyBinding(
      keys: [.char("+")], context: .prompt, action: .extendDeadline,
      help: "more time: move the deadline on by the time it was first given (an hour more at most)"),
    KeyBinding(keys: [.char("J")], context: .prompt, action: .down, help: "scroll the request down"),
    KeyBinding(keys: [.char("K")], context: .prompt, action: .up, help: "scroll the request up"),
    KeyBinding(keys: [.char("?")], context: .prompt, action: .help, help: "this help, at these keys"),
    KeyBinding(
      keys: [.char("y"), .char("Y"), .enter], context: .confirm, action: .confirm, help: "yes: do what it asks"),
    KeyBinding(keys: [.char("n"), .escape], context: .confirm, action: .decline, help: "no: leave things as they are"),
    KeyBinding(keys: [], others: .anyOther, context: .confirm, action: .decline, help: "no, too"),
    KeyBinding(
      keys: [.enter], context: .input, action: .accept, help: "done: filter, search, create, deny, save the rule"),
    KeyBinding(keys: [.escape], context: .input, action: .cancel, help: "cancel (a filter is cleared)"),
    KeyBinding(
      keys: [.backspace, .delete], context: .input, action: .deleteBackward, help: "delete the last character"),
    KeyBinding(keys: [.ctrl("u")], context: .input, action: .clearField, help: "clear the field"),
    KeyBinding(keys: [], others: .characters, context: .input, action: .type, help: "type it"),
    KeyBinding(keys: [.char("j"), .down], context: .help, action: .down, help: "scroll down"),
    KeyBinding(keys: [.char("k"), .up], context: .help, action: .up, help: "scroll up"),
    KeyBinding(keys: [.pageDown, .char(" ")], context: .help, action: .pageDown, help: "page down"),
    KeyBinding(keys: [.pageUp], context: .help, action: .pageUp, help: "page up"),
    KeyBinding(keys: [.char("g"), .home], context: .help, action: .top, help: "go to the top"),
    KeyBinding(keys: [.char("G"), .end], context: .help, action: .bottom, help: "go to the bottom"),
    KeyBinding(keys: [], others: .anyOther, context: .help, action: .close, help: "close help"),
    KeyBinding(keys: [.escape], context: .banner, action: .close, help: "hide the notice above the status line"),
  ]

  /// The action `key` has in `context`: a binding that lists the key, else one whose class
  /// takes it (`any character`), else (where ``KeyContext/fallsBackToGlobal``) the global one.
  public static func action(for key: Key, in context: KeyContext) -> Action? {
    let own = bindings.filter { $0.context == context }
    if let binding = own.first(where: { $0.keys.contains(key) })
      ?? own.first(where: { $0.others?.contains(key) == true })
    {
      return binding.action
    }
    guard context.fallsBackToGlobal else { return nil }
    return bindings.first(where: { $0.context == .global && $0.keys.contains(key) })?.action
  }

  /// The keys that do `action` in `context`, first bound first: those of `context`'s bindings,
  /// then the global ones, keeping only keys ``action(for:in:)`` really maps to `action` there
  /// (a key `context` rebinds is not offered for a global action). Key hints and pane numbers
  /// come from here, so they can't name a key the keymap doesn't bind.
  public static func keys(for action: Action, in context: KeyContext) -> [Key] {
    let own = bindings.filter { $0.context == context && $0.action == action }
    let global = context == .global ? [] : bindings.filter { $0.context == .global && $0.action == action }
    var keys: [Key] = []
    for key in (own + global).flatMap(\.keys) where !keys.contains(key) && Self.action(for: key, in: context) == action
    {
      keys.append(key)
    }
    return keys
  }

  /// The key that focuses `pane` (its number: `2` for the Log).
  public static func focusKey(_ pane: Pane) -> Key? {
    keys(for: .focus(pane), in: .global).first
  }

  /// The keymap as help lines: a heading per context, then `keys  help` rows.
  public static func helpLines() -> [(heading: Bool, keys: String, text: String)] {
    var lines: [(Bool, String, String)] = []
    for context in KeyContext.allCases {
      let rows = bindings.filter { $0.context == context }
      guard !rows.isEmpty else { continue }
      lines.append((true, "", context.title))
      for row in rows { lines.append((false, row.keyLabel, row.help)) }
    }
    return lines
  }

  /// The keymap as a Markdown table (for the README).
  public static func markdownTable() -> String {
    var text = "| Where | Keys | Does |\n|---|---|---|\n"
    for binding in bindings {
      let keys =
        (binding.keys.map { "`\($0.name == "|" ? "\\|" : $0.name)`" } + [binding.others?.name].compactMap { $0 })
        .joined(separator: " ")
      text += "| \(binding.context.title) | \(keys) | \(binding.help) |\n"
    }
    return text
  }
}
