import DeviceAgent
import DeviceCore
import DeviceCoreWords
import DeviceTwinAndMethods
import HostJSON

/// `run`'s answers to the twin and to direct methods: `--method` commands, `--on-desired`,
/// the `--report` queue; every event printed as it happens (docs/twin-and-methods.md).
final class ConsoleTwinHandler: TwinAndMethodsHandler {
    let plan: HubFeaturePlan
    let deviceID: String
    let reporter: Reporter
    /// Patches waiting to be sent: `--report`s, then what `--on-desired` printed.
    private var waiting: [String]
    /// The patch handed to the twin last (it copies it before the next call).
    private var current = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
    /// Counts for the end of the run and for tests of it.
    private(set) var methodsAnswered = 0
    private(set) var patchesAccepted = 0

    init(plan: HubFeaturePlan, deviceID: String, reporter: Reporter) {
        self.plan = plan
        self.deviceID = deviceID
        self.reporter = reporter
        waiting = plan.reports
    }

    deinit { current.deallocate() }

    func methodCalled(_ request: DirectMethodRequest, response: UnsafeMutableRawBufferPointer) -> (status: Int, payload: ByteView) {
        let name = request.name.string
        let answer: (status: Int, payload: String)
        if let command = plan.methods[name] {
            answer = MethodCommand(command: command).answer(method: name, deviceID: deviceID, payload: Array(request.payload.buffer))
        } else {
            let known = plan.methods.keys.sorted()
            answer = (404, JSONValue.object([JSONMember("error", .string(
                "no handler for method \(name) on this device" + (known.isEmpty ? "" : "; it has \(known.joined(separator: ", "))")))]).compactText)
        }
        var bytes = Array(answer.payload.utf8)
        if bytes.count > response.count { bytes = Array(#"{"error":"the answer does not fit the response buffer"}"#.utf8) }
        response.copyBytes(from: bytes)
        methodsAnswered += 1
        reporter.step("method", ["method": .string(name), "request_id": .string(request.requestID.string), "status": .int(answer.status), "payload": .string(answer.payload)],
                      "Direct method \(name) called (request \(request.requestID.string), payload \(request.payload.string)): answered \(answer.status) \(answer.payload)")
        return (answer.status, ByteView(baseAddress: response.baseAddress, count: bytes.count))
    }

    func twinChanged(_ action: TwinAction) {
        switch action {
        case .publish:
            break
        case .twin(let document):
            reporter.step("twin", ["desired_version": .int(document.desiredVersion), "desired": .string(document.desired.string), "reported": .string(document.reported.string)],
                          "Twin received: desired properties v\(document.desiredVersion) \(document.desired.string); reported \(document.reported.string)")
            onDesired(document.desired.string)
        case .desiredPatch(let body, let version):
            reporter.step("desired_patch", ["version": .int(version), "patch": .string(body.string)], "Desired properties patch v\(version): \(body.string)")
            onDesired(body.string)
        case .reportedAccepted(let version):
            patchesAccepted += 1
            reporter.step("reported", ["version": version.map { .int($0) } ?? .null],
                          "Reported properties accepted by IoT Hub\(version.map { " (reported v\($0))" } ?? "")")
        case .retrying(let request, let status, let wait):
            reporter.step("twin_retrying", ["request": .string(Self.name(request)), "status": .int(Int(status)), "retry_in_ms": .int(Int(wait.milliseconds))],
                          "IoT Hub answered the twin \(Self.name(request)) with \(status): asking again in \(Describe.seconds(wait))")
        case .rejected(let request, let status):
            reporter.warning("IoT Hub refused the twin \(Self.name(request)) with \(status)\(request == .reportedPatch ? "; the patch is dropped" : "")")
        }
    }

    func malformed(_ error: IoTHubProtocolError) {
        reporter.warning("IoT Hub sent a twin or method message the device cannot read (\(Self.words(error))); it was dropped")
    }

    func nextReport() -> ByteView? {
        guard !waiting.isEmpty else { return nil }
        let bytes = Array(waiting.removeFirst().utf8)
        current.deallocate()
        current = .allocate(byteCount: max(1, bytes.count), alignment: 1)
        current.copyBytes(from: bytes)
        return ByteView(baseAddress: current.baseAddress, count: bytes.count)
    }

    func reportRefused(_ error: TwinError) {
        if case .bufferTooSmall(let tooSmall) = error {
            reporter.warning("a reported patch does not fit: " + tooSmall.words("the twin's patch buffer") + "; it is dropped")
        }
    }

    /// Runs `--on-desired` with `document`; a JSON object it prints is queued as a patch.
    private func onDesired(_ document: String) {
        guard let command = plan.onDesired else { return }
        let run = ShellCommand(command, environment: [("DEVICE_ID", deviceID)], timeoutMilliseconds: Self.onDesiredTimeoutSeconds * 1000,
                               outputLimit: HubFeaturePlan.maximumReportSize + 1).run(input: Array(document.utf8))
        if let failure = run.failure(timeoutSeconds: Self.onDesiredTimeoutSeconds) { return reporter.warning("--on-desired \(failure)") }
        let printed = String(decoding: run.standardOutput, as: UTF8.self).trimmingJSONWhitespace
        // Nothing, or an empty object: nothing to report.
        guard !printed.isEmpty, (try? JSONParser.parse(String(printed))) != .object([]) else { return }
        if let problem = HubFeaturePlan.reportProblem(String(printed)) {
            return reporter.warning("--on-desired printed something that is not a reported patch: it \(problem)")
        }
        waiting.append(String(printed))
    }

    /// How long `--on-desired` may take.
    static let onDesiredTimeoutSeconds: Int64 = 10

    static func name(_ request: TwinRequest) -> String { request == .get ? "GET" : "reported patch" }

    static func words(_ error: IoTHubProtocolError) -> String {
        switch error {
        case .malformedTopic(let offset): return "its topic is malformed at byte \(offset)"
        case .missingTopicKey(let key): return "its topic has no \(key)"
        case .malformedJSON(let json): return "its body is not valid JSON: \(json.summary) at byte \(json.offset)"
        case .notAnObject: return "its body is not a JSON object"
        case .missingVersion: return "it has no integer $version"
        case .requestIDTooLong(let length): return "its request id of \(length) bytes is too long to answer"
        }
    }
}
