/// A key hint: a short label for what a key does, where room is short (the status line, a
/// pane's edge, the prompt's choices). The key itself always comes from ``Keymap/bindings``.
struct KeyHint: Sendable {
  /// The actions whose first keys the hint shows, joined with `/` (`j/k scroll`).
  var actions: [Action]
  /// What the hint calls it.
  var label: String

  /// A hint labelled `label` for the keys of `actions`.
  init(_ label: String, _ actions: Action...) {
    self.label = label
    self.actions = actions
  }

  /// The keys as the hint shows them in `context` (`⏎`, `j/k`).
  func keys(in context: KeyContext) -> String {
    actions.map { Self.key($0, in: context) }.joined(separator: "/")
  }

  /// The hint as a phrase: its keys, then its label (`⏎ ok`).
  func text(in context: KeyContext) -> String { keys(in: context) + " " + label }

  /// Hints as one line, joined with ` · ` (`⏎ ok · esc cancel`).
  static func line(_ hints: [KeyHint], in context: KeyContext) -> String {
    hints.map { $0.text(in: context) }.joined(separator: " · ")
  }

  /// The first key that does `action` in `context`, as a hint shows it (or the class of keys
  /// that does it, `any other key`); "" when none does (the key tests check that every hint has
  /// one).
  static func key(_ action: Action, in context: KeyContext) -> String {
    if let key = Keymap.keys(for: action, in: context).first { return key.hintName }
    return Keymap.bindings.first { $0.context == context && $0.action == action && $0.others != nil }?.others?.name
      ?? ""
  }
}

extension Key {
  /// The key as a hint shows it: `⏎` for enter, otherwise its name.
  var hintName: String { self == .enter ? "⏎" : name }
}
