import ArgumentParser
import DeviceCore
import HostJSON
import LinuxBoard

/// Runs `body`, turning a `CLIError` into `error: …` on standard error and its exit status.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CLIError {
        Output.error(error.description)
        throw ExitCode(StopSignals.isRequested ? ExitStatus.interrupted.rawValue : error.status.rawValue)
    }
}

/// `dps-device provision`: register through DPS and print the assignment.
struct ProvisionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provision",
        abstract: "Register the device with DPS (X.509) and print the assigned hub and device id.",
        discussion: "With --state, the assignment is saved there for `run` (which then skips DPS).")

    @OptionGroup var device: DeviceOptions

    func run() throws {
        let options = try device.resolved()
        StopSignals.install()
        try reportingErrors {
            _ = try DeviceRunner(options: options).assignment(reprovision: true)
        }
    }
}

/// `dps-device run`: provision (or use the saved assignment), then send telemetry to the
/// assigned hub, wait for every PUBACK, and stay connected as long as asked.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Provision through DPS, then send telemetry to the assigned IoT Hub.",
        discussion: """
            With --state, the assignment is kept across starts: the next run connects straight to \
            the saved hub, and registers with DPS again only when that hub refuses the device \
            (CONNACK 2, 4 or 5), when the file is missing or unusable, or with --reprovision. \
            With --messages forever or --duration forever it runs as a service until SIGINT or \
            SIGTERM, reconnecting with backoff and resending unacknowledged messages.
            """)

    @OptionGroup var device: DeviceOptions

    @Option(name: .long, help: "Number of telemetry messages (0-1000000000), or forever: one every --interval until stopped.")
    var messages: CountOrForever = .count(3)

    @Option(name: .long, help: "Seconds between messages (0-86400; decimals allowed).")
    var interval: Double = 1

    @Option(name: .long, help: "Seconds to stay connected after the messages are acknowledged (0-315360000), or forever: until SIGINT/SIGTERM.")
    var duration: CountOrForever = .count(0)

    @Option(name: .long, help: "Send this JSON body instead of the walkthrough's message.")
    var body: String?

    @Option(name: .long, help: "Run this with /bin/sh -c before each message and send its output (one JSON object) as the body; MESSAGE_INDEX, MESSAGE_COUNT and DEVICE_ID are in its environment.")
    var bodyCommand: String?

    @Flag(name: .long, help: "Register with DPS even if --state holds an assignment.")
    var reprovision = false

    @Option(name: .long, help: "IoT Hub port.")
    var hubPort: UInt16 = 8883

    func validate() throws {
        if case .count(let count) = messages, count > 1_000_000_000 {
            throw ValidationError("--messages must be 0 to 1000000000, or forever; got \(count)")
        }
        if !(0...86_400).contains(interval) || !interval.isFinite { throw ValidationError("--interval must be 0 to 86400 seconds, got \(interval)") }
        if case .count(let seconds) = duration, seconds > 315_360_000 {
            throw ValidationError("--duration must be 0 to 315360000 seconds (10 years), or forever; got \(seconds)")
        }
        if body != nil && bodyCommand != nil { throw ValidationError("--body and --body-command both give the message body: pass one") }
        if bodyCommand == "" { throw ValidationError("--body-command is empty: pass the command that prints the body") }
        if let body, let problem = JSONCheck.problem(in: body) { throw ValidationError("--body is not valid JSON: \(problem)") }
        if let body, body.utf8.count > IoTHubTopics.maximumMessageSize {
            throw ValidationError("--body is \(body.utf8.count) bytes; IoT Hub accepts at most \(IoTHubTopics.maximumMessageSize)")
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

    func run() throws {
        let options = try device.resolved()
        StopSignals.install()
        try reportingErrors {
            let runner = try DeviceRunner(options: options)
            var assignment = try runner.assignment(reprovision: reprovision)
            let result: DeviceRunner.TelemetryResult
            do {
                result = try runner.sendTelemetry(to: assignment, port: hubPort, plan: plan)
            } catch let error as CLIError where error.hubRefusedDevice && assignment.fromState {
                runner.reporter.warning("\(error.description); the saved assignment is stale: registering with DPS again")
                assignment = try runner.assignment(reprovision: true)
                result = try runner.sendTelemetry(to: assignment, port: hubPort, plan: plan)
            }
            let sent = "\(result.acknowledged) message\(result.acknowledged == 1 ? "" : "s") sent and acknowledged"
            if result.stopped {
                runner.reporter.step("stopped", ["messages": .int(result.acknowledged), "not_sent": .int(result.skipped)],
                                     "Stopped by SIGINT/SIGTERM: \(sent).")
                throw ExitCode(ExitStatus.interrupted.rawValue)
            }
            if result.skipped > 0 {
                runner.reporter.step("done", ["messages": .int(result.acknowledged), "not_sent": .int(result.skipped)],
                                     "Done: \(sent); \(result.skipped) not sent (--body-command failed).")
                throw CLIError("\(result.skipped) message\(result.skipped == 1 ? " was" : "s were") not sent because --body-command failed (see above)", status: .messagesNotSent)
            }
            runner.reporter.step("done", ["messages": .int(result.acknowledged)], "Done: \(sent).")
        }
    }
}
