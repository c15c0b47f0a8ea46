import Foundation

extension SpacesProtocol {
  /// The spaces home's folder for `environment`: `SPACES_HOME`, else
  /// `$XDG_DATA_HOME/agent-spaces`, else `~/.local/share/agent-spaces`.
  ///
  /// Here, below the runtime and the client, so both find the same server socket.
  public static func home(in environment: [String: String]) -> String {
    if let home = environment["SPACES_HOME"], !home.isEmpty { return home }
    if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
      return data + "/agent-spaces"
    }
    let user = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    return user + "/.local/share/agent-spaces"
  }
}
