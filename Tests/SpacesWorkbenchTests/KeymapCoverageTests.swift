import SpacesModel
import Testing

@testable import SpacesWorkbench

/// Every key the workbench reacts to is in ``Keymap/bindings`` for the context it reacts in:
/// each context is fed every key, and a key the keymap doesn't bind there must change nothing,
/// while the keys of one binding must all do the same.
@Suite struct KeymapCoverageTests {
  static let now = 100.0

  /// Printable characters, control letters, the named keys and the mouse.
  static let allKeys: [Key] = {
    var keys: [Key] = (32...126).compactMap { Unicode.Scalar($0).map { Key.char(Character($0)) } }
    keys += [.char("é"), .char("界")]
    keys += "abcdefghijklmnopqrstuvwxyz".map { Key.ctrl($0) }
    keys += [
      .up, .down, .left, .right, .pageUp, .pageDown, .home, .end, .enter, .escape, .tab, .backTab, .backspace,
      .delete, .click(x: 5, y: 5), .wheel(x: 5, y: 5, up: true), .wheel(x: 5, y: 5, up: false),
    ]
    return keys
  }()

  /// What a key can have changed: the screen and the state behind it.
  static func fingerprint(_ state: WorkbenchState, _ intents: [Intent]) -> String {
    let facts: [String] = [
      "\(state.overlay)", "\(state.banner ?? "-")", "\(state.focus)", "\(state.detail)", state.treeFilter,
      state.operationFilter, state.logSearch, state.viewerSearch, "\(state.followLog) \(state.logTop)",
      "\(state.followOperations)",
      "\(state.treeSelection) \(state.operationSelection) \(state.spaceSelection) \(state.decisionSelection)",
      "\(state.detailScroll) \(state.promptScroll) \(state.away) \(state.flash?.text ?? "-")",
      "\(state.tree.expanded.sorted())", "\(intents)",
    ]
    return facts.joined(separator: "\n") + WorkbenchView.render(state, width: 80, height: 24, now: now).text
  }

  static func press(_ key: Key, on state: WorkbenchState) -> String {
    var state = state
    let intents = state.handle(key, now: now)
    return fingerprint(state, intents)
  }

  /// The states to feed keys to, by the context their keys go through.
  static func states() -> [(KeyContext, WorkbenchState)] {
    var base = Fixture.state()
    base.screen = (80, 24)
    var states: [(KeyContext, WorkbenchState)] = []
    for (pane, context) in [
      (Pane.files, KeyContext.files), (.log, .log), (.operations, .operations), (.spaces, .spaces),
    ] {
      var state = base
      state.focus = pane
      states.append((context, state))
    }
    var viewer = base
    viewer.showFile(WorkbenchState.FileView(path: "README.md", text: "one\ntwo\nthree\n"))
    states.append((.viewer, viewer))
    for confirmation in [
      WorkbenchState.Confirmation.delete("README.md", folder: false), .quit(running: 1),
    ] {
      var state = base
      state.overlay = .confirm(confirmation)
      states.append((.confirm, state))
    }
    for purpose in [WorkbenchState.InputPurpose.filter(.files), .search, .newFile] {
      var state = base
      state.overlay = .input(purpose, text: "src")
      states.append((.input, state))
    }
    var help = base
    help.overlay = .help(scroll: 3)
    states.append((.help, help))
    return states
  }

  @Test func aKeyOutsideTheKeymapChangesNothing() {
    for (context, state) in Self.states() {
      let before = Self.fingerprint(state, [])
      // The panes take the mouse by where it points (README: "The mouse works too"), not
      // through the keymap; over a question, a field or help it is a key like any other.
      let keys = context.fallsBackToGlobal ? Self.allKeys.filter { !$0.isMouse } : Self.allKeys
      for key in keys where Keymap.action(for: key, in: context) == nil {
        #expect(Self.press(key, on: state) == before, "\(key.name) reacted in \(context) without a binding")
      }
    }
  }

  @Test func theKeysOfABindingDoTheSame() {
    for (context, state) in Self.states() {
      var first: [Action: (Key, String)] = [:]
      for key in Self.allKeys {
        guard let action = Keymap.action(for: key, in: context), action != .type else { continue }
        let after = Self.press(key, on: state)
        guard let (reference, expected) = first[action] else {
          first[action] = (key, after)
          continue
        }
        #expect(after == expected, "\(key.name) and \(reference.name) differ in \(context) (\(action))")
      }
      #expect(first.count > 1, "\(context): too few actions seen")
    }
  }

  @Test func aFieldTakesEveryCharacterAndNothingElseAsText() {
    for key in Self.allKeys {
      var state = Fixture.state()
      state.overlay = .input(.newFile, text: "src/")
      _ = state.handle(key, now: Self.now)
      let typed: Bool
      if case .input(.newFile, let text) = state.overlay, text.count == 5 { typed = true } else { typed = false }
      #expect(typed == (Keymap.action(for: key, in: .input) == .type), "\(key.name)")
      if case .char(let character) = key {
        #expect(state.overlay == .input(.newFile, text: "src/" + String(character)))
      }
    }
  }

  @Test func clearingAFilterFieldClearsTheFilter() {
    var state = Fixture.state()
    _ = state.handle(.char("/"), now: Self.now)
    for character in "zzz" { _ = state.handle(.char(character), now: Self.now) }
    #expect(state.treeFilter == "zzz")
    _ = state.handle(.ctrl("u"), now: Self.now)
    #expect(state.overlay == .input(.filter(.files), text: ""))
    #expect(state.treeFilter == "")
  }

  @Test func onlyTheBannersKeyHidesIt() {
    for key in Self.allKeys {
      var state = Fixture.state()
      state.banner = "--agent needs the server"
      _ = state.handle(key, now: Self.now)
      #expect((state.banner == nil) == (Keymap.action(for: key, in: .banner) == .close), "\(key.name)")
    }
  }

  @Test func aQuestionIsAnsweredOnlyByItsYesKeys() {
    for key in Self.allKeys {
      var state = Fixture.state()
      state.overlay = .confirm(.delete("README.md", folder: false))
      let intents = state.handle(key, now: Self.now)
      let yes = Keymap.action(for: key, in: .confirm) == .confirm
      #expect(intents == (yes ? [.deleteFile("README.md", recursive: false)] : []), "\(key.name)")
      #expect(state.overlay == .none, "\(key.name) left the question open")
    }
    #expect(Keymap.keys(for: .confirm, in: .confirm) == [.char("y"), .char("Y"), .enter])
  }

  @Test func helpScrollsWithinItsLines() {
    var state = Fixture.state()
    state.screen = (80, 24)
    state.overlay = .help(scroll: 0)
    let last = HelpView.maxScroll(height: 24)
    #expect(last > 0)
    _ = state.handle(.char("G"), now: Self.now)
    #expect(state.overlay == .help(scroll: last))
    _ = state.handle(.char("j"), now: Self.now)
    #expect(state.overlay == .help(scroll: last))
    _ = state.handle(.char("k"), now: Self.now)
    #expect(state.overlay == .help(scroll: last - 1))
    _ = state.handle(.home, now: Self.now)
    #expect(state.overlay == .help(scroll: 0))
    _ = state.handle(.char(" "), now: Self.now)
    #expect(state.overlay == .help(scroll: min(last, state.pageRows - 1)))
    _ = state.handle(.char("x"), now: Self.now)
    #expect(state.overlay == .none)
  }

  @Test func helpListsTheQuestionFieldHelpAndBannerKeys() {
    let headings = Keymap.helpLines().filter(\.heading).map(\.text)
    for context in [KeyContext.confirm, .input, .help, .banner] { #expect(headings.contains(context.title)) }
    let rows = Keymap.helpLines().filter { !$0.heading }.map(\.keys)
    #expect(rows.contains("y/Y/enter"))
    #expect(rows.contains("any character"))
    #expect(rows.contains("any other key"))
  }

  @Test func theHintsTheOverlaysShowComeFromTheKeymap() {
    #expect(KeyHint.line(StatusView.fieldHints, in: .input) == "⏎ ok · esc cancel")
    #expect(KeyHint.line(PromptView.denyHints, in: .input) == "⏎ deny · esc back")
    #expect(KeyHint.line(HelpView.hints, in: .help) == "j/k scroll · any other key closes")
    #expect(WorkbenchView.bannerHint.text(in: .banner) == "esc hides")
    for (context, hints) in [
      (KeyContext.input, StatusView.fieldHints + PromptView.denyHints + PromptView.ruleHints), (.help, HelpView.hints),
      (.banner, [WorkbenchView.bannerHint]),
      (.confirm, [KeyHint("yes", .confirm), KeyHint("no", .decline)]),
    ] {
      for hint in hints {
        for action in hint.actions { #expect(!KeyHint.key(action, in: context).isEmpty, "\(hint.label) in \(context)") }
      }
    }
  }
}

extension Key {
  fileprivate var isMouse: Bool {
    switch self {
    case .click, .wheel: true
    default: false
    }
  }
}
