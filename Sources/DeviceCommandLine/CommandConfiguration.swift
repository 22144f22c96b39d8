/// What `provision` or `run` was asked to do, read and checked from the arguments and the
/// environment: everything before the first file is read or packet sent. The same input always
/// gives the same configuration or the same `UsageError` (the fuzz target `options` checks it).
enum CommandConfiguration: Equatable {
    /// `-h` or `--help`: print the command's help page.
    case help
    case provision(ResolvedDeviceOptions)
    case run(ResolvedDeviceOptions, RunOptions)

    /// Reads `arguments` (after the command's name) for `command`, with `environment` for the
    /// variables the options fall back to.
    init(_ command: DeviceCommand, arguments: ArraySlice<String>, environment: Environment) throws(UsageError) {
        let parsed = try ParsedOptions(arguments, specs: command.help.specs)
        if parsed.wantsHelp {
            self = .help
            return
        }
        let options = try DeviceOptions(parsed).resolved(environment: environment)
        guard command == .run else {
            self = .provision(options)
            return
        }
        let run = try RunOptions(parsed)
        try run.validate()
        self = .run(options, run)
    }
}
