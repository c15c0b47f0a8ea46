import Foundation

/// One line of a benchmark table: a measurement's median and 90th percentile.
struct BenchRow: Codable, Sendable {
  var name: String
  var unit: String
  var median: Double
  var p90: Double
  var target: String?
  var met: Bool?

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

  /// Renders rows as an aligned table.
  static func table(_ rows: [BenchRow]) -> String {
    func number(_ value: Double) -> String {
      value >= 100 ? String(Int(value.rounded())) : String((value * 100).rounded() / 100)
    }
    let lines = rows.map { row -> [String] in
      let mark = row.met.map { $0 ? "ok" : "MISSED" } ?? ""
      return [row.name, "\(number(row.median)) \(row.unit)", "\(number(row.p90)) \(row.unit)", row.target ?? "", mark]
    }
    let all = [["measurement", "median", "p90", "target", ""]] + lines
    let widths = (0..<5).map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { line in
      line.enumerated().map { index, cell in cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
        .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }.joined(separator: "\n")
  }
}
