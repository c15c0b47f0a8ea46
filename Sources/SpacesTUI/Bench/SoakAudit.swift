import Foundation
import SpacesKit

/// The "nothing lost" check of a soak run, over every space's journal once the server has stopped.
///
/// In each journal, `seq` runs 1...N without a gap or a repeat; every operation has exactly one
/// `received` and exactly one terminal event (`completed`, `failed` or `denied`); and every
/// operation a well-behaved agent got an answer for is there.
struct JournalAudit: Codable, Sendable {
  var spaces = 0
  var events = 0
  var journalBytes = 0
  var operations = 0
  var acknowledged = 0
  var problemCount = 0
  /// The first problems found (at most 20).
  var problems: [String] = []

  var nothingLost: Bool { problemCount == 0 }

  private mutating func problem(_ text: String) {
    problemCount += 1
    if problems.count < 20 { problems.append(text) }
  }

  /// Reads every space of `home` (in batches: a journal of large events is never held whole) and
  /// checks it against the operations the agents saw acknowledged.
  static func run(home: SpacesHome, acknowledged: [(space: String, id: String)]) -> JournalAudit {
    var audit = JournalAudit()
    audit.acknowledged = acknowledged.count
    let expected = Dictionary(grouping: acknowledged, by: \.space).mapValues { $0.map(\.id) }
    for space in home.names() {
      audit.spaces += 1
      let path = home.journalPath(space)
      if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int {
        audit.journalBytes += size
      }
      var counts: [String: (received: Int, terminal: Int)] = [:]
      var next = 1
      do {
        var reader = try JournalReader(path: path)
        // Bounded: each batch takes at least one record, or ends the journal.
        while true {
          let batch = try reader.readAvailable(final: true, limit: 4096, byteLimit: 8 << 20)
          for issue in batch.issues { audit.problem("\(space): \(issue)") }
          if batch.events.isEmpty && batch.issues.isEmpty { break }
          for event in batch.events {
            audit.events += 1
            if event.seq != next { audit.problem("\(space): seq \(event.seq) where \(next) was due") }
            next = event.seq + 1
            switch event.type {
            case .received: counts[event.opId, default: (0, 0)].received += 1
            case .completed, .failed, .denied: counts[event.opId, default: (0, 0)].terminal += 1
            default: break
            }
          }
        }
      } catch {
        if error.code != .notFound || expected[space] != nil { audit.problem("\(space): \(error.message)") }
        continue
      }
      audit.operations += counts.count
      for (id, count) in counts where count.received != 1 || count.terminal != 1 {
        audit.problem("\(space): \(id) has \(count.received) received and \(count.terminal) terminal events")
      }
      for id in expected[space] ?? [] where counts[id] == nil {
        audit.problem("\(space): the acknowledged operation \(id) is not in the journal")
      }
    }
    for (space, ids) in expected where !home.names().contains(space) {
      audit.problem("\(space): gone, with \(ids.count) acknowledged operations")
    }
    return audit
  }
}
