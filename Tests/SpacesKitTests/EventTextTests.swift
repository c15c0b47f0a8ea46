import Testing

@testable import SpacesKit
@testable import SpacesModel

@Suite struct EventTextTests {
  /// A command is shown in the order it runs: characters that reorder text (a right-to-left
  /// override hiding `rm -rf ~` behind an innocent-looking tail) are shown as `�`, escapes as
  /// visible text, newlines and tabs kept.
  @Test func reorderingAndControlCharactersAreShownNotObeyed() {
    let hidden = "echo safe \u{202E}~ fr- mr\u{202C}; ls\u{2066}x\u{2069}\u{200F}\u{061C}"
    let shown = EventText.sanitize(hidden)
    #expect(!shown.unicodeScalars.contains { EventText.hidesOrReorders($0) })
    #expect(shown == "echo safe \u{FFFD}~ fr- mr\u{FFFD}; ls\u{FFFD}x\u{FFFD}\u{FFFD}\u{FFFD}")
    #expect(EventText.sanitize("a\u{1B}[2Jb\n\tc\u{9B}") == "a^[[2Jb\n\tc\u{FFFD}")
    #expect(StatedReason.display("why \u{202E}sdrawkcab") == "why \u{FFFD}sdrawkcab")
  }
}
