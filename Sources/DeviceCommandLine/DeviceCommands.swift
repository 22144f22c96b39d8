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
    public static let commands: [(name: String, abstract: String)] = [
        ("provision", provisionHelp.abstract),
        ("run", runHelp.abstract),
    ]

    /// Runs `provision` or `run` with `arguments` (after the command's name); returns the exit
    /// status (docs/dps-device.md lists them).
    public static func main(command: String, arguments: ArraySlice<String>) -> Int32 {
        let help: CommandHelp
        switch command {
        case "provision": help = provisionHelp
        case "run": help = runHelp
        default:
            Output.note("Error: unknown subcommand '\(command)'; this has provision and run\n")
            return ExitStatus.usage.rawValue
        }
        do throws(UsageError) {
            if let problem = ArgumentBytes.firstInvalidArgument() { throw UsageError(problem) }
            let parsed = try ParsedOptions(arguments, specs: help.specs)
            if parsed.wantsHelp {
                Output.raw(help.text)
                return ExitStatus.success.rawValue
            }
            let device = try DeviceOptions(parsed)
            let options = try device.resolved()
            if command == "provision" { return provision(options) }
            let run = try RunOptions(parsed)
            try run.validate()
            return self.run(options, run)
        } catch {
            Output.note("Error: \(error.message)\n\(help.usage)\n")
            return ExitStatus.usage.rawValue
        }
    }

    /// The help page of `command`, or `nil` if it is not one of these.
    public static func helpText(_ command: String) -> String? {
        switch command {
        case "provision": return provisionHelp.text
        case "run": return runHelp.text
        default: return nil
        }
    }

    static let provisionHelp = CommandHelp(
        name: "provision",
        abstract: "Register the device with DPS (X.509) and print the assigned hub and device id.",
        discussion: "With --state, the assignment is saved there for `run` (which then skips DPS).",
        specs: DeviceOptions.specs)

    static let runHelp = CommandHelp(
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

/// `run`'s own options: what to send and for how long.
struct RunOptions {
    static let specs: [OptionSpec] = [
        OptionSpec("--messages", value: "messages", help: "Number of telemetry messages (0-1000000000; default 3), or forever: one every --interval until stopped."),
        OptionSpec("--interval", value: "interval", help: "Seconds between messages (0-86400; decimals allowed; default 1)."),
        OptionSpec("--duration", value: "duration", help: "Seconds to stay connected after the messages are acknowledged (0-315360000; default 0), or forever: until SIGINT/SIGTERM."),
        OptionSpec("--body", value: "body", help: "Send this JSON body instead of the walkthrough's message."),
        OptionSpec("--body-command", value: "body-command", help: "Run this with /bin/sh -c before each message and send its output (one JSON object) as the body; MESSAGE_INDEX, MESSAGE_COUNT and DEVICE_ID are in its environment; it may take 10 s."),
        OptionSpec("--reprovision", help: "Register with DPS even if --state holds an assignment."),
        OptionSpec("--hub-port", value: "hub-port", help: "IoT Hub port (1-65535; default 8883)."),
    ]

    var messages: CountOrForever
    var interval: Double
    var duration: CountOrForever
    var body: String?
    var bodyCommand: String?
    var reprovision: Bool
    var hubPort: UInt16

    init(_ parsed: ParsedOptions) throws(UsageError) {
        messages = try parsed.value("--messages", default: .count(3), expected: "a whole number or forever") { CountOrForever($0) }
        interval = try parsed.value("--interval", default: 1, expected: "a number of seconds") { Double($0) }
        duration = try parsed.value("--duration", default: .count(0), expected: "a whole number of seconds or forever") { CountOrForever($0) }
        body = parsed.string("--body")
        bodyCommand = parsed.string("--body-command")
        reprovision = parsed.flag("--reprovision")
        hubPort = try parsed.value("--hub-port", default: 8883, expected: "a port from 1 to 65535") { UInt16($0).flatMap { $0 > 0 ? $0 : nil } }
    }

    func validate() throws(UsageError) {
        if case .count(let count) = messages, !(0...1_000_000_000).contains(count) {
            throw UsageError("--messages must be 0 to 1000000000, or forever; got \(count)")
        }
        if !interval.isFinite || !(0...86_400).contains(interval) { throw UsageError("--interval must be 0 to 86400 seconds, got \(interval)") }
        if case .count(let seconds) = duration, !(0...315_360_000).contains(seconds) {
            throw UsageError("--duration must be 0 to 315360000 seconds (10 years), or forever; got \(seconds)")
        }
        if body != nil && bodyCommand != nil { throw UsageError("--body and --body-command both give the message body: pass one") }
        if bodyCommand == "" { throw UsageError("--body-command is empty: pass the command that prints the body") }
        if let body, let problem = JSONCheck.problem(in: body) { throw UsageError("--body is not valid JSON: \(problem)") }
        if let body, body.utf8.count > IoTHubTopics.maximumMessageSize {
            throw UsageError("--body is \(body.utf8.count) bytes; IoT Hub accepts at most \(IoTHubTopics.maximumMessageSize)")
        }
    }

    var plan: TelemetryPlan {
        let count: Int?
        if case .count(let n) = messages { count = n } else { count = nil }
        let stay: DeviceDuration?
        if case .count(let seconds) = duration { stay = .seconds(Int64(seconds)) } else { stay = nil }
        let source: TelemetryPlan.Body = body.map { .fixed($0) } ?? bodyCommand.map { .command($0) } ?? .walkthrough
        return TelemetryPlan(messages: count, interval: DeviceDuration(milliseconds: Int64((interval * 1000).rounded())),
                             stayConnected: stay, body: source)
    }
}
