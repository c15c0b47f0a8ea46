import CSpacesSys
import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit
@testable import SpacesModel
@testable import SpacesSandbox

#if canImport(Glibc)
  import Glibc
#endif

/// The runner's own spawn: straight into the operation cgroup, or through the launcher.
@Suite struct SpawnTests {
  /// The command's very first process already belongs to the operation cgroup (every
  /// hierarchy of it), and the child gets a clean set of descriptors and stdin from /dev/null.
  @Test func theFirstProcessIsInsideTheCgroup() throws {
    let support = try #require(CgroupSupport.shared, "cgroups are not delegated here")
    let cgroup = try #require(support.makeOperationGroup(limits: ShellLimits()))
    defer { cgroup.remove() }
    let pipes = try PipeSet()
    defer { pipes.closeAll() }
    let plan = LaunchPlan(
      executable: "/bin/sh",
      arguments: ["-c", "cat /proc/self/cgroup; ls /proc/self/fd | wc -l; read x || echo eof"],
      environment: ["PATH": "/usr/bin:/bin"], workingDirectory: "/", treeKind: .processGroup)
    let child = try ShellRunner.spawn(plan, cgroup: cgroup, pipes: pipes)
    pipes.closeChildEnds()
    defer { close(child.pidfd) }
    var output = Data()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = read(pipes.stdoutRead, &buffer, buffer.count)
      if count <= 0 { break }
      output.append(contentsOf: buffer[0..<count])
    }
    let status = cspaces_reap(child.pid)
    #expect(status == 0)
    let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
    let name = try #require(cgroup.directories.first?.split(separator: "/").last.map(String.init))
    // /proc/self/cgroup has one line per hierarchy: each of the operation's names it.
    let inGroup = lines.filter { $0.hasSuffix("/" + name) }
    #expect(inGroup.count == cgroup.directories.count, "\(lines)")
    // stdin, stdout, stderr and the fd ls itself opens: nothing of the parent leaks in.
    #expect(lines.dropLast().last == "4", "\(lines)")
    #expect(lines.last == "eof")
  }

  @Test func aMissingProgramIsAClearError() throws {
    let pipes = try PipeSet()
    defer { pipes.closeAll() }
    let plan = LaunchPlan(
      executable: "/nonexistent/tool", arguments: [], environment: [:], workingDirectory: nil,
      treeKind: .processGroup)
    #expect {
      _ = try ShellRunner.spawn(plan, cgroup: nil, pipes: pipes)
    } throws: { error in
      (error as? SpacesError)?.message.contains("No such file or directory") == true
    }
  }

  /// With spares on, a command runs in a process started ahead of time: the small
  /// `spaces-spare` helper, not a copy of the runtime (whose memory exec would have to tear
  /// down). The command lands in its own operation cgroup, gets its output pipes, and the
  /// waiting spare holds nothing of the runtime open (its sockets and pipes would otherwise
  /// never reach their end).
  @Test func sparesRunCommandsAndHoldNothingOpen() async throws {
    try #require(CgroupSupport.shared != nil, "cgroups are not delegated here")
    SpacesRuntime.enableSpareProcesses()
    let workspace = TempFolder("spare")
    var limits = ShellLimits()
    limits.maxProcesses = 77
    let request = ShellRequest(
      command: "cat /proc/self/cgroup; echo err >&2", workspace: workspace.path, limits: limits, network: false)
    let backend = HostBackend()
    var seen: Set<String> = []
    for _ in 0..<4 {
      let outcome = try await backend.run(request) { _, _ in }
      #expect(outcome.exitCode == 0)
      #expect(outcome.stderr == "err\n")
      let groups = outcome.stdout.split(separator: "\n").compactMap { $0.split(separator: "/").last }
      #expect(!groups.isEmpty)
      seen.formUnion(groups.map(String.init))
      // Wait for the next spare, then look at what it holds.
      var spare: Int32?
      for _ in 0..<500 where spare == nil {
        spare = Spawner.shared.spareProcessIDs().first
        if spare == nil { try await Task.sleep(for: .milliseconds(10)) }
      }
      let pid = try #require(spare, "no spare was made")
      #expect(Sys.realPath("/proc/\(pid)/exe").hasSuffix("/spaces-spare"))
      let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
      let rssKiB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
      #expect((rssKiB ?? .max) < 8192, "the spare is not small: \(rssKiB ?? -1) KiB")
      // It holds only its socket.
      var held: [Int] = []
      for _ in 0..<500 {
        held = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [])
          .compactMap { Int($0) }.filter { $0 > 2 }
        if held.count == 1 { break }
        try await Task.sleep(for: .milliseconds(10))
      }
      #expect(held.count == 1, "the spare holds \(held.sorted())")
    }
    // Every run had a cgroup of its own.
    #expect(seen.count >= 4)
  }

  /// Spares are kept for the few kinds of command used last: after five other kinds have run,
  /// the spares of the first are ended (a space whose limits changed leaves none behind).
  @Test func sparesOfAKindNoLongerUsedAreEnded() async throws {
    SpacesRuntime.enableSpareProcesses()
    let workspace = TempFolder("spare-kinds")
    let backend = HostBackend()
    func limits(_ processes: Int) -> ShellLimits {
      var limits = ShellLimits()
      limits.maxProcesses = processes
      return limits
    }
    func run(_ processes: Int) async throws {
      let request = ShellRequest(command: "true", workspace: workspace.path, limits: limits(processes), network: false)
      #expect(try await backend.run(request) { _, _ in }.exitCode == 0)
    }
    let first = Spawner.SpareKey(cgroup: CgroupSupport.shared != nil, limits: limits(61))
    try await run(61)
    var firstSpares: [Int32] = []
    let deadline = ContinuousClock.now + patience
    while firstSpares.isEmpty && ContinuousClock.now < deadline {
      firstSpares = Spawner.shared.spareProcessIDs(first)
      if firstSpares.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
    }
    try #require(!firstSpares.isEmpty, "no spare was made")
    for processes in 62...66 { try await run(processes) }
    while !Spawner.shared.spareProcessIDs(first).isEmpty && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(10))
    }
    #expect(Spawner.shared.spareProcessIDs(first).isEmpty)
    // And their processes are gone (reaped, not left as zombies or waiting).
    for pid in firstSpares {
      while kill(pid, 0) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
      #expect(kill(pid, 0) != 0, "spare \(pid) still exists")
    }
  }

  /// Without a cgroup, a process that leaves the process group (setsid) can keep the output
  /// pipes open after the command ended: the run still ends, and says so.
  @Test func outputHeldOpenByAnEscapeeEndsTheRunAnyway() async throws {
    let workspace = TempFolder("escapee")
    let pidFile = workspace.path + "/escapee.pid"
    let request = ShellRequest(
      // It waits until the escapee has left the process group (its pid file is written after
      // setsid), or the group's SIGKILL at the end could catch it still inside.
      command:
        "setsid sh -c 'echo $$ > escapee.pid; exec sleep 1234' & while [ ! -s escapee.pid ]; do sleep 0.01; done; echo started",
      workspace: workspace.path,
      limits: ShellLimits(), network: false)
    let outcome = try await ShellRunner.run(
      request, useCgroup: false, onOutput: { _, _ in },
      makePlan: { _ in
        LaunchPlan(
          executable: "/bin/sh", arguments: ["-c", request.command], environment: ["PATH": "/usr/bin:/bin"],
          workingDirectory: workspace.path, treeKind: .processGroup)
      })
    if let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap({
      Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }) {
      kill(pid, SIGKILL)
    }
    #expect(outcome.exitCode == 0)
    #expect(outcome.stdout == "started\n")
    #expect(outcome.stderr.contains("kept its output open"))
  }
}
