import ArgumentParser
import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

/// Runs `body` on the running server as a supervisor when one answers, else on a space opened
/// in this process.
private func withSpace<T: Sendable>(
  _ name: String, _ options: HomeOptions, server: (SpacesClient) async throws(SpacesError) -> T,
  local: (Space) async throws(SpacesError) -> T
) async throws -> T {
  let home = options.spacesHome
  if SocketProbe.isLive(home.path + "/" + SpacesProtocol.socketName) {
    let client = try await SupervisorConnection.open(home)
    do throws(SpacesError) {
      let value = try await server(client)
      await client.close()
      return value
    } catch {
      await client.close()
      throw ChangesCLI.fail(error)
    }
  }
  do throws(SpacesError) {
    let space = try options.runtime().space(name)
    return try await local(space)
  } catch {
    throw ChangesCLI.fail(error)
  }
}

enum ChangesCLI {
  /// Refusals exit 3, as denials do; other failures as usual.
  static func fail(_ error: SpacesError) -> ExitCode {
    if error.code == .undoRefused {
      CLI.writeError("spaces: refused: \(error.message)\n")
      return ExitCode(ExitStatus.denied)
    }
    return CLI.fail(error)
  }

  static func describe(_ outcome: UndoOutcome) -> String {
    let what = outcome.action == "restore" ? "restored to before \(outcome.target)" : "undid \(outcome.target)"
    var text = "\(what): \(outcome.changes.text)"
    if outcome.undid.count > 1 { text += " (took back \(outcome.undid.joined(separator: ", ")))" }
    text += "\nthis is \(outcome.id); `spaces undo SPACE \(outcome.id)` takes it back"
    return text
  }
}

struct ChangesCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "changes",
    abstract: "Show what operations changed in a workspace: the newest records, or one operation's diff.",
    discussion: """
      Without OP, lists the newest change records (newest first) with what each changed.
      With OP, prints what that operation changed as a diff; says so when its record was dropped.
      """)

  @Argument(help: "The space's name.") var space: String
  @Argument(help: "An operation id (op_…, from `spaces log` or the list).") var op: String?
  @Option(help: "List at most this many records.") var limit = 50
  @Flag(help: "Print JSON.") var json = false
  @OptionGroup var options: HomeOptions

  func run() async throws {
    let name = space
    if let op {
      let answer = try await withSpace(
        name, options, server: { client throws(SpacesError) in try await client.changes(of: op, in: name) },
        local: { $0.changes(of: op) })
      if json {
        CLI.print(SpacesJSON.line(answer))
      } else if let record = answer.record {
        CLI.print("\(record.opId) \(record.time) by \(record.actor.rawValue): \(EventText.sanitize(record.what))")
        CLI.print(record.summary.text)
        CLI.writeOut(answer.diff ?? "")
      } else {
        CLI.print(answer.message ?? "no change record for \(op)")
      }
      if answer.status != "recorded" { throw ExitCode(ExitStatus.failed) }
      return
    }
    let limit = limit
    let list = try await withSpace(
      name, options, server: { client throws(SpacesError) in try await client.changeList(in: name, limit: limit) },
      local: { $0.changeList(limit: limit) })
    if json {
      CLI.print(SpacesJSON.line(list))
      return
    }
    if list.records.isEmpty { CLI.print("no change records in \(name)") }
    for item in list.records {
      let time = item.time.split(separator: "T").last.map { String($0.dropLast()) } ?? item.time
      CLI.print(
        "\(item.op) \(time) \(item.actor.rawValue) ±\(item.changes.total) \(item.changes.text) — "
          + EventText.sanitize(item.what))
    }
  }
}

struct UndoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "undo",
    abstract: "Undo one operation: put back what it changed, as the person's own (undoable) action.",
    discussion: """
      Refused (exit 3, nothing changed) when a later operation changed the same paths — the message
      names them — or when the record is gone or a file's earlier content was not kept.
      """)

  @Argument(help: "The space's name.") var space: String
  @Argument(help: "The operation id (op_…).") var op: String
  @Flag(help: "Print JSON.") var json = false
  @OptionGroup var options: HomeOptions

  func run() async throws {
    let (name, op) = (space, op)
    let outcome = try await withSpace(
      name, options, server: { client throws(SpacesError) in try await client.undo(op, in: name) },
      local: { space throws(SpacesError) in try await space.undo(op) })
    CLI.print(json ? SpacesJSON.line(outcome) : ChangesCLI.describe(outcome))
  }
}

struct RestoreCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "restore",
    abstract: "Restore a workspace to before an operation: everything from it on is taken back, newest first.")

  @Argument(help: "The space's name.") var space: String
  @Option(help: "The operation id (op_…) to go back to before.") var before: String
  @Flag(help: "Print JSON.") var json = false
  @OptionGroup var options: HomeOptions

  func run() async throws {
    let (name, op) = (space, before)
    let outcome = try await withSpace(
      name, options, server: { client throws(SpacesError) in try await client.restore(name, before: op) },
      local: { space throws(SpacesError) in try await space.undo(op, restore: true) })
    CLI.print(json ? SpacesJSON.line(outcome) : ChangesCLI.describe(outcome))
  }
}
