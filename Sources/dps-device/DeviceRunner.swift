import DeviceCore
import HostJSON
import LinuxBoard
import PacketInspector

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
        reporter = Reporter(json: options.json)
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
        registrationID = id
    }

    func transport(host: String, port: UInt16) -> TracingTransport {
        TracingTransport(TLSTransport(host: host, port: port, identity: identity), tracing: options.verbose ? reporter : nil)
    }

    func makeFlow(endpoint: String) -> Flow {
        Flow(observer: ConsoleObserver(endpoint: endpoint, reporter: reporter), random: SplitMix64(seed: SystemEntropy.randomUInt64()))
    }

    /// Registers with DPS; returns the assignment as strings.
    func provision() throws -> (hub: String, deviceID: String, substatus: String, payload: String?) {
        let memory = SessionMemory(receiveBytes: 8 * 1024, outboxBytes: 8 * 1024)
        var configuration = DPSConfiguration(
            idScope: text.view(options.idScope), registrationID: text.view(registrationID),
            userAgent: text.view(DeviceOptions.userAgent),
            customPayload: options.payload.map { text.view($0) })
        configuration.overallTimeout = .seconds(Int64(options.timeoutSeconds))
        configuration.jitterSeed = SystemEntropy.randomUInt64()
        memory.subscriptions[0] = DPSRegistration.subscription
        let connect: MQTTConnect
        do { connect = try DPSRegistration.connectPacket(for: configuration, keepAlive: options.keepAlive, userNameBuffer: memory.connectText) }
        catch { throw CLIError("the DPS user name is too long: \(error)") }
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
        do {
            outcome = try flow.provision(&client, &registration)
        } catch {
            throw CLIError("registration with \(endpoint) failed", error)
        }
        switch outcome {
        case .assigned(let assignment):
            return (assignment.assignedHub.string, assignment.deviceID.string, assignment.substatus.string, assignment.payload?.string)
        case .failed(let failure):
            if case .timedOut = failure.reason { throw CLIError(Describe.outcome(failure), status: .timedOut) }
            throw CLIError(Describe.outcome(failure), status: .provisioningFailed)
        }
    }

    /// Prints the assignment like the walkthrough's script.
    func reportAssignment(_ a: (hub: String, deviceID: String, substatus: String, payload: String?)) {
        reporter.step("assigned", ["assigned_hub": .string(a.hub), "device_id": .string(a.deviceID), "substatus": .string(a.substatus), "payload": a.payload.map { .string($0) } ?? .null],
                      "DPS registration status: assigned\nAssigned hub: \(a.hub)\nDevice ID: \(a.deviceID)"
                        + (a.substatus.isEmpty ? "" : "\nSubstatus: \(a.substatus)") + (a.payload.map { "\nReturned payload: \($0)" } ?? ""))
    }

    /// Connects to `hub` as `deviceID` and sends `count` messages.
    func sendTelemetry(hub: String, port: UInt16, deviceID: String, count: Int, interval: DeviceDuration, body: String?, deadline: DeviceDuration) throws {
        let memory = SessionMemory()
        let configuration = IoTHubConfiguration(hostName: text.view(hub), deviceID: text.view(deviceID))
        let connect: MQTTConnect
        do { connect = try IoTHubClient.connectPacket(for: configuration, keepAlive: options.keepAlive, buffer: memory.connectText) }
        catch { throw CLIError("the IoT Hub user name is too long: \(error)") }
        let session = MQTTSession(configuration: MQTTSessionConfiguration(connect: connect), memory: memory.memory)
        let endpoint = "IoT Hub \(hub):\(port)"
        var client = MQTTClient(session: session, transport: transport(host: hub, port: port), clock: clock)
        let topicBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        let bodyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 300 * 1024, alignment: 8)
        defer { topicBuffer.deallocate(); bodyBuffer.deallocate() }
        var flow = makeFlow(endpoint: endpoint)
        flow.observer.total = count
        let fixedBody = body.map { text.view($0) }
        let device = text.view(deviceID)
        do {
            try flow.sendTelemetry(
                &client, hub: IoTHubClient(configuration: configuration, topicBuffer: topicBuffer), count: count,
                interval: interval, bodyBuffer: bodyBuffer, deadline: clock.now() + deadline
            ) { (index, buffer) throws(JSONWriteError) -> ByteView in
                if let fixedBody { return fixedBody }
                return try Self.walkthroughMessage(index: index, count: count, deviceID: device, into: buffer)
            }
        } catch {
            throw CLIError("sending to \(endpoint) failed", error)
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

