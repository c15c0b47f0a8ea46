// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
  name: "agent-spaces",
  // Linux only (bubblewrap, cgroups, pidfd, Glibc): no `platforms` entry claims macOS support.
  products: [
    .executable(name: "spaces", targets: ["SpacesTUI"]),
    .executable(name: "spaces-spare", targets: ["SpacesSpare"]),
    .library(name: "SpacesKit", targets: ["SpacesKit"]),
    .library(name: "SpacesClientKit", targets: ["SpacesClientKit"]),
    .library(name: "SpacesModel", targets: ["SpacesModel"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
  ],
  targets: [
    .systemLibrary(
      name: "CCurses",
      pkgConfig: "ncursesw",
      providers: [.apt(["libncursesw5-dev"])]
    ),
    .target(name: "CSpacesSys"),
    // The small process a shell command is exec'd from (see Spawner); beside `spaces`. It also
    // runs inside the sandbox (a persistent sandbox's zygote), where the toolchain's Swift
    // runtime libraries are not: the runtime the toolchain links in anyway is linked statically.
    .executableTarget(
      name: "SpacesSpare", dependencies: ["CSpacesSys"],
      linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
    // The layers, lowest first (docs/architecture.md; script/check-layers keeps them honest).
    // The vocabulary: operations, events, results, configs, errors, JSON and the wire.
    .target(
      name: "SpacesModel",
      dependencies: [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strict
    ),
    // What is allowed: the policy engine, policy files, the shell analyzer. Pure decisions.
    .target(
      name: "SpacesPolicy",
      dependencies: ["SpacesModel", .product(name: "Yams", package: "Yams")],
      swiftSettings: strict
    ),
    // What enforces it: the backends, the spawner, cgroups, the confined workspace.
    .target(
      name: "SpacesSandbox",
      dependencies: [
        "SpacesModel", "SpacesPolicy", "CSpacesSys",
        .product(name: "Subprocess", package: "swift-subprocess"),
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      swiftSettings: strict
    ),
    // A client of `spaces serve` (and the demo agent): the vocabulary only, never the runtime.
    .target(
      name: "SpacesClientKit",
      dependencies: [
        "SpacesModel",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    // The runtime: spaces, the journal, approvals, the store, changes and the server.
    .target(
      name: "SpacesKit",
      dependencies: [
        "SpacesModel", "SpacesPolicy", "SpacesSandbox", "CSpacesSys",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strict
    ),
    .target(name: "CWorkbench"),
    .target(
      name: "SpacesWorkbench",
      dependencies: ["SpacesModel", "CWorkbench"],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "SpacesTUI",
      dependencies: [
        "SpacesModel", "SpacesPolicy", "SpacesSandbox", "SpacesClientKit", "SpacesKit",
        "SpacesWorkbench",
        "CCurses",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Subprocess", package: "swift-subprocess"),
        .product(name: "SystemPackage", package: "swift-system"),
        .product(name: "MCP", package: "swift-sdk"),
      ],
      swiftSettings: strict
    ),
    // One temp-folder helper and one wait-with-a-deadline for the three test targets.
    .target(
      name: "SpacesTestSupport", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
      path: "Tests/SpacesTestSupport", swiftSettings: strict),
    .testTarget(
      name: "SpacesKitTests", dependencies: ["SpacesModel", "SpacesPolicy", "SpacesSandbox", "SpacesClientKit", "SpacesKit", "CSpacesSys",
        "SpacesTestSupport",
      ],
      swiftSettings: strict),
    .testTarget(
      name: "SpacesTUITests", dependencies: ["SpacesModel", "SpacesPolicy", "SpacesSandbox", "SpacesClientKit", "SpacesKit", "CSpacesSys",
        "SpacesTestSupport",
      ],
      swiftSettings: strict),
    .testTarget(
      name: "SpacesWorkbenchTests", dependencies: ["SpacesWorkbench", "SpacesModel", "SpacesKit", "SpacesTestSupport"],
      exclude: ["__Snapshots__"], swiftSettings: strict),
  ]
)
