// The gateway agent: `dps-device provision` and `dps-device run` and nothing else, as
// `make dist` ships it (bin/dps-device). The developer build's `dps-device` has the same two
// commands, from the same module, beside the host tools.
import DeviceCommandLine
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
let usage = """
    OVERVIEW: Azure IoT device agent: DPS provisioning and IoT Hub telemetry.

    USAGE: dps-device <subcommand>

    SUBCOMMANDS:
    \(DeviceCommandLine.commands.map { "  \($0.name)\(String(repeating: " ", count: 12 - $0.name.count))\($0.abstract)" }.joined(separator: "\n"))

      See 'dps-device help <subcommand>' for detailed help. (The certificate tool, the local
      stand-ins and the packet inspector are in the developer build of dps-device.)

    """
switch arguments.first {
case .some(let command) where DeviceCommandLine.helpText(command) != nil:
    exit(DeviceCommandLine.main(command: command, arguments: arguments.dropFirst()))
case "help":
    if let command = arguments.dropFirst().first {
        guard let text = DeviceCommandLine.helpText(command) else {
            Output.note("Error: no subcommand '\(command)'; this build has: provision, run\n")
            exit(64)
        }
        Output.raw(text)
    } else {
        Output.raw(usage)
    }
    exit(0)
case nil, "-h", "--help":
    Output.raw(usage)
    exit(0)
case .some(let other):
    Output.note("Error: unknown subcommand '\(other)'\n\n" + usage)
    exit(64)
}
