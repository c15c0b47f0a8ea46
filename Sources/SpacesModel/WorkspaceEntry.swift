import Foundation

/// One file, folder or symlink in a workspace, as `list` and `entry` report it.
public struct WorkspaceEntry: Sendable, Equatable, Codable {
  /// The last path component.
  public var name: String
  /// The normalized path relative to the workspace root.
  public var path: String
  /// What the entry is; a symlink is reported as such, not followed.
  public var kind: Kind
  /// The size in bytes (of the link itself for a symlink).
  public var size: Int64
  /// The modification time in unix seconds.
  public var modified: Double

  /// The kind of a workspace entry.
  public enum Kind: String, Codable, Sendable {
    /// A regular file.
    case file
    /// A folder.
    case directory
    /// A symbolic link.
    case symlink
    /// A FIFO, socket or device.
    case other
  }

  package init(name: String, path: String, _ info: stat) {
    self.name = name
    self.path = path
    switch info.st_mode & S_IFMT {
    case S_IFREG: kind = .file
    case S_IFDIR: kind = .directory
    case S_IFLNK: kind = .symlink
    default: kind = .other
    }
    size = Int64(info.st_size)
    modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
  }
}
