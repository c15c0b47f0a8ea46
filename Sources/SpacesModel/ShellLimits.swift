import Foundation

/// Resource limits for one shell operation.
///
/// A value of zero or less switches that limit off (the timeout too).
public struct ShellLimits: Codable, Sendable, Equatable {
  /// Wall-clock time limit in milliseconds; the whole process tree is killed when it passes.
  public var timeoutMs: Int = 120_000
  /// Bytes of output kept per stream: the first half and the last half, the middle counted.
  public var outputCapBytes: Int = 1 << 20
  /// Most processes (and threads) the command may have at once.
  public var maxProcesses: Int = 256
  /// Memory limit in bytes (a memory cgroup where one can be made, else address space).
  public var memoryBytes: Int = 1 << 30
  /// Largest file the command may write, in bytes (`RLIMIT_FSIZE`).
  public var fileSizeBytes: Int = 1 << 30
  /// CPU time limit in seconds, per process (`RLIMIT_CPU`).
  public var cpuSeconds: Int = 300
  /// How many CPUs the command may use at once (the container backend's `--cpus`).
  public var cpus: Double = 2

  /// Creates limits; every parameter defaults to the documented default.
  public init(
    timeoutMs: Int = 120_000,
    outputCapBytes: Int = 1 << 20,
    maxProcesses: Int = 256,
    memoryBytes: Int = 1 << 30,
    fileSizeBytes: Int = 1 << 30,
    cpuSeconds: Int = 300,
    cpus: Double = 2
  ) {
    self.timeoutMs = timeoutMs
    self.outputCapBytes = outputCapBytes
    self.maxProcesses = maxProcesses
    self.memoryBytes = memoryBytes
    self.fileSizeBytes = fileSizeBytes
    self.cpuSeconds = cpuSeconds
    self.cpus = cpus
  }

  /// Decodes limits; a missing key keeps its default (configs written before a limit existed
  /// still load).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let defaults = ShellLimits()
    func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
      try container.decodeIfPresent(T.self, forKey: key) ?? fallback
    }
    func limit(_ key: CodingKeys, _ fallback: Int) throws -> Int {
      let number = try value(key, fallback)
      do {
        return try Self.check(key.stringValue, number)
      } catch {
        throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: error.message)
      }
    }
    timeoutMs = try limit(.timeoutMs, defaults.timeoutMs)
    outputCapBytes = try limit(.outputCapBytes, defaults.outputCapBytes)
    maxProcesses = try limit(.maxProcesses, defaults.maxProcesses)
    memoryBytes = try limit(.memoryBytes, defaults.memoryBytes)
    fileSizeBytes = try limit(.fileSizeBytes, defaults.fileSizeBytes)
    cpuSeconds = try limit(.cpuSeconds, defaults.cpuSeconds)
    cpus = try value(.cpus, defaults.cpus)
    guard cpus.isFinite, cpus >= 0, cpus <= Double(Self.maxCPUs) else {
      throw DecodingError.dataCorruptedError(
        forKey: .cpus, in: container, debugDescription: "`cpus` must be a number from 0 to \(Self.maxCPUs)")
    }
  }

  /// The most CPUs `cpus` may name.
  public static let maxCPUs = 1024

  /// The values each whole-number limit accepts; 0 switches a limit off. A number outside its
  /// range is refused where it is read (`space.json`, `policy.yaml`, an operation's
  /// `timeoutMs`), never clamped silently and never allowed to overflow the runner's arithmetic.
  public static let ranges: [String: ClosedRange<Int>] = [
    "timeoutMs": 0...86_400_000,  // a day
    "outputCapBytes": 0...(256 << 20),
    "maxProcesses": 0...65_536,
    "memoryBytes": 0...(1 << 44),  // 16 TiB
    "fileSizeBytes": 0...(1 << 44),
    "cpuSeconds": 0...604_800,  // a week
  ]

  /// Returns `value` when the limit called `name` accepts it; otherwise an error that names the range.
  public static func check(_ name: String, _ value: Int) throws(SpacesError) -> Int {
    guard let range = ranges[name] else {
      throw SpacesError(
        .invalidConfig, "unknown limit `\(name)`; known: \(ranges.keys.sorted().joined(separator: ", "))")
    }
    guard range.contains(value) else {
      throw SpacesError(
        .invalidConfig,
        "the limit `\(name)` must be from \(range.lowerBound) to \(range.upperBound) (0 switches it off), not \(value)")
    }
    return value
  }
}
