import DeviceAgent
import DeviceCore
import DeviceCoreWords
import DeviceTwinAndMethods
import HostJSON
import LinuxBoard

/// Provisioning and telemetry on the Linux board with mbedTLS.
final class DeviceRunner {
    typealias Flow = DeviceFlow<TracingTransport, MonotonicClock, ConsoleObserver>
    let options: ResolvedDeviceOptions
    let identity: TLSIdentity
    let registrationID: String
    let text = TextStore()
    let clock = MonotonicClock()
    let reporter: Reporter

    init(options: ResolvedDeviceOptions) throws {
        self.options = options
        reporter = Reporter(format: options.logFormat)
        do {
            identity = try TLSIdentity(caFile: options.caFile, certificateFile: options.certificateFile, keyFile: options.keyFile, passphrase: options.passphrase)
        } catch {
            throw CLIError(error.description, status: error.isRetriable ? .connectionFailed : .configuration)
        }
        let commonName = identity.subjectCommonName ?? ""
        let id = options.registrationID ?? commonName
        if id.isEmpty {
            throw CLIError("no registration id: the certificate \(options.certificateFile) has no CN; pass --registration-id")
        }
        if !commonName.isEmpty && id != commonName {
            throw CLIError("the registration id \"\(id)\" is not the certificate's CN \"\(commonName)\" (\(options.certificateFile)); DPS requires them to be equal for X.509")
        }
        if options.registrationID == nil, let problem = DeviceOptions.registrationIDProblem(id) {
            throw CLIError("the certificate \(options.certificateFile) cannot register: its CN is the registration id, and \(problem)")
        }
        registrationID = id
    }

    func transport(host: String, port: UInt16) -> TracingTransport {
        TracingTransport(TLSTransport(host: host, port: port, identity: identity), tracing: options.verbose ? reporter : nil)
    }

    func makeFlow(endpoint: String) -> Flow {
        Flow(observer: ConsoleObserver(endpoint: endpoint, reporter: reporter), random: SplitMix64(seed: SystemEntropy.randomUInt64()))
    }

    /// Where the device sends telemetry, and whether it came from the state file.
    struct Assignment {
        var hub: String
        var deviceID: String
        var substatus: String
        var payload: String?
        /// Read from `--state` rather than just given by DPS.
        var fromState: Bool
    }

    /// The saved assignment when `--state` holds one for this identity (and `reprovision` is
    /// false); otherwise a DPS registration, saved to `--state`. A state file that cannot be
    /// used is a warning, then a registration as on a first start.
    func assignment(reprovision: Bool) throws -> Assignment {
        if let path = options.statePath, !reprovision {
            do throws(AssignmentStateError) {
                if let saved = try AssignmentState.load(from: path) {
                    if saved.belongs(toScope: options.idScope, registrationID: registrationID, provisioningHost: options.provisioningEndpoint) {
                        reporter.step("assignment_loaded", ["state": .string(path), "assigned_hub": .string(saved.assignedHub), "device_id": .string(saved.deviceID), "saved_at": .string(saved.savedAt)],
                                      "Using the assignment saved in \(path) at \(saved.savedAt): hub \(saved.assignedHub), device id \(saved.deviceID) (no DPS registration)")
                        return Assignment(hub: saved.assignedHub, deviceID: saved.deviceID, substatus: "", payload: nil, fromState: true)
                    }
                    reporter.warning("the state file \(path) is for registration id \(saved.registrationID) in ID scope \(saved.idScope) at \(saved.provisioningHost), not \(registrationID) in \(options.idScope) at \(options.provisioningEndpoint): registering with DPS")
                }
            } catch {
                reporter.warning("the state file \(path) \(error.summary); registering with DPS")
            }
        }
        let assignment = try provision()
        reportAssignment(assignment)
        if let path = options.statePath {
            let state = AssignmentState(
                idScope: options.idScope, registrationID: registrationID, provisioningHost: options.provisioningEndpoint,
                assignedHub: assignment.hub, deviceID: assignment.deviceID, savedAt: WallClock.timestamp())
            do throws(AssignmentStateError) {
                try state.save(to: path)
                reporter.step("assignment_saved", ["state": .string(path)], "Saved the assignment in \(path)")
            } catch {
                reporter.warning("the assignment could not be saved: the state file \(path) \(error.summary); the next start registers with DPS again")
            }
        }
        return assignment
    }

    /// Registers with DPS.
    func provision() throws -> Assignment {
        let memory = SessionMemory(receiveBytes: 8 * 1024, outboxBytes: 8 * 1024)
        var configuration = DPSConfiguration(
            idScope: text.view(options.idScope), registrationID: text.view(registrationID),
            userAgent: text.view(DeviceOptions.userAgent),
            customPayload: options.payload.map { text.view($0) })
        configuration.overallTimeout = .seconds(Int32(options.timeoutSeconds))
        configuration.jitterSeed = SystemEntropy.randomUInt64()
        memory.subscriptions[0] = DPSRegistration.subscription
        let connect: MQTTConnect
        do { connect = try DPSRegistration.connectPacket(for: configuration, keepAlive: options.keepAlive, userNameBuffer: memory.connectText) }
        catch { throw CLIError("the DPS user name is too long: " + error.words("its buffer")) }
        let session = MQTTSession(
            configuration: MQTTSessionConfiguration(connect: connect, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(rebasing: memory.subscriptions[0..<1]))),
            memory: memory.memory)
        let endpoint = "DPS \(options.dpsHost):\(options.dpsPort)"
        var client = MQTTClient(session: session, transport: transport(host: options.dpsHost, port: options.dpsPort), clock: clock)
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096 + (options.payload?.utf8.count ?? 0), alignment: 8)
        let results = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
        defer { request.deallocate(); results.deallocate() }
        var registration = DPSRegistration(configuration: configuration, requestBuffer: request, resultsBuffer: results)
        var flow = makeFlow(endpoint: endpoint)
        reporter.step("registering", ["registration_id": .string(registrationID), "endpoint": .string(endpoint), "id_scope": .string(options.idScope)],
                      "Registering \(registrationID) with \(endpoint), ID scope \(options.idScope)")
        let outcome: DPSOutcome
        let start = clock.now()
        do {
            outcome = try flow.provision(&client, &registration)
        } catch {
            throw stepError("registration with \(endpoint)", error, since: start, observer: flow.observer, progress: registrationProgress(flow.observer))
        }
        switch outcome {
        case .assigned(let assignment):
            return Assignment(hub: assignment.assignedHub.string, deviceID: assignment.deviceID.string,
                              substatus: assignment.substatus.string, payload: assignment.payload?.string, fromState: false)
        case .failed(let failure):
            if case .timedOut = failure.reason {
                let timing = "in \(Describe.seconds(clock.now() - start)) (--timeout \(options.timeoutSeconds)): \(registrationProgress(flow.observer))"
                throw CLIError(Describe.outcome(failure, timing: timing), status: .timedOut)
            }
            throw CLIError(Describe.outcome(failure), status: .provisioningFailed)
        }
    }

    /// How far a registration got: the connections, then DPS's answers.
    func registrationProgress(_ observer: ConsoleObserver) -> String {
        if observer.connections == 0 { return observer.connectionProgress }
        if observer.registrationAnswers == 0 { return "\(observer.connectionProgress), and DPS did not answer the register request" }
        return "\(observer.connectionProgress), and DPS answered \(Describe.count(observer.registrationAnswers, "time")) without assigning the device"
    }

    /// The error for a failed step. A failure the flow would have retried ended the step only
    /// because its deadline came (or would pass before the next attempt): that is told with the
    /// time taken, how far the step got and what its last attempt was waiting for. The status
    /// is a connection failure when no connection ever came up, else a timeout.
    func stepError(_ step: String, _ failure: Flow.Failure, since start: DeviceInstant, observer: ConsoleObserver, progress: String) -> CLIError {
        guard Flow.isRetriable(failure), !StopSignals.isRequested else { return CLIError("\(step) failed", failure) }
        let elapsed = clock.now() - start
        let limit = "--timeout \(options.timeoutSeconds)"
        let when = elapsed.milliseconds + 100 >= Int64(options.timeoutSeconds) * 1000
            ? "did not finish in \(Describe.seconds(elapsed)) (\(limit))"
            : "gave up after \(Describe.seconds(elapsed)), as another attempt would end after \(limit)"
        return CLIError("\(step) \(when): \(progress); the last attempt: \(Describe.failure(failure))",
                        status: observer.connections == 0 ? .connectionFailed : .timedOut)
    }

    /// Prints the assignment like the walkthrough's script, on one line.
    func reportAssignment(_ a: Assignment) {
        reporter.step("assigned", ["assigned_hub": .string(a.hub), "device_id": .string(a.deviceID), "substatus": .string(a.substatus), "payload": a.payload.map { .string($0) } ?? .null],
                      "DPS registration status: assigned; Assigned hub: \(a.hub); Device ID: \(a.deviceID)"
                        + (a.substatus.isEmpty ? "" : "; Substatus: \(a.substatus)") + (a.payload.map { "; Returned payload: \($0)" } ?? ""))
    }

    /// What a telemetry step did.
    struct TelemetryResult {
        /// Messages IoT Hub acknowledged.
        var acknowledged: Int
        /// Messages with no body (`--body-command` failed).
        var skipped: Int
        /// Whether SIGINT/SIGTERM ended it (after a clean DISCONNECT).
        var stopped: Bool
    }

    /// Connects to the assigned hub and carries out `plan`.
    func sendTelemetry(to assignment: Assignment, port: UInt16, plan: TelemetryPlan) throws -> TelemetryResult {
        // A full twin is up to 32 KB of desired and 32 KB of reported properties, with metadata.
        let memory = SessionMemory(receiveBytes: plan.hubFeatures == nil ? 16 * 1024 : 160 * 1024)
        let configuration = IoTHubConfiguration(
            hostName: text.view(assignment.hub), deviceID: text.view(assignment.deviceID), modelID: options.modelID.map { text.view($0) })
        let connect: MQTTConnect
        do { connect = try IoTHubClient.connectPacket(for: configuration, keepAlive: options.keepAlive, buffer: memory.connectText) }
        catch { throw CLIError("the IoT Hub user name is too long: " + error.words("its buffer")) }
        var subscriptions: MQTTTopicFilterList?
        if plan.hubFeatures != nil {
            let twin = Features.subscriptions
            // "devices/" + the id + "/messages/devicebound/#"
            let c2d = withUnsafeTemporaryAllocation(byteCount: configuration.deviceID.count + 32, alignment: 1) { buffer in
                var writer = TextWriter(into: buffer)
                IoTHubTopics.cloudToDeviceFilter(deviceID: configuration.deviceID, into: &writer)
                return text.view(writer.written.string)
            }
            memory.subscriptions[0] = twin.0
            memory.subscriptions[1] = twin.1
            memory.subscriptions[2] = twin.2
            memory.subscriptions[3] = MQTTSubscription(filter: c2d, qos: .atLeastOnce)
            subscriptions = MQTTTopicFilterList(UnsafeBufferPointer(rebasing: memory.subscriptions[0..<4]))
        }
        let session = MQTTSession(configuration: MQTTSessionConfiguration(connect: connect, subscriptions: subscriptions), memory: memory.memory)
        let endpoint = "IoT Hub \(assignment.hub):\(port)"
        var client = MQTTClient(session: session, transport: transport(host: assignment.hub, port: port), clock: clock)
        let topicBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        let bodyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 300 * 1024, alignment: 8)
        defer { topicBuffer.deallocate(); bodyBuffer.deallocate() }
        var flow = makeFlow(endpoint: endpoint)
        flow.observer.total = plan.messages ?? 0
        let device = text.view(assignment.deviceID)
        let fixedBody: ByteView?
        if case .fixed(let body) = plan.body { fixedBody = text.view(body) } else { fixedBody = nil }
        let start = clock.now()
        let deadline = plan.deadline(timeoutSeconds: options.timeoutSeconds).map { start + $0 }
        var skipped = 0
        let reporter = self.reporter
        if let stay = plan.stayConnected, stay > .zero {
            reporter.step("staying", ["seconds": .int(Int(stay.milliseconds / 1000))], "Staying connected \(Describe.seconds(stay)) after the messages (until SIGINT/SIGTERM)")
        } else if plan.stayConnected == nil {
            reporter.step("staying", ["seconds": .null], "Staying connected until SIGINT/SIGTERM")
        }
        let makeBody = { (index: Int, buffer: UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView? in
            switch plan.body {
            case .fixed: return fixedBody
            case .walkthrough:
                return try Self.walkthroughMessage(index: index, count: plan.messages ?? 0, deviceID: device, into: buffer)
            case .command(let command):
                switch BodyCommand(command: command).body(index: index, count: plan.messages, deviceID: assignment.deviceID, into: buffer) {
                case .success(let body): return body
                case .failure(let error):
                    skipped += 1
                    reporter.step("body_command_failed", ["index": .int(index), "error": .string(error.summary)],
                                  "Message \(index)\(plan.messages.map { "/\($0)" } ?? "") not sent: --body-command \(error.summary)")
                    return nil
                }
            }
        }
        let hub = IoTHubClient(configuration: configuration, topicBuffer: topicBuffer)
        var served = try plan.hubFeatures.map { try serving($0, deviceID: assignment.deviceID) }
        defer { served?.buffers.forEach { $0.deallocate() } }
        do {
            if served != nil {
                try flow.sendTelemetry(
                    &client, hub: hub, features: &served!.features, count: plan.messages ?? Int.max, interval: plan.interval,
                    bodyBuffer: bodyBuffer, deadline: deadline, stayConnected: plan.stayConnected, makeBody: makeBody)
            } else {
                try flow.sendTelemetry(
                    &client, hub: hub, count: plan.messages ?? Int.max, interval: plan.interval,
                    bodyBuffer: bodyBuffer, deadline: deadline, stayConnected: plan.stayConnected, makeBody: makeBody)
            }
        } catch .stopped {
            return TelemetryResult(acknowledged: flow.observer.acknowledged, skipped: skipped, stopped: true)
        } catch {
            let observer = flow.observer
            var progress = observer.connectionProgress
            if observer.connections > 0 {
                progress = "IoT Hub acknowledged \(observer.acknowledged)\(plan.messages.map { " of \($0)" } ?? "") message\((plan.messages ?? observer.acknowledged) == 1 ? "" : "s")"
            }
            throw stepError("sending to \(endpoint)", error, since: start, observer: observer, progress: progress)
        }
        return TelemetryResult(acknowledged: flow.observer.acknowledged, skipped: skipped, stopped: false)
    }

    typealias Features = TwinAndMethods<ConsoleTwinHandler>

    /// The twin and methods for `plan`, with the buffers they use (freed by the caller).
    func serving(_ plan: HubFeaturePlan, deviceID: String) throws -> (features: Features, buffers: [UnsafeMutableRawBufferPointer]) {
        let topic = UnsafeMutableRawBufferPointer.allocate(byteCount: DeviceTwin.topicBufferSize, alignment: 8)
        let patch = UnsafeMutableRawBufferPointer.allocate(byteCount: HubFeaturePlan.maximumReportSize, alignment: 8)
        let answerTopic = UnsafeMutableRawBufferPointer.allocate(byteCount: Features.responseTopicBufferSize, alignment: 8)
        let answer = UnsafeMutableRawBufferPointer.allocate(byteCount: MethodCommand.maximumResponseSize, alignment: 8)
        let buffers = [topic, patch, answerTopic, answer]
        do {
            var configuration = TwinConfiguration()
            configuration.jitterSeed = SystemEntropy.randomUInt64()
            let twin = try DeviceTwin(configuration: configuration, topicBuffer: topic, patchBuffer: patch)
            let handler = ConsoleTwinHandler(plan: plan, deviceID: deviceID, reporter: reporter)
            return (Features(twin: twin, handler: handler, responseTopic: answerTopic, responsePayload: answer), buffers)
        } catch {
            buffers.forEach { $0.deallocate() }
            guard case .bufferTooSmall(let tooSmall) = error else { throw error }
            throw CLIError(tooSmall.words("the twin's topic buffer"))
        }
    }

    /// A message shaped like the walkthrough's: random-ish readings, the wall-clock time.
    static func walkthroughMessage(index: Int, count: Int, deviceID: ByteView, into buffer: UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView {
        var generator = SystemRandomNumberGenerator()
        return try WalkthroughTelemetry(
            temperatureTenths: Int64.random(in: 200...300, using: &generator),
            humidityTenths: Int64.random(in: 500...700, using: &generator),
            index: index, count: count, timestampMicroseconds: WallClock.epochMicroseconds(), deviceID: deviceID
        ).write(into: buffer)
    }
}

