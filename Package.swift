// swift-tools-version: 6.2
// Byzantine fault-tolerant state-machine replication (PBFT, and a Zyzzyva-style fast path) for Linux.
// Layers and their import rules: README.md, "Module map".
import PackageDescription

let package = Package(
    name: "swift-bft",
    products: [
        .library(name: "BFTCore", targets: ["BFTCore"]),
        .library(name: "BFTCrypto", targets: ["BFTCrypto"]),
        .library(name: "BFTKeyValue", targets: ["BFTKeyValue"]),
        .library(name: "BFTRuntime", targets: ["BFTRuntime"]),
        .library(name: "BFTSimulator", targets: ["BFTSimulator"]),
        .library(name: "BFTStorage", targets: ["BFTStorage"]),
        .executable(name: "bftsim", targets: ["bftsim"]),
        .executable(name: "bftreplica", targets: ["bftreplica"]),
        .executable(name: "bftclient", targets: ["bftclient"]),
        .library(name: "BFTClient", targets: ["BFTClient"]),
        .executable(name: "bftbench", targets: ["bftbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // System libraries. Named with a C prefix of their own so they cannot collide with the
        // BoringSSL copies that SwiftNIO-SSL and swift-crypto vend.
        .systemLibrary(
            name: "CSodium",
            path: "Sources/CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),

        // The protocol core: Swift standard library only, no I/O.
        .target(name: "BFTCore"),
        // The only Swift code that calls libsodium and libcrypto.
        .target(name: "BFTCrypto", dependencies: ["BFTCore", "CSodium", "COpenSSL"]),
        // The bundled deterministic application.
        .target(name: "BFTKeyValue", dependencies: ["BFTCore"]),
        // The one interpreter of Effects: decode, step, persist, then send.
        .target(name: "BFTRuntime", dependencies: ["BFTCore"]),
        // Durable state on disk: an append-only log file with group commit.
        .target(
            name: "BFTStorage",
            dependencies: ["BFTRuntime", "BFTCore"]
        ),
        // The shell: SwiftNIO TCP mesh and client listener, framing, reconnects, group commit, ticker.
        .target(
            name: "BFTNIO",
            dependencies: [
                "Adversaries", "BFTRuntime", "BFTStorage", "BFTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The async client library over NIO.
        .target(
            name: "BFTClient",
            dependencies: [
                "BFTNIO", "BFTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "bftreplica",
            dependencies: [
                "Adversaries", "BFTNIO", "BFTClient", "BFTStorage", "BFTCrypto", "BFTKeyValue", "BFTCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "bftclient",
            dependencies: [
                "BFTClient", "BFTNIO", "BFTCrypto", "BFTKeyValue", "BFTCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Byzantine behaviours as ReplicaBehaviors, and their catalog.
        .target(name: "Adversaries", dependencies: ["BFTRuntime", "BFTCore"], path: "Adversaries"),
        // Seeded single-threaded simulation with virtual time, a faulty network and the invariant checkers.
        .target(name: "BFTSimulator", dependencies: ["Adversaries", "BFTRuntime", "BFTKeyValue", "BFTCore"]),
        .executableTarget(
            name: "bftsim",
            dependencies: [
                "BFTSimulator", "Adversaries", "BFTCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks. CBaseline times the C libraries called directly from C, so the Swift wrappers'
        // overhead can be read off next to it.
        .target(
            name: "CBaseline",
            path: "bench/CBaseline",
            linkerSettings: [.linkedLibrary("sodium"), .linkedLibrary("crypto")]
        ),
        .executableTarget(
            name: "bftbench",
            dependencies: [
                "BFTCore", "BFTCrypto", "BFTSimulator", "Adversaries", "CBaseline", "BFTClient", "BFTNIO", "BFTStorage",
                "BFTKeyValue",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/bftbench"
        ),

        .testTarget(name: "BFTCoreTests", dependencies: ["BFTCore"]),
        .testTarget(name: "BFTCryptoTests", dependencies: ["BFTCrypto", "BFTCore"]),
        .testTarget(name: "BFTKeyValueTests", dependencies: ["BFTKeyValue", "BFTCore"]),
        .testTarget(
            name: "BFTProcessTests",
            dependencies: [
                "bftreplica", "bftclient", "bftbench", "BFTClient", "BFTNIO", "BFTStorage", "BFTRuntime", "BFTCrypto", "BFTKeyValue", "BFTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "BFTStorageTests", dependencies: ["BFTStorage", "BFTSimulator", "BFTRuntime", "BFTCore", "BFTKeyValue"]),
        .testTarget(
            name: "BFTSimulatorTests", dependencies: ["BFTSimulator", "BFTRuntime", "BFTKeyValue", "BFTCore", "BFTCrypto"]),
    ]
)

// Warnings are errors in this package's own Swift targets only, so a dependency's warning never breaks the build.
for target in package.targets where target.type != .system && target.name != "CBaseline" {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
