import ArgumentParser
import Foundation
import SpacesKit

struct LogCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "log",
    abstract: "Print a space's journal, readably or as JSON Lines.")

  @Argument(help: "The space's name.") var space: String
  @Flag(name: .shortAndLong, help: "Keep printing events as they are appended.") var follow = false
  @Flag(help: "Print JSON Lines, one event per line.") var json = false
  @Option(help: "Start after this sequence number.") var after: Int = 0
  @OptionGroup var options: HomeOptions

  func run() async throws {
    let home = options.spacesHome
    do {
      _ = try home.load(space)
      var reader = try JournalReader(path: home.journalPath(space))
      // In batches, so a long journal is printed without being held in memory; it stops
      // quietly when nobody reads any more (`spaces log s | head`).
      while true {
        let batch = try reader.readAvailable(final: !follow, limit: 1000)
        guard emit(batch) else { return }
        if batch.events.count < 1000 { break }
      }
      while follow {
        try await Task.sleep(for: .milliseconds(100))
        guard try emit(reader.readAvailable(final: false)) else { return }
      }
    } catch let error as SpacesError {
      throw CLI.fail(error)
    }
  }

  /// Prints a batch; false when stdout has no reader any more.
  private func emit(_ batch: (events: [Event], issues: [JournalIssue])) -> Bool {
    var out = ""
    for event in batch.events where event.seq > after {
      out += json ? SpacesJSON.line(event) : EventText.line(event)
      out += "\n"
    }
    for issue in batch.issues {
      CLI.writeError("spaces: warning: \(issue)\n")
    }
    return out.isEmpty || CLI.writeOut(out)
  }
}
