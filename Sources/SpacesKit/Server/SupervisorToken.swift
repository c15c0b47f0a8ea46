import Foundation
import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// The supervisor token in `SPACES_HOME/supervisor.token`: 32 random bytes as hex, mode 0600.
public enum SupervisorToken {
  /// The token file's path under `home`.
  public static func path(in home: SpacesHome) -> String {
    home.path + "/" + SpacesProtocol.tokenName
  }

  /// Reads the token, or nil when there is none (or it can't be read).
  public static func read(in home: SpacesHome) -> String? {
    guard let data = FileManager.default.contents(atPath: path(in: home)) else { return nil }
    return parse(Array(data))
  }

  /// The token a token file's bytes hold; nil when it is empty.
  private static func parse(_ bytes: [UInt8]) -> String? {
    let token = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return token.isEmpty ? nil : token
  }

  /// Reads the token, creating it first if there is none.
  public static func loadOrCreate(in home: SpacesHome) throws(SpacesError) -> String {
    // A token that exists but can't be read (no descriptors left, a permission) is an error,
    // not a reason to make another.
    if let token = try SystemFile.read(path(in: home)).flatMap(parse) { return token }
    do {
      try FileManager.default.createDirectory(
        atPath: home.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw SpacesError.fileCall("can't create \(home.path)", error)
    }
    var bytes = [UInt8](repeating: 0, count: 32)
    var generator = SystemRandomNumberGenerator()
    for index in bytes.indices { bytes[index] = generator.next() }
    let token = bytes.map { String(format: "%02x", $0) }.joined()
    let file = path(in: home)
    let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      // Another server created it at the same moment: use theirs.
      if errno == EEXIST, let token = read(in: home) { return token }
      throw SpacesError(.ioError, "can't create \(file): \(String(cString: strerror(errno)))", errno: errno)
    }
    defer { close(fd) }
    let text = Array((token + "\n").utf8)
    guard write(fd, text, text.count) == text.count else {
      throw SpacesError(.ioError, "can't write \(file): \(String(cString: strerror(errno)))", errno: errno)
    }
    return token
  }

  /// Compares two tokens in time that doesn't depend on where they differ.
  static func matches(_ given: String, _ expected: String) -> Bool {
    let a = Array(given.utf8)
    let b = Array(expected.utf8)
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
  }
}
