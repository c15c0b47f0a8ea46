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

  /// The first key that does `action` in `context`, as a hint shows it; "" when none does
  /// (the key tests check that every hint has one).
  static func key(_ action: Action, in context: KeyContext) -> String {
    Keymap.keys(for: action, in: context).first?.hintName ?? ""
  }
}

extension Key {
  /// The key as a hint shows it: `⏎` for enter, otherwise its name.
  var hintName: String { self == .enter ? "⏎" : name }
}
