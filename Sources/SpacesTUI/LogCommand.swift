import ArgumentParser
import Foundation
import SpacesKit
import SpacesModel

struct LogCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "log",
    abstract: "Print a space's journal, readably or as JSON Lines.")

  @Argument(help: "The space's name.") var space: String
  @Flag(name: .shortAndLong, help: "Keep printing events as they are appended.") var follow = false
  @Flag(help: "Print JSON Lines, one event per line.") var json = false
  @Option(parsing: .unconditional, help: "Start after this sequence number (0 or more).") var after: Int = 0
  @OptionGroup var options: HomeOptions

  func validate() throws {
    if after < 0 {
      throw ValidationError(
        "--after takes a sequence number, 0 or more: the log starts after it (each event's number is after its #)")
    }
  }

  func run() async throws {
    let home = options.spacesHome
    let printer = LogPrinter(json: json, after: after, journalPath: home.journalPath(space))
    do {
      _ = try home.load(space)
      var reader = try JournalReader(path: home.journalPath(space))
      // In batches, so a long journal is printed without being held in memory; it stops
      // quietly when nobody reads any more (`spaces log s | head`).
      while true {
        let batch = try reader.readAvailable(final: !follow, limit: 1000)
        guard printer.emit(batch, final: false) else { return }
        if batch.events.count < 1000 { break }
      }
      if !follow {
        _ = printer.emit(([], []), final: true)
      }
      while follow {
        try await Task.sleep(for: .milliseconds(100))
        guard try printer.emit(reader.readAvailable(final: false), final: false) else { return }
      }
    } catch let error as SpacesError {
      throw CLI.fail(error)
    }
  }
}

/// Prints events as `spaces log` shows them. A command's output arrives in chunks that may end
/// mid-line: readably, a line is printed whole, under the event where it began, once its end
/// (or the operation's end) has arrived.
final class LogPrinter {
  private let json: Bool
  private let after: Int
  private let journalPath: String?
  /// The unfinished last line of each operation's stream, as an output event.
  private var partial: [String: Event] = [:]

  init(json: Bool, after: Int, journalPath: String? = nil) {
    self.json = json
    self.after = after
    self.journalPath = journalPath
  }

  /// Prints a batch (and, when `final`, every unfinished line); false when stdout has no
  /// reader any more.
  func emit(_ batch: (events: [Event], issues: [JournalIssue]), final: Bool) -> Bool {
    var out = ""
    for event in batch.events where event.seq > after {
      if json {
        out += String(decoding: whole(event).jsonBytes, as: UTF8.self) + "\n"
      } else if let (stream, data) = event.output {
        out += output(event, stream: stream, data: data)
      } else {
        if [.completed, .failed, .denied].contains(event.type) {
          out += flush(opId: event.opId)
          out += rest(event)
        }
        out += EventText.line(event) + "\n"
      }
    }
    if final { out += flush(opId: nil) }
    for issue in batch.issues {
      CLI.writeError("spaces: warning: \(issue)\n")
    }
    return out.isEmpty || CLI.writeOut(out)
  }

  /// With `--after` past the start of a command's output, its result (which refers to the
  /// `output` events for its output) is printed whole, put back together from the journal.
  private func whole(_ event: Event) -> Event {
    guard let result = event.result, let streamed = result.streamed, streamed.fromSeq <= after, let journalPath,
      let text = try? Journal.streamedOutput(
        path: journalPath, of: event.opId, from: streamed.fromSeq, through: event.seq)
    else { return event }
    return event.replacingResult(result.reassembled(streamedStdout: text.stdout, streamedStderr: text.stderr))
  }

  /// The output a result holds beyond its `output` events (the tail the output cap kept, the
  /// runtime's notes), printed as output lines before the result's own line.
  private func rest(_ event: Event) -> String {
    guard let result = event.result, result.streamed != nil else { return "" }
    var out = ""
    for (stream, text) in [(Event.Stream.stdout, result.stdout ?? ""), (.stderr, result.stderr ?? "")]
    where !text.isEmpty {
      var line = event
      line.payload = .output(stream: stream, data: text)
      out += EventText.line(line) + "\n"
    }
    return out
  }

  /// The whole lines an output chunk completes; keeps its unfinished end.
  private func output(_ event: Event, stream: Event.Stream, data chunk: String) -> String {
    let key = event.opId + "/" + stream.rawValue
    var joined = partial.removeValue(forKey: key) ?? event
    let held = joined.output?.data ?? ""
    let data = joined.seq != event.seq ? held + chunk : held
    guard let lastNewline = data.lastIndex(of: "\n") else {
      joined.payload = .output(stream: stream, data: data)
      partial[key] = joined
      return ""
    }
    let rest = String(data[data.index(after: lastNewline)...])
    joined.payload = .output(stream: stream, data: String(data[...lastNewline]))
    if !rest.isEmpty {
      var tail = event
      tail.payload = .output(stream: stream, data: rest)
      partial[key] = tail
    }
    return EventText.line(joined) + "\n"
  }

  /// Prints the unfinished lines of one operation (or of all).
  private func flush(opId: String?) -> String {
    let keys = partial.keys.filter { key in opId.map { key.hasPrefix($0 + "/") } ?? true }.sorted()
    return keys.compactMap { partial.removeValue(forKey: $0) }.map { EventText.line($0) + "\n" }.joined()
  }
}
