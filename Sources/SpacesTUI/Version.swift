/// The version of Agent Spaces.
enum SpacesVersion {
  static let current = "0.1.0"
}
