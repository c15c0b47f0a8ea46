import Foundation
import SpacesModel

/// A space's policy file, re-read when it changes on disk, and the grants made this session.
///
/// If the file becomes invalid, ``current()`` throws until it is fixed: the space refuses to
/// run rather than run half-configured.
public final class PolicyStore: Sendable {
  /// The policy file's path.
  public let path: String
  private let fallback: PolicyPreset
  /// What the space's backend guarantees, with the space's network capability; the file's
  /// `network:` and preset refine it in each engine.
  public let profile: IsolationProfile
  private struct Cache {
    var stamp: FileStamp?
    var engine: PolicyEngine?
  }
  private let cache = LockedValue(Cache())
  private let sessionGrants = LockedValue(SessionGrants())

  /// Uses the file at `path`; without a file, the bare `fallback` preset applies. Engines
  /// judge with `profile` (no sandbox unless told).
  public init(path: String, fallback: PolicyPreset, profile: IsolationProfile = .host()) throws(SpacesError) {
    self.path = path
    self.fallback = fallback
    self.profile = profile
    _ = try current()
  }

  /// The policy as the file says now.
  public func current() throws(SpacesError) -> PolicyEngine {
    var info = stat()
    guard stat(path, &info) == 0 else {
      // Only a missing file means the bare preset; a file that can't be reached must not
      // quietly stand for it.
      let code = errno
      guard code == ENOENT else { throw SpacesError.system(code, "inspect the policy file \(path)") }
      return PolicyEngine(preset: fallback, profile: profile)
    }
    let stamp = FileStamp(info)
    if let engine = cache.withValue({ $0.stamp == stamp ? $0.engine : nil }) { return engine }
    guard let data = try SystemFile.read(path) else {
      return PolicyEngine(preset: fallback, profile: profile)  // removed since the stat
    }
    let file = try PolicyFile.parse(String(decoding: data, as: UTF8.self), file: path)
    let engine = PolicyEngine(file: file, profile: profile)
    cache.withValue { $0 = Cache(stamp: stamp, engine: engine) }
    return engine
  }

  /// The grants a person made this session.
  public var grants: SessionGrants { sessionGrants.withValue { $0 } }

  /// Adds grants for the rest of the session.
  public func grant(command: String? = nil, rules: [PolicyRule] = []) {
    sessionGrants.withValue { grants in
      if let command { grants.commands.insert(command) }
      grants.rules += rules
    }
  }

  /// Takes back grants made this session: an exact command, or a rule.
  public func revoke(command: String? = nil, rule: PolicyRule? = nil) {
    sessionGrants.withValue { grants in
      if let command { grants.commands.remove(command) }
      if let rule { grants.rules.removeAll { $0 == rule } }
    }
  }

  /// Removes a rule from the policy file, where it is written as ``append(_:)`` writes rules
  /// (keeping the rest of the text and its comments); a rule written some other way is left
  /// for the person to remove by hand.
  public func remove(_ rule: PolicyRule) throws(SpacesError) {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw SpacesError(.notFound, "no policy file at \(path)")
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let range = text.range(of: rule.yaml) else {
      throw SpacesError(
        .invalidConfig, "the rule \"\(rule.name)\" is not written the usual way in \(path); remove it by hand")
    }
    var edited = text
    edited.removeSubrange(range)
    let before = (try? PolicyFile.parse(text, file: path).rules.filter { $0 == rule }.count) ?? 0
    do throws(SpacesError) {
      let parsed = try PolicyFile.parse(edited, file: path)
      guard parsed.rules.filter({ $0 == rule }).count < before else {
        throw SpacesError(.invalidConfig, "the rule is still there")
      }
    } catch {
      throw SpacesError(.invalidConfig, "can't remove the rule from \(path) automatically (\(error.message))")
    }
    do {
      try Data(edited.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw SpacesError.fileCall("can't write \(path)", error)
    }
  }

  /// Appends rules to the policy file, keeping its comments; checks the result parses and
  /// puts the old text back if it doesn't.
  public func append(_ rules: [PolicyRule]) throws(SpacesError) {
    guard !rules.isEmpty else { return }
    let old = FileManager.default.contents(atPath: path) ?? Data(PolicyFile.template(preset: fallback, space: "").utf8)
    var text = String(decoding: old, as: UTF8.self)
    if !text.hasSuffix("\n") { text += "\n" }
    if !(text.hasPrefix("rules:") || text.contains("\nrules:")) {
      text += "rules:\n"
    }
    text += rules.map(\.yaml).joined()
    do throws(SpacesError) {
      let parsed = try PolicyFile.parse(text, file: path)
      guard rules.allSatisfy({ parsed.rules.contains($0) }) else {
        throw SpacesError(.invalidConfig, "the rule did not land in `rules:`")
      }
    } catch {
      throw SpacesError(
        .invalidConfig,
        "can't add the rule to \(path) automatically (\(error.message)); add it under `rules:` by hand:\n"
          + rules.map(\.yaml).joined())
    }
    do {
      try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw SpacesError.fileCall("can't write \(path)", error)
    }
  }
}
