import Foundation
import Logging
import SpacesClientKit
import SpacesKit
import SpacesModel
import SpacesWorkbench

/// What `spaces` (the workbench) was asked to do.
struct WorkbenchOptions: Sendable {
  var space: String
  var demo: Bool
  var agent: String?
  var theme: Theme
  var themeProblem: String?
  var noColor: Bool
  var home: SpacesHome
  var demoPause: Duration
  var run: String?
  /// A command run for each away-mode notification (`SPACES_NOTIFY`, or `notify = …` in
  /// `SPACES_HOME/workbench.conf`), with the title and body as `$1` and `$2`.
  var notifyCommand: String?
  /// Whether the mouse is used (click to focus and select, wheel to scroll).
  var mouse = true
}

/// The workbench: one UI thread that owns the terminal, reads keys and a wake-up pipe, drains
/// runtime events from an inbox, and redraws at most once per frame.
final class WorkbenchApp: @unchecked Sendable {
  // @unchecked: after init, everything mutable is touched only on the UI thread.
  private let options: WorkbenchOptions
  private let source: any WorkbenchSource
  private let submitAsAgent: @Sendable (Op, String) async -> OperationResult
  private let logger: Logger
  private let wakePipe: WakePipe
  private let inbox: WorkbenchInbox
  private let quitRequested = LockedValue(false)
  private let origin = ContinuousClock.now
  private var signalSources: [any DispatchSourceSignal] = []
  private var background: [Task<Void, Never>] = []
  /// The `--agent` process's pid while it runs (0 before it starts and after it ends).
  private let agentPID = LockedValue<pid_t>(0)

  /// The shortest time between two frames drawn for runtime events (keys draw at once).
  static let frameInterval = 1.0 / 60
  /// How long runtime events are applied between two looks at the keyboard (a chunk of output
  /// that has begun is finished first).
  static let eventBudget = 0.004

  /// Creates the app over `source`; the demo agent submits with `submitAsAgent`.
  init(
    options: WorkbenchOptions, source: any WorkbenchSource,
    submitAsAgent: @escaping @Sendable (Op, String) async -> OperationResult, logger: Logger
  ) throws {
    self.options = options
    self.source = source
    self.submitAsAgent = submitAsAgent
    self.logger = logger
    let wakePipe = try WakePipe()
    self.wakePipe = wakePipe
    // The inbox holds the pipe too: whatever still pushes after the app is gone (an operation
    // ending as the workbench quits) writes to this pipe, never to a descriptor number that
    // was closed and handed to some other file.
    inbox = WorkbenchInbox { wakePipe.wake() }
  }

  private func now() -> Double {
    (ContinuousClock.now - origin) / .seconds(1)
  }

  private func wake() {
    wakePipe.wake()
  }

  /// Runs the workbench on a thread of its own until the person quits; returns an error
  /// message when it had to stop.
  func run() async -> String? {
    let failure = await withCheckedContinuation { continuation in
      let thread = Thread { [self] in
        continuation.resume(returning: uiThread())
      }
      thread.name = "workbench-ui"
      thread.stackSize = 8 << 20
      thread.start()
    }
    await finishBackground()
    return failure
  }

  /// Waits (a few seconds at most) for the work the UI thread cancelled as it ended — the demo,
  /// `--run`, the agent's watcher — so an operation it stopped is journaled as ended before the
  /// process exits.
  private func finishBackground() async {
    let tasks = background  // the UI thread has ended: nothing else touches it now
    await withTaskGroup(of: Void.self) { group in
      group.addTask {
        for task in tasks { await task.value }
      }
      group.addTask { try? await Task.sleep(for: .seconds(5)) }
      await group.next()
      group.cancelAll()
    }
  }

  private func installSignals() {
    for number in [SIGTERM, SIGHUP, SIGINT] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [self] in
        quitRequested.withValue { $0 = true }
        wake()
      }
      source.resume()
      signalSources.append(source)
    }
  }

  private func uiThread() -> String? {
    installSignals()
    let startedAt = now()
    let controller = WorkbenchController(source: source, space: options.space, inbox: inbox)
    let terminal: CursesTerminal
    do {
      terminal = try CursesTerminal(theme: options.theme, noColor: options.noColor, mouse: options.mouse)
    } catch {
      return "\(error)"
    }
    defer {
      controller.markSeen()
      terminal.end()
      for task in background { task.cancel() }
      let pid = agentPID.withValue { $0 }
      if pid > 0 { kill(pid, SIGTERM) }
    }
    controller.start(now: now())
    if let problem = options.themeProblem { controller.state.logNotice(problem) }
    logger.info(
      "workbench started: space \(options.space), colours \(terminal.depth.rawValue), \(terminal.width)x\(terminal.height)"
    )
    draw(controller, terminal)
    logger.info("first frame after \(Int((now() - startedAt) * 1000)) ms")
    if options.demo { startDemo() }
    if let command = options.run {
      let source = source
      let space = options.space
      background.append(
        Task.detached { _ = await source.submitAsPerson(.shell(command: command, timeoutMs: nil), to: space) })
    }
    if let command = options.agent { startAgent(command, controller: controller) }

    var lastDraw = now()
    var buffer = [UInt8](repeating: 0, count: 256)
    while true {
      if quitRequested.withValue({ $0 }) { return nil }
      // Wait for a key, a wake-up, the next frame or a tick.
      var timeout: Int32 = 100
      if controller.dirty {
        timeout = Int32(max(0, (Self.frameInterval - (now() - lastDraw)) * 1000))
      } else if controller.animating(now: now()) {
        timeout = 50
      }
      var fds = [
        pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
        pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0),
      ]
      _ = poll(&fds, 2, timeout)
      var keyed = false
      if fds[1].revents != 0 {
        while read(wakePipe.readEnd, &buffer, buffer.count) > 0 {}
      }
      if fds[0].revents & Int16(POLLHUP | POLLERR) != 0 { return "the terminal went away" }
      // Keys first, then a bounded share of the events: a flood can't delay a keystroke.
      var external: [Intent] = []
      let (keys, resized) = terminal.readKeys()
      if resized || terminal.updateSize() { controller.dirty = true }
      for key in keys {
        external += controller.handle(key, now: now())
        keyed = true
      }
      let t0 = now()
      repeat {
        external += controller.drain(now: now(), limit: 1)
      } while controller.backlog && now() - t0 < Self.eventBudget && !Self.keyWaiting()
      let t1 = now()
      if t1 - t0 > 0.05 { logger.info("slow drain \(Int((t1 - t0) * 1000)) ms") }
      if controller.backlog { wake() }
      external += controller.tick(now: now())
      if controller.animating(now: now()) { controller.dirty = true }
      for intent in external {
        switch intent {
        case .bell: terminal.bell()
        case .desktopNotify(let title, let body): notify(title: title, body: body, terminal: terminal)
        case .quit: return nil
        case .editFile(let path): edit(path, controller: controller, terminal: terminal)
        default: break
        }
      }
      if controller.dirty && (keyed || now() - lastDraw >= Self.frameInterval) {
        let t2 = now()
        draw(controller, terminal)
        lastDraw = now()
        if lastDraw - t2 > 0.05 { logger.info("slow draw \(Int((lastDraw - t2) * 1000)) ms") }
      }
    }
  }

  /// Whether a key waits on the terminal.
  private static func keyWaiting() -> Bool {
    var fd = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
    return poll(&fd, 1, 0) > 0
  }

  private func draw(_ controller: WorkbenchController, _ terminal: CursesTerminal) {
    controller.state.pageRows = max(1, terminal.height - 8)
    controller.state.screen = (terminal.width, terminal.height)
    terminal.draw(WorkbenchView.render(controller.state, width: terminal.width, height: terminal.height, now: now()))
    controller.dirty = false
  }

  // MARK: - The demo and --agent

  private func startDemo() {
    let submit = submitAsAgent
    let space = options.space
    let inbox = inbox
    let pause = options.demoPause
    inbox.push(.notice("demo: a scripted agent works in \"\(space)\"; answer its questions in the prompt below"))
    background.append(
      Task.detached {
        do {
          try await Task.sleep(for: .milliseconds(300))
          try await DemoAgent(pause: pause).run { operation in await submit(operation, space) }
          inbox.push(.notice("demo: done. Browse the files (1), the operations (3), or press q to quit."))
        } catch {}
      })
  }

  private func startAgent(_ command: String, controller: WorkbenchController) {
    let environment = ProcessInfo.processInfo.environment
    let socket = environment["SPACES_SOCKET"] ?? options.home.path + "/spaces.sock"
    var isSocket = false
    var info = stat()
    if stat(socket, &info) == 0 { isSocket = (info.st_mode & S_IFMT) == S_IFSOCK }
    if !isSocket {
      controller.state.banner =
        "--agent: no socket at \(socket) (the workbench could not serve it); the agent was started but can't connect"
    }
    var childEnvironment = environment
    childEnvironment["SPACES_SPACE"] = options.space
    childEnvironment["SPACES_SOCKET"] = socket
    childEnvironment["SPACES_HOME"] = options.home.path
    let logPath = options.home.path + "/agent-\(options.space).log"
    let inbox = inbox
    let agentPID = agentPID
    controller.state.logNotice("agent starting: \(command); output goes to \(logPath)")
    background.append(
      Task.detached {
        do {
          let status = try await ExternalProcess.run(
            script: command, environment: childEnvironment, streams: .log(logPath)
          ) { pid in
            agentPID.withValue { $0 = pid }
            inbox.push(.notice("agent started (pid \(pid))"))
          }
          agentPID.withValue { $0 = 0 }
          inbox.push(.notice("agent exited with status \(status); its output is in \(logPath)"))
        } catch {
          inbox.push(.notice("the agent could not be started: \(error)"))
        }
      })
  }

  // MARK: - Away mode

  private func notify(title: String, body: String, terminal: CursesTerminal) {
    terminal.notify(title: title, body: body)
    guard let command = options.notifyCommand else { return }
    let logPath = options.home.path + "/notify.log"
    let environment = ProcessInfo.processInfo.environment
    let logger = logger
    Task.detached {
      do {
        _ = try await ExternalProcess.run(
          script: command, arguments: ["sh", title, body], environment: environment,
          streams: .log(logPath))
      } catch {
        logger.warning("notify command failed to start: \(error)")
      }
    }
  }

  // MARK: - $EDITOR

  private func edit(_ path: String, controller: WorkbenchController, terminal: CursesTerminal) {
    let old: String
    switch controller.textForEditing(path) {
    case .success(let text): old = text
    case .failure(let error):
      controller.state.notify("can't edit: \(error.message)", now: now())
      return
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "spaces-edit-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent)
    do {
      try Data(old.utf8).write(to: file)
    } catch {
      controller.state.notify("can't write a temporary copy: \(error.localizedDescription)", now: now())
      return
    }
    let environment = ProcessInfo.processInfo.environment
    let editor =
      environment["VISUAL"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["EDITOR"].flatMap { $0.isEmpty ? nil : $0 }
      ?? "vi"
    terminal.suspend()
    // The UI thread waits here (it is a thread of its own, not one tasks share).
    let done = DispatchSemaphore(value: 0)
    let outcome = LockedValue<Result<Int32, any Error>>(.success(-1))
    let script = editor + " \"$1\""
    let filePath = file.path
    Task.detached {
      do {
        let status = try await ExternalProcess.run(
          script: script, arguments: ["sh", filePath], environment: environment, streams: .terminal)
        outcome.withValue { $0 = .success(status) }
      } catch {
        outcome.withValue { $0 = .failure(error) }
      }
      done.signal()
    }
    done.wait()
    var status: Int32 = -1
    switch outcome.withValue({ $0 }) {
    case .success(let code): status = code
    case .failure(let error): logger.error("editor \(editor) failed to start: \(error)")
    }
    terminal.resume()
    controller.dirty = true
    guard status == 0, let data = FileManager.default.contents(atPath: file.path) else {
      controller.state.notify("\(editor) exited with status \(status); nothing saved", now: now())
      return
    }
    controller.saveEdit(path, old: old, new: String(decoding: data, as: UTF8.self), now: now())
  }
}

/// The UI thread's wake-up pipe (non-blocking); closed when its last holder lets it go.
final class WakePipe: Sendable {
  /// The end the UI thread polls and drains.
  let readEnd: Int32
  private let writeEnd: Int32

  init() throws {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else {
      throw WorkbenchFailure("can't create a pipe: \(String(cString: strerror(errno)))")
    }
    for fd in fds {
      _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
      _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
    (readEnd, writeEnd) = (fds[0], fds[1])
  }

  deinit {
    close(readEnd)
    close(writeEnd)
  }

  /// Makes the read end readable (a full pipe already is).
  func wake() {
    var byte: UInt8 = 1
    _ = write(writeEnd, &byte, 1)
  }
}

/// Writes log lines to a file (the workbench owns the terminal, so nothing may print).
struct FileLogHandler: LogHandler {
  private let handle: FileHandle?
  var logLevel: Logger.Level = .info
  var metadata: Logger.Metadata = [:]
  let label: String

  init(label: String, path: String) {
    self.label = label
    if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    handle = FileHandle(forWritingAtPath: path)
    _ = try? handle?.seekToEnd()
  }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    let line = "\(Event.timestamp(Date())) \(event.level) \(label): \(event.message)\n"
    // Never traps: a full disk or a vanished file loses the line, not the workbench.
    try? handle?.write(contentsOf: Data(line.utf8))
  }
}
