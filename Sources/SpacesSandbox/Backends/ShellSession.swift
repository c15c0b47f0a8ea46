import CSpacesSys
import Foundation
import SpacesModel

/// Reads and writes a space's `session.json`.
public struct ShellSessionStore: Sendable {
  /// The file's path.
  public let path: String
  /// The session last read or saved, and the file's stamp then.
  private let last = LockedValue<(stamp: FileStamp, session: ShellSession)?>(nil)

  /// A store for the file at `path`.
  public init(path: String) { self.path = path }

  /// The saved session; a fresh one when there is none or the file can't be read (a person
  /// may have edited it: what it holds is checked again before it is used).
  ///
  /// Every shell command loads it before and after it runs: the file is read again only when
  /// its stamp (inode, size, times) changed since it was last read or saved.
  public func load() -> ShellSession {
    guard let stamp = FileStamp(regularFileAt: path) else { return .fresh }
    if let last = last.withValue({ $0 }), last.stamp == stamp { return last.session }
    guard let bytes = ShellSessionScript.read(path),
      let session = try? JSONDecoder().decode(ShellSession.self, from: Data(bytes))
    else { return .fresh }
    // Stamped as it was before the read: a file replaced meanwhile is read again next time.
    last.withValue { $0 = (stamp, session) }
    return session
  }

  /// Saves `session` atomically (a temporary file renamed over the old one).
  public func save(_ session: ShellSession) throws(SpacesError) {
    do {
      let data = try SpacesJSON.encoder.encode(session)
      try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw SpacesError(.ioError, "the shell session could not be saved to \(path): \(error)")
    }
    last.withValue { $0 = FileStamp(regularFileAt: path).map { ($0, session) } }
  }
}

/// The part of a shell operation's script that puts it in the session and records where it
/// ended, and the reading of that record.
package enum ShellSessionScript {
  /// The prelude that goes on the command's first line, before the command: go to the
  /// session's folder (`root` is the workspace as the command sees it), export the carried
  /// variables, and on exit write `pwd -P`, a NUL, `export -p`, a NUL and the exit status to
  /// `stateFile` (as the command sees it) while keeping the command's exit status. Both are the shell's own builtins: a
  /// command that ends starts no other process (an `env` there cost a fork and an exec).
  /// Nothing of it writes to stdout or stderr unless the folder can't be entered, when the
  /// command doesn't run.
  static func prelude(_ session: ShellSessionRun, stateFile: String) -> String {
    let folder = session.cwd.isEmpty ? session.root : session.root + "/" + session.cwd
    let shown = session.cwd.isEmpty ? "." : session.cwd
    let gone =
      "[spaces] the session's folder \(shown) is gone, so the command did not run; "
      + "the next one starts in the workspace root"
    var parts = [
      "cd -P -- \(ContainerScripts.quote(folder)) 2>/dev/null || { printf '%s\\n' \(ContainerScripts.quote(gone)) >&2; exit 1; }"
    ]
    if !session.environment.isEmpty {
      // The prelude shares the command's first line (``ShellRunner/script``): a value's
      // newlines are written as `$spaces_nl`, so that they don't move the command's line
      // numbers in its messages. The newline is the last of the default IFS (space, tab,
      // newline; a new shell always starts with it, whatever its environment says).
      let values = session.environment.keys.sorted().map { ($0, session.environment[$0] ?? "") }
      let multiline = values.contains { $0.1.contains("\n") }
      if multiline { parts.append("spaces_nl=${IFS#??}") }
      parts.append("export " + values.map { "\($0.0)=\(Self.oneLineWord($0.1))" }.joined(separator: " "))
      if multiline { parts.append("unset spaces_nl") }
    }
    let record =
      "spaces_status=$?; { pwd -P; printf '\\0'; export -p; printf '\\0%s' \"$spaces_status\"; } "
      + ">\(ContainerScripts.quote(stateFile)) 2>/dev/null; "
      + "exit \"$spaces_status\""
    parts.append("trap \(ContainerScripts.quote(record)) EXIT")
    return parts.joined(separator: "; ")
  }

  /// `value` as one shell word on one line: single-quoted, its newlines as `"$spaces_nl"` (set
  /// by the prelude before it).
  static func oneLineWord(_ value: String) -> String {
    value.split(separator: "\n", omittingEmptySubsequences: false)
      .map { ContainerScripts.quote(String($0)) }
      .joined(separator: "\"$spaces_nl\"")
  }

  /// Reads a state file (or `session.json`) without following a symlink or waiting on a FIFO, at most
  /// `ShellSession.maxStateBytes`; nil when it is missing, not a regular file, or larger.
  static package func read(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= ShellSession.maxStateBytes
    else { return nil }
    // As large as the file said plus one byte: a file that grows while it is read is refused.
    let size = Int(info.st_size)
    var bytes = [UInt8](repeating: 0, count: size + 1)
    var count = 0
    while count < bytes.count {
      let got = bytes.withUnsafeMutableBytes { buffer in
        Foundation.read(fd, buffer.baseAddress.map { $0 + count }, buffer.count - count)
      }
      if got < 0, errno == EINTR { continue }
      guard got > 0 else { break }
      count += got
    }
    guard count <= size else { return nil }
    return Array(bytes[..<count])
  }

  /// What a state file says: the folder the command ended in (as the command saw it) and its
  /// exported variables; nil when it holds no record (the command replaced the shell, was
  /// killed, or removed the trap). The variables are what `export -p` printed (see
  /// ``exports(_:)``).
  static package func parse(_ bytes: [UInt8]) -> (folder: [UInt8], exported: [String: String])? {
    guard let separator = bytes.firstIndex(of: 0) else { return nil }
    var folder = Array(bytes[..<separator])
    if folder.last == UInt8(ascii: "\n") { folder.removeLast() }
    return (folder, exports(bytes[(separator + 1)...]))
  }

  /// The exit status a complete record ends with (after its last NUL: 1 to 3 digits, 0 to 255);
  /// nil when it doesn't end so (the command was killed, replaced the shell, or wrote its own).
  static package func recordedStatus(_ bytes: [UInt8]) -> Int32? {
    guard let separator = bytes.lastIndex(of: 0) else { return nil }
    let digits = bytes[(separator + 1)...]
    guard (1...3).contains(digits.count), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
    else { return nil }
    let value = digits.reduce(Int32(0)) { $0 * 10 + Int32($1 - UInt8(ascii: "0")) }
    return value <= 255 ? value : nil
  }

  /// The variables in the output of `export -p`: lines `export NAME='value'` (dash, busybox)
  /// or `export NAME="value"` / `declare -x NAME="value"` (bash), the value one shell word
  /// made of single-quoted, double-quoted and backslash-escaped parts. A name exported without
  /// a value is not in the environment and is skipped; what can't be read ends the list (the
  /// file is written inside the sandbox: the caller checks every name and value it gets).
  static package func exports(_ text: ArraySlice<UInt8>) -> [String: String] {
    let quote = UInt8(ascii: "'")
    let double = UInt8(ascii: "\"")
    let backslash = UInt8(ascii: "\\")
    let newline = UInt8(ascii: "\n")
    // What a backslash escapes inside double quotes (elsewhere there it is itself).
    let escapedInDoubleQuotes: Set<UInt8> = [UInt8(ascii: "$"), UInt8(ascii: "`"), double, backslash, newline]
    var exported: [String: String] = [:]
    var index = text.startIndex
    func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    while index < text.endIndex {
      if text[index] == newline || isBlank(text[index]) {
        index += 1
        continue
      }
      let line = text[index...]
      if line.starts(with: "export ".utf8) {
        index += 7
      } else if line.starts(with: "declare -x ".utf8) {
        index += 11
      } else {
        break
      }
      let nameStart = index
      while index < text.endIndex, text[index] != UInt8(ascii: "="), text[index] != newline, !isBlank(text[index]) {
        index += 1
      }
      let name = text[nameStart..<index]
      guard index < text.endIndex, text[index] == UInt8(ascii: "=") else { continue }
      index += 1
      var value: [UInt8] = []
      var complete = true
      word: while index < text.endIndex {
        let byte = text[index]
        switch byte {
        case quote:
          guard let end = text[(index + 1)...].firstIndex(of: quote) else {
            complete = false
            break word
          }
          value += text[(index + 1)..<end]
          index = end + 1
        case double:
          index += 1
          var closed = false
          while index < text.endIndex {
            let inner = text[index]
            if inner == double {
              closed = true
              index += 1
              break
            }
            if inner == backslash, index + 1 < text.endIndex, escapedInDoubleQuotes.contains(text[index + 1]) {
              if text[index + 1] != newline { value.append(text[index + 1]) }
              index += 2
              continue
            }
            value.append(inner)
            index += 1
          }
          guard closed else {
            complete = false
            break word
          }
        case backslash:
          guard index + 1 < text.endIndex else {
            complete = false
            break word
          }
          if text[index + 1] != newline { value.append(text[index + 1]) }
          index += 2
        case newline, UInt8(ascii: " "), UInt8(ascii: "\t"):
          break word
        default:
          value.append(byte)
          index += 1
        }
      }
      guard complete else { break }
      guard let key = String(validating: name, as: UTF8.self), let string = String(validating: value, as: UTF8.self)
      else { continue }
      exported[key] = string
    }
    return exported
  }

  /// The workspace-relative folder for `folder` (an absolute path as the command saw it, with
  /// the workspace at `root`): nil when it is outside the workspace or not valid.
  static package func relative(_ folder: [UInt8], root: String) -> String? {
    guard folder.count <= ShellSession.maxFolderBytes, !folder.contains(0),
      let text = String(validating: folder, as: UTF8.self)
    else { return nil }
    if text == root { return "" }
    let prefix = root == "/" ? "/" : root + "/"
    guard text.hasPrefix(prefix) else { return nil }
    let rest = String(text.dropFirst(prefix.count))
    // `pwd -P` prints a path without `.`, `..` or empty components; anything else is not from it.
    let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
    guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else { return nil }
    return rest
  }
}

/// What a backend needs to run a command in its space's shell session.
public struct ShellSessionRun: Sendable, Equatable {
  /// The workspace as the command sees it (`/workspace` in a sandbox, its real path on the host).
  public var root: String
  /// The folder to start in, relative to the workspace (`""` is the root).
  public var cwd: String
  /// The variables to export before the command.
  public var environment: [String: String]
  /// The host path of the file the command's shell writes its state to when it exits, private
  /// to the operation: made by the backend when its shell can't make it
  /// (``makeStateFile()``), not at all for a warm shell (its record comes back in memory).
  public var stateFile: String

  /// Creates the run of a session.
  public init(root: String, cwd: String, environment: [String: String], stateFile: String) {
    self.root = root
    self.cwd = cwd
    self.environment = environment
    self.stateFile = stateFile
  }
  /// Makes the state file, empty and private (0600, never through a symlink), for a shell that
  /// can't create it itself: one whose sandbox binds it in, or that is handed it open.
  package func makeStateFile() throws(SpacesError) {
    let fd = Self.openStateFile(stateFile)
    guard fd >= 0 else {
      throw SpacesError(
        .ioError, "the shell session's state file \(stateFile) can't be made: \(String(cString: strerror(errno)))")
    }
    close(fd)
  }

  /// Opens (making it, empty) the state file at `path` for writing: private (0600), never
  /// through a symlink. -1 on failure, with `errno` set.
  package static func openStateFile(_ path: String) -> Int32 {
    open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
  }

}

extension ConfinedWorkspace {
  /// Whether `path` (workspace-relative, `""` the root) is a folder of the workspace reached
  /// without following any symlink.
  public func isRealFolder(_ path: String) -> Bool {
    guard !path.isEmpty else { return true }
    guard path.utf8.count <= ShellSession.maxFolderBytes, !path.utf8.contains(0), !path.hasPrefix("/") else {
      return false
    }
    return walkFolders(path.split(separator: "/", omittingEmptySubsequences: false).map(String.init))
  }
}
