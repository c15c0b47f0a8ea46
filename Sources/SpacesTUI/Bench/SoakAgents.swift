import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

/// What one well-behaved agent did: each operation's latency, the ids the server acknowledged,
/// and what went wrong.
struct AgentOutcome: Sendable {
  var latencies: [Double] = []
  var latenciesByKind: [String: [Double]] = [:]
  /// Acknowledged operations: (space, operation id).
  var acknowledged: [(space: String, id: String)] = []
  var failures: [String] = []
}

/// The well-behaved agents: each its own connection, bound to one space, running a fixed mix of
/// small operations back to back and checking every answer.
struct WellBehavedAgents {
  var count: Int
  var operations: Int
  var spaces: [String]

  /// Connects every agent and says hello (not timed).
  func connect(home: SpacesHome) async throws -> [SpacesClient] {
    try await withThrowingTaskGroup(of: (Int, SpacesClient).self) { group in
      for index in 0..<count {
        group.addTask {
          let client = try await SpacesClient.connect(home: home.path)
          try await client.hello(space: spaces[index % spaces.count], client: "soak-agent-\(index)")
          return (index, client)
        }
      }
      var clients: [SpacesClient?] = Array(repeating: nil, count: count)
      for try await (index, client) in group { clients[index] = client }
      return clients.compactMap { $0 }
    }
  }

  /// Runs every agent's operations at once; returns each agent's outcome. The warm-up runs one
  /// round of the mix (creating the agent's file first), so that both runs are measured warm;
  /// then each agent starts its mix at a different place, so the kinds of operation are spread
  /// evenly over time instead of every agent running a command at the same moment.
  func run(_ clients: [SpacesClient], warmUp: Bool = false) async -> [AgentOutcome] {
    await withTaskGroup(of: AgentOutcome.self) { group in
      for (index, client) in clients.enumerated() {
        group.addTask {
          await agent(
            index, client: client, space: spaces[index % spaces.count], offset: warmUp ? 0 : index,
            operations: warmUp ? 6 : operations)
        }
      }
      var outcomes: [AgentOutcome] = []
      for await outcome in group { outcomes.append(outcome) }
      return outcomes
    }
  }

  /// One agent: createFile, readFile, editFile, shell `echo`, message, shell `true`, in turn
  /// from `offset`. Its file holds "version N", which only its own edits change.
  private func agent(_ index: Int, client: SpacesClient, space: String, offset: Int, operations: Int) async
    -> AgentOutcome
  {
    var outcome = AgentOutcome()
    let clock = ContinuousClock()
    let file = "agent-\(index).txt"
    let filler = String(repeating: "soak ", count: 100)
    func content(_ version: Int) -> String { "agent \(index) version \(version)\n\(filler)\n" }
    // The warm-up's round left the file at version 1.
    var version = offset == 0 ? 0 : 1
    for step in 0..<operations {
      let turn = (step + offset) % 6
      let op: Op
      switch turn {
      case 0: op = .createFile(path: file, content: content(version), encoding: .utf8)
      case 1: op = .readFile(path: file)
      case 2: op = .editFile(path: file, oldText: "version \(version)\n", newText: "version \(version + 1)\n")
      case 3: op = .shell(command: "echo agent \(index) step \(step)", timeoutMs: nil)
      case 4: op = .message(text: "agent \(index) step \(step)")
      default: op = .shell(command: "true", timeoutMs: nil)
      }
      let start = clock.now
      let result: OperationResult
      do {
        result = try await client.submit(op, to: space)
      } catch {
        outcome.failures.append("agent \(index) step \(step) (\(op.kind.rawValue)): the call failed: \(error)")
        continue
      }
      let took = (clock.now - start).milliseconds
      outcome.latencies.append(took)
      outcome.latenciesByKind[op.kind.rawValue, default: []].append(took)
      if !result.id.isEmpty { outcome.acknowledged.append((result.space, result.id)) }
      guard result.status == .completed else {
        let why = result.error.map { "\($0.code): \($0.message)" } ?? result.reason ?? "?"
        outcome.failures.append("agent \(index) step \(step) (\(op.kind.rawValue)): \(result.status.rawValue): \(why)")
        continue
      }
      // The answers are what this agent wrote, not another's.
      switch turn {
      case 1 where result.content != content(version):
        outcome.failures.append("agent \(index) step \(step): readFile returned other content")
      case 2: version += 1
      case 3 where result.stdout != "agent \(index) step \(step)\n":
        outcome.failures.append("agent \(index) step \(step): echo printed \(result.stdout ?? "nothing")")
      default: break
      }
    }
    return outcome
  }
}
