import SpacesModel

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

/// Draws the whole workbench into a canvas: the panes, the prompt, overlays and status line.
public enum WorkbenchView {
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
      canvas.put(" " + text + "  (esc hides)", x: banner.x, y: banner.y, Style(.notice), limit: banner.width)
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

  /// The rows a pane at `rect` shows inside its border.
  static func inner(_ rect: Rect) -> Rect { rect.inset(1) }

  /// The dim line an empty pane shows in its first row.
  static func placeholder(_ text: String, in inner: Rect, _ canvas: inout Canvas) {
    canvas.put(text, x: inner.x + 1, y: inner.y, Style(.dim), limit: inner.width - 1)
  }

  /// Puts a row with the selection look when `selected`.
  static func selectionStyle(_ state: WorkbenchState, pane: Pane) -> Style {
    state.focus == pane && state.overlay == .none ? Style(.selection, bold: true) : Style(.selectionBlur)
  }

  /// Writes `text` with `query` matches highlighted; returns the columns used.
  @discardableResult
  static func putHighlighted(
    _ text: String, query: String, into canvas: inout Canvas, x: Int, y: Int, style: Style, limit: Int
  ) -> Int {
    guard !query.isEmpty, let range = text.range(of: query, options: .caseInsensitive) else {
      return canvas.put(text, x: x, y: y, style, limit: limit)
    }
    var used = canvas.put(text[..<range.lowerBound], x: x, y: y, style, limit: limit)
    used += canvas.put(text[range], x: x + used, y: y, Style(.match, bold: true), limit: limit - used)
    let rest = String(text[range.upperBound...])
    used += putHighlighted(rest, query: query, into: &canvas, x: x + used, y: y, style: style, limit: limit - used)
    return used
  }

  static func title(_ pane: Pane, _ text: String? = nil) -> String {
    "[\(pane.rawValue)] " + (text ?? pane.title)
  }
}

/// The tab bar of the compact layout.
public enum TabsView {
  /// Draws the tabs.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    canvas.fill(rect, Style(.status))
    var x = rect.x
    for pane in Pane.allCases {
      let label = label(pane, state)
      let style = pane == state.focus ? Style(.statusSpace, bold: true) : Style(.status)
      x += canvas.put(label, x: x, y: rect.y, style, limit: rect.maxX - x)
    }
  }
}

extension TabsView {
  /// A tab's label (` 3 Ops `; ` 4 Spaces ! ` when another space waits).
  static func label(_ pane: Pane, _ state: WorkbenchState) -> String {
    let pending = pane == .spaces && state.spaces.contains { $0.name != state.space.name && $0.pending > 0 }
    return " \(pane.rawValue) \(pane == .operations ? "Ops" : pane.title)\(pending ? " !" : "") "
  }
}

/// The workspace tree.
public enum FilesView {
  /// Draws the tree.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    let focused = state.focus == .files
    canvas.box(rect, title: WorkbenchView.title(.files), focused: focused)
    let rows = state.treeRows
    let changes = state.tree.markers.count
    if !state.treeFilter.isEmpty {
      canvas.boxTag(rect, "/" + state.treeFilter, Style(.match))
    } else if changes > 0 {
      canvas.boxTag(rect, "\(changes) changed", Style(.modified))
    }
    let inner = WorkbenchView.inner(rect)
    guard !inner.isEmpty else { return }
    if rows.isEmpty {
      WorkbenchView.placeholder(state.treeFilter.isEmpty ? "(empty workspace)" : "(no match)", in: inner, &canvas)
      return
    }
    let top = scrollTop(selection: state.treeSelection, count: rows.count, rows: inner.height)
    for (offset, row) in rows[top..<min(rows.count, top + inner.height)].enumerated() {
      let y = inner.y + offset
      let selected = top + offset == state.treeSelection
      let base: Style
      switch row.marker {
      case .added: base = Style(.added)
      case .modified: base = Style(.modified)
      case .deleted: base = Style(.deleted)
      case nil: base = row.isFolder ? Style(.folder, bold: true) : Style(.text)
      }
      let style = selected ? WorkbenchView.selectionStyle(state, pane: .files) : base
      if selected { canvas.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style) }
      var x = inner.x + min(row.depth * 2, max(0, inner.width - 6))
      let icon = row.isFolder ? (row.expanded ? "▾ " : "▸ ") : "  "
      x += canvas.put(icon, x: x, y: y, selected ? style : Style(.dim), limit: inner.maxX - x)
      let markerText = row.marker?.rawValue ?? (row.holdsChanges ? "•" : " ")
      let name = row.name + (row.isFolder ? "/" : "")
      let nameWidth = inner.maxX - x - 2
      x += canvas.put(TextWidth.truncate(EventText.sanitize(name), to: nameWidth), x: x, y: y, style, limit: nameWidth)
      canvas.put(markerText, x: inner.maxX - 1, y: y, selected ? style : (row.marker == nil ? Style(.modified) : base))
    }
  }

  static func scrollTop(selection: Int, count: Int, rows: Int) -> Int {
    guard count > rows, rows > 0 else { return 0 }
    return min(max(0, selection - rows / 2), count - rows)
  }
}

/// The shell log: output grouped by operation.
public enum LogView {
  /// Draws the log.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    let focused = state.focus == .log
    canvas.box(rect, title: WorkbenchView.title(.log, "Shell log"), focused: focused)
    let inner = WorkbenchView.inner(rect)
    let log = state.log
    let first = log.dropped
    let lastTop = max(first, first + log.count - inner.height)
    let top = state.followLog ? lastTop : min(max(state.logTop, first), lastTop)
    var tag = state.followLog ? "follow" : "paused · F follows"
    if !state.logSearch.isEmpty { tag = "/" + state.logSearch + " · " + tag }
    canvas.boxTag(rect, tag, Style(state.followLog ? .ok : .waiting))
    guard !inner.isEmpty else { return }
    if log.count == 0 {
      WorkbenchView.placeholder("No output yet. Shell commands stream here as they run.", in: inner, &canvas)
      return
    }
    for (row, (line, piece, continued)) in rows(log, top: top - first, follow: state.followLog, in: inner).enumerated()
    {
      let y = inner.y + row
      switch line.kind {
      case .header:
        var x = inner.x
        x += canvas.put(continued ? "  " : "▶ ", x: x, y: y, Style(.opHeader), limit: inner.width)
        x += canvas.put(piece + " ", x: x, y: y, Style(.opHeader, bold: true), limit: inner.maxX - x)
        if x < inner.maxX {
          canvas.put(String(repeating: "─", count: inner.maxX - x), x: x, y: y, Style(.border))
        }
      case .footer:
        if line.text.hasPrefix("⊘") {
          canvas.put(piece, x: inner.x, y: y, Style(.denied, bold: true), limit: inner.width)
        } else {
          // A footer is ✔ only for a command that succeeded and had nothing put back.
          let ok = line.text.hasPrefix("✔") && !line.text.contains("⚠")
          canvas.put("  " + piece, x: inner.x, y: y, Style(ok ? .ok : .failed), limit: inner.width)
        }
      case .stdout:
        if continued { canvas.put("↪", x: inner.x, y: y, Style(.dim)) }
        WorkbenchView.putHighlighted(
          piece, query: state.logSearch, into: &canvas, x: inner.x + 2, y: y, style: Style(.stdout),
          limit: inner.width - 2)
      case .stderr:
        canvas.put(continued ? "↪" : "▌", x: inner.x, y: y, Style(.stderr))
        WorkbenchView.putHighlighted(
          piece, query: state.logSearch, into: &canvas, x: inner.x + 2, y: y, style: Style(.stderr),
          limit: inner.width - 2)
      case .message:
        WorkbenchView.putHighlighted(
          piece, query: state.logSearch, into: &canvas, x: inner.x, y: y, style: Style(.message), limit: inner.width)
      case .notice:
        canvas.put((continued ? "  " : "• ") + piece, x: inner.x, y: y, Style(.waiting), limit: inner.width)
      }
    }
  }

  /// The columns a log line's text has at a pane `width` wide (after its gutter).
  static func room(_ kind: LogLine.Kind, width: Int) -> Int {
    switch kind {
    case .message: max(1, width)
    case .footer, .header, .stdout, .stderr, .notice: max(1, width - 2)
    }
  }

  /// The rows the log shows in `inner`: long lines wrap (a line takes at most the pane's
  /// height). From line `top` down; when following, or when the lines from `top` don't fill
  /// the pane, the newest lines end at its bottom.
  static func rows(_ log: LogBuffer, top: Int, follow: Bool, in inner: Rect) -> [(LogLine, String, Bool)] {
    func pieces(_ index: Int) -> [(LogLine, String, Bool)] {
      let line = log[index]
      let columns = line.kind == .footer && line.text.hasPrefix("⊘") ? inner.width : room(line.kind, width: inner.width)
      let wrapped = TextWidth.wrap(line.text, width: columns, maxPieces: inner.height).pieces
      return wrapped.enumerated().map { (line, $1, $0 > 0) }
    }
    if !follow {
      var result: [(LogLine, String, Bool)] = []
      var index = max(0, top)
      while index < log.count, result.count < inner.height {
        result += pieces(index)
        index += 1
      }
      if result.count >= inner.height { return Array(result.prefix(inner.height)) }
    }
    var result: [(LogLine, String, Bool)] = []
    var index = log.count - 1
    while index >= 0, result.count < inner.height {
      result = pieces(index) + result
      index -= 1
    }
    return Array(result.suffix(inner.height))
  }
}

/// The operation queue.
public enum OperationsView {
  /// The icon and role for a state (running spins with `now`).
  static func icon(_ record: OperationRecord, now: Double) -> (String, Role) {
    switch record.state {
    case .queued: return ("·", .dim)
    case .awaitingApproval: return ("?", .waiting)
    case .running:
      let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
      return (frames[Int(now * 10) % frames.count], .running)
    case .completed: return record.exitedNonZero ? ("✘", .failed) : ("✔", .ok)
    case .failed: return ("✘", .failed)
    case .denied: return ("⊘", .denied)
    }
  }

  /// The short state text at the right of a row.
  public static func stateText(_ record: OperationRecord, now: Double) -> String {
    switch record.state {
    case .queued: return "queued"
    case .awaitingApproval: return "approval"
    case .running:
      let elapsed = Int(max(0, now - (record.startedAt ?? record.receivedAt)) * 1000)
      return WorkbenchState.duration(elapsed)
    case .completed:
      if let code = record.exitCode, code != 0 { return "exit \(code)" }
      return record.durationMs.map(WorkbenchState.duration) ?? "done"
    case .failed:
      if let code = record.exitCode { return "exit \(code)" }
      if let signal = record.signal { return "sig \(signal)" }
      return "error"
    case .denied: return "denied"
    }
  }

  /// Draws the queue.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double) {
    let focused = state.focus == .operations
    canvas.box(rect, title: WorkbenchView.title(.operations), focused: focused)
    let operations = state.visibleOperations
    let running = state.operations.filter { $0.state == .running }.count
    let waiting = state.operations.filter { $0.state == .awaitingApproval }.count
    var tags: [String] = []
    if !state.operationFilter.isEmpty { tags.append("/" + state.operationFilter) }
    if running > 0 { tags.append("\(running) running") }
    if waiting > 0 { tags.append("\(waiting) waiting") }
    if tags.isEmpty { tags.append("\(state.operations.count)") }
    canvas.boxTag(rect, tags.joined(separator: " · "), Style(waiting > 0 ? .waiting : .dim))
    let inner = WorkbenchView.inner(rect)
    guard !inner.isEmpty else { return }
    if operations.isEmpty {
      WorkbenchView.placeholder(state.operationFilter.isEmpty ? "Nothing yet." : "(no match)", in: inner, &canvas)
      return
    }
    let top = FilesView.scrollTop(selection: state.operationSelection, count: operations.count, rows: inner.height)
    for (offset, record) in operations[top..<min(operations.count, top + inner.height)].enumerated() {
      let y = inner.y + offset
      let selected = top + offset == state.operationSelection
      let (glyph, role) = icon(record, now: now)
      // ±N: how many paths it changed in the workspace (its change record).
      let status = stateText(record, now: now) + (record.changes.map { $0.total > 0 ? " ±\($0.total)" : "" } ?? "")
      let statusWidth = TextWidth.width(status)
      let rowStyle = selected ? WorkbenchView.selectionStyle(state, pane: .operations) : Style(.text)
      if selected { canvas.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), rowStyle) }
      canvas.put(glyph, x: inner.x + 1, y: y, selected ? rowStyle : Style(role, bold: true))
      var x = inner.x + 3
      if record.actor == .person {
        x += canvas.put("you ", x: x, y: y, selected ? rowStyle : Style(.person), limit: inner.maxX - x)
      }
      let room = inner.maxX - x - statusWidth - 1
      canvas.put(TextWidth.truncate(record.summary, to: room), x: x, y: y, rowStyle, limit: room)
      if inner.width > statusWidth + 6 {
        canvas.put(status, x: inner.maxX - statusWidth, y: y, selected ? rowStyle : Style(role))
      }
    }
  }
}

/// The spaces switcher.
public enum SpacesView {
  /// Draws the spaces list.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect) {
    canvas.box(rect, title: WorkbenchView.title(.spaces), focused: state.focus == .spaces)
    let others = state.spaces.filter { $0.name != state.space.name }.reduce(0) { $0 + $1.pending }
    if others > 0 { canvas.boxTag(rect, "\(others) waiting elsewhere", Style(.waiting, bold: true)) }
    let inner = WorkbenchView.inner(rect)
    guard !inner.isEmpty else { return }
    let top = FilesView.scrollTop(selection: state.spaceSelection, count: state.spaces.count, rows: inner.height)
    for (offset, entry) in state.spaces.dropFirst(top).prefix(inner.height).enumerated() {
      let y = inner.y + offset
      let selected = top + offset == state.spaceSelection
      let current = entry.name == state.space.name
      let style =
        selected && state.focus == .spaces
        ? WorkbenchView.selectionStyle(state, pane: .spaces) : Style(current ? .folder : .text, bold: current)
      if selected && state.focus == .spaces {
        canvas.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style)
      }
      canvas.put(current ? "●" : " ", x: inner.x + 1, y: y, style)
      canvas.put(entry.name, x: inner.x + 3, y: y, style, limit: inner.width - 10)
      if entry.pending > 0 {
        let text = "⚠ \(entry.pending)"
        canvas.put(text, x: inner.maxX - TextWidth.width(text) - 1, y: y, Style(.waiting, bold: true))
      }
    }
  }
}

/// The status line: space, backend, policy, connection, counts and key hints (or the input
/// field of a filter or search).
public enum StatusView {
  /// Draws the status line.
  public static func draw(_ state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double) {
    guard !rect.isEmpty else { return }
    canvas.fill(rect, Style(.status))
    var x = rect.x
    if case .input(let purpose, let text) = state.overlay {
      let label: String
      switch purpose {
      case .filter(let pane): label = " filter \(pane.title.lowercased()): "
      case .search: label = " search: "
      case .newFile: label = " new file: "
      case .denyFeedback, .rule: label = ""
      }
      if !label.isEmpty {
        x += canvas.put(label, x: x, y: rect.y, Style(.statusKey, bold: true), limit: rect.width)
        x += canvas.put(text + "█", x: x, y: rect.y, Style(.input), limit: rect.maxX - x)
        let hint = "  enter ok · esc cancel"
        canvas.put(hint, x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
        return
      }
    }
    // Narrow: the backend (unless unisolated), the policy and the connection's name give way
    // to what changes (approvals waiting, notices, keys).
    let narrow = rect.width < 72
    x += canvas.put(" " + state.space.name + " ", x: x, y: rect.y, Style(.statusSpace, bold: true), limit: rect.width)
    if !state.space.isolated {
      let backend = narrow ? " UNISOLATED " : " " + state.space.backend + " UNISOLATED "
      x += canvas.put(backend, x: x, y: rect.y, Style(.danger, bold: true), limit: rect.maxX - x)
    } else if !narrow {
      x += canvas.put(" " + state.space.backend + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    }
    if !narrow {
      x += canvas.put("│ " + state.space.policy + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    }
    // The shell session's folder, where the next command starts, when it is not the root.
    if state.shellFolder != "." {
      let folder = TextWidth.truncate(EventText.sanitize("./" + state.shellFolder), to: narrow ? 12 : 28)
      x += canvas.put("│ " + folder + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    }
    let dot = state.connected ? "●" : "○"
    x += canvas.put(narrow ? " " : "│ ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    x += canvas.put(dot, x: x, y: rect.y, Style(state.connected ? .ok : .failed), limit: rect.maxX - x)
    x += canvas.put(narrow ? " " : " " + state.connection + " ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
    if state.away {
      x += canvas.put("│ ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
      x += canvas.put("away ", x: x, y: rect.y, Style(.statusKey, bold: true), limit: rect.maxX - x)
    }
    let waiting = state.approvals.count
    if waiting > 0 {
      x += canvas.put("│ ", x: x, y: rect.y, Style(.status), limit: rect.maxX - x)
      x += canvas.put("\(waiting) waiting ", x: x, y: rect.y, Style(.statusKey, bold: true), limit: rect.maxX - x)
    }
    if let flash = state.flash, flash.until >= now {
      let room = rect.maxX - x - 2
      canvas.put(
        "│ " + TextWidth.truncate(flash.text, to: room), x: x, y: rect.y, Style(.statusKey), limit: rect.maxX - x)
      return
    }
    var hints = hintPairs(state)
    while !hints.isEmpty,
      hints.reduce(0, { $0 + TextWidth.width($1.0) + TextWidth.width($1.1) + 3 }) > rect.maxX - x - 2
    {
      hints.removeLast()
    }
    var text: [(String, Bool)] = []
    for (key, label) in hints {
      text.append((key, true))
      text.append((" " + label + "  ", false))
    }
    let width = text.reduce(0) { $0 + TextWidth.width($1.0) }
    var hx = max(x + 1, rect.maxX - width)
    if hx + 4 > rect.maxX { return }
    for (piece, isKey) in text {
      hx += canvas.put(piece, x: hx, y: rect.y, Style(isKey ? .statusKey : .status, bold: isKey), limit: rect.maxX - hx)
    }
  }

  static func hintPairs(_ state: WorkbenchState) -> [(String, String)] {
    // A docked prompt shows its own keys; the status line keeps the focused pane's.
    switch state.context {
    case .prompt: return [("y", "once"), ("a", "session"), ("p", "always"), ("n", "deny"), ("?", "help")]
    case .files:
      return [("⏎", "open"), ("e", "edit"), ("c", "new"), ("d", "del"), ("/", "filter"), ("?", "help"), ("q", "quit")]
    case .log: return [("F", "follow"), ("/", "search"), ("tab", "pane"), ("?", "help"), ("q", "quit")]
    case .operations: return [("⏎", "details"), ("/", "filter"), ("tab", "pane"), ("?", "help"), ("q", "quit")]
    case .spaces: return [("⏎", "switch"), ("tab", "pane"), ("?", "help"), ("q", "quit")]
    case .viewer: return [("/", "search"), ("e", "edit"), ("esc", "close"), ("?", "help")]
    case .details: return [("j/k", "scroll"), ("esc", "close"), ("?", "help")]
    case .decisions: return [("j/k", "select"), ("x", "take back"), ("esc", "close"), ("?", "help")]
    case .global: return [("?", "help"), ("q", "quit")]
    }
  }
}

/// The read-only file viewer.
public enum ViewerView {
  /// Draws a file.
  public static func draw(_ view: WorkbenchState.FileView, state: WorkbenchState, into canvas: inout Canvas, rect: Rect)
  {
    canvas.box(rect, title: "[2] " + EventText.sanitize(view.path) + " · read-only", focused: state.focus == .log)
    let tag = (state.viewerSearch.isEmpty ? "" : "/" + state.viewerSearch + " · ") + "\(view.lines.count) lines"
    canvas.boxTag(rect, tag)
    let inner = WorkbenchView.inner(rect)
    guard !inner.isEmpty else { return }
    if let error = view.error {
      canvas.put(error, x: inner.x + 1, y: inner.y, Style(.failed), limit: inner.width - 1)
      return
    }
    let digits = max(3, String(view.lines.count).count)
    for row in 0..<inner.height {
      let index = view.scroll + row
      guard index < view.lines.count else { break }
      let number = String(index + 1)
      let y = inner.y + row
      canvas.put(
        String(repeating: " ", count: digits - number.count) + number + " │", x: inner.x, y: y, Style(.lineNumber),
        limit: inner.width)
      WorkbenchView.putHighlighted(
        view.lines[index], query: state.viewerSearch, into: &canvas, x: inner.x + digits + 3, y: y,
        style: Style(.text), limit: inner.width - digits - 3)
    }
  }
}

/// One operation's details and full output.
public enum DetailsView {
  /// The lines of the details.
  static func lines(_ record: OperationRecord, now: Double) -> [(String, String, Role)] {
    var rows: [(String, String, Role)] = []
    let (glyph, role) = OperationsView.icon(record, now: now)
    var state = "\(glyph) \(record.state == .awaitingApproval ? "awaiting approval" : record.state.rawValue)"
    let outcome = WorkbenchState.outcome(record)
    if record.state.finished {
      state = outcome
    } else if record.state == .running {
      state += " · " + OperationsView.stateText(record, now: now)
    }
    rows.append(("state", state, role))
    rows.append(("id", record.id, .dim))
    rows.append(("by", record.actor == .person ? "you (the person)" : "the agent", .text))
    if let op = record.op {
      switch op {
      case .shell(let command, let timeout, let fresh):
        rows.append(("command", EventText.sanitize(command), .text))
        if let timeout { rows.append(("time limit", WorkbenchState.duration(timeout), .text)) }
        if fresh { rows.append(("shell", "fresh (workspace root, no carried variables)", .text)) }
      case .createFile(let path, let content, _):
        rows.append(("create", EventText.sanitize(path) + " (\(content.utf8.count) bytes)", .text))
      case .editFile(let path, let old, let new):
        rows.append(("edit", EventText.sanitize(path), .text))
        rows.append(("replace", EventText.sanitize(old).replacingOccurrences(of: "\n", with: "⏎"), .diffDelete))
        rows.append(("with", EventText.sanitize(new).replacingOccurrences(of: "\n", with: "⏎"), .diffAdd))
      case .readFile(let path): rows.append(("read", EventText.sanitize(path), .text))
      case .deleteFile(let path, let recursive):
        rows.append(("delete", EventText.sanitize(path) + (recursive ? " (recursive)" : ""), .text))
      case .message(let text): rows.append(("message", EventText.sanitize(text), .message))
      }
    }
    if let policy = record.policy {
      rows.append(
        (
          "policy",
          policy.decision.rawValue + (policy.rules.isEmpty ? "" : " (" + policy.rules.joined(separator: ", ") + ")"),
          .text
        ))
      for reason in policy.reasons { rows.append(("", EventText.sanitize(reason), .dim)) }
    }
    if let said = record.agentReason.map(StatedReason.display), !said.isEmpty {
      rows.append(("agent says", "“" + said + "”", .message))
    }
    if record.extendedSeconds > 0 {
      rows.append(
        ("more time", "\(WorkbenchState.duration(record.extendedSeconds * 1000)) given by a person", .waiting))
    }
    if let resolution = record.resolution { rows.append(("approval", resolution, .waiting)) }
    if let waiting = record.queuedBecause {
      rows.append(("queued", EventText.sanitize(waiting), .dim))
    }
    if let reason = record.reason {
      rows.append(("reason", EventText.sanitize(reason), record.state == .denied ? .denied : .text))
    }
    if let error = record.error { rows.append(("error", EventText.sanitize(error), .failed)) }
    for (index, change) in record.restored.enumerated() {
      var shown = change
      shown.path = EventText.sanitize(change.path).replacingOccurrences(of: "\n", with: "^J")
      rows.append((index == 0 ? "protected" : "", shown.summary, change.action == .failed ? .failed : .waiting))
    }
    if !record.restored.isEmpty {
      rows.append(("", "protected paths change only with your approval", .dim))
    }
    return rows
  }

  /// Draws the details of `record`.
  public static func draw(
    _ record: OperationRecord?, state: WorkbenchState, into canvas: inout Canvas, rect: Rect, now: Double
  ) {
    guard let record else {
      canvas.box(rect, title: "[2] Operation", focused: state.focus == .log)
      return
    }
    canvas.box(
      rect, title: "[2] " + TextWidth.truncate(record.summary, to: max(0, rect.width - 20)),
      focused: state.focus == .log)
    canvas.boxTag(rect, "esc closes")
    let inner = WorkbenchView.inner(rect)
    guard !inner.isEmpty else { return }
    var all: [(String, String, Role, LogLine.Kind?)] = lines(record, now: now).map { ($0.0, $0.1, $0.2, nil) }
    if let changes = record.changes, changes.total > 0 {
      all.append(("", "", .text, nil))
      all.append(("changes", "±\(changes.total): \(changes.text) · u undo · R restore to before it", .opHeader, nil))
      for line in state.changeDiffs[record.id] ?? ["(loading the diff…)"] {
        let role: Role =
          line.hasPrefix("+ ")
          ? .diffAdd : line.hasPrefix("- ") ? .diffDelete : line.hasPrefix("  ") ? .text : .opHeader
        all.append(("", line, role, .stdout))
      }
    }
    let count = record.output.count + record.droppedOutput
    all.append(("", "", .text, nil))
    all.append(
      (
        "output",
        count == 0
          ? "(none)" : "\(count) lines" + (record.droppedOutput > 0 ? ", first \(record.droppedOutput) dropped" : ""),
        .opHeader, nil
      ))
    for line in record.output { all.append(("", line.text, line.kind == .stderr ? .stderr : .stdout, line.kind)) }
    // Long values and output lines wrap; the scroll counts rows of `all`, and stops where the
    // last one ends at the bottom.
    func pieces(_ row: (String, String, Role, LogLine.Kind?)) -> [String] {
      let room = row.3 != nil ? inner.width - 2 : inner.width - 11
      return TextWidth.wrap(row.1, width: max(1, room), maxPieces: inner.height).pieces
    }
    var lastScroll = all.count
    var filled = 0
    while lastScroll > 0, filled + pieces(all[lastScroll - 1]).count <= inner.height {
      lastScroll -= 1
      filled += pieces(all[lastScroll]).count
    }
    let scroll = min(state.detailScroll, lastScroll)
    var y = inner.y
    for row in all.dropFirst(scroll) {
      guard y < inner.maxY else { break }
      for (index, piece) in pieces(row).enumerated() where y < inner.maxY {
        if row.3 != nil {
          if row.3 == .stderr || index > 0 {
            canvas.put(index > 0 ? "↪" : "▌", x: inner.x, y: y, Style(row.3 == .stderr ? .stderr : .dim))
          }
          canvas.put(piece, x: inner.x + 2, y: y, Style(row.2), limit: inner.width - 2)
        } else {
          if index == 0 { canvas.put(row.0, x: inner.x + 1, y: y, Style(.dim), limit: 10) }
          canvas.put(
            piece, x: inner.x + 11, y: y, Style(row.2, bold: row.0 == "state" || row.0 == "output"),
            limit: inner.width - 11)
        }
        y += 1
      }
    }
  }
}

/// Help, generated from ``Keymap/bindings``.
public enum HelpView {
  /// Draws help over the middle of the canvas.
  public static func draw(into canvas: inout Canvas, scroll: Int) {
    let width = min(72, canvas.width - 4)
    let height = canvas.height - 2
    let rect = Rect(x: (canvas.width - width) / 2, y: 1, width: width, height: height)
    canvas.fill(rect, Style(.prompt))
    canvas.box(rect, title: "Keys", focused: true)
    canvas.boxTag(rect, "any key closes · j/k scroll")
    let inner = rect.inset(1)
    guard !inner.isEmpty else { return }
    let lines = Keymap.helpLines()
    let top = min(scroll, max(0, lines.count - inner.height))
    for (offset, line) in lines.dropFirst(top).prefix(inner.height).enumerated() {
      let y = inner.y + offset
      if line.heading {
        canvas.put(line.text, x: inner.x + 1, y: y, Style(.titleFocus, bold: true), limit: inner.width - 1)
      } else {
        canvas.put(line.keys, x: inner.x + 3, y: y, Style(.key, bold: true), limit: 16)
        canvas.put(line.text, x: inner.x + 20, y: y, Style(.text), limit: inner.width - 20)
      }
    }
  }
}

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
          "\(EventText.sanitize(path)) changed while you edited it (the agent wrote a newer version). Save yours over it? (n keeps theirs; your text is lost)",
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
    let words = wrap(message, width: width - 4)
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
    x += canvas.put("[y]", x: x, y: y, Style(.key, bold: true), limit: rect.maxX - x - 1)
    x += canvas.put(" \(yes)   ", x: x, y: y, Style(.text), limit: rect.maxX - x - 1)
    x += canvas.put("[n]", x: x, y: y, Style(.key, bold: true), limit: rect.maxX - x - 1)
    canvas.put(" \(no)", x: x, y: y, Style(.text), limit: rect.maxX - x - 1)
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

  /// Wraps text at spaces to `width` columns.
  public static func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ") {
      if !line.isEmpty, TextWidth.width(line) + 1 + TextWidth.width(word) > width {
        lines.append(line)
        line = ""
      }
      line += (line.isEmpty ? "" : " ") + word
    }
    if !line.isEmpty { lines.append(line) }
    return lines
  }
}

/// What a too-small terminal shows.
public enum TooSmallView {
  /// Draws the notice.
  public static func draw(into canvas: inout Canvas, width: Int, height: Int) {
    let lines = ConfirmView.wrap(
      "Terminal too small (\(width)×\(height)): the workbench needs \(WorkbenchLayout.minimumWidth)×\(WorkbenchLayout.minimumHeight). Enlarge it, or press q to quit.",
      width: max(1, width - 2))
    let top = max(0, (height - lines.count) / 2)
    for (offset, line) in lines.enumerated() where top + offset < height {
      canvas.put(line, x: max(0, (width - TextWidth.width(line)) / 2), y: top + offset, Style(.waiting, bold: true))
    }
  }
}
