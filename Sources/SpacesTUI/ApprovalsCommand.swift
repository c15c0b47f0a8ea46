import ArgumentParser
import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

/// Connects to the running server as a supervisor, with the token from SPACES_HOME.
enum SupervisorConnection {
  static func open(_ home: SpacesHome) async throws -> SpacesClient {
    let socket = home.path + "/" + SpacesProtocol.socketName
    guard SocketProbe.isLive(socket) else {
      throw CLI.fail(
        SpacesError(
          .disconnected,
          "no spaces server is running for \(home.path): start one with `spaces serve`, or open the workbench "
            + "(`spaces`), which serves the same socket; without a server, operations that ask are denied at once"))
    }
    guard let token = SupervisorToken.read(in: home) else {
      throw CLI.fail(
        SpacesError(.notFound, "no supervisor token at \(SupervisorToken.path(in: home)); is `spaces serve` running?"))
    }
    do throws(SpacesError) {
      let client = try await SpacesClient.connect(home: home.path)
      try await client.hello(role: .supervisor, token: token, client: "spaces-cli")
      return client
    } catch {
      throw CLI.fail(
        SpacesError(error.code, "\(error.message) (is `spaces serve` running for \(home.path)?)"))
    }
  }
}

struct ApprovalsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "approvals", abstract: "List the operations waiting for approval on the running server.")

  @Option(help: "Only this space.") var space: String?
  @Flag(help: "Print JSON.") var json = false
  @OptionGroup var options: HomeOptions

  func run() async throws {
    let client = try await SupervisorConnection.open(options.spacesHome)
    defer { Task { await client.close() } }
    let approvals = try await client.approvals(space: space)
    if json {
      CLI.print(SpacesJSON.pretty(approvals))
    } else if approvals.isEmpty {
      CLI.print("nothing waits for approval")
    } else {
      let now = Date()
      for request in approvals {
        let reasons = request.decision.reasons.map(EventText.sanitize).joined(separator: "; ")
        let said = request.reason.map { "\n    agent says: \"" + StatedReason.display($0) + "\"" } ?? ""
        CLI.print(
          "\(request.id)  \(request.space)  \(EventText.summary(request.op))\n    why: \(reasons)\(said)\n    "
            + Self.timeLeft(until: request.deadline, now: now))
      }
      CLI.print(
        "answer with `spaces approve ID` (--once, --session, --always, or --deny --feedback TEXT); "
          + "more time with `spaces approve ID --extend`")
    }
  }
}

extension ApprovalsCommand {
  /// "expires in 4m 12s" for an ISO 8601 deadline, or the deadline itself when it can't be read.
  static func timeLeft(until deadline: String, now: Date) -> String {
    let format = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    guard let date = try? format.parse(deadline) else { return "until \(deadline)" }
    let seconds = Int(date.timeIntervalSince(now).rounded())
    guard seconds > 0 else { return "expires now" }
    return "expires in " + (seconds >= 60 ? "\(seconds / 60)m \(seconds % 60)s" : "\(seconds)s")
  }
}

struct ApproveCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "approve",
    abstract: "Answer an approval request on the running server (default: once), or give it more time.")

  @Argument(help: "The request's id (see `spaces approvals`).") var id: String
  @Flag(help: "How to answer (default: once).") var decision: ApprovalChoice?
  @Option(help: "Feedback for the agent (with --deny).") var feedback: String?
  @Flag(
    help: "Don't answer yet: move the request's deadline on (by the time it was first given, or --seconds).")
  var extend = false
  @Option(
    help:
      "With --extend: how many seconds to add (1 to \(ApprovalQueue.maxExtensionSeconds); an hour more in all at most)."
  )
  var seconds: Int?
  @OptionGroup var options: HomeOptions

  func validate() throws {
    if feedback != nil, decision != .deny {
      throw ValidationError(
        "--feedback goes with --deny: it is what the agent is told instead of running the operation")
    }
    if extend, let decision {
      throw ValidationError(
        "--extend gives the request more time without answering it: leave out --\(decision.rawValue)")
    }
    if seconds != nil, !extend {
      throw ValidationError("--seconds goes with --extend: it is how much more time the request gets")
    }
    if let seconds, !(1...ApprovalQueue.maxExtensionSeconds).contains(seconds) {
      throw ValidationError(
        "--seconds must be from 1 to \(ApprovalQueue.maxExtensionSeconds) (an hour), not \(seconds)")
    }
  }

  func run() async throws {
    let client = try await SupervisorConnection.open(options.spacesHome)
    defer { Task { await client.close() } }
    let decision = decision ?? .once
    do throws(SpacesError) {
      if extend {
        let extended = try await client.extendApproval(id, seconds: seconds)
        CLI.print(
          "\(id): \(extended.seconds) s more (\(extended.totalSeconds) s in all), "
            + ApprovalsCommand.timeLeft(until: extended.deadline, now: Date()))
        return
      }
      try await client.resolveApproval(id, decision, feedback: feedback)
    } catch {
      throw CLI.fail(error)
    }
    CLI.print("\(id): \(decision.rawValue)")
  }
}

extension ApprovalChoice: EnumerableFlag {}
