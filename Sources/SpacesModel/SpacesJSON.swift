import Foundation

/// The one JSON form shared by the CLI, the journal and the protocol.
public enum SpacesJSON {
  /// An encoder for compact, single-line JSON with sorted keys (journal lines, protocol messages).
  ///
  /// One shared instance (creating one costs more than a small encode); JSONEncoder is safe
  /// to use from many threads while its options don't change.
  public static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    return encoder
  }()

  /// An encoder for JSON a person reads (CLI output with `--json`).
  public static let prettyEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes, .prettyPrinted, .sortedKeys]
    return encoder
  }()

  /// The decoder for everything this project reads (shared, like ``encoder``).
  public static let decoder = JSONDecoder()

  /// Encodes a value as one line of JSON text.
  public static func line<T: Encodable>(_ value: T) -> String {
    guard let data = try? encoder.encode(value) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }

  /// Encodes a value as indented JSON text.
  public static func pretty<T: Encodable>(_ value: T) -> String {
    guard let data = try? prettyEncoder.encode(value) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }

  /// A one-sentence description of a decoding error, naming the field that was wrong.
  public static func describe(_ error: any Error) -> String {
    guard let error = error as? DecodingError else {
      if let error = error as? SpacesError { return error.message }
      return "\(error)"
    }
    func at(_ path: [any CodingKey]) -> String {
      let names = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
      return names.isEmpty ? "" : " at \"\(names.joined(separator: "."))\""
    }
    switch error {
    case .dataCorrupted(let context):
      if let underlying = context.underlyingError {
        return "not valid JSON (\(underlying.localizedDescription))"
      }
      if context.debugDescription.hasPrefix("The given data was not valid JSON") {
        return "not valid JSON"
      }
      return context.debugDescription + at(context.codingPath)
    case .keyNotFound(let key, let context):
      return "missing field \"\(key.stringValue)\"" + at(context.codingPath)
    case .typeMismatch(let type, let context):
      return "expected \(type) \(at(context.codingPath))".trimmingCharacters(in: .whitespaces)
    case .valueNotFound(let type, let context):
      return "expected \(type), found null" + at(context.codingPath)
    @unknown default:
      return "\(error)"
    }
  }
}
