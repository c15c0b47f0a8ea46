import SpacesKit
import Testing

@testable import SpacesWorkbench

/// The prompt's preview of an edit follows the runtime's rule (``EditPlan``).
@Suite struct PromptDetailTests {
  @Test func anOverlappingOldTextIsShownAsAmbiguous() {
    let detail = PromptDetail.make(for: .editFile(path: "a.txt", oldText: "aa", newText: "b"), current: "aaa")
    #expect(detail.note == "the text to replace occurs 2 times: the edit will fail")
  }

  @Test func aUniqueOldTextShowsTheEditedFile() {
    let detail = PromptDetail.make(for: .editFile(path: "a.txt", oldText: "b", newText: "X"), current: "a\nb\nc\n")
    #expect(detail.note == nil)
    #expect(detail.diff?.contains { $0.text == "X" } == true)
  }
}
