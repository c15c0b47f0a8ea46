import Foundation
import NIOCore
import SpacesModel
import SpacesPolicy

/// The decoders of everything that comes from outside — operations, protocol lines and policy
/// files — as pure functions of bytes, for fuzzing (`spaces bench fuzz`) and tests.
///
/// Each one runs the same code the runtime runs (``SpacesJSON/decoder``, the server's line
/// reading and params decoding, ``PolicyFile/parse(_:file:)``) and never touches a socket, a
/// space or the disk. Bad input is an error outcome; only a trap would be a crash.
public enum InputDecoders {
  /// What became of one input.
  public struct Outcome: Sendable, Hashable {
    /// A short class of the outcome for counting: `ok …`, `error …` or `BUG …`.
    public var kind: String
    /// The error message a client or a person would read, when the input was refused.
    public var message: String?

    /// Whether the input was accepted.
    public var accepted: Bool { kind.hasPrefix("ok") }
    /// Whether a property that must always hold did not (never expected, unlike an error).
    public var isBug: Bool { kind.hasPrefix("BUG") }

    static func ok(_ what: String) -> Outcome { Outcome(kind: "ok " + what, message: nil) }

    static func error(_ message: String) -> Outcome {
      Outcome(kind: "error " + errorClass(message), message: message)
    }

    static func bug(_ what: String) -> Outcome { Outcome(kind: "BUG " + what, message: what) }
  }

  /// Decodes an operation (JSON) as the server and the CLI do, then the same operation as the
  /// `op` of `op.submit` params, by Foundation and in one pass (which must give nothing or what
  /// Foundation gives); an accepted operation must encode and decode back to itself.
  public static func operation(_ data: Data) -> Outcome {
    var wrapped = Data(#"{"space":"fuzz","events":false,"op":"#.utf8)
    wrapped.append(data)
    wrapped.append(UInt8(ascii: "}"))
    let submitted = try? SpacesJSON.decoder.decode(SubmitParams.self, from: wrapped)
    if let scanned = SubmitParams.scan(wrapped),
      scanned.op != submitted?.op || scanned.space != submitted?.space || scanned.events != submitted?.events
    {
      return .bug("op.submit params read in one pass differ from Foundation's reading")
    }
    _ = try? Op.parse(String(decoding: data, as: UTF8.self))
    let op: Op
    do {
      op = try SpacesJSON.decoder.decode(Op.self, from: data)
    } catch {
      return .error(SpacesJSON.describe(error))
    }
    // A whole JSON value is self-delimiting: as `op` it reads the same (unless it was a whole
    // document only: a byte-order mark or UTF-16 reads alone, not inside another document).
    if let submitted, submitted.op != op { return .bug("op.submit decoded the operation differently") }
    guard let encoded = try? SpacesJSON.encoder.encode(op),
      (try? SpacesJSON.decoder.decode(Op.self, from: encoded)) == op
    else { return .bug("an accepted \(op.kind.rawValue) does not survive encoding") }
    return .ok(op.kind.rawValue)
  }

  /// Reads one protocol line (without its newline) as a connection of `spaces serve` does:
  /// the JSON-RPC header, the method, then that method's params.
  public static func protocolLine(_ data: Data) -> Outcome {
    switch InboundMessage(line: data) {
    case .ignored:
      return .ok("ignored")
    case .rejected(let error, let id, _):
      _ = Wire.error(error, id: id)
      return Outcome(kind: "error \(error.code)", message: error.message)
    case .request(let request, _):
      do throws(RPCError) {
        let params = try ServerConnection.route(try RPCMethod(named: request.method)).decode(request)
        if let hello = params as? HelloParams, let space = hello.space {
          do {
            try SpacesHome.validate(name: space)
          } catch {
            return Outcome(kind: "error hello space", message: error.message)
          }
        }
        return .ok(request.method)
      } catch {
        _ = Wire.error(error, id: request.id)
        let method = RPCMethod(rawValue: request.method)?.rawValue ?? "?"
        return Outcome(kind: "error \(error.code) \(method)", message: error.message)
      }
    }
  }

  /// Parses a policy file (bytes read as UTF-8, as a space reads `policy.yaml`), builds its
  /// engine and judges a few operations with it; the rules of an accepted file must survive
  /// being written back the way an approval appends them.
  public static func policyFile(_ data: Data) -> Outcome {
    let file: PolicyFile
    do {
      file = try PolicyFile.parse(String(decoding: data, as: UTF8.self))
    } catch {
      return .error(error.message)
    }
    let engine = PolicyEngine(file: file)
    _ = engine.effectiveShellLimits(ShellLimits())
    for probe in probes { _ = engine.evaluate(probe) }
    let appended = PolicyFile.template(preset: file.preset, space: "fuzz") + file.rules.map(\.yaml).joined()
    guard let reread = try? PolicyFile.parse(appended), reread.rules == file.rules else {
      return .bug("a rule does not survive being written back to policy.yaml")
    }
    return .ok("policy")
  }

  /// Operations a fuzzed policy judges.
  private static let probes: [Op] = [
    .shell(command: "git push origin main && npm install", timeoutMs: nil),
    .createFile(path: "migrations/2024/a.sql", content: "", encoding: .utf8),
    .readFile(path: ".env"),
    .deleteFile(path: "src", recursive: true),
  ]

  /// A message without its particulars (quoted names, numbers, places), to count classes.
  static func errorClass(_ message: String) -> String {
    var result = ""
    var quote: Character?
    for character in message {
      if let open = quote {
        if character == (open == "`" ? "`" : "\"") { quote = nil }
        continue
      }
      if character == "\"" || character == "`" {
        quote = character
        result.append("…")
      } else if character.isNumber {
        if result.last != "#" { result.append("#") }
      } else {
        result.append(character)
      }
      if result.count >= 60 { break }
    }
    return result
  }
}
