#if canImport(Glibc)
import Glibc
#endif
import DeviceCore
import HostJSON
import LinuxBoard

/// `dps-device provision` and `dps-device run`: the device's own commands, with their own small
/// option parser. They are what a gateway runs for years, so they link neither
/// ArgumentParser nor Foundation: the `make dist` binary is these commands alone
/// (docs/dps-device.md has the memory this saves). The host tools' commands (`certs`,
/// `standin`, `mqtt`, …) live in the `dps-device` executable and hand these two over here.
public enum DeviceCommandLine {
    /// The commands, for `dps-device help` and the tools' command list.
    public static let commands: [(name: String, abstract: String)] = DeviceCommand.allCases.map { ($0.rawValue, $0.help.abstract) }

    /// Runs `provision` or `run` with `arguments` (after the command's name); returns the exit
    /// status (docs/dps-device.md lists them).
    public static func main(command name: String, arguments: ArraySlice<String>) -> Int32 {
        guard let command = DeviceCommand(rawValue: name) else {
            Output.note("Error: unknown subcommand '\(name)'; this has provision and run\n")
            return ExitStatus.usage.rawValue
        }
        do throws(UsageError) {
            if let problem = ArgumentBytes.firstInvalidArgument() { throw UsageError(problem) }
            switch try CommandConfiguration(command, arguments: arguments, environment: .process) {
            case .help:
                Output.raw(command.help.text)
                return ExitStatus.success.rawValue
            case .provision(let options):
                return provision(options)
            case .run(let options, let run):
                return self.run(options, run)
            }
        } catch {
            Output.note("Error: \(error.message)\n\(command.help.usage)\n")
            return ExitStatus.usage.rawValue
        }
    }

    /// The help page of `command`, or `nil` if it is not one of these.
    public static func helpText(_ command: String) -> String? {
        DeviceCommand(rawValue: command)?.help.text
    }

    static func provision(_ options: ResolvedDeviceOptions) -> Int32 {
        StopSignals.install()
        return reportingErrors {
            _ = try DeviceRunner(options: options).assignment(reprovision: true)
            return ExitStatus.success.rawValue
        }
    }

    static func run(_ options: ResolvedDeviceOptions, _ run: RunOptions) -> Int32 {
        StopSignals.install()
        return reportingErrors {
            let runner = try DeviceRunner(options: options)
            var assignment = try runner.assignment(reprovision: run.reprovision)
            let result: DeviceRunner.TelemetryResult
            do {
                result = try runner.sendTelemetry(to: assignment, port: run.hubPort, plan: run.plan)
            } catch let error as CLIError where error.hubRefusedDevice && assignment.fromState {
                runner.reporter.warning("\(error.description); the saved assignment is stale: registering with DPS again")
                assignment = try runner.assignment(reprovision: true)
                result = try runner.sendTelemetry(to: assignment, port: run.hubPort, plan: run.plan)
            }
            let sent = "\(result.acknowledged) message\(result.acknowledged == 1 ? "" : "s") sent and acknowledged"
            if result.stopped {
                runner.reporter.step("stopped", ["messages": .int(result.acknowledged), "not_sent": .int(result.skipped)],
                                     "Stopped by SIGINT/SIGTERM: \(sent).")
                return ExitStatus.interrupted.rawValue
            }
            if result.skipped > 0 {
                runner.reporter.step("done", ["messages": .int(result.acknowledged), "not_sent": .int(result.skipped)],
                                     "Done: \(sent); \(result.skipped) not sent (--body-command failed).")
                throw CLIError("\(result.skipped) message\(result.skipped == 1 ? " was" : "s were") not sent because --body-command failed (see above)", status: .messagesNotSent)
            }
            runner.reporter.step("done", ["messages": .int(result.acknowledged)], "Done: \(sent).")
            return ExitStatus.success.rawValue
        }
    }
}

/// Runs `body`, turning a `CLIError` into `error: …` on standard error and its exit status
/// (130 whenever SIGINT/SIGTERM arrived first).
public func reportingErrors(_ body: () throws -> Int32) -> Int32 {
    do {
        return try body()
    } catch let error as CLIError {
        Output.error(error.description)
        return StopSignals.isRequested ? ExitStatus.interrupted.rawValue : error.status.rawValue
    } catch {
        Output.error("\(error)")
        return ExitStatus.configuration.rawValue
    }
}
