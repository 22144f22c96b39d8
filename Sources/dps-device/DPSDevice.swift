import ArgumentParser

/// The `dps-device` command line: the device (provision, run), its certificates, the local
/// stand-ins for Azure, and the MQTT packet inspector.
@main
struct DPSDevice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dps-device",
        abstract: "Azure IoT device tools.",
        subcommands: [ProvisionCommand.self, RunCommand.self, CertsCommand.self, StandInCommand.self, MonitorCommand.self, ModemCommand.self, MQTTCommand.self]
    )
}
