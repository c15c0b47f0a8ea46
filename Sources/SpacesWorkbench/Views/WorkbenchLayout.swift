/// Where each part of the workbench goes at a given size.
public struct WorkbenchLayout: Equatable, Sendable {
  /// The smallest terminal the workbench draws in.
  public static let minimumWidth = 30
  /// The smallest terminal the workbench draws in.
  public static let minimumHeight = 8

  /// Too small to draw: only a notice.
  public var tooSmall: Bool
  /// One pane at a time, with a tab bar.
  public var compact: Bool
  /// The tab bar (compact only).
  public var tabs: Rect?
  /// The panes shown, by pane.
  public var panes: [Pane: Rect]
  /// The approval prompt.
  public var prompt: Rect?
  /// The banner.
  public var banner: Rect?
  /// The status line.
  public var status: Rect

  /// Lays out the workbench for `state` in `width` × `height`.
  public static func compute(width: Int, height: Int, state: WorkbenchState) -> WorkbenchLayout {
    let screen = Rect(x: 0, y: 0, width: width, height: height)
    guard width >= minimumWidth, height >= minimumHeight else {
      return WorkbenchLayout(
        tooSmall: true, compact: true, tabs: nil, panes: [:], prompt: nil, banner: nil,
        status: Rect(x: 0, y: 0, width: 0, height: 0))
    }
    var (main, status) = screen.splitBottom(1)
    var banner: Rect?
    if state.banner != nil {
      let split = main.splitBottom(1)
      main = split.0
      banner = split.1
    }
    var prompt: Rect?
    if let request = state.currentApproval {
      let wanted = PromptView.height(state: state, request: request, width: width)
      // Up to most of the screen; the panes keep a few rows (a full layout on a tall one).
      let keep = main.height >= 30 ? 12 : max(4, main.height / 4)
      let rows = min(wanted, max(5, main.height - keep))
      let split = main.splitBottom(rows)
      main = split.0
      prompt = split.1
    }
    let compact = width < 70 || main.height < 12
    var panes: [Pane: Rect] = [:]
    var tabs: Rect?
    if compact {
      let split = main.splitTop(1)
      tabs = split.0
      panes[state.focus] = split.1
    } else {
      let leftWidth = min(44, max(24, width * 3 / 10))
      var (left, right) = main.splitLeft(leftWidth)
      panes[.log] = right
      if left.height >= 18 {
        let spacesRows = min(max(state.spaces.count, 1) + 2, 5)
        let split = left.splitTop(spacesRows)
        panes[.spaces] = split.0
        left = split.1
      }
      let (files, operations) = left.splitTop(left.height * 11 / 20)
      panes[.files] = files
      panes[.operations] = operations
    }
    return WorkbenchLayout(
      tooSmall: false, compact: compact, tabs: tabs, panes: panes, prompt: prompt, banner: banner, status: status)
  }
}
