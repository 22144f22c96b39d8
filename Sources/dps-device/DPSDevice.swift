import ArgumentParser
import DeviceCommandLine

/// The `dps-device` command line: the device (provision, run), its certificates, the local
/// stand-ins for Azure, and the MQTT packet inspector.
@main
struct DPSDevice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dps-device",
        abstract: "Azure IoT device tools.",
        subcommands: [ProvisionCommand.self, RunCommand.self, CertsCommand.self, StandInCommand.self, MonitorCommand.self, HubServiceCommand.self,
                      ModemCommand.self, MQTTCommand.self]
    )

    /// `help provision` and `help run` print the device commands' own help; the rest is
    /// ArgumentParser's.
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "help", arguments.count == 2, let text = DeviceCommandLine.helpText(arguments.last!) {
            Output.raw(text)
            return
        }
        main(nil)
    }
}

/// `provision` and `run` parse their own options (DeviceCommandLine, which the `make dist`
/// binary is built from alone); here they are only handed everything after their name.
protocol DeviceCommand: ParsableCommand {
    static var name: String { get }
    var arguments: [String] { get }
}

extension DeviceCommand {
    func run() throws {
        let status = DeviceCommandLine.main(command: Self.name, arguments: arguments[...])
        if status != 0 { throw ExitCode(status) }
    }
}

struct ProvisionCommand: DeviceCommand {
    static let name = "provision"
    static let configuration = CommandConfiguration(
        commandName: name, abstract: DeviceCommandLine.commands[0].abstract, helpNames: [])

    @Argument(parsing: .captureForPassthrough, help: "See `dps-device provision --help`.")
    var arguments: [String] = []
}

struct RunCommand: DeviceCommand {
    static let name = "run"
    static let configuration = CommandConfiguration(
        commandName: name, abstract: DeviceCommandLine.commands[1].abstract, helpNames: [])

    @Argument(parsing: .captureForPassthrough, help: "See `dps-device run --help`.")
    var arguments: [String] = []
}

/// Runs `body`; a `CLIError` becomes `error: …` on standard error and its exit status.
func exitingOnError(_ body: () throws -> Void) throws {
    let status = reportingErrors {
        try body()
        return 0
    }
    if status != 0 { throw ExitCode(status) }
}
