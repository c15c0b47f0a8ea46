import Foundation
import SpacesKit
import SpacesModel
import SpacesPolicy
import SpacesWorkbench

/// Reads the end of a space's journal for the workbench to catch up on, and remembers how far
/// the person has seen (a small file beside the journal).
enum JournalHistory {
  /// The most journal bytes read to catch up.
  static let byteBudget = 16 << 20

  /// The rules of a space's `policy.yaml`, as revocable items.
  static func fileRules(_ home: SpacesHome, space: String) -> [Revocable] {
    guard let data = FileManager.default.contents(atPath: home.policyPath(space)),
      let file = try? PolicyFile.parse(String(decoding: data, as: UTF8.self))
    else { return [] }
    return file.rules.map { .fileRule($0) }
  }

  /// The last `count` events of `space` (fewer when they would take more than
  /// ``byteBudget``), read from near the journal's end; and the sequence number the person
  /// had seen when the workbench last showed the space.
  static func read(_ home: SpacesHome, space: String, events count: Int) -> WorkbenchHistory {
    let path = home.journalPath(space)
    guard FileManager.default.fileExists(atPath: path), let journal = try? Journal(path: path) else {
      return WorkbenchHistory(events: [], lastSeen: nil)
    }
    let last = journal.lastSeq
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    var wanted = max(1, count)
    var offset = journal.startOffset(forSeq: max(0, last - wanted + 1))
    while wanted > 50, size - offset > byteBudget {
      wanted /= 2
      offset = journal.startOffset(forSeq: max(0, last - wanted + 1))
    }
    var events: [Event] = []
    if var reader = try? JournalReader(path: path, from: offset) {
      while let batch = try? reader.readAvailable(final: true, limit: 1000, byteLimit: 1 << 20),
        !batch.events.isEmpty || !batch.issues.isEmpty
      {
        events += batch.events.filter { $0.seq > last - wanted && $0.seq <= last }
      }
    }
    // A command whose output events are before the window (its result refers to them) is shown
    // with its whole output, put back together from the journal.
    let first = events.first?.seq ?? 0
    events = events.map { event in
      guard let streamed = event.result?.streamed, streamed.fromSeq < first else { return event }
      return journal.withWholeOutput(event)
    }
    let lastSeen = (try? String(contentsOfFile: seenPath(home, space), encoding: .utf8)).flatMap {
      Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return WorkbenchHistory(events: events, lastSeen: lastSeen)
  }

  /// Where the newest sequence number the person has seen is kept.
  static func seenPath(_ home: SpacesHome, _ space: String) -> String {
    home.spaceFolder(space) + "/workbench-seen"
  }

  /// Records that the person has seen `space` up to `seq`.
  static func markSeen(_ home: SpacesHome, space: String, through seq: Int) {
    try? "\(seq)\n".write(toFile: seenPath(home, space), atomically: true, encoding: .utf8)
  }
}
