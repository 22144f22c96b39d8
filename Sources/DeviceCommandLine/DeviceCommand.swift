/// The device's own commands, and their help pages.
enum DeviceCommand: String, CaseIterable {
    case provision
    case run

    var help: CommandHelp {
        switch self {
        case .provision: return Self.provisionHelp
        case .run: return Self.runHelp
        }
    }

    private static let provisionHelp = CommandHelp(
        name: "provision",
        abstract: "Register the device with DPS (X.509) and print the assigned hub and device id.",
        discussion: "With --state, the assignment is saved there for `run` (which then skips DPS).",
        specs: DeviceOptions.specs)

    private static let runHelp = CommandHelp(
        name: "run",
        abstract: "Provision through DPS, then send telemetry to the assigned IoT Hub.",
        discussion: """
            With --state, the assignment is kept across starts: the next run connects straight to \
            the saved hub, and registers with DPS again only when that hub refuses the device \
            (CONNACK 2, 4 or 5), when the file is missing or unusable, or with --reprovision. \
            With --messages forever or --duration forever it runs as a service until SIGINT or \
            SIGTERM, reconnecting with backoff and resending unacknowledged messages.
            """,
        specs: DeviceOptions.specs + RunOptions.specs)
}
