import CSpacesSys
import Foundation
import Testing

@testable import SpacesKit

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
}
