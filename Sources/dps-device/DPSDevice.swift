import ArgumentParser

/// The `dps-device` command line: today the MQTT packet inspector, later the device itself.
@main
struct DPSDevice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dps-device",
        abstract: "Azure IoT device tools.",
        subcommands: [MQTTCommand.self]
    )
}
