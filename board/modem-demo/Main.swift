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
typealias Device = IoTDevice<Transport, SysTickClock, DemoObserver>

/// Prints the flow's events and counts the hub's acknowledgements.
struct DemoObserver: DeviceFlowObserver {
    typealias TransportFailure = ModemFailure
    var acknowledged = 0

    mutating func observe(_ event: DeviceFlowEvent<ModemFailure>) {
        // The modem's message is in the device's channel, out of the observer's reach: its code here.
        FlowConsole.event(event) { describe($0, message: nil) }
        if case .messageAcknowledged = event { acknowledged += 1 }
    }
}

/// A modem failure, for the console, with the modem's message (the channel's
/// `lastErrorMessage`) when the caller has it.
func describe(_ failure: ModemFailure, message: ModemMessage?) {
    switch failure {
    case .modem(let code, let retriable):
        Console.write("modem error ")
        Console.decimal(Int(code.rawValue))
        if retriable { Console.write(" (retriable)") }
        if let message {
            Console.write(": ")
            message.withBytes { Console.write($0) }
        }
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
    // The modem's wall clock at `syncedAt`: a message's time is that plus the time since
    // (an instant difference: good for 24.8 days, longer than the demo runs).
    let wallClock: Int64
    let syncedAt: DeviceInstant
    do throws(ModemFailure) {
        registrationID = try channel.hello(identityBuffer: pool.bytes(64))
        wallClock = try channel.time()
        syncedAt = clock.now()
    } catch {
        Console.write("modem-demo: ")
        describe(error, message: channel.lastErrorMessage)
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

    // The front door: DPS, then telemetry, in one region of the pool (docs/firmware.md).
    Console.write("modem-demo: registering with DPS at ")
    Console.write(Settings.provisioningHost)
    Console.write(", ID scope ")
    Console.write(Settings.idScope)
    Console.newline()
    var device: Device
    do throws(Device.Failure) {
        device = try Device(
            idScope: ByteView(Settings.idScope), registrationID: registrationID,
            provisioningHost: ByteView(Settings.provisioningHost), provisioningPort: Settings.provisioningPort,
            transport: Transport(channel: channel), clock: clock,
            memory: pool.bytes(Device.requiredBytes()), observer: DemoObserver(), seed: UInt64(bitPattern: wallClock))
    } catch {
        FlowConsole.failure(error) { describe($0, message: nil) }
        return 2
    }
    do throws(Device.Failure) {
        guard case .assigned(let assignment) = try device.provision() else {
            Console.line("modem-demo: DPS did not assign the device")
            return 1
        }

        // Telemetry to the assigned hub.
        Console.write("modem-demo: sending ")
        Console.decimal(Settings.messages)
        Console.write(" messages to ")
        Console.write(assignment.assignedHub)
        Console.newline()
        try device.sendTelemetry(to: assignment, messages: Settings.messages, interval: .milliseconds(Settings.intervalMilliseconds)) {
            (index, buffer) throws(JSONWriteError) -> ByteView? in
            let i = Int64(word: index)
            let now = wallClock &+ Int64(word: Int(truncatingIfNeeded: (clock.now() - syncedAt).milliseconds))
            return try WalkthroughTelemetry(
                temperatureTenths: 240 &+ (i &* 7) % 60, humidityTenths: 600 &+ (i &* 13) % 200,
                greeting: ByteView(Settings.greeting),
                index: index, count: Settings.messages,
                timestampMicroseconds: now &* 1000, deviceID: assignment.deviceID
            ).write(into: buffer)
        }
        let acknowledged = device.flow.observer.acknowledged
        Console.write("modem-demo: ")
        Console.decimal(acknowledged)
        Console.write(" of ")
        Console.decimal(Settings.messages)
        Console.write(" messages acknowledged by the hub; modem line: ")
        Console.decimal(device.transport.channel.damagedFrames)
        Console.write(" damaged frames, ")
        Console.decimal(device.transport.channel.link.overruns)
        Console.line(" bytes overrun")
        return acknowledged == Settings.messages ? 0 : 1
    } catch {
        let message = device.transport.channel.lastErrorMessage
        FlowConsole.failure(error) { describe($0, message: message) }
        return 2
    }
}
