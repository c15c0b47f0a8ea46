import SpacesModel

/// A yes/no question in the middle of the screen.
public enum ConfirmView {
  /// Draws a confirmation; with `state`, what it says about running operations is live.
  public static func draw(
    _ confirmation: WorkbenchState.Confirmation, into canvas: inout Canvas, state: WorkbenchState? = nil
  ) {
    let (title, message, yes, no): (String, String, String, String) =
      switch confirmation {
      case .quit(let asked):
        (
          "Quit?", quitMessage(running: state?.unfinished ?? asked, outlive: state?.operationsOutliveQuit ?? false),
          "quit", "stay"
        )
      case .overwrite(let path, _):
        (
          "Changed meanwhile",
          "\(EventText.sanitize(path)) changed while you edited it (the agent wrote a newer version). Save yours over it? (\(KeyHint.key(.decline, in: .confirm)) keeps theirs; your text is lost)",
          "save mine", "keep theirs"
        )
      case .revoke(let item):
        ("Take back?", DecisionsView.describe(item) + ": " + DecisionsView.revokeEffect(item), "take back", "keep")
      case .undo(_, let summary, let changes, let paths):
        (
          "Undo?",
          "Undo \(EventText.sanitize(summary))? It puts back what it changed (\(changes))"
            + (paths.isEmpty ? "" : ": " + paths.joined(separator: "; "))
            + ". Journaled as your action; you can undo the undo.",
          "undo", "keep"
        )
      case .restore(_, let summary, let later):
        (
          "Restore?",
          "Restore the workspace to before \(EventText.sanitize(summary))? Everything from it on is taken back, "
            + "newest first (\(later) operation\(later == 1 ? "" : "s") that changed files). Journaled as your action; "
            + "undoable.",
          "restore", "keep"
        )
      case .delete(let path, let folder):
        (
          "Delete?",
          "Delete \(EventText.sanitize(path))\(folder ? " and everything in it" : "")? It is journaled as your change.",
          "delete", "keep"
        )
      }
    let width = min(60, canvas.width - 2)
    let words = PaneDrawing.wrap(message, width: width - 4)
    let rect = Rect(
      x: (canvas.width - width) / 2, y: max(0, (canvas.height - words.count - 4) / 2), width: width,
      height: words.count + 4)
    canvas.fill(rect, Style(.prompt))
    canvas.box(rect, title: title, focused: true, role: .waiting)
    for (offset, line) in words.enumerated() {
      canvas.put(line, x: rect.x + 2, y: rect.y + 1 + offset, Style(.text), limit: width - 4)
    }
    var x = rect.x + 2
    let y = rect.maxY - 2
    for (index, hint) in [KeyHint(yes, .confirm), KeyHint(no, .decline)].enumerated() {
      let key = "[" + hint.keys(in: .confirm) + "]"
      x += canvas.put(key, x: x, y: y, Style(.key, bold: true), limit: rect.maxX - x - 1)
      x += canvas.put(" " + hint.label + (index == 0 ? "   " : ""), x: x, y: y, Style(.text), limit: rect.maxX - x - 1)
    }
  }

  /// What quitting does to the operations still running (counted as the dialog is drawn).
  static func quitMessage(running: Int, outlive: Bool) -> String {
    let count = "\(running) operation\(running == 1 ? " is" : "s are")"
    if outlive {
      return running == 0
        ? "Nothing is running now." : "\(count) running on the server (spaces serve); they go on after you quit."
    }
    return running == 0
      ? "Nothing is running any more." : "\(count) still going; they stop when the workbench quits."
  }

}
