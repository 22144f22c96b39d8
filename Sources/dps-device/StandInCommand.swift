import ArgumentParser

/// `dps-device standin …`: the local DPS emulator.
struct StandInCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "standin",
        abstract: "Run local stand-ins for Azure DPS.",
        subcommands: [])
}

/// `dps-device monitor`: print telemetry arriving at the hub stand-in like `az iot hub monitor-events`.
struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Print every telemetry message arriving at the local IoT Hub stand-in.")
}
