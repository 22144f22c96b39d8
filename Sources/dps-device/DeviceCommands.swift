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
        abstract: "Register the device with DPS (X.509) and print the assigned hub and device id.")

    @OptionGroup var device: DeviceOptions

    func run() throws {
        let options = try device.resolved()
        StopSignals.install()
        try reportingErrors {
            let runner = try DeviceRunner(options: options)
            let assignment = try runner.provision()
            runner.reportAssignment(assignment)
        }
    }
}

/// `dps-device run`: provision, then send telemetry to the assigned hub and wait for every PUBACK.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Provision through DPS, then send telemetry to the assigned IoT Hub.")

    @OptionGroup var device: DeviceOptions

    @Option(name: .long, help: "Number of telemetry messages.")
    var messages: Int = 3

    @Option(name: .long, help: "Seconds between messages (0 allowed; decimals allowed).")
    var interval: Double = 1

    @Option(name: .long, help: "Send this JSON body instead of the walkthrough's message.")
    var body: String?

    @Option(name: .long, help: "IoT Hub port.")
    var hubPort: UInt16 = 8883

    func validate() throws {
        if messages < 0 { throw ValidationError("--messages must be 0 or more, got \(messages)") }
        if interval < 0 || !interval.isFinite { throw ValidationError("--interval must be 0 or more seconds, got \(interval)") }
        if let body, let problem = JSONCheck.problem(in: body) { throw ValidationError("--body is not valid JSON: \(problem)") }
        if let body, body.utf8.count > IoTHubTopics.maximumMessageSize {
            throw ValidationError("--body is \(body.utf8.count) bytes; IoT Hub accepts at most \(IoTHubTopics.maximumMessageSize)")
        }
    }

    func run() throws {
        let options = try device.resolved()
        StopSignals.install()
        try reportingErrors {
            let runner = try DeviceRunner(options: options)
            let assignment = try runner.provision()
            runner.reportAssignment(assignment)
            let gap = DeviceDuration(milliseconds: Int64((interval * 1000).rounded()))
            // Enough for every message, its interval and a generous wait for the last PUBACK.
            let deadline = DeviceDuration(milliseconds: gap.milliseconds * Int64(max(messages, 1))) + .seconds(Int64(options.timeoutSeconds))
            try runner.sendTelemetry(
                hub: assignment.hub, port: hubPort, deviceID: assignment.deviceID, count: messages,
                interval: gap, body: body, deadline: deadline)
            runner.reporter.step("done", ["messages": .int(messages)], "Done: \(messages) message\(messages == 1 ? "" : "s") sent and acknowledged.")
        }
    }
}
