import Foundation

/// The shell session of a space: the folder and the exported variables one shell operation
/// leaves for the next, as in a terminal (`cd src` in one operation, `npm test` in the next).
///
/// It is kept in the space's folder (`session.json`, beside `space.json`), so every process
/// that runs the space's operations (`spaces serve`, the workbench, `spaces op`) carries it on.
/// What a command leaves behind comes from inside the sandbox and is treated as hostile: the
/// folder must be a real folder of the workspace, reached without a symlink, and the variables
/// are filtered and capped (``ShellSession/carried(from:base:)``).
public struct ShellSession: Codable, Sendable, Equatable {
  /// The folder, relative to the workspace; `.` is the workspace root.
  public var cwd: String
  /// Exported variables a command set or changed, beyond the environment every command starts
  /// with (the clean environment and the space's `environment`).
  public var environment: [String: String]

  /// Creates a session.
  public init(cwd: String = ".", environment: [String: String] = [:]) {
    self.cwd = cwd
    self.environment = environment
  }

  /// A fresh session: the workspace root, no carried variables.
  public static let fresh = ShellSession()

  /// The folder as a workspace-relative path for the policy, `""` for the root.
  public var folder: String { cwd == "." ? "" : cwd }

  /// Variables that never carry over: the runtime sets them for every command (`HOME`, the
  /// container backend's `SPACES_OPERATION`, anything named `SPACES_…`), or the shell manages
  /// them itself (`PWD`, `OLDPWD`, `SHLVL`, `_`, `IFS`, prompts, `OPTIND`, `PPID`, `LINENO`).
  /// `HOME` stays the workspace so `~` means what the policy assumes it means.
  public static let neverCarried: Set<String> = [
    "HOME", "PWD", "OLDPWD", "SHLVL", "_", "IFS", "PS1", "PS2", "PS4", "OPTIND", "PPID", "LINENO", "ENV",
  ]

  /// The most bytes (names and values) of carried variables; more are dropped with a note.
  public static let maxEnvironmentBytes = 32 << 10
  /// The most carried variables.
  public static let maxVariables = 256
  /// The most bytes of a folder path.
  public static let maxFolderBytes = 4096
  /// The most bytes of a state file the runtime reads; a larger one is ignored.
  public static let maxStateBytes = 512 << 10

  /// Whether `name` is a variable name the shell can export (`[A-Za-z_][A-Za-z0-9_]*`) and one
  /// that may carry over.
  public static func mayCarry(_ name: String) -> Bool {
    guard let first = name.utf8.first, name.utf8.count <= 256 else { return false }
    let letter = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20) || first == UInt8(ascii: "_")
    guard letter else { return false }
    let valid = name.utf8.allSatisfy {
      (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0 | 0x20)
        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
        || $0 == UInt8(ascii: "_")
    }
    return valid && !neverCarried.contains(name) && !name.hasPrefix("SPACES_")
  }

  /// The variables of `exported` that carry over: those that may (``mayCarry(_:)``), hold no
  /// NUL, and differ from `base` (what every command starts with), within the caps. Returns
  /// them and how many were dropped for the caps.
  public static func carried(from exported: [String: String], base: [String: String]) -> (
    environment: [String: String], dropped: Int
  ) {
    var kept: [String: String] = [:]
    var bytes = 0
    var dropped = 0
    for name in exported.keys.sorted() {
      guard let value = exported[name], mayCarry(name), !value.utf8.contains(0), base[name] != value else {
        continue
      }
      let size = name.utf8.count + value.utf8.count + 2
      if kept.count >= maxVariables || bytes + size > maxEnvironmentBytes {
        dropped += 1
        continue
      }
      bytes += size
      kept[name] = value
    }
    return (kept, dropped)
  }
}
