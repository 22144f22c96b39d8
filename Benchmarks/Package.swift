// swift-tools-version:6.1
// `make bench` (scripts/bench.sh): a package of its own, so that the root package's build and
// tests never build ordo-one/benchmark. It depends on the root package by path.
import PackageDescription

// A path dependency's identity is its folder's name (`main` in one clone, anything in another).
let rootIdentity = Context.packageDirectory.split(separator: "/").dropLast().last.map { String($0).lowercased() } ?? "main"

let package = Package(
    name: "swift-azure-iot-device-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // ns/op and mallocs/op of the codec, JSON, DPS parsing and the session (ordo-one/benchmark).
        .executableTarget(
            name: "DeviceCoreBenchmarks",
            dependencies: [
                .product(name: "DeviceCore", package: rootIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DeviceCoreBenchmarks",
            // Language mode 5, as ordo-one/benchmark's own targets: the fixtures are unsafe
            // pointers shared by the benchmark closures, which Swift 6 checks as Sendable.
            swiftSettings: [.swiftLanguageMode(.v5)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // 10,000 QoS 1 publishes over TLS with MQTTClient + TLSTransport, for the throughput row.
        .executableTarget(
            name: "tls-publish",
            dependencies: [
                .product(name: "DeviceCore", package: rootIdentity),
                .product(name: "LinuxBoard", package: rootIdentity),
            ],
            path: "Sources/tls-publish"
        ),
        // One codec operation in a loop, for callgrind's instruction counts and for perf.
        .executableTarget(
            name: "codec-profile",
            dependencies: [.product(name: "DeviceCore", package: rootIdentity)],
            path: "Sources/codec-profile"
        ),
    ],
    swiftLanguageModes: [.v6]
)
