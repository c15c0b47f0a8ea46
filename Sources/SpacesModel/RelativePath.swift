import Foundation

/// The lexical rule for a path relative to a workspace root: no I/O, so the policy can name
/// the path an operation touches and the confined workspace can open it by the same rule.
package enum RelativePath {
  /// Validates and normalizes a relative path ("a//b/./c" -> "a/b/c"; the root is "").
  ///
  /// Throws `invalidPath` for an empty path, NUL bytes or over-long names, and
  /// `pathOutsideWorkspace` for absolute paths and `..` that climbs out of the root.
  package static func normalize(_ path: String) throws(SpacesError) -> String {
    try components(path).joined(separator: "/")
  }

  /// The lexically normalized components of `path`, split on '/' bytes (not on Characters).
  package static func components(_ path: String) throws(SpacesError) -> [String] {
    let bytes = Array(path.utf8)
    guard !bytes.isEmpty else {
      throw SpacesError(
        .invalidPath,
        "The path is empty; give a path relative to the workspace root, such as 'src/main.swift'")
    }
    guard !bytes.contains(0) else {
      throw SpacesError(.invalidPath, "The path contains a NUL byte; remove it")
    }
    guard bytes.count < PATH_MAX else {
      throw SpacesError(
        .invalidPath,
        "The path is \(bytes.count) bytes long, over the \(PATH_MAX - 1)-byte limit; shorten it")
    }
    guard bytes[0] != UInt8(ascii: "/") else {
      throw SpacesError(
        .pathOutsideWorkspace,
        "'\(path)' is an absolute path; use a path relative to the workspace root")
    }
    var result: [String] = []
    for part in bytes.split(separator: UInt8(ascii: "/")) {
      if part.elementsEqual(".".utf8) { continue }
      if part.elementsEqual("..".utf8) {
        guard result.popLast() != nil else { throw outside(path) }
        continue
      }
      guard part.count <= NAME_MAX else {
        throw SpacesError(
          .invalidPath,
          "A name in '\(path.prefix(80))…' is \(part.count) bytes long, over the \(NAME_MAX)-byte limit; shorten it"
        )
      }
      result.append(String(decoding: part, as: UTF8.self))
    }
    return result
  }

  /// The error for a path that leads outside the workspace.
  package static func outside(_ path: String, errno code: Int32? = nil) -> SpacesError {
    SpacesError(
      .pathOutsideWorkspace,
      "'\(path)' leads outside the workspace; use a path relative to the workspace root",
      errno: code)
  }
}
