import DeviceCore

/// `run`'s own options: what to send and for how long.
struct RunOptions: Equatable {
    static let specs: [OptionSpec] = [
        OptionSpec("--messages", value: "messages", help: "Number of telemetry messages (0-1000000000; default 3), or forever: one every --interval until stopped."),
        OptionSpec("--interval", value: "interval", help: "Seconds between messages (0-86400; decimals allowed; default 1)."),
        OptionSpec("--duration", value: "duration", help: "Seconds to stay connected after the messages are acknowledged (0-2147483, 24 days; default 0), or forever: until SIGINT/SIGTERM."),
        OptionSpec("--body", value: "body", help: "Send this JSON body instead of the walkthrough's message."),
        OptionSpec("--body-command", value: "body-command", help: "Run this with /bin/sh -c before each message and send its output (one JSON object) as the body; MESSAGE_INDEX, MESSAGE_COUNT and DEVICE_ID are in its environment; it may take 10 s."),
        OptionSpec("--reprovision", help: "Register with DPS even if --state holds an assignment."),
        OptionSpec("--hub-port", value: "hub-port", help: "IoT Hub port (1-65535; default 8883)."),
        OptionSpec("--report", value: "json", repeatable: true, help: "A reported-properties patch (a JSON object) sent to the device twin after connecting; repeatable, sent in order."),
        OptionSpec("--method", value: "name=command", repeatable: true, help: "On direct method NAME, run COMMAND with /bin/sh -c: the request payload on stdin, METHOD_NAME and DEVICE_ID in its environment; its stdout (JSON; empty: null) answers with 200 if it exits 0, else 500 with its stderr as {\"error\": …}; 504 past \(HubFeaturePlan.methodTimeoutSeconds) s. A method without one gets 404. Repeatable."),
        OptionSpec("--on-desired", value: "command", help: "Run COMMAND with each desired-properties document on stdin (the twin's desired part after every connect, then each patch, with $version); a JSON object it prints is sent as a reported patch."),
    ]

    var messages: CountOrForever
    var interval: Double
    var duration: CountOrForever
    var body: String?
    var bodyCommand: String?
    var reprovision: Bool
    var hubPort: UInt16
    var reports: [String]
    var methods: [String]
    var onDesired: String?

    init(_ parsed: ParsedOptions) throws(UsageError) {
        messages = try parsed.value("--messages", default: .count(3), expected: "a whole number or forever") { CountOrForever($0) }
        interval = try parsed.value("--interval", default: 1, expected: "a number of seconds") { Double($0) }
        duration = try parsed.value("--duration", default: .count(0), expected: "a whole number of seconds or forever") { CountOrForever($0) }
        body = parsed.string("--body")
        bodyCommand = parsed.string("--body-command")
        reprovision = parsed.flag("--reprovision")
        hubPort = try parsed.value("--hub-port", default: 8883, expected: "a port from 1 to 65535") { UInt16($0).flatMap { $0 > 0 ? $0 : nil } }
        reports = parsed.strings("--report")
        methods = parsed.strings("--method")
        onDesired = parsed.string("--on-desired")
    }

    func validate() throws(UsageError) {
        if case .count(let count) = messages, !(0...1_000_000_000).contains(count) {
            throw UsageError("--messages must be 0 to 1000000000, or forever; got \(count)")
        }
        if !interval.isFinite || !(0...86_400).contains(interval) { throw UsageError("--interval must be 0 to 86400 seconds, got \(interval)") }
        if case .count(let seconds) = duration, !(0...Int(DeviceDuration.maximumSeconds)).contains(seconds) {
            throw UsageError("--duration must be 0 to \(DeviceDuration.maximumSeconds) seconds (24 days), or forever; got \(seconds)")
        }
        if body != nil && bodyCommand != nil { throw UsageError("--body and --body-command both give the message body: pass one") }
        if bodyCommand == "" { throw UsageError("--body-command is empty: pass the command that prints the body") }
        if let body, let problem = JSONCheck.problem(in: body) { throw UsageError("--body is not valid JSON: \(problem)") }
        if let body, body.utf8.count > IoTHubTopics.maximumMessageSize {
            throw UsageError("--body is \(body.utf8.count) bytes; IoT Hub accepts at most \(IoTHubTopics.maximumMessageSize)")
        }
        for report in reports {
            if let problem = HubFeaturePlan.reportProblem(report) { throw UsageError("--report \(problem)") }
        }
        var names = Set<String>()
        for method in methods {
            let (name, command) = HubFeaturePlan.split(method)
            if let problem = HubFeaturePlan.methodProblem(name: name, command: command, spec: method) { throw UsageError("--method \(problem)") }
            guard names.insert(name).inserted else { throw UsageError("--method \(name) is given twice: one command per method") }
        }
        if onDesired == "" { throw UsageError("--on-desired is empty: pass the command that takes the desired properties") }
    }

    /// The twin and methods to serve, or `nil` when the run only sends telemetry (no twin or
    /// method option, and it leaves after the messages).
    var hubFeatures: HubFeaturePlan? {
        guard !reports.isEmpty || !methods.isEmpty || onDesired != nil || duration != .count(0) else { return nil }
        return HubFeaturePlan(
            reports: reports, methods: Dictionary(uniqueKeysWithValues: methods.map(HubFeaturePlan.split)), onDesired: onDesired)
    }

    var plan: TelemetryPlan {
        let count: Int?
        if case .count(let n) = messages { count = n } else { count = nil }
        let stay: DeviceDuration?
        if case .count(let seconds) = duration { stay = .seconds(Int32(seconds)) } else { stay = nil }
        let source: TelemetryPlan.Body = body.map { .fixed($0) } ?? bodyCommand.map { .command($0) } ?? .walkthrough
        return TelemetryPlan(messages: count, interval: DeviceDuration(milliseconds: Int32((interval * 1000).rounded())),
                             stayConnected: stay, body: source, hubFeatures: hubFeatures)
    }
}
