import Foundation
import SpacesModel

#if canImport(Glibc)
  import Glibc
#endif

/// Decides which folders may be a space's workspace.
///
/// A workspace is handed to the agent read-write (and mounted at `/workspace` in the sandbox), so
/// it must never hold what guards the agent or what the person can't afford to lose: the
/// runtime's home (the supervisor token, the socket, every journal and policy), the runtime's own
/// executables, `/`, a home folder, or a system folder. Every door checks here: `spaces space
/// create`, the workbench, `space.create` over the socket, and opening a space whose
/// `space.json` was edited by hand. Paths are compared after resolving symlinks, so a link to a
/// forbidden folder is refused like the folder itself.
public enum WorkspaceGuard {
  /// System folders that can't be a workspace nor hold one.
  static let systemTrees = [
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys",
    "/run",
  ]
  /// Folders that hold other people's or the system's files: they can't be a workspace
  /// themselves, but a folder inside them can.
  static let sharedRoots = ["/var", "/opt", "/srv", "/mnt", "/media", "/tmp", "/var/tmp", "/home", "/root", "/snap"]

  /// Checks that `path` (absolute, already resolved by the caller's rules) may be a workspace of
  /// a space in `home`; `own` is the space's own workspace folder, the one place inside `home`
  /// a workspace may be. Returns the resolved path.
  @discardableResult
  public static func check(
    _ path: String, home: SpacesHome, own: String? = nil,
    environment: [String: String] = ProcessInfo.processInfo
      .environment
  ) throws(SpacesError) -> String {
    var info = stat()
    guard stat(path, &info) == 0 else {
      let code = errno
      if code == ENOENT {
        throw SpacesError(
          .notFound, "the workspace folder \(path) does not exist; create it first or leave out --workspace",
          errno: code)
      }
      throw SpacesError(.ioError, "can't use \(path) as a workspace: \(String(cString: strerror(code)))", errno: code)
    }
    guard info.st_mode & S_IFMT == S_IFDIR else {
      throw SpacesError(.notDirectory, "\(path) is a file, not a folder; a workspace must be a folder")
    }
    let real = resolved(path)
    let refuse = { (why: String) -> SpacesError in
      SpacesError(
        .invalidPath,
        "\(path) can't be a workspace: \(why). Choose a project folder of its own (for example ~/work/NAME), or leave out --workspace"
      )
    }
    if real == "/" { throw refuse("it is the root of the whole machine") }
    let homeReal = resolved(home.path)
    let ownReal = own.map(resolved)
    if ownReal != real {
      if contains(real, homeReal) || contains(homeReal, real) {
        throw refuse(
          "it is, holds or is inside SPACES_HOME (\(home.path)), where the supervisor token and the journals live")
      }
    }
    for file in runtimeFiles() where contains(real, file) {
      throw refuse("it holds the runtime's own program \(file)")
    }
    for tree in systemTrees {
      let treeReal = resolved(tree)
      if contains(treeReal, real) || contains(tree, real) { throw refuse("it is a system folder (\(tree))") }
    }
    for root in sharedRoots where real == root || real == resolved(root) {
      throw refuse("\(root) holds the system's or other people's files")
    }
    for folder in homeFolders(environment) where contains(real, folder) {
      throw refuse(real == folder ? "it is a home folder" : "it holds the home folder \(folder)")
    }
    return real
  }

  /// Whether `outer` is `inner` or a folder above it.
  static func contains(_ outer: String, _ inner: String) -> Bool {
    outer == inner || outer == "/" || inner.hasPrefix(outer + "/")
  }

  /// The path with every symlink resolved (or as given when it can't be resolved).
  static func resolved(_ path: String) -> String {
    guard let pointer = realpath(path, nil) else {
      return URL(fileURLWithPath: path).standardizedFileURL.path
    }
    defer { free(pointer) }
    return String(cString: pointer)
  }

  /// The running program and its helper, resolved.
  static func runtimeFiles() -> [String] {
    let exe = resolved("/proc/self/exe")
    guard exe.hasPrefix("/") else { return [] }
    let folder = exe.lastIndex(of: "/").map { String(exe[..<$0]) } ?? exe
    return [exe, folder + "/spaces-spare"]
  }

  /// The home folders of the user running the runtime: `$HOME` and the password database's.
  static func homeFolders(_ environment: [String: String]) -> [String] {
    var folders: [String] = []
    if let home = environment["HOME"], home.hasPrefix("/"), home != "/" { folders.append(resolved(home)) }
    if let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir {
      let path = String(cString: dir)
      if path.hasPrefix("/"), path != "/" { folders.append(resolved(path)) }
    }
    return folders
  }
}
