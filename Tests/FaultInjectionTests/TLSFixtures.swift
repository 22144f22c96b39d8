import CertificateTool
import DeviceCore
import Foundation
import Glibc
import LinuxBoard
import StandIn
import TestSupport

// Fixtures for the fault scenarios over TLS: certificates made in-process with the certificate
// tool (EC P-256, fast), the DPS stand-in (StandIn's DPSEmulator on its mbedTLS TLSServer) run
// in-process on a thread, mosquitto with a TLS listener, a transport that taps what the device
// hands to TLS (so DUP can be checked although the proxy sees only records), and devices that
// run `DeviceFlow.provision` / `sendTelemetry` as the command line does.

typealias TLSFlowFailure = DeviceFlowFailure<TLSFailure>
typealias TLSClient = MQTTClient<TappedTLS, MonotonicClock>
typealias TLSFlow = DeviceFlow<TappedTLS, MonotonicClock, TLSRecorder>

/// Seconds since 1970 on the wall clock.
func wallSeconds() -> Int64 { Int64(time(nil)) }

/// One CA (EC P-256) that signs the server certificate (127.0.0.1, localhost) and the device
/// certificates; made once per test process in a temporary directory, removed at exit.
final class TestPKI: @unchecked Sendable {
    static let idScope = "0ne00FAULTS"
    static let hub = "hub.faults.test"

    let directory: String
    let ca: String
    let caKey: String
    let serverCertificate: String
    let serverKey: String
    private let authority: CertificateAuthority
    private let lock = NSLock()

    static let shared: Result<TestPKI, Error> = Result { try TestPKI() }
    static func get() throws -> TestPKI { try shared.get() }

    private init() throws {
        var template = Array("/tmp/fault-pki-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw FixtureError("mkdtemp failed: errno \(errno)")
        }
        directory = String(cString: made)
        let directory = self.directory
        atExit { try? FileManager.default.removeItem(atPath: directory) }
        ca = directory + "/ca.pem"
        caKey = directory + "/ca.key"
        let root = try CertificateRequest.rootCA(commonName: "Fault Test CA").selfSigned(keyType: .ec)
        try Self.write(root, certificate: ca, key: caKey)
        authority = try CertificateAuthority(certificateFile: ca, keyFile: caKey)
        serverCertificate = directory + "/server.pem"
        serverKey = directory + "/server.key"
        let server = try authority.issue(.server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]), keyType: .ec)
        try Self.write(server, certificate: serverCertificate, key: serverKey)
    }

    /// A device certificate `CN=id` signed by the CA: valid from `notBefore` (seconds since
    /// 1970; default 5 minutes ago) for `days` days. Returns (certificate file, key file).
    func device(_ id: String, notBefore: Int64? = nil, days: Int = 30, name: String? = nil) throws -> (certificate: String, key: String) {
        let base = directory + "/" + (name ?? id)
        let issued = try lock.withLock { () throws -> IssuedCertificate in
            try authority.issue(CertificateRequest(profile: .device, commonName: id, days: days, notBefore: notBefore), keyType: .ec)
        }
        try Self.write(issued, certificate: base + ".pem", key: base + ".key")
        return (base + ".pem", base + ".key")
    }

    /// The identity of device `id` (trusting the CA for the server's certificate).
    func identity(_ id: String) throws -> TLSIdentity {
        let files = try device(id)
        return try TLSIdentity(caFile: ca, certificateFile: files.certificate, keyFile: files.key, passphrase: nil)
    }

    private static func write(_ issued: IssuedCertificate, certificate: String, key: String) throws {
        try issued.chainPEM.write(toFile: certificate, atomically: true, encoding: .utf8)
        try issued.key.pkcs8PEM().write(toFile: key, atomically: true, encoding: .utf8)
    }
}

// MARK: - The DPS stand-in, in-process

/// StandIn's DPS emulator on its mbedTLS server, on 127.0.0.1 and a port the system picks,
/// served by a thread of its own. The emulator's log lines are kept with the time they came.
final class DPSStandIn: @unchecked Sendable {
    /// One log line of the emulator, with milliseconds on the monotonic clock.
    struct Line: Sendable {
        var at: Int
        var text: String
    }

    /// One register or poll request as the stand-in logged it.
    struct Request: Equatable, CustomStringConvertible {
        var kind: String   // REGISTER or POLL
        var rid: Int
        var status: Int
        var at: Int
        var description: String { "\(kind) $rid=\(rid) -> \(status)" }
        static func == (a: Request, b: Request) -> Bool { a.kind == b.kind && a.rid == b.rid && a.status == b.status }
    }

    final class Sink: @unchecked Sendable {
        let lock = NSLock()
        var lines: [Line] = []
        var stop = false
    }

    let port: UInt16
    private let sink = Sink()
    private let finished = DispatchSemaphore(value: 0)

    init(pki: TestPKI, retryAfterSeconds: Int = 0, faults: StandInConfig.Faults? = nil, timeouts: ServerTimeouts = ServerTimeouts()) throws {
        let config = StandInConfig(
            idScope: TestPKI.idScope, retryAfterSeconds: retryAfterSeconds,
            groups: [.init(name: "fault-group", caFile: pki.ca, enabled: true, verified: true, iotHub: TestPKI.hub)],
            faults: faults)
        let sink = self.sink
        let emulator = try DPSEmulator(config: config, configPath: nil) { text in
            sink.lock.withLock { sink.lines.append(Line(at: FaultProxy.nowMilliseconds(), text: text)) }
        }
        let server = try TLSServer(
            host: "127.0.0.1", port: 0, certificateFile: pki.serverCertificate, keyFile: pki.serverKey, clientCAs: emulator.clientCAs(), timeouts: timeouts)
        port = server.boundPort
        let box = UncheckedBox((server, emulator))
        let finished = self.finished
        let thread = Thread {
            let (server, emulator) = box.value
            server.run(emulator) { sink.lock.withLock { sink.stop } }
            finished.signal()
        }
        thread.name = "DPSStandIn"
        thread.start()
    }

    /// Stops serving (within 200 ms) and waits for the thread.
    func stop() {
        let was = sink.lock.withLock { () -> Bool in
            defer { sink.stop = true }
            return sink.stop
        }
        if !was { finished.wait() }
    }

    deinit { stop() }

    var lines: [Line] { sink.lock.withLock { sink.lines } }
    var log: String { lines.map(\.text).joined(separator: "\n") }

    /// The first log line that contains `text`, waiting up to `seconds` for it.
    func line(containing text: String, within seconds: Int32 = 5) -> String? {
        let clock = MonotonicClock()
        let deadline = clock.now() + .seconds(seconds)
        while true {
            if let found = lines.first(where: { $0.text.contains(text) }) { return found.text }
            if clock.now() >= deadline { return nil }
            clock.sleep(until: clock.now() + .milliseconds(10))
        }
    }

    /// Register and poll requests, in order: `REGISTER $rid=1 -> 202`, ….
    var requests: [Request] {
        lines.compactMap { line in
            let words = line.text.split(separator: " ").map(String.init)
            guard let k = words.firstIndex(where: { $0 == "REGISTER" || $0 == "POLL" }), k + 1 < words.count,
                words[k + 1].hasPrefix("$rid="), let rid = Int(words[k + 1].dropFirst(5)),
                let arrow = words.firstIndex(of: "->"), arrow + 1 < words.count, let status = Int(words[arrow + 1])
            else { return nil }
            return Request(kind: words[k], rid: rid, status: status, at: line.at)
        }
    }

    /// CONNACK codes the stand-in answered, in order.
    var connackCodes: [Int] {
        lines.compactMap { line in
            guard line.text.contains(" CONNECT "), let range = line.text.range(of: "-> CONNACK ") else { return nil }
            return Int(line.text[range.upperBound...].prefix { $0.isNumber })
        }
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

// MARK: - The device's side

/// What the device handed to TLS, per connection (one entry per `open()`): the plaintext
/// MQTT stream, for the DUP check the proxy cannot make on encrypted records.
final class Tap: @unchecked Sendable {
    private let lock = NSLock()
    private var streams: [[UInt8]] = []
    func opened() { lock.withLock { streams.append([]) } }
    func sent(_ bytes: ByteView) {
        lock.withLock {
            if streams.isEmpty { streams.append([]) }
            for i in 0..<bytes.count { streams[streams.count - 1].append(bytes[i]) }
        }
    }
    /// Connection attempts (opens, successful or not).
    var opens: Int { lock.withLock { streams.count } }

    /// Whole PUBLISH packets sent, with their connection (from 1), DUP flag and payload. A
    /// packet cut off at the end of a connection is not counted (it is resent without DUP).
    var publishes: [ForwardedPublish] {
        let streams = lock.withLock { self.streams }
        var result = [ForwardedPublish]()
        for (index, stream) in streams.enumerated() {
            var offset = 0
            while let total = Self.packetLength(stream, at: offset), offset + total <= stream.count {
                let b = Array(stream[offset..<(offset + total)])
                offset += total
                guard b[0] >> 4 == 3 else { continue }
                result.append(ForwardedPublish(publish: b, connection: index + 1, dup: b[0] & 0x08 != 0))
            }
        }
        return result
    }

    /// The whole length of the MQTT packet starting at `offset`, once its header is there.
    private static func packetLength(_ stream: [UInt8], at offset: Int) -> Int? {
        var remaining = 0
        var multiplier = 1
        var index = offset + 1
        while index < stream.count && index <= offset + 4 {
            remaining += Int(stream[index] & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if stream[index - 1] & 0x80 == 0 { return index - offset + remaining }
        }
        return nil
    }
}

/// `TLSTransport` with a tap on what the device sends and on every `open()`.
struct TappedTLS: DeviceTransport {
    typealias Failure = TLSFailure
    let inner: TLSTransport
    let tap: Tap

    static func isRetriable(_ failure: TLSFailure) -> Bool { TLSTransport.isRetriable(failure) }

    mutating func open(timeout: DeviceDuration) throws(TLSFailure) {
        tap.opened()
        try inner.open(timeout: timeout)
    }

    mutating func setEndpoint(host: ByteView, port: UInt16) { inner.setEndpoint(host: host, port: port) }

    mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        let sent = try inner.send(bytes, timeout: timeout)
        if sent > 0 { tap.sent(bytes.slice(from: 0, count: sent)) }
        return sent
    }

    mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        try inner.receive(into: buffer, timeout: timeout)
    }

    mutating func close() { inner.close() }
}

/// What the flow reported, with times (ms since the recorder was made).
struct TLSRecorder: DeviceFlowObserver {
    typealias TransportFailure = TLSFailure
    let clock = MonotonicClock()
    let start: DeviceInstant
    var attempts = 0
    var connects = 0
    var acknowledged = 0
    var acknowledgedPacketIDs = [UInt16]()
    var sentIndexByPacketID = [UInt16: Int]()
    /// Indexes (from 1) of the messages IoT Hub acknowledged.
    var acknowledgedIndexes = [Int]()
    var failures = [(at: Int32, failure: TLSFlowFailure)]()
    var progress = [DPSProgress]()
    init() { start = clock.now() }

    var now: Int32 { (clock.now() - start).milliseconds }

    mutating func observe(_ event: DeviceFlowEvent<TLSFailure>) {
        switch event {
        case .connecting: attempts += 1
        case .connected: connects += 1
        case .messageSent(let index, let packetID, _): sentIndexByPacketID[packetID] = index
        case .messageAcknowledged(let packetID):
            acknowledged += 1
            if let index = sentIndexByPacketID.removeValue(forKey: packetID) { acknowledgedIndexes.append(index) }
        case .connectionFailed(let failure, _): failures.append((at: now, failure: failure))
        case .registrationProgress(let p): progress.append(p)
        default: break
        }
    }
    var failureNames: [String] { failures.map { "\($0.failure)" } }
}

func tlsFlow(backoff: ReconnectBackoff = ReconnectBackoff(minimum: .milliseconds(5), maximum: .milliseconds(40), maximumJitter: .milliseconds(5)), seed: UInt64 = 1) -> TLSFlow {
    TLSFlow(observer: TLSRecorder(), backoff: backoff, random: SplitMix64(seed: seed))
}

/// A fixed wait between attempts (no growth, no jitter), for attempt counts that do not depend on timing.
func fixedBackoff(_ milliseconds: Int32) -> ReconnectBackoff {
    ReconnectBackoff(minimum: .milliseconds(milliseconds), maximum: .milliseconds(milliseconds), maximumJitter: .zero)
}

/// The assignment or the failure, as plain values (the outcome's views point into the device's buffers).
enum Provisioned: Equatable, CustomStringConvertible {
    case assigned(hub: String, deviceID: String, substatus: String)
    case failed(DPSFailure.Reason, errorCode: Int32?)

    init(_ outcome: DPSOutcome) {
        switch outcome {
        case .assigned(let a): self = .assigned(hub: text(a.assignedHub), deviceID: text(a.deviceID), substatus: text(a.substatus))
        case .failed(let f): self = .failed(f.reason, errorCode: f.errorCode)
        }
    }

    var description: String {
        switch self {
        case .assigned(let hub, let id, let sub): return "assigned(\(hub), \(id), \(sub))"
        case .failed(let reason, let code): return "failed(\(reason), \(code.map(String.init) ?? "-"))"
        }
    }
}

/// A device that registers with DPS over TLS, set up as `dps-device provision` sets it up
/// (`DPSRegistration.connectPacket`, the response subscription, `DeviceFlow.provision`), with
/// timeouts and waits short enough for tests.
final class DPSDevice {
    let memory = SessionBuffers(window: 8)
    let subscriptions = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: 1)
    let userName = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
    let request = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
    let results = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    let idScope = PinnedBytes(TestPKI.idScope)
    let registrationID: PinnedBytes
    let tap = Tap()
    var configuration: DPSConfiguration
    var client: TLSClient

    init(
        port: UInt16, identity: TLSIdentity, id: String, overallTimeout: DeviceDuration = .seconds(20),
        minimumRetryAfter: DeviceDuration = .milliseconds(50), maximumRetryAfter: DeviceDuration = .seconds(300),
        backoff: ReconnectBackoff = ReconnectBackoff(minimum: .milliseconds(20), maximum: .milliseconds(80), maximumJitter: .milliseconds(20)),
        jitterSeed: UInt64 = 7
    ) throws {
        registrationID = PinnedBytes(id)
        configuration = DPSConfiguration(
            idScope: idScope.view, registrationID: registrationID.view, responseTimeout: .seconds(2), overallTimeout: overallTimeout,
            defaultRetryAfter: .milliseconds(50), minimumRetryAfter: minimumRetryAfter, maximumRetryAfter: maximumRetryAfter,
            backoff: backoff, jitterSeed: jitterSeed)
        subscriptions.initialize(repeating: DPSRegistration.subscription)
        let connect = try DPSRegistration.connectPacket(for: configuration, keepAlive: 60, userNameBuffer: userName)
        let session = MQTTSession(
            configuration: MQTTSessionConfiguration(
                connect: connect, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(subscriptions)), connackTimeout: .seconds(2)),
            memory: memory.memory)
        let transport = TLSTransport(host: "127.0.0.1", port: port, identity: identity, connectTimeout: .seconds(2))
        client = TLSClient(session: session, transport: TappedTLS(inner: transport, tap: tap), clock: MonotonicClock())
        client.ioTimeout = .milliseconds(100)
    }

    deinit {
        client.transport.close()
        subscriptions.deallocate(); userName.deallocate(); request.deallocate(); results.deallocate()
    }

    /// `DeviceFlow.provision`, the outcome as plain values.
    func provision(_ flow: inout TLSFlow) throws(TLSFlowFailure) -> Provisioned {
        var registration = DPSRegistration(configuration: configuration, requestBuffer: request, resultsBuffer: results)
        return Provisioned(try flow.provision(&client, &registration))
    }
}

/// A device for IoT Hub's MQTT profile over TLS (X.509, no password), like `dps-device run`'s
/// telemetry step.
final class TLSHubDevice {
    let memory: SessionBuffers
    let host = PinnedBytes("127.0.0.1")
    let deviceID: PinnedBytes
    let connectBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    let topicBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    let bodyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
    let hub: IoTHubClient
    let tap = Tap()
    var client: TLSClient

    init(port: UInt16, identity: TLSIdentity, id: String, window: Int = 16, acknowledgementTimeout: DeviceDuration = .seconds(2)) throws {
        memory = SessionBuffers(window: window)
        deviceID = PinnedBytes(id)
        let configuration = IoTHubConfiguration(hostName: host.view, deviceID: deviceID.view)
        hub = IoTHubClient(configuration: configuration, topicBuffer: topicBuffer)
        let connect = try IoTHubClient.connectPacket(for: configuration, keepAlive: 30, buffer: connectBuffer)
        let session = MQTTSession(
            configuration: MQTTSessionConfiguration(
                connect: connect, connackTimeout: .seconds(2), pingTimeout: .seconds(2), acknowledgementTimeout: acknowledgementTimeout),
            memory: memory.memory)
        let transport = TLSTransport(host: "127.0.0.1", port: port, identity: identity, connectTimeout: .seconds(2))
        client = TLSClient(session: session, transport: TappedTLS(inner: transport, tap: tap), clock: MonotonicClock())
        client.ioTimeout = .milliseconds(100)
    }

    deinit {
        client.transport.close()
        connectBuffer.deallocate(); topicBuffer.deallocate(); bodyBuffer.deallocate()
    }

    /// `DeviceFlow.sendTelemetry` of messages "msg-00001"…, `interval` apart.
    func sendTelemetry(count: Int, interval: DeviceDuration = .zero, flow: inout TLSFlow, seconds: Int32 = 20) throws(TLSFlowFailure) {
        let bodyBuffer = self.bodyBuffer
        try flow.sendTelemetry(
            &client, hub: hub, count: count, interval: interval, bodyBuffer: bodyBuffer,
            deadline: client.clock.now() + .seconds(seconds)
        ) { (index, buffer) throws(JSONWriteError) -> ByteView? in
            let text = Array(payloadText(index).utf8)
            buffer.copyBytes(from: text)
            return ByteView(baseAddress: UnsafeRawPointer(buffer.baseAddress), count: text.count)
        }
    }
}

/// mosquitto with a plain listener (for the subscriber, `port`) and a TLS 1.2 listener that
/// requires a client certificate from the test CA (`tlsPort`).
final class TLSMosquitto {
    let broker: Mosquitto
    let tlsPort: UInt16
    var port: UInt16 { broker.port }

    init(pki: TestPKI) throws {
        tlsPort = try freeLoopbackPort()
        broker = try Mosquitto.start([
            "listener \(tlsPort) 127.0.0.1",
            "cafile \(pki.ca)",
            "certfile \(pki.serverCertificate)",
            "keyfile \(pki.serverKey)",
            "require_certificate true",
            "tls_version tlsv1.2",
        ])
    }

    func stop() { broker.stop() }
    func log() -> String { broker.log() }
}
