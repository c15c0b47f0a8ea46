/// Draws the whole workbench into a canvas: the panes, the prompt, overlays and status line.
public enum WorkbenchView {
  /// The hint at the banner's end.
  static let bannerHint = KeyHint("hides", .close)

  /// Renders `state` at `width` × `height` at time `now`.
  public static func render(_ state: WorkbenchState, width: Int, height: Int, now: Double) -> Canvas {
    var canvas = Canvas(width: width, height: height)
    let layout = WorkbenchLayout.compute(width: width, height: height, state: state)
    if layout.tooSmall {
      TooSmallView.draw(into: &canvas, width: width, height: height)
      return canvas
    }
    if let tabs = layout.tabs { TabsView.draw(state, into: &canvas, rect: tabs) }
    for (pane, rect) in layout.panes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
      draw(pane, state, into: &canvas, rect: rect, now: now)
    }
    if let prompt = layout.prompt { PromptView.draw(state, into: &canvas, rect: prompt, now: now) }
    if let banner = layout.banner, let text = state.banner {
      canvas.fill(banner, Style(.notice))
      canvas.put(
        " " + text + "  (" + bannerHint.text(in: .banner) + ")", x: banner.x, y: banner.y, Style(.notice),
        limit: banner.width)
    }
    StatusView.draw(state, into: &canvas, rect: layout.status, now: now)
    switch state.overlay {
    case .help(let scroll): HelpView.draw(into: &canvas, scroll: scroll)
    case .confirm(let confirmation): ConfirmView.draw(confirmation, into: &canvas, state: state)
    case .none, .input: break
    }
    return canvas
  }

  /// Draws one pane into `rect`.
  public static func draw(_ pane: Pane, _ state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double) {
    switch pane {
    case .files: FilesView.draw(state, into: &canvas, rect: rect)
    case .operations: OperationsView.draw(state, into: &canvas, rect: rect, now: now)
    case .spaces: SpacesView.draw(state, into: &canvas, rect: rect)
    case .log:
      switch state.detail {
      case .log: LogView.draw(state, into: &canvas, rect: rect)
      case .viewer(let view): ViewerView.draw(view, state: state, into: &canvas, rect: rect)
      case .details(let id): DetailsView.draw(state.operation(id), state: state, into: &canvas, rect: rect, now: now)
      case .decisions: DecisionsView.draw(state, into: &canvas, rect: rect)
      }
    }
  }
}
