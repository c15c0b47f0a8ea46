import SpacesModel

/// What the workbench asks the outside world to do; views and key handling emit these and
/// never call the runtime themselves.
public enum Intent: Equatable, Sendable {
  /// Answer an approval request.
  case resolve(id: String, ApprovalResolution)
  /// Give an approval request more time (the time it was first given again).
  case extendApproval(id: String)
  /// Read a file into the viewer.
  case openFile(String)
  /// Edit a file in `$EDITOR` (curses suspended).
  case editFile(String)
  /// Create an empty file as the person.
  case createFile(String)
  /// Save a file's new content as the person (after `$EDITOR`).
  case saveFile(String, content: String)
  /// Delete a file or folder as the person.
  case deleteFile(String, recursive: Bool)
  /// List a folder (after expanding it).
  case loadFolder(String)
  /// Re-list every expanded folder.
  case refreshTree
  /// Watch another space.
  case switchSpace(String)
  /// Watch another space with the prompt on one of its requests.
  case showApproval(space: String, id: String)
  /// Read the grants and rules and show the Decisions view.
  case loadDecisions
  /// Take back a session grant or remove a policy rule.
  case revoke(Revocable)
  /// Load an operation's change record and diff (for its details).
  case loadChanges(String)
  /// Undo an operation as the person (after the person confirmed what will happen).
  case undo(String)
  /// Restore the workspace to before an operation (after the person confirmed).
  case restore(before: String)
  /// Ring the terminal bell.
  case bell
  /// Away mode: a desktop notification (through the terminal, and the `notify` command).
  case desktopNotify(title: String, body: String)
  /// Leave the workbench.
  case quit
}

/// What an approval prompt needs beyond the request: the diff for file writes.
public struct PromptDetail: Equatable, Sendable {
  /// The diff (createFile, editFile); nil for other kinds.
  public var diff: [DiffLine]?
  /// A note (a new file, an edit that won't apply…).
  public var note: String?

  /// Creates a detail.
  public init(diff: [DiffLine]? = nil, note: String? = nil) {
    self.diff = diff
    self.note = note
  }

  /// The detail for a request, given the file's current text (nil when it doesn't exist).
  public static func make(for operation: Op, current: String?) -> PromptDetail {
    switch operation {
    case .createFile(_, let content, let encoding):
      guard encoding == .utf8 else { return PromptDetail(note: "binary content (base64), \(content.count) characters") }
      let diff = LineDiff.diff(old: current ?? "", new: content, context: 3)
      if current == nil { return PromptDetail(diff: diff, note: "new file") }
      return PromptDetail(diff: diff, note: diff.isEmpty ? "same content as now" : "replaces the file")
    case .editFile(_, let oldText, let newText):
      guard let current else { return PromptDetail(diff: [], note: "the file does not exist: the edit will fail") }
      let edited: String
      do {
        // The runtime's own rule, so the preview never shows an edit that won't apply.
        let bytes = try EditPlan.apply(oldText: oldText, newText: newText, to: Array(current.utf8), path: "the file")
        edited = String(decoding: bytes, as: UTF8.self)
      } catch {
        let note =
          switch error.code {
          case .editNoMatch: "the text to replace is not in the file: the edit will fail"
          case .editAmbiguous:
            "the text to replace occurs \(EditPlan.matches(of: Array(oldText.utf8), in: Array(current.utf8)).count) times: the edit will fail"
          default: "the edit will fail: \(error.message)"
          }
        return PromptDetail(diff: LineDiff.diff(old: oldText, new: newText, context: 3), note: note)
      }
      return PromptDetail(diff: LineDiff.diff(old: current, new: edited, context: 3))
    default:
      return PromptDetail()
    }
  }
}
