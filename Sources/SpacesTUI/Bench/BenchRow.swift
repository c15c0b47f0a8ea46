import Foundation

/// One line of a benchmark table: a measurement's median and 90th percentile, and the bare
/// reference it is compared with (measured in the same run) with the ratio of the medians.
struct BenchRow: Codable, Sendable {
  var name: String
  var unit: String
  var median: Double
  var p90: Double
  var target: String?
  var met: Bool?
  /// The bare reference this row is compared with (its name), when it has one.
  var reference: String?
  /// The reference's median, in this row's unit.
  var referenceMedian: Double?
  /// This row's median over the reference's (for a throughput, the reference's over this
  /// row's: above 1 is slower either way).
  var ratio: Double?

  /// Summarizes samples (in `unit`) into a row.
  init(_ name: String, unit: String = "ms", samples: [Double], target: String? = nil, met: Bool? = nil) {
    self.name = name
    self.unit = unit
    let sorted = samples.sorted()
    median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    p90 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
    self.target = target
    self.met = met
  }

  /// The same row compared with `reference` (same unit), its ratio computed.
  func against(_ reference: BenchRow?) -> BenchRow {
    guard let reference, reference.median > 0, median > 0 else { return self }
    var row = self
    row.reference = reference.name
    row.referenceMedian = reference.median
    row.ratio = unit.hasSuffix("/s") ? reference.median / median : median / reference.median
    return row
  }

  /// The same row with a target and whether it was met.
  func target(_ text: String, met: Bool) -> BenchRow {
    var row = self
    row.target = text
    row.met = met
    return row
  }

  /// Renders rows as an aligned table.
  static func table(_ rows: [BenchRow]) -> String {
    func number(_ value: Double) -> String {
      value >= 100 ? String(Int(value.rounded())) : String((value * 100).rounded() / 100)
    }
    let lines = rows.map { row -> [String] in
      let mark = row.met.map { $0 ? "ok" : "MISSED" } ?? ""
      let reference = row.reference.map { name in "\(name) \(number(row.referenceMedian ?? 0)) \(row.unit)" } ?? ""
      let ratio = row.ratio.map { String(format: "%.2f×", $0) } ?? ""
      return [
        row.name, "\(number(row.median)) \(row.unit)", "\(number(row.p90)) \(row.unit)", reference, ratio,
        row.target ?? "", mark,
      ]
    }
    let all = [["measurement", "median", "p90", "bare reference (median)", "ratio", "target", ""]] + lines
    let widths = (0..<7).map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { line in
      line.enumerated().map { index, cell in cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
        .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }.joined(separator: "\n")
  }
}
