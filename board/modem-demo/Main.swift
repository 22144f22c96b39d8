// The device's real job on the board (`make qemu-demo`): the firmware registers with DPS and
// sends telemetry to the assigned IoT Hub itself — MQTT session, DPS state machine, JSON — and
// reaches the network through a modem on a UART that offers TLS sockets (mps2-an386: UART1;
// micro:bit: its only UART, its console then going through semihosting)
// (docs/modem-protocol.md; the host side is `dps-device modem`). The modem holds the device's
// certificate and key; the firmware learns its registration id (the certificate's CN) from it.
//
// Progress goes to the console; the return value becomes QEMU's exit status: 0 when
// every message was acknowledged by the hub. Settings (ID scope, DPS endpoint, message count)
// are compiled in from board/qemu-demo.mk (Settings.swift, generated).
//
// Embedded Swift, `-no-allocations`: every buffer comes from one static pool, sized for the
// micro:bit's 16 KB of RAM (the same firmware runs on both boards).

import CortexMBoard
import DeviceCore

nonisolated(unsafe) var memoryPool = InlineArray<4096, UInt8>(repeating: 0)

typealias Link = UARTModemLink
typealias Transport = ModemTransport<Link, SysTickClock>
typealias Flow = DeviceFlow<Transport, SysTickClock, DemoObserver>

/// Prints the flow's events and counts the hub's acknowledgements.
struct DemoObserver: DeviceFlowObserver {
    typealias TransportFailure = ModemFailure
    var acknowledged = 0

    mutating func observe(_ event: DeviceFlowEvent<ModemFailure>) {
        FlowConsole.event(event, transport: describe)
        if case .messageAcknowledged = event { acknowledged += 1 }
    }
}

/// A modem failure, for the console.
func describe(_ failure: ModemFailure) {
    switch failure {
    case .modem(let code, let retriable, let message):
        Console.write("modem error ")
        Console.decimal(Int(code.rawValue))
        Console.write(retriable ? " (retriable): " : ": ")
        message.withBytes { Console.write($0) }
    case .noResponse(let request):
        Console.write("no answer from the modem to request 0x")
        Console.hexByte(request.rawValue)
        Console.write(": is `dps-device modem` connected to the modem UART?")
    case .unexpectedResponse(let request, let kind):
        Console.write("the modem answered request 0x")
        Console.hexByte(request.rawValue)
        Console.write(" with frame kind 0x")
        Console.hexByte(kind)
    case .incompatibleModem(let version):
        Console.write("the modem speaks protocol version ")
        Console.decimal(Int(version))
    }
}

func describe(_ failure: DPSFailure) {
    Console.write("  DPS refused the registration")
    if case .rejected(let status) = failure.reason {
        Console.write(": status ")
        Console.decimal(Int(status))
    }
    if let message = failure.message {
        Console.write(": ")
        Console.write(message)
    }
    Console.newline()
}

@_cdecl("main")
func firmwareMain() -> Int32 {
    // First, so that on a board whose only UART becomes the modem line the console has already
    // moved (to semihosting) when the first line is printed.
    let link = Link()
    Console.write("modem-demo: ")
    Console.boardName()
    Console.line(": DPS registration and telemetry through the modem on its UART")
    var status: Int32 = 1
    var used = 0
    withUnsafeMutableBytes(of: &memoryPool) { memory in
        var pool = MemoryPool(memory)
        status = runDevice(link, &pool)
        used = pool.used
    }
    Console.memoryReport("modem-demo: ", poolUsed: used, poolSize: MemoryLayout<InlineArray<4096, UInt8>>.size)
    Console.line(status == 0 ? "modem-demo: ok" : "modem-demo: FAILED")
    return status
}

/// The job: HELLO to the modem, DPS registration, then `Settings.messages` telemetry messages.
func runDevice(_ link: Link, _ pool: inout MemoryPool) -> Int32 {
    let clock = SysTickClock()
    var channel = ModemChannel(link: link, clock: clock, frameBuffer: pool.bytes(512 + ModemFrame.overhead))

    // The modem: protocol version, and who we are (its certificate's CN).
    let registrationID: ByteView
    let wallClockAtBoot: Int64
    do throws(ModemFailure) {
        registrationID = try channel.hello(identityBuffer: pool.bytes(64))
        wallClockAtBoot = try channel.time() &- clock.now().milliseconds
    } catch {
        Console.write("modem-demo: ")
        describe(error)
        Console.newline()
        return 2
    }
    guard !registrationID.isEmpty else {
        Console.line("modem-demo: the modem holds no device certificate with a CN (start it with --cert and --key)")
        return 4
    }
    Console.write("modem-demo: modem ready, frames up to ")
    Console.decimal(channel.modemMaximumPayload)
    Console.write(" bytes; registration id ")
    Console.write(registrationID)
    Console.newline()

    // One set of session buffers serves the DPS session, then the IoT Hub session.
    let memory = MQTTSessionMemory(
        receive: pool.bytes(768), transmit: pool.bytes(384), outbox: pool.bytes(512),
        inflight: pool.array(of: MQTTInflightEntry.self, count: 2, repeating: MQTTInflightEntry()))
    var flow = Flow(observer: DemoObserver(), backoff: ReconnectBackoff(), random: SplitMix64(seed: UInt64(bitPattern: wallClockAtBoot)))

    // DPS registration.
    Console.write("modem-demo: registering with DPS at ")
    Console.write(Settings.provisioningHost)
    Console.write(", ID scope ")
    Console.write(Settings.idScope)
    Console.newline()
    let dps = DPSConfiguration(idScope: ByteView(Settings.idScope), registrationID: registrationID)
    let subscriptions = pool.array(of: MQTTSubscription.self, count: 1, repeating: DPSRegistration.subscription)
    let dpsConnect: MQTTConnect
    do throws(TextOverflow) {
        dpsConnect = try DPSRegistration.connectPacket(for: dps, userNameBuffer: pool.bytes(128))
    } catch {
        Console.line("modem-demo: the DPS user name does not fit in 128 bytes")
        return 4
    }
    var dpsClient = MQTTClient(
        session: MQTTSession(
            configuration: MQTTSessionConfiguration(
                connect: dpsConnect, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(subscriptions))),
            memory: memory),
        transport: Transport(channel: channel, host: ByteView(Settings.provisioningHost), port: Settings.provisioningPort),
        clock: clock)
    var registration = DPSRegistration(configuration: dps, requestBuffer: pool.bytes(256), resultsBuffer: pool.bytes(384))
    let outcome: DPSOutcome
    do throws(Flow.Failure) {
        outcome = try flow.provision(&dpsClient, &registration)
    } catch {
        FlowConsole.failure(error, transport: describe)
        return 2
    }
    channel = dpsClient.transport.channel
    guard case .assigned(let assignment) = outcome else {
        if case .failed(let failure) = outcome { describe(failure) }
        return 1
    }

    // Telemetry to the assigned hub.
    Console.write("modem-demo: sending ")
    Console.decimal(Settings.messages)
    Console.write(" messages to ")
    Console.write(assignment.assignedHub)
    Console.newline()
    let hubConfiguration = IoTHubConfiguration(hostName: assignment.assignedHub, deviceID: assignment.deviceID)
    let hubConnect: MQTTConnect
    do throws(TextOverflow) {
        hubConnect = try IoTHubClient.connectPacket(for: hubConfiguration, buffer: pool.bytes(192))
    } catch {
        Console.line("modem-demo: the IoT Hub client id and user name do not fit in 192 bytes")
        return 4
    }
    var hubClient = MQTTClient(
        session: MQTTSession(configuration: MQTTSessionConfiguration(connect: hubConnect), memory: memory),
        transport: Transport(channel: channel, host: assignment.assignedHub, port: 8883),
        clock: clock)
    let hub = IoTHubClient(configuration: hubConfiguration, topicBuffer: pool.bytes(128))
    flow.observer = DemoObserver()
    do throws(Flow.Failure) {
        try flow.sendTelemetry(
            &hubClient, hub: hub, count: Settings.messages, interval: .milliseconds(Settings.intervalMilliseconds),
            bodyBuffer: pool.bytes(256), deadline: clock.now() + .seconds(120)
        ) { (index, buffer) throws(JSONWriteError) -> ByteView? in
            let i = Int64(word: index)
            let now = wallClockAtBoot &+ clock.now().milliseconds
            return try WalkthroughTelemetry(
                temperatureTenths: 240 &+ (i &* 7) % 60, humidityTenths: 600 &+ (i &* 13) % 200,
                greeting: ByteView(Settings.greeting),
                index: index, count: Settings.messages,
                timestampMicroseconds: now &* 1000, deviceID: assignment.deviceID
            ).write(into: buffer)
        }
    } catch {
        FlowConsole.failure(error, transport: describe)
        return 2
    }
    let acknowledged = flow.observer.acknowledged
    Console.write("modem-demo: ")
    Console.decimal(acknowledged)
    Console.write(" of ")
    Console.decimal(Settings.messages)
    Console.write(" messages acknowledged by the hub; modem line: ")
    Console.decimal(hubClient.transport.channel.damagedFrames)
    Console.write(" damaged frames, ")
    Console.decimal(hubClient.transport.channel.link.overruns)
    Console.line(" bytes overrun")
    return acknowledged == Settings.messages ? 0 : 1
}
