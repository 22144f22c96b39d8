// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "swift-azure-iot-device",
    products: [
        .library(name: "DeviceCore", targets: ["DeviceCore"]),
        // For the Benchmarks/ package (`make bench`): the TLS transport and clock for Linux.
        .library(name: "LinuxBoard", targets: ["LinuxBoard"]),
        .executable(name: "dps-device", targets: ["dps-device"]),
        .executable(name: "dps-device-agent", targets: ["dps-device-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The firmware core: no Foundation, typed throws, builds in Embedded Swift (see `make arm`).
        .target(name: "DeviceCore"),
        // The words for DeviceCore's errors (MQTT rules, JSON, base64, property bags): the host
        // tools' texts, kept out of a firmware that prints codes instead.
        .target(name: "DeviceCoreWords", dependencies: ["DeviceCore"]),
        // The device twin, direct methods and IoT Plug and Play on top of DeviceCore (no
        // Foundation, Embedded Swift too): a module of its own so that a firmware that only
        // sends telemetry links none of it, not even its topic strings.
        .target(name: "DeviceTwinAndMethods", dependencies: ["DeviceCore"]),
        // Host-only JSON trees (ordered members, exact error offsets) for the command line's
        // inspector, stand-ins and log lines; the core has its own non-allocating reader/writer.
        .target(name: "HostJSON"),
        // Host-only helpers that turn packets into JSON and back (the `dps-device mqtt` inspector).
        .target(name: "PacketInspector", dependencies: ["DeviceCore", "DeviceCoreWords", "HostJSON"]),
        // Host-only board for Linux: TCP and mbedTLS transports, monotonic clock, entropy, HMAC.
        .target(name: "LinuxBoard", dependencies: ["DeviceCore", "DeviceCoreWords", "CMbedTLS"]),
        // mbedTLS 2.28 from the system (libmbedtls-dev), for LinuxBoard's TLS transport.
        .systemLibrary(name: "CMbedTLS", path: "Sources/CMbedTLS"),
        // Host-only: makes and inspects certificates with mbedTLS (`dps-device certs`).
        .target(name: "CertificateTool", dependencies: ["CMbedTLS", "LinuxBoard"]),
        // Host-only: local stand-ins for Azure (DPS emulator, hub monitor) for demos and tests.
        .target(name: "StandIn", dependencies: ["DeviceCore", "DeviceCoreWords", "LinuxBoard", "CMbedTLS", "HostJSON"]),
        // Host-only: what makes `dps-device run` a gateway agent (the saved assignment, the
        // user's shell commands for message bodies).
        .target(name: "DeviceAgent", dependencies: ["DeviceCore", "LinuxBoard", "HostJSON"]),
        // `dps-device provision` and `run`, with their own option parser: no ArgumentParser, no
        // Foundation, so that the gateway binary (`make dist`) is small in memory.
        .target(name: "DeviceCommandLine", dependencies: ["DeviceCore", "DeviceCoreWords", "DeviceTwinAndMethods", "DeviceAgent", "LinuxBoard", "HostJSON", "PacketInspector"]),
        // The gateway agent that `make dist` ships as bin/dps-device: provision and run alone.
        .executableTarget(name: "dps-device-agent", dependencies: ["DeviceCommandLine"]),
        .executableTarget(
            name: "dps-device",
            dependencies: [
                "DeviceCore",
                "DeviceCoreWords",
                "DeviceCommandLine",
                "PacketInspector",
                "HostJSON",
                "LinuxBoard",
                "CertificateTool",
                "StandIn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fixtures the test suites share: tools, openssl PKI, mosquitto (plain and TLS), session memory.
        .target(name: "TestSupport", dependencies: ["DeviceCore", "LinuxBoard"], path: "Tests/TestSupport"),
        .testTarget(
            name: "MQTTCodecTests",
            dependencies: ["DeviceCore", "DeviceCoreWords"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ClientTests",
            dependencies: ["DeviceCore", "DeviceTwinAndMethods"]
        ),
        .testTarget(
            name: "MQTTIntegrationTests",
            dependencies: ["DeviceCore", "LinuxBoard", "TestSupport"],
            exclude: ["alloc-count.c"]
        ),
        .testTarget(name: "TextTests", dependencies: ["DeviceCore", "DeviceCoreWords"]),
        .testTarget(name: "TLSTests", dependencies: ["DeviceCore", "LinuxBoard", "TestSupport"]),
        .testTarget(name: "FaultInjectionTests", dependencies: ["DeviceCore", "LinuxBoard", "StandIn", "CertificateTool", "TestSupport"]),
        .testTarget(name: "ModemTests", dependencies: ["DeviceCore", "LinuxBoard", "TestSupport"]),
        .testTarget(name: "CertificateToolTests", dependencies: ["CertificateTool", "LinuxBoard", "TestSupport"]),
        .testTarget(name: "DeviceAgentTests", dependencies: ["DeviceAgent"]),
        .testTarget(
            name: "CommandLineTests",
            dependencies: ["DeviceCore", "DeviceCoreWords", "DeviceCommandLine", "PacketInspector", "HostJSON"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
