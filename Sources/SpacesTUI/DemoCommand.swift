import ArgumentParser
import Foundation
import SpacesClientKit
import SpacesKit
import SpacesModel

struct DemoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Run the scripted demo agent in a space and print its journal as it goes.")

  @Option(help: "The space to use (created with the standard policy if missing).")
  var space = "default"
  @Option(help: "The pause between the agent's steps, in milliseconds.")
  var pauseMs = 400
  @OptionGroup var options: HomeOptions

  func run() async throws {
    let runtime = options.runtime()
    do {
      if (try? runtime.home.load(space)) == nil {
        _ = try runtime.home.create(name: space)
        CLI.print("created space \(space) in \(runtime.home.path)")
      }
      let opened = try runtime.space(space)
      let events = opened.hub.subscribe()
      let printer = Task {
        for await event in events { CLI.print(EventText.line(event)) }
      }
      let name = space
      try await DemoAgent(pause: .milliseconds(pauseMs)).run { operation in
        await runtime.submit(operation, to: name)
      }
      try await Task.sleep(for: .milliseconds(50))
      printer.cancel()
      CLI.print(
        "\nthe demo is done; see it again with `spaces log \(space)`, or try `spaces op \(space) '{\"kind\":\"shell\",\"command\":\"./dist/greet you\"}'`"
      )
    } catch let error as SpacesError {
      throw CLI.fail(error)
    }
  }
}
