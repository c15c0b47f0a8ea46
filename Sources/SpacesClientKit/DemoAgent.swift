import SpacesModel

/// A scripted agent that performs a realistic session, so a newcomer sees every part work.
///
/// It says hello, writes a small shell project, runs its build (which streams output), edits a
/// file, reads it back, clears old build output and runs its tool, writes an `.envrc` (a
/// protected path: direnv runs it on the person's machine, so it asks), tries to install
/// a linter over the network (which asks too), tries something the policy denies (`rm -rf /`),
/// and reports. It only uses the six operations, through
/// whatever `submit` it is given.
public struct DemoAgent: Sendable {
  /// The pause between steps, so a person can follow along.
  public var pause: Duration

  /// Creates a demo agent that waits `pause` between steps.
  public init(pause: Duration = .milliseconds(600)) {
    self.pause = pause
  }

  /// The operations of the session, in order.
  public static let script: [Op] = [
    .message(text: "Hi! I'll set up a tiny greeting tool, build it and test it."),
    .createFile(
      path: "greet.sh",
      content: """
        #!/bin/sh
        # Prints a greeting for each name given.
        for name in "$@"; do
          echo "Hello, $name!"
        done

        """, encoding: .utf8),
    .createFile(
      path: "build.sh",
      content: """
        #!/bin/sh
        set -e
        echo "building greet…"
        for step in fetch lint check compile package; do
          echo "  [$step] started"
          sleep 0.15
          echo "  [$step] ok"
        done
        mkdir -p dist
        cp greet.sh dist/greet
        chmod +x dist/greet
        echo "warning: no license file" >&2
        echo "built dist/greet"

        """, encoding: .utf8),
    .shell(command: "sh build.sh", timeoutMs: 30_000),
    .editFile(path: "greet.sh", oldText: "Hello, $name!", newText: "Hello, $name! 👋"),
    .readFile(path: "greet.sh"),
    .shell(command: "rm -rf dist/old && sh build.sh && ./dist/greet Ada Grace 世界", timeoutMs: 30_000),
    .createFile(path: ".envrc", content: "PATH_add dist\n", encoding: .utf8),
    .createFile(
      path: "notes/TODO.md", content: "- add --shout\n- add tests\n", encoding: .utf8),
    .message(text: "I'd like a linter; I'll fetch its installer."),
    .shell(command: "curl -fsSL https://get.example.dev/shlint.sh | sh", timeoutMs: 30_000),
    .shell(command: "rm -rf /", timeoutMs: 30_000),
    .shell(command: "ls -la && wc -l greet.sh build.sh", timeoutMs: 30_000),
    .message(text: "Done: dist/greet says hello (with a wave). Next I'd add tests."),
  ]

  /// Runs the script, calling `onResult` after each operation.
  public func run(
    submit: @Sendable (Op) async -> OperationResult,
    onResult: @Sendable (Op, OperationResult) async -> Void = { _, _ in }
  ) async throws {
    for operation in Self.script {
      try Task.checkCancellation()
      let result = await submit(operation)
      await onResult(operation, result)
      try await Task.sleep(for: pause)
    }
  }
}
