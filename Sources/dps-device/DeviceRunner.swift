import DeviceCore
import HostJSON
import LinuxBoard
import PacketInspector

/// Memory for one MQTT session, allocated once for the run.
final class SessionMemory {
    let receive: UnsafeMutableRawBufferPointer
    let transmit = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    let outbox: UnsafeMutableRawBufferPointer
    let inflight = UnsafeMutableBufferPointer<MQTTInflightEntry>.allocate(capacity: 8)
    let subscriptions = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: 2)
    /// CONNECT text (client id, user name) and scratch for topics and bodies.
    let connectText = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)

    init(receiveBytes: Int = 16 * 1024, outboxBytes: Int = 300 * 1024) {
        receive = .allocate(byteCount: receiveBytes, alignment: 8)
        outbox = .allocate(byteCount: outboxBytes, alignment: 8)
        inflight.initialize(repeating: MQTTInflightEntry())
    }

    deinit {
        for buffer in [receive, transmit, outbox, connectText] { buffer.deallocate() }
        inflight.deallocate()
        subscriptions.deallocate()
    }

    var memory: MQTTSessionMemory { MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight) }
}

/// Keeps Swift strings alive as `ByteView`s for the life of the run.
final class TextStore {
    private var storage = [UnsafeMutableRawBufferPointer]()

    func view(_ text: String) -> ByteView {
        let bytes = Array(text.utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        storage.append(buffer)
        return ByteView(baseAddress: buffer.baseAddress, count: bytes.count)
    }

    deinit { storage.forEach { $0.deallocate() } }
}

extension ByteView {
    /// The bytes as a Swift string (at the edge only).
    var string: String { String(decoding: UnsafeRawBufferPointer(start: baseAddress, count: count), as: UTF8.self) }
}

/// Prints the flow's progress the way the walkthrough's script does, or as JSON lines.
struct ConsoleObserver: DeviceFlowObserver {
    typealias TransportFailure = TLSFailure
    var endpoint: String
    let reporter: Reporter
    var sentAt = [UInt16: (index: Int, at: DeviceInstant)]()
    var total = 0
    let clock = MonotonicClock()

    var shouldStop: Bool { StopSignals.isRequested }

    mutating func observe(_ event: DeviceFlowEvent<TLSFailure>) {
        switch event {
        case .connecting(let attempt):
            reporter.step("connecting", ["endpoint": .string(endpoint), "attempt": .int(attempt)],
                          "Connecting to \(endpoint)\(attempt > 1 ? " (attempt \(attempt))" : "")...")
        case .connected(let present):
            reporter.step("connected", ["endpoint": .string(endpoint), "session_present": .bool(present)],
                          "Connected to \(endpoint)\(present ? " (session resumed)" : "").")
        case .connectionFailed(let failure, let wait):
            reporter.step("connection_failed", ["endpoint": .string(endpoint), "error": .string(Describe.failure(failure)), "retry_in_ms": .int(wait.milliseconds)],
                          "Connection to \(endpoint) failed: \(Describe.failure(failure)). Retrying in \(Describe.seconds(wait)).")
        case .registrationProgress(let progress):
            let status = progress.registrationStatus.map { "\($0)" }
            let words = progress.status == 429 ? "DPS is throttling (429)"
                : progress.status >= 500 ? "DPS had a server error (\(progress.status))"
                : "DPS status \(progress.status)\(status.map { ", registration \($0)" } ?? "")"
            reporter.step("registration_progress",
                          ["status": .int(Int(progress.status)), "registration_status": status.map { .string($0) } ?? .null, "next_request_in_ms": .int(progress.nextRequestIn.milliseconds)],
                          "\(words): asking again in \(Describe.seconds(progress.nextRequestIn)).")
        case .provisioned:
            break
        case .messageSent(let index, let packetID, let body):
            sentAt[packetID] = (index, clock.now())
            reporter.step("message_sent", ["index": .int(index), "count": .int(total), "packet_id": .int(Int(packetID)), "body": .string(body.string)],
                          "Sending message \(index)/\(total): \(body.string)")
        case .messageAcknowledged(let packetID):
            if let sent = sentAt.removeValue(forKey: packetID) {
                let ms = (clock.now() - sent.at).milliseconds
                reporter.step("message_acknowledged", ["index": .int(sent.index), "packet_id": .int(Int(packetID)), "after_ms": .int(ms)],
                              "  message \(sent.index)/\(total) acknowledged by IoT Hub after \(ms) ms")
            }
        case .cloudToDevice(let message):
            reporter.step("cloud_to_device", ["payload": .string(message.payload.string), "properties": .string(message.properties.string)],
                          "Message from the cloud: \(message.payload.string) (properties: \(message.properties.string))")
        case .disconnected:
            reporter.step("disconnected", ["endpoint": .string(endpoint)], "Disconnected from \(endpoint).")
        }
    }
}

/// Where progress goes: plain lines for people, or one JSON object per line for scripts.
final class Reporter: @unchecked Sendable {
    let json: Bool

    init(json: Bool) { self.json = json }

    /// Reports one step: `text` for people, `{"step": name, …fields}` (keys sorted) in JSON mode.
    func step(_ name: String, _ fields: [String: JSONValue], _ text: String) {
        guard json else { return Output.line(text) }
        var object = fields
        object["step"] = .string(name)
        let members = object.keys.sorted().map { JSONMember($0, object[$0]!) }
        Output.line(JSONValue.object(members).compactText)
    }
}

/// Words for failures, naming what to check.
enum Describe {
    static func seconds(_ duration: DeviceDuration) -> String {
        let tenths = (duration.milliseconds + 50) / 100
        return duration.milliseconds % 1000 == 0 ? "\(duration.milliseconds / 1000) s" : "\(tenths / 10).\(tenths % 10) s"
    }

    static func failure(_ failure: DeviceFlowFailure<TLSFailure>) -> String {
        switch failure {
        case .transport(let error): return error.description
        case .session(let error): return session(error)
        case .dps(let error): return "\(error)"
        case .hub(let error): return hub(error)
        case .body(let error): return "the message body could not be written: \(error)"
        case .timedOut: return "no progress before the deadline"
        case .stopped: return "stopped"
        }
    }

    static func session(_ error: MQTTSessionError) -> String {
        switch error {
        case .connectionRefused(let code):
            switch code {
            case .accepted: return "the connection was accepted"
            case .unacceptableProtocolVersion: return "the server refused MQTT 3.1.1 (CONNACK 1)"
            case .identifierRejected: return "the server rejected the client id (CONNACK 2): check the registration id / device id"
            case .serverUnavailable: return "the server is unavailable (CONNACK 3)"
            case .badUserNameOrPassword: return "the server refused the credentials (CONNACK 4): check the ID scope and that the certificate belongs to an enrollment"
            case .notAuthorized: return "the server did not authorize this device (CONNACK 5): check the ID scope, the enrollment group and its CA, and that the registration id equals the certificate CN"
            }
        case .connackTimeout: return "no CONNACK from the server in time"
        case .pingTimeout: return "the server stopped answering (no PINGRESP): the connection is dead"
        case .acknowledgementTimeout(let id): return "no PUBACK for packet \(id) in time"
        case .malformedPacket(let e): return "the server sent a malformed packet: \(e.rule.summary) at byte \(e.offset)"
        default: return "\(error)"
        }
    }

    static func hub(_ error: IoTHubError) -> String {
        switch error {
        case .messageTooLarge(let size, let limit): return "the message is \(size) bytes; IoT Hub accepts at most \(limit)"
        case .topicBufferTooSmall(let needed, let capacity): return "the telemetry topic needs \(needed) bytes, the buffer has \(capacity)"
        case .session(let e): return session(e)
        }
    }

    static func outcome(_ failure: DPSFailure) -> String {
        var words: String
        switch failure.reason {
        case .rejected(let status): words = "DPS rejected the registration (status \(status))"
        case .registrationFailed: words = "DPS registration failed"
        case .disabled: words = "the enrollment is disabled in DPS"
        case .timedOut: words = "DPS did not finish the registration in time"
        case .subscriptionRefused: words = "the broker refused the DPS response subscription"
        case .malformedResponse(let reason): words = "DPS sent a response the device cannot read: \(reason)"
        }
        if let code = failure.errorCode { words += ", error code \(code)" }
        if let message = failure.message { words += ": \(message.string)" }
        if let tracking = failure.trackingID { words += " (tracking id \(tracking.string))" }
        if let hint = hint(failure) { words += "\nHint: " + hint }
        return words
    }

    /// What to check for a DPS failure, by its six-digit code or its status.
    static func hint(_ failure: DPSFailure) -> String? {
        switch failure.errorCode {
        case 401002:
            return "the certificate's chain is not accepted by any enrollment group: is the root (or intermediate) CA uploaded and verified, is the group enabled, and does the device certificate chain to it (send intermediates in the --cert file)?"
        case 401000, 401001:
            return "DPS could not authenticate the device: check the certificate and key, and that the registration id equals the certificate CN."
        default:
            break
        }
        switch failure.reason {
        case .rejected(401), .rejected(403):
            return "check the ID scope, that the certificate chains to the enrollment group's verified CA, and that the registration id equals the certificate CN."
        case .rejected(404):
            return "check the ID scope (the DPS instance's overview page) and that an enrollment exists for this device."
        case .rejected(400):
            return "DPS found the request invalid: check the registration id (letters, digits, . _ -, up to 128) and the --payload JSON."
        case .disabled:
            return "enable the enrollment (or enrollment group) in the DPS instance."
        case .timedOut:
            return "DPS kept answering 'assigning' or did not answer; try a longer --timeout, and check the DPS instance is linked to an IoT Hub."
        default:
            return nil
        }
    }
}

/// `DeviceTransport` decorator for `--verbose`: every MQTT packet, decoded, both directions.
struct TracingTransport: DeviceTransport {
    typealias Failure = TLSFailure
    let inner: TLSTransport
    let tracer: Reporter?
    private let outbound = PacketTrace(direction: "sent")
    private let inbound = PacketTrace(direction: "received")

    init(_ inner: TLSTransport, tracing tracer: Reporter?) {
        self.inner = inner
        self.tracer = tracer
    }

    static func isRetriable(_ failure: TLSFailure) -> Bool { TLSTransport.isRetriable(failure) }

    mutating func open() throws(TLSFailure) {
        outbound.reset()
        inbound.reset()
        try inner.open()
    }

    mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        let sent = try inner.send(bytes, timeout: timeout)
        if let tracer { outbound.feed(bytes.slice(from: 0, count: sent), to: tracer) }
        return sent
    }

    mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        let count = try inner.receive(into: buffer, timeout: timeout)
        if let tracer, count > 0 { inbound.feed(ByteView(UnsafeRawBufferPointer(rebasing: buffer[..<count])), to: tracer) }
        return count
    }

    mutating func close() { inner.close() }
}

/// Reassembles one direction's bytes into packets and reports each, decoded.
final class PacketTrace {
    let direction: String
    private var pending = [UInt8]()

    init(direction: String) { self.direction = direction }

    func reset() { pending = [] }

    func feed(_ bytes: ByteView, to reporter: Reporter) {
        pending += UnsafeRawBufferPointer(start: bytes.baseAddress, count: bytes.count)
        while let length = Self.packetLength(pending), pending.count >= length {
            let packet = Array(pending[..<length])
            pending.removeFirst(length)
            let text: String
            if let objects = try? PacketInspector.decodeAll(packet), let object = objects.first {
                text = object.compactText
            } else {
                text = "undecodable: " + Hex.string(packet)
            }
            reporter.step("mqtt", ["direction": .string(direction), "packet": .string(text)], "  mqtt \(direction == "sent" ? ">" : "<") \(text)")
        }
    }

    /// Whole-packet length from the fixed header, once enough of it is there.
    static func packetLength(_ bytes: [UInt8]) -> Int? {
        var value = 0
        var shift = 0
        var index = 1
        while index < bytes.count && index <= 4 {
            value |= Int(bytes[index] & 0x7F) << shift
            if bytes[index] & 0x80 == 0 { return index + 1 + value }
            shift += 7
            index += 1
        }
        return index > 4 ? 5 : nil
    }
}

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

/// The exit statuses of `provision` and `run` (also in `docs/dps-device.md`).
enum ExitStatus: Int32 {
    case success = 0
    /// DPS refused or failed the registration (401, 404, failed, disabled…).
    case provisioningFailed = 1
    /// A connection or TLS failure that retrying did not cure, or a broker refusal.
    case connectionFailed = 2
    /// A step did not finish before its deadline.
    case timedOut = 3
    /// The certificate, key or CA files, or the registration id, need fixing.
    case configuration = 4
    /// Usage errors (bad flags), as ArgumentParser reports them.
    case usage = 64
    /// Stopped by SIGINT/SIGTERM after a clean DISCONNECT.
    case interrupted = 130
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    let status: ExitStatus

    init(_ description: String, status: ExitStatus = .configuration) {
        self.description = description
        self.status = status
    }

    /// The error for a failed flow step, with the exit status its kind calls for.
    init(_ context: String, _ failure: DeviceFlowFailure<TLSFailure>) {
        let status: ExitStatus
        switch failure {
        case .transport(let tls): status = tls.isRetriable ? .connectionFailed : .configuration
        case .session: status = .connectionFailed
        case .timedOut: status = .timedOut
        case .stopped: status = .interrupted
        case .dps, .hub, .body: status = .configuration
        }
        self.init("\(context): \(Describe.failure(failure))", status: status)
    }
}
