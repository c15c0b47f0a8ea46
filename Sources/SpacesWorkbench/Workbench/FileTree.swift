import SpacesModel

/// The workspace tree: listings of the folders seen, which are expanded, and what changed
/// since the session began.
public struct FileTree: Sendable {
  /// A change marker.
  public enum Marker: String, Sendable {
    case added = "+"
    case modified = "~"
    case deleted = "-"
  }

  /// One visible row.
  public struct Row: Equatable, Sendable {
    /// The path.
    public var path: String
    /// The name shown.
    public var name: String
    /// The depth (0 at the root).
    public var depth: Int
    /// Whether it is a folder.
    public var isFolder: Bool
    /// Whether the folder is expanded.
    public var expanded: Bool
    /// The change marker.
    public var marker: Marker?
    /// Whether a folder holds changes below it.
    public var holdsChanges: Bool
    /// The size in bytes (files).
    public var size: Int64
  }

  /// The listings by folder path ("" is the root).
  public private(set) var listings: [String: [WorkspaceEntry]] = [:]
  /// The expanded folders.
  public var expanded: Set<String> = []
  /// What each path looked like when first seen: size and modification time.
  private var baseline: [String: (Int64, Double)] = [:]
  /// Folders whose listing was taken as the baseline.
  private var baselineFolders: Set<String> = []
  /// Paths the session changed (added, modified or deleted).
  public private(set) var markers: [String: Marker] = [:]

  /// Creates an empty tree.
  public init() {}

  /// Takes a folder's listing; the first listing of a folder that existed at the start is its
  /// baseline.
  public mutating func setListing(_ folder: String, _ entries: [WorkspaceEntry]) {
    let folderIsNew = !folder.isEmpty && (markers[folder] == .added)
    if !baselineFolders.contains(folder) {
      baselineFolders.insert(folder)
      if !folderIsNew {
        for entry in entries { baseline[entry.path] = (entry.size, entry.modified) }
      }
    }
    let now = Set(entries.map(\.path))
    for entry in entries {
      if let before = baseline[entry.path] {
        if entry.kind != .directory, before.0 != entry.size || before.1 != entry.modified {
          markers[entry.path] = .modified
        } else if markers[entry.path] == .deleted {
          markers[entry.path] = nil
        }
      } else {
        markers[entry.path] = .added
      }
    }
    // What was listed before (or in the baseline) and is gone now.
    let before = Set((listings[folder] ?? []).map(\.path)).union(
      baseline.keys.filter { Self.parent(of: $0) == folder })
    for path in before.subtracting(now) {
      if baseline[path] != nil {
        markers[path] = .deleted
      } else {
        markers[path] = nil
      }
    }
    listings[folder] = entries
  }

  /// Marks a path as changed by an operation the workbench saw (before the listing shows it).
  public mutating func touch(_ path: String) {
    if markers[path] == nil, baseline[path] != nil { markers[path] = .modified }
  }

  /// The parent folder of a path ("" for top-level entries).
  public static func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return String(path[..<slash])
  }

  /// The visible rows, with deleted entries shown where they were; `filter` keeps rows whose
  /// path contains it (and their folders).
  public func rows(filter: String = "") -> [Row] {
    var rows: [Row] = []
    let changedPaths = Array(markers.keys)
    func walk(_ folder: String, depth: Int) {
      var entries = (listings[folder] ?? []).map {
        (path: $0.path, name: $0.name, folder: $0.kind == .directory, size: $0.size)
      }
      let present = Set(entries.map(\.path))
      for (path, marker) in markers
      where marker == .deleted && Self.parent(of: path) == folder && !present.contains(path) {
        entries.append((path, String(path.split(separator: "/").last ?? ""), false, 0))
      }
      entries.sort { ($0.folder ? 0 : 1, $0.name.lowercased()) < ($1.folder ? 0 : 1, $1.name.lowercased()) }
      for entry in entries {
        let isExpanded = entry.folder && expanded.contains(entry.path)
        let holds = entry.folder && changedPaths.contains { $0.hasPrefix(entry.path + "/") }
        let row = Row(
          path: entry.path, name: entry.name, depth: depth, isFolder: entry.folder, expanded: isExpanded,
          marker: markers[entry.path], holdsChanges: holds, size: entry.size)
        if filter.isEmpty || entry.path.lowercased().contains(filter.lowercased()) || entry.folder {
          rows.append(row)
        }
        if isExpanded { walk(entry.path, depth: depth + 1) }
      }
    }
    walk("", depth: 0)
    if !filter.isEmpty {
      // Drop folders that hold no match.
      let needle = filter.lowercased()
      rows = rows.filter { row in
        !row.isFolder || row.path.lowercased().contains(needle)
          || rows.contains { !$0.isFolder && $0.path.hasPrefix(row.path + "/") }
      }
    }
    return rows
  }
}
