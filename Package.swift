// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
  name: "agent-spaces",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "spaces", targets: ["SpacesTUI"]),
    .executable(name: "spaces-spare", targets: ["SpacesSpare"]),
    .library(name: "SpacesKit", targets: ["SpacesKit"]),
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
    .target(
      name: "SpacesKit",
      dependencies: [
        "CSpacesSys",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Subprocess", package: "swift-subprocess"),
        .product(name: "SystemPackage", package: "swift-system"),
        .product(name: "Yams", package: "Yams"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strict
    ),
    .target(name: "CWorkbench"),
    .target(
      name: "SpacesWorkbench",
      dependencies: ["SpacesKit", "CWorkbench"],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "SpacesTUI",
      dependencies: [
        "SpacesKit",
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
    .testTarget(name: "SpacesKitTests", dependencies: ["SpacesKit", "CSpacesSys"], swiftSettings: strict),
    .testTarget(name: "SpacesTUITests", dependencies: ["SpacesKit", "CSpacesSys"], swiftSettings: strict),
    .testTarget(
      name: "SpacesWorkbenchTests", dependencies: ["SpacesWorkbench", "SpacesKit"],
      exclude: ["__Snapshots__"], swiftSettings: strict),
  ]
)
