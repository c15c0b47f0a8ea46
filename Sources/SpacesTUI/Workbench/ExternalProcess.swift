import Foundation
import Subprocess
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Starts the workbench's own helpers — the `--agent` command and `$EDITOR` — so that they get
/// nothing of the runtime but stdin, stdout and stderr.
///
/// Foundation's `Process` lets a child inherit every descriptor not marked close-on-exec, and
/// the server's sockets (the listener, every client's connection) are not: an agent started
/// that way could accept the supervisor's connections. swift-subprocess closes everything else.
enum ExternalProcess {
  /// Where the child's standard streams go.
  enum Streams {
    /// The workbench's own terminal (for an editor).
    case terminal
    /// stdin from /dev/null, stdout and stderr to this file.
    case log(String)
  }

  /// Runs `/bin/sh -c script` (with `arguments` as `$0`, `$1`…) and returns its exit status;
  /// `started` gets its pid once it runs.
  static func run(
    script: String, arguments: [String] = [], environment: [String: String], streams: Streams,
    started: @escaping @Sendable (pid_t) -> Void = { _ in }
  ) async throws -> Int32 {
    var env: [Environment.Key: String] = [:]
    for (key, value) in environment {
      if let name = Environment.Key(rawValue: key) { env[name] = value }
    }
    let executable = Executable.path(FilePath("/bin/sh"))
    let argv = Arguments(["-c", script] + arguments)
    let status: TerminationStatus
    switch streams {
    case .terminal:
      status = try await Subprocess.run(
        executable, arguments: argv, environment: .custom(env),
        input: .fileDescriptor(.standardInput, closeAfterSpawningProcess: false),
        output: .fileDescriptor(.standardOutput, closeAfterSpawningProcess: false),
        error: .fileDescriptor(.standardError, closeAfterSpawningProcess: false)
      ) { execution in started(execution.processIdentifier.value) }.terminationStatus
    case .log(let path):
      let out = try FileDescriptor.open(
        FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
      let err = try out.duplicate()
      status = try await Subprocess.run(
        executable, arguments: argv, environment: .custom(env), input: .none,
        output: .fileDescriptor(out, closeAfterSpawningProcess: true),
        error: .fileDescriptor(err, closeAfterSpawningProcess: true)
      ) { execution in started(execution.processIdentifier.value) }.terminationStatus
    }
    switch status {
    case .exited(let code): return code
    case .signaled(let signal): return 128 + signal
    }
  }
}
