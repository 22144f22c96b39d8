import DeviceCore
import Testing

/// Virtual time shared by the scripted peer and the flow; sleeping advances it.
final class VirtualTime {
    var now = DeviceInstant(milliseconds: 0)
}

struct VirtualClock: DeviceClock {
    let time: VirtualTime
    func now() -> DeviceInstant { time.now }
    func sleep(until deadline: DeviceInstant) { if deadline > time.now { time.now = deadline } }
}

enum ScriptedFailure: Error, Equatable {
    case refused
    case closedByPeer
}

/// A scripted MQTT server behind a fake transport: decodes what the client sends with the
/// codec and answers like DPS (register → 202 → poll → 200) or like IoT Hub (PUBACK).
final class ScriptedPeer {
    let time: VirtualTime
    var inbound = [UInt8]()       // bytes for the client
    var received = [String]()     // what the client sent, in words
    var refuseConnections = 0     // the next N opens fail
    var dropAfterPublishes: Int?  // close the connection after this many client PUBLISHes
    var publishCount = 0
    var open = false
    var endpoints = [String]()    // where the flow pointed the transport, in order
    var lastRequestID = ""

    init(time: VirtualTime) { self.time = time }

    func handle(_ packet: MQTTPacket) {
        switch packet {
        case .connect(let c):
            received.append("CONNECT \(text(c.clientID)) \(c.userName.map(text) ?? "")")
            inbound += bytes("20020000")
        case .subscribe(let s):
            var filters = [String]()
            s.subscriptions.forEach { filters.append(text($0.filter)) }
            received.append("SUBSCRIBE \(filters.joined(separator: ","))")
            inbound += bytes("9003" + hex4(Int(s.packetID)) + "01")
        case .publish(let p):
            publishCount += 1
            let topic = text(p.topic)
            received.append("PUBLISH \(topic)\(p.dup ? " dup" : "")")
            if let limit = dropAfterPublishes, publishCount >= limit {
                dropAfterPublishes = nil
                open = false
                return
            }
            inbound += bytes("4002" + hex4(Int(p.packetID)))
            if topic.hasPrefix("$dps/registrations/PUT/") {
                let rid = String(topic.split(separator: "=").last!)
                inbound += bytes(publishHex("$dps/registrations/res/202/?$rid=\(rid)&retry-after=3", #"{"operationId":"op-7","status":"assigning"}"#, id: 1))
            } else if topic.hasPrefix("$dps/registrations/GET/") {
                let rid = String(topic.split(separator: "=")[1].split(separator: "&")[0])
                inbound += bytes(publishHex("$dps/registrations/res/200/?$rid=\(rid)", assignedBody, id: 2))
            }
        case .puback(let id):
            received.append("PUBACK \(id)")
        case .pingreq:
            received.append("PINGREQ")
            inbound += bytes("d000")
        case .disconnect:
            received.append("DISCONNECT")
        default:
            received.append("\(packet.type)")
        }
    }
}

struct ScriptedTransport: DeviceTransport {
    typealias Failure = ScriptedFailure
    let peer: ScriptedPeer
    var reader: MQTTFrameReader
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)

    init(peer: ScriptedPeer) {
        self.peer = peer
        reader = MQTTFrameReader(storage: storage)
    }

    static func isRetriable(_ failure: ScriptedFailure) -> Bool { true }

    /// The peer plays whichever server; it records where the flow pointed it.
    mutating func setEndpoint(host: ByteView, port: UInt16) { peer.endpoints.append("\(text(host)):\(port)") }

    mutating func open(timeout: DeviceDuration) throws(ScriptedFailure) {
        if peer.refuseConnections > 0 {
            peer.refuseConnections -= 1
            throw .refused
        }
        peer.open = true
        peer.inbound = []
        reader.reset()
    }

    mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(ScriptedFailure) -> Int {
        guard peer.open else { throw .closedByPeer }
        _ = reader.append(bytes.buffer)
        while let frame = try? reader.nextFrame(), let packet = try? frame.decode() { peer.handle(packet) }
        return bytes.count
    }

    mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(ScriptedFailure) -> Int {
        guard peer.open else { throw .closedByPeer }
        if peer.inbound.isEmpty {
            peer.time.now = peer.time.now + timeout  // nothing comes: the wait passes
            return 0
        }
        let n = min(buffer.count, peer.inbound.count)
        for i in 0..<n { buffer[i] = peer.inbound[i] }
        peer.inbound.removeFirst(n)
        return n
    }

    mutating func close() { peer.open = false }
}

/// What the client sends the scripted peer's DPS, in words: register, the 202, poll, the 200.
let scriptedDPSTranscript = [
    "CONNECT device1 0ne00000A0A/registrations/device1/api-version=2019-03-31",
    "SUBSCRIBE $dps/registrations/res/#",
    "PUBLISH $dps/registrations/PUT/iotdps-register/?$rid=1",
    "PUBACK 1",
    "PUBLISH $dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op-7",
    "PUBACK 2",
    "DISCONNECT",
]

/// Records events as words.
struct RecordingObserver: DeviceFlowObserver {
    typealias TransportFailure = ScriptedFailure
    var log = [String]()

    mutating func observe(_ event: DeviceFlowEvent<ScriptedFailure>) {
        switch event {
        case .connecting(let attempt): log.append("connecting \(attempt)")
        case .connected(let present): log.append("connected sp=\(present)")
        case .connectionFailed(let failure, let wait): log.append("failed \(failure) retry in \(wait.milliseconds) ms")
        case .registrationProgress(let p): log.append("dps \(p.status) \(p.registrationStatus.map { "\($0)" } ?? "-") next in \(p.nextRequestIn.milliseconds) ms")
        case .provisioned(let outcome): log.append(outcome.summary)
        case .messageSent(let index, let id, let body): log.append("sent \(index) id \(id) \(text(body))")
        case .messageAcknowledged(let id): log.append("acked \(id)")
        case .cloudToDevice(let m): log.append("c2d \(text(m.payload))")
        case .disconnected: log.append("disconnected")
        }
    }
}

/// Memory for one MQTT client session.
final class ClientMemory {
    let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    let transmit = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
    let outbox = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    let inflight = UnsafeMutableBufferPointer<MQTTInflightEntry>.allocate(capacity: 4)
    let subscriptions = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: 1)
    init() { inflight.initialize(repeating: MQTTInflightEntry()) }
    var memory: MQTTSessionMemory { MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight) }
}

@Suite("Device flow: provision then telemetry, scripted peer")
struct DeviceFlowTests {
    /// The same run from 0 and from 1.5 s before the 32-bit millisecond counter wraps: the
    /// DPS wait, the backoff and the interval cross the wrap and nothing changes.
    @Test(arguments: [UInt32(0), UInt32.max - 1_500])
    func provisionsThenSendsThreeMessagesAcrossARefusedConnectAndADrop(startingAt start: UInt32) throws {
        let time = VirtualTime()
        time.now = DeviceInstant(milliseconds: start)
        let peer = ScriptedPeer(time: time)
        peer.refuseConnections = 1
        var flow = DeviceFlow<ScriptedTransport, VirtualClock, RecordingObserver>(
            observer: RecordingObserver(), backoff: ReconnectBackoff(maximumJitter: .zero), random: SplitMix64(seed: 1))

        // DPS
        let dpsMemory = ClientMemory()
        let userName = UnsafeMutableRawBufferPointer.allocate(byteCount: 128, alignment: 8)
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        let results = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        let dpsConfiguration = DPSConfiguration(idScope: view("0ne00000A0A"), registrationID: view("device1"))
        dpsMemory.subscriptions[0] = DPSRegistration.subscription
        let session = MQTTSession(
            configuration: MQTTSessionConfiguration(
                connect: try DPSRegistration.connectPacket(for: dpsConfiguration, userNameBuffer: userName),
                subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(dpsMemory.subscriptions))),
            memory: dpsMemory.memory)
        var client = MQTTClient(session: session, transport: ScriptedTransport(peer: peer), clock: VirtualClock(time: time))
        var registration = DPSRegistration(configuration: dpsConfiguration, requestBuffer: request, resultsBuffer: results)
        let outcome = try flow.provision(&client, &registration)
        guard case .assigned(let assignment) = outcome else {
            Issue.record("not assigned: \(outcome.summary)")
            return
        }
        #expect(peer.received == scriptedDPSTranscript)
        #expect(flow.observer.log == [
            "connecting 1",
            "failed transport(ClientTests.ScriptedFailure.refused) retry in 1000 ms",
            "connecting 2",
            "connected sp=false",
            "dps 202 assigning next in 3000 ms",
            "disconnected",
            "assigned hub=contoso.azure-devices.net device=device1 substatus=initialAssignment payload=-",
        ])

        // IoT Hub, with the connection dropped when the second message arrives.
        peer.received = []
        peer.publishCount = 0
        peer.dropAfterPublishes = 2
        flow.observer.log = []
        let hubMemory = ClientMemory()
        let connectBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        let topicBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        let bodyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        let hubConfiguration = IoTHubConfiguration(hostName: assignment.assignedHub, deviceID: assignment.deviceID)
        let hubSession = MQTTSession(
            configuration: MQTTSessionConfiguration(connect: try IoTHubClient.connectPacket(for: hubConfiguration, buffer: connectBuffer)),
            memory: hubMemory.memory)
        var hubClient = MQTTClient(session: hubSession, transport: ScriptedTransport(peer: peer), clock: VirtualClock(time: time))
        let hubStart = time.now
        try flow.sendTelemetry(
            &hubClient, hub: IoTHubClient(configuration: hubConfiguration, topicBuffer: topicBuffer), count: 3,
            interval: .seconds(1), bodyBuffer: bodyBuffer, deadline: time.now + .seconds(60)
        ) { (index, buffer) throws(JSONWriteError) -> ByteView? in
            try WalkthroughTelemetry(
                temperatureTenths: 240 + Int64(index), humidityTenths: 600, index: index, count: 3,
                timestampMicroseconds: 1_747_901_219_000_000 + Int64(index) * 1_000_000, deviceID: view("device1")
            ).write(into: buffer)
        }
        let events = "devices/device1/messages/events/$.ct=application%2Fjson&$.ce=utf-8"
        #expect(peer.received == [
            "CONNECT device1 contoso.azure-devices.net/device1/?api-version=2021-04-12",
            "PUBLISH \(events)",
            "PUBLISH \(events)",          // the peer drops the connection here, without PUBACK
            "CONNECT device1 contoso.azure-devices.net/device1/?api-version=2021-04-12",
            "PUBLISH \(events) dup",      // message 2 again, marked DUP
            "PUBLISH \(events)",
            "DISCONNECT",
        ])
        let log = flow.observer.log.map { $0.hasPrefix("sent") ? String($0.prefix(12)) : $0 }
        #expect(log == [
            "connecting 1", "connected sp=false",
            "sent 1 id 1 ", "acked 1",
            "sent 2 id 2 ",
            "failed transport(ClientTests.ScriptedFailure.closedByPeer) retry in 1000 ms",
            "connecting 1", "connected sp=false",
            // Message 3 is due by now: it is queued behind the re-sent message 2.
            "sent 3 id 3 ", "acked 2", "acked 3",
            "disconnected",
        ])
        #expect(time.now - hubStart < .seconds(10))
        for buffer in [userName, request, results, connectBuffer, topicBuffer, bodyBuffer] { buffer.deallocate() }
    }

    /// A hub client for `peer` on `time`, with its buffers (deallocated by `done`).
    private static func hubClient(_ peer: ScriptedPeer, _ time: VirtualTime) throws -> (MQTTClient<ScriptedTransport, VirtualClock>, IoTHubClient, UnsafeMutableRawBufferPointer, done: () -> Void) {
        let memory = ClientMemory()
        let connectBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        let topicBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        let bodyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        let configuration = IoTHubConfiguration(hostName: view("contoso.azure-devices.net"), deviceID: view("device1"))
        let session = MQTTSession(
            configuration: MQTTSessionConfiguration(connect: try IoTHubClient.connectPacket(for: configuration, buffer: connectBuffer)),
            memory: memory.memory)
        let client = MQTTClient(session: session, transport: ScriptedTransport(peer: peer), clock: VirtualClock(time: time))
        return (client, IoTHubClient(configuration: configuration, topicBuffer: topicBuffer), bodyBuffer, {
            withExtendedLifetime(memory) {}
            for buffer in [connectBuffer, topicBuffer, bodyBuffer] { buffer.deallocate() }
        })
    }

    @Test func theStayIsTimedFromTheLastAcknowledgement() throws {
        let time = VirtualTime()
        let peer = ScriptedPeer(time: time)
        var (client, hub, body, done) = try Self.hubClient(peer, time)
        defer { done() }
        var flow = DeviceFlow<ScriptedTransport, VirtualClock, RecordingObserver>(observer: RecordingObserver(), random: SplitMix64(seed: 1))
        // Message 2 goes (and is acknowledged) at 3 s; the stay of 5 s runs from there, to 8 s.
        try flow.sendTelemetry(
            &client, hub: hub, count: 2, interval: .seconds(3), bodyBuffer: body, deadline: time.now + .seconds(60),
            stayConnected: .seconds(5)
        ) { (_, _) throws(JSONWriteError) -> ByteView? in view("{}") }
        #expect(time.now == DeviceInstant(milliseconds: 8_000))
        #expect(flow.observer.log.suffix(3) == ["sent 2 id 2 {}", "acked 2", "disconnected"])
    }

    /// Stops after `days` of virtual time, counted as a long-running app counts them: the
    /// milliseconds between checks added up (an instant that far ahead cannot be compared).
    struct StoppingObserver: DeviceFlowObserver {
        typealias TransportFailure = ScriptedFailure
        final class Elapsed {
            var milliseconds: Int64 = 0
            var last: DeviceInstant
            init(from start: DeviceInstant) { last = start }
        }
        let time: VirtualTime
        let days: Int64
        let elapsed: Elapsed
        mutating func observe(_ event: DeviceFlowEvent<ScriptedFailure>) {}
        var shouldStop: Bool {
            elapsed.milliseconds += Int64((time.now - elapsed.last).milliseconds)
            elapsed.last = time.now
            return elapsed.milliseconds >= days * 86_400_000
        }
    }

    /// A stay of `nil` with no deadline lasts until the observer stops the flow, here 30 days
    /// on: past the counter's 24.8-day horizon and its wrap, the instants kept are still now's
    /// neighbours.
    @Test func aStayOfNilLastsUntilStopped() throws {
        let time = VirtualTime()
        let peer = ScriptedPeer(time: time)
        var (client, hub, body, done) = try Self.hubClient(peer, time)
        defer { done() }
        // The session pings through the month at its keep-alive; waits are not cut to 1 s.
        client.ioTimeout = .seconds(3_600)
        let elapsed = StoppingObserver.Elapsed(from: time.now)
        var flow = DeviceFlow<ScriptedTransport, VirtualClock, StoppingObserver>(
            observer: StoppingObserver(time: time, days: 30, elapsed: elapsed), random: SplitMix64(seed: 1))
        do throws(DeviceFlowFailure<ScriptedFailure>) {
            try flow.sendTelemetry(
                &client, hub: hub, count: 1, interval: .zero, bodyBuffer: body, deadline: nil, stayConnected: nil
            ) { (_, _) throws(JSONWriteError) -> ByteView? in view("{}") }
            Issue.record("the flow ended by itself")
        } catch .stopped {
        } catch {
            Issue.record("failed: \(error)")
        }
        #expect(elapsed.milliseconds >= 30 * 86_400_000)
        #expect(elapsed.milliseconds < 30 * 86_400_000 + 300_000)
        #expect(peer.received.filter { $0 == "CONNECT device1 contoso.azure-devices.net/device1/?api-version=2021-04-12" }.count == 1)
        #expect(peer.received.filter { $0 == "PINGREQ" }.count > 10_000)
        #expect(peer.received.last == "DISCONNECT")
    }
}
