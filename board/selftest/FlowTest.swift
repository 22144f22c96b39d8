// Part (b) of the self-test: the device's whole job, `DeviceFlow.provision` then
// `DeviceFlow.sendTelemetry`, exactly as a product firmware would run it, against the scripted
// peer (ScriptedPeer.swift), on the SysTick clock.
//
// Memory is sized for the micro:bit's 16 KB of RAM: one set of session buffers (receive 512,
// transmit 128, outbox 512, in-flight window 2) serves the DPS session and then the IoT Hub
// session; the DPS results buffer (384) stays alive because the hub's name and device id
// point into it.

import CortexMBoard
import DeviceCore

/// Counts and prints the flow's events, and checks their order.
struct FlowObserver: DeviceFlowObserver {
    typealias TransportFailure = PeerFailure

    var connecting = 0
    var connected = 0
    var failures = 0
    var disconnected = 0
    var provisioned: DPSOutcome?
    var sent = 0
    var acknowledged = 0
    var inOrder = true

    mutating func observe(_ event: DeviceFlowEvent<PeerFailure>) {
        FlowConsole.event(event, transport: describe)
        switch event {
        case .connecting: connecting += 1
        case .connected: connected += 1
        case .connectionFailed: failures += 1
        case .registrationProgress: break
        case .provisioned(let outcome): provisioned = outcome
        case .messageSent(let index, let packetID, _):
            sent += 1
            if index != sent || Int(packetID) != sent { inOrder = false }
        case .messageAcknowledged(let packetID):
            acknowledged += 1
            if Int(packetID) != acknowledged { inOrder = false }
        case .cloudToDevice: inOrder = false
        case .disconnected: disconnected += 1
        }
    }
}

typealias Flow = DeviceFlow<ScriptedTransport, SysTickClock, FlowObserver>

/// The scripted peer's failures, for the console.
func describe(_ peer: PeerFailure) {
    Console.write("scripted peer")
    if case .unexpectedBytes(let step) = peer {
        Console.write(": unexpected bytes at step ")
        Console.decimal(step)
    }
}

func describe(_ failure: Flow.Failure) {
    FlowConsole.failure(failure, transport: describe)
}

/// Runs registration then telemetry; every check goes into `checks`.
func runDeviceFlow(_ checks: inout Checks, pool: inout MemoryPool) {
    let clock = SysTickClock()
    let memory = MQTTSessionMemory(
        receive: pool.bytes(512), transmit: pool.bytes(128), outbox: pool.bytes(512),
        inflight: pool.array(of: MQTTInflightEntry.self, count: 2, repeating: MQTTInflightEntry()))
    let peerFrames = pool.bytes(256)  // the peer's side: reassembles the client's packets
    var flow = Flow(observer: FlowObserver(), backoff: ReconnectBackoff(), random: SplitMix64(seed: 0x5EED))

    // DPS registration.
    Console.line("flow: DPS registration (scripted DPS, SysTick clock)")
    let dps = DPSConfiguration(idScope: ByteView("0ne00000A0A"), registrationID: ByteView("device1"))
    let subscriptions = pool.array(of: MQTTSubscription.self, count: 1, repeating: DPSRegistration.subscription)
    let dpsConnect: MQTTConnect
    do throws(BufferTooSmall) {
        dpsConnect = try DPSRegistration.connectPacket(for: dps, userNameBuffer: pool.bytes(64))
    } catch {
        checks.check(false, "DPS user name fits in 64 bytes")
        return
    }
    var dpsClient = MQTTClient(
        session: MQTTSession(
            configuration: MQTTSessionConfiguration(
                connect: dpsConnect, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(subscriptions))),
            memory: memory),
        transport: ScriptedTransport(script: .dps, clock: clock, frameStorage: peerFrames),
        clock: clock)
    var registration = DPSRegistration(configuration: dps, requestBuffer: pool.bytes(192), resultsBuffer: pool.bytes(384))
    let dpsStart = clock.now()
    let outcome: DPSOutcome
    do throws(Flow.Failure) {
        outcome = try flow.provision(&dpsClient, &registration)
    } catch {
        describe(error)
        checks.check(false, "DPS registration completes")
        return
    }
    let peer = dpsClient.transport
    checks.check(peer.completed, "DPS: every scripted packet sent, byte for byte, then closed")
    guard case .assigned(let assignment) = outcome else {
        checks.check(false, "DPS: assigned")
        return
    }
    checks.check(assignment.assignedHub == ByteView("contoso.azure-devices.net"), "DPS: assigned hub")
    checks.check(assignment.deviceID == ByteView("device1"), "DPS: device id")
    checks.check(assignment.substatus == ByteView("initialAssignment"), "DPS: substatus")
    checks.check(assignment.payload == nil, "DPS: no custom payload")
    checks.check(flow.observer.connecting == 1 && flow.observer.connected == 1 && flow.observer.disconnected == 1
                 && flow.observer.failures == 0 && flow.observer.provisioned == outcome, "DPS: flow events")
    // retry-after=3: the poll (step 4) comes at least 3 s after the 202 was delivered (step 2's reply).
    let retryWait = peer.arrivedAt[4] - peer.repliedAt[2]
    Console.write("flow: poll sent ")
    Console.decimal(Int(truncatingIfNeeded: retryWait))
    Console.write(" ms after the 202 (retry-after=3); registration took ")
    Console.decimal(Int(truncatingIfNeeded: (clock.now() - dpsStart).milliseconds))
    Console.line(" ms")
    checks.check(retryWait >= 3000 && retryWait < 4500, "DPS: poll waits for retry-after (3 s) on the SysTick clock")

    // IoT Hub telemetry, on the same session buffers.
    Console.line("flow: IoT Hub telemetry, 3 messages 500 ms apart")
    let hubConfiguration = IoTHubConfiguration(hostName: assignment.assignedHub, deviceID: assignment.deviceID)
    let hubConnect: MQTTConnect
    do throws(BufferTooSmall) {
        hubConnect = try IoTHubClient.connectPacket(for: hubConfiguration, buffer: pool.bytes(96))
    } catch {
        checks.check(false, "hub client id and user name fit in 96 bytes")
        return
    }
    var hubClient = MQTTClient(
        session: MQTTSession(configuration: MQTTSessionConfiguration(connect: hubConnect), memory: memory),
        transport: ScriptedTransport(script: .hub, clock: clock, frameStorage: peerFrames),
        clock: clock)
    let hub = IoTHubClient(configuration: hubConfiguration, topicBuffer: pool.bytes(96))
    let bodyBuffer = pool.bytes(192)
    flow.observer = FlowObserver()
    do throws(Flow.Failure) {
        try flow.sendTelemetry(
            &hubClient, hub: hub, count: 3, interval: .milliseconds(500), bodyBuffer: bodyBuffer,
            deadline: clock.now() + .seconds(60)
        ) { (index, buffer) throws(JSONWriteError) -> ByteView? in
            let i = Int64(word: index)
            return try WalkthroughTelemetry(
                temperatureTenths: 240 &+ i, humidityTenths: 600 &+ 5 &* i, index: index, count: 3,
                timestampMicroseconds: 1_747_901_219_626_893 &+ (i &- 1) &* 1_000_000, deviceID: assignment.deviceID
            ).write(into: buffer)
        }
    } catch {
        describe(error)
        checks.check(false, "telemetry completes")
        return
    }
    let hubPeer = hubClient.transport
    checks.check(hubPeer.completed, "hub: every scripted packet sent, byte for byte, then closed")
    checks.check(flow.observer.sent == 3 && flow.observer.acknowledged == 3 && flow.observer.inOrder, "hub: 3 sent, 3 acknowledged, in order")
    checks.check(flow.observer.connecting == 1 && flow.observer.connected == 1 && flow.observer.disconnected == 1
                 && flow.observer.failures == 0, "hub: flow events")
    checks.check(hubClient.session.unacknowledgedCount == 0, "hub: outbox empty")
    let gap1 = hubPeer.arrivedAt[2] - hubPeer.arrivedAt[1]
    let gap2 = hubPeer.arrivedAt[3] - hubPeer.arrivedAt[2]
    Console.write("flow: telemetry gaps ")
    Console.decimal(Int(truncatingIfNeeded: gap1))
    Console.write(" ms, ")
    Console.decimal(Int(truncatingIfNeeded: gap2))
    Console.line(" ms (interval 500 ms)")
    // The interval runs from when a message is queued; it reaches the peer at the next flush,
    // a millisecond tick or so later, so arrivals may be a tick closer than the interval.
    checks.check(gap1 >= 495 && gap2 >= 495 && gap1 < 1500 && gap2 < 1500, "hub: messages 500 ms apart on the SysTick clock")
}
