import Foundation
import SpacesTestSupport
import Testing

@testable import SpacesKit

@Suite struct SpacesHomeTests {
  @Test func createsListsLoadsAndDeletes() throws {
    let folder = TempFolder("home")
    let home = SpacesHome(path: folder.path)
    let config = try home.create(name: "alpha", policy: .restrictive, backend: .host)
    #expect(config.ownsWorkspace)
    #expect(config.workspace == folder.path + "/spaces/alpha/workspace")
    #expect(FileManager.default.fileExists(atPath: config.workspace))
    _ = try home.create(name: "beta")
    #expect(home.names() == ["alpha", "beta"])
    let loaded = try home.load("alpha")
    #expect(loaded == config)
    #expect(loaded.policy == .restrictive)
    try home.delete("alpha")
    #expect(home.names() == ["beta"])
    #expect(!FileManager.default.fileExists(atPath: config.workspace))
  }

  @Test(arguments: [
    "", "Upper", "-lead", ".hidden", "a/b", "a b", "名前", String(repeating: "a", count: 65), "..", "x\0y",
  ])
  func rejectsBadNames(name: String) {
    let home = SpacesHome(path: TempFolder("home").path)
    expectError(.invalidName) { try home.create(name: name) }
  }

  @Test func acceptsGoodNames() throws {
    let folder = TempFolder("home")
    let home = SpacesHome(path: folder.path)
    for name in ["a", "0day", "my-space_2.0", String(repeating: "z", count: 64)] {
      _ = try home.create(name: name)
    }
  }

  @Test func duplicateAndMissingSpacesAreClearErrors() throws {
    let folder = TempFolder("home")
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "one")
    let duplicate = expectError(.spaceExists) { try home.create(name: "one") }
    #expect(duplicate?.message.contains("spaces space rm one") == true)
    expectError(.spaceNotFound) { try home.load("two") }
    expectError(.spaceNotFound) { try home.delete("two") }
  }

  @Test func aBroughtWorkspaceIsNeverDeleted() throws {
    let folder = TempFolder("home")
    let mine = TempFolder("mine")
    try mine.write("keep.txt", "precious")
    let home = SpacesHome(path: folder.path)
    let config = try home.create(name: "brought", workspace: mine.path)
    #expect(!config.ownsWorkspace)
    #expect(config.workspace == mine.path)
    try home.delete("brought")
    #expect(mine.read("keep.txt") == "precious")
  }

  @Test func aMissingWorkspaceFolderIsRefused() {
    let home = SpacesHome(path: TempFolder("home").path)
    expectError(.notFound) { try home.create(name: "x", workspace: "/nonexistent/folder") }
    #expect(home.names().isEmpty)
  }

  @Test func deletingDoesNotFollowSymlinksOutOfTheWorkspace() throws {
    let folder = TempFolder("home")
    let outside = TempFolder("outside")
    try outside.write("secret.txt", "do not delete")
    let home = SpacesHome(path: folder.path)
    let config = try home.create(name: "linked")
    #expect(symlink(outside.path, config.workspace + "/escape") == 0)
    #expect(symlink(outside.path + "/secret.txt", config.workspace + "/file-link") == 0)
    try home.delete("linked")
    #expect(outside.read("secret.txt") == "do not delete")
  }

  @Test func aBrokenConfigIsAnErrorThatNamesTheFile() throws {
    let folder = TempFolder("home")
    let home = SpacesHome(path: folder.path)
    _ = try home.create(name: "broken")
    try Data("{ not json".utf8).write(to: URL(fileURLWithPath: home.configPath("broken")))
    let error = expectError(.invalidConfig) { try home.load("broken") }
    #expect(error?.message.contains("space.json") == true)
  }

  @Test func theHomeFollowsTheEnvironment() {
    #expect(SpacesHome.fromEnvironment(["SPACES_HOME": "/a/b"]).path == "/a/b")
    #expect(SpacesHome.fromEnvironment(["XDG_DATA_HOME": "/x", "HOME": "/h"]).path == "/x/agent-spaces")
    #expect(SpacesHome.fromEnvironment(["HOME": "/h"]).path == "/h/.local/share/agent-spaces")
  }
}
