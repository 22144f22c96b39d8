// The in-firmware server for part (b): a `DeviceTransport` whose other end is a script. It
// reassembles what the client sends into MQTT frames (with the core's frame reader), checks
// every frame byte for byte against the script's expected hex, checks that it decodes, and
// answers with the script's reply bytes. The script is DPS (CONNECT, SUBSCRIBE, register,
// 202 assigning with retry-after=3, poll, 200 assigned) or IoT Hub (CONNECT, three telemetry
// PUBLISHes with PUBACKs, DISCONNECT).
//
// Time is the board's SysTick clock: a receive with nothing to deliver sleeps (WFI) until its
// timeout, so the 3-second retry-after and the telemetry interval pass in real time.
//
// The expected client bytes were computed independently of DeviceCore (Python, from the MQTT
// 3.1.1 layout and the DPS/IoT Hub topic formats); the DPS ones equal the host transcript test's
// (Tests/ClientTests/DPSTranscriptTests.swift).

import CortexMBoard
import DeviceCore

/// One exchange: what the client must send next, and what the server answers.
struct ScriptStep {
    let name: StaticString
    let expect: Hex
    let reply: Hex
}

enum Script {
    case dps
    case hub

    var name: StaticString {
        switch self {
        case .dps: return "dps"
        case .hub: return "hub"
        }
    }

    func step(_ index: Int) -> ScriptStep? {
        switch self {
        case .dps: return dpsStep(index)
        case .hub: return hubStep(index)
        }
    }
}

private func dpsStep(_ index: Int) -> ScriptStep? {
    switch index {
    case 0:
        return ScriptStep(
            name: "CONNECT device1, user 0ne00000A0A/registrations/device1/api-version=2019-03-31 -> CONNACK",
            expect: Hex("104d00044d5154540482003c0007646576696365310038306e6530303030304130412f726567697374726174696f6e732f646576696365312f6170692d76657273696f6e3d323031392d30332d3331"),
            reply: Hex("20020000"))
    case 1:
        return ScriptStep(
            name: "SUBSCRIBE $dps/registrations/res/# QoS 1 -> SUBACK",
            expect: Hex("821d00010018246470732f726567697374726174696f6e732f7265732f2301"),
            reply: Hex("9003000101"))
    case 2:
        return ScriptStep(
            name: "PUBLISH register $rid=1 -> PUBACK, 202 assigning retry-after=3",
            expect: Hex("324e002e246470732f726567697374726174696f6e732f5055542f696f746470732d72656769737465722f3f247269643d3100027b22726567697374726174696f6e4964223a2264657669636531227d"),
            reply: Hex("4002000232600030246470732f726567697374726174696f6e732f7265732f3230322f3f247269643d312672657472792d61667465723d3300017b226f7065726174696f6e4964223a22342e616263222c22737461747573223a2261737369676e696e67227d"))
    case 3:
        return ScriptStep(name: "PUBACK 1 (the 202)", expect: Hex("40020001"), reply: Hex(""))
    case 4:
        return ScriptStep(
            name: "PUBLISH poll $rid=2 operationId=4.abc -> PUBACK, 200 assigned",
            expect: Hex("324f004b246470732f726567697374726174696f6e732f4745542f696f746470732d6765742d6f7065726174696f6e7374617475732f3f247269643d32266f7065726174696f6e49643d342e6162630003"),
            reply: Hex("4002000332f1020022246470732f726567697374726174696f6e732f7265732f3230302f3f247269643d3200027b226f7065726174696f6e4964223a22342e616263222c22737461747573223a2261737369676e6564222c22726567697374726174696f6e5374617465223a7b2278353039223a7b7d2c22726567697374726174696f6e4964223a2264657669636531222c22637265617465644461746554696d65557463223a22323032352d30352d32325430383a30363a35382e325a222c2261737369676e6564487562223a22636f6e746f736f2e617a7572652d646576696365732e6e6574222c226465766963654964223a2264657669636531222c22737461747573223a2261737369676e6564222c22737562737461747573223a22696e697469616c41737369676e6d656e74222c226c617374557064617465644461746554696d65557463223a22323032352d30352d32325430383a30363a35382e355a222c2265746167223a22496a41774d444169227d7d"))
    case 5:
        return ScriptStep(name: "PUBACK 2 (the 200)", expect: Hex("40020002"), reply: Hex(""))
    case 6:
        return ScriptStep(name: "DISCONNECT", expect: Hex("e000"), reply: Hex(""))
    default:
        return nil
    }
}

private func hubStep(_ index: Int) -> ScriptStep? {
    switch index {
    case 0:
        return ScriptStep(
            name: "CONNECT device1, user contoso.azure-devices.net/device1/?api-version=2021-04-12 -> CONNACK",
            expect: Hex("104e00044d515454048000f00007646576696365310039636f6e746f736f2e617a7572652d646576696365732e6e65742f646576696365312f3f6170692d76657273696f6e3d323032312d30342d3132"),
            reply: Hex("20020000"))
    case 1:
        return ScriptStep(
            name: "PUBLISH telemetry 1/3 id 1 -> PUBACK",
            expect: Hex("32e5010042646576696365732f646576696365312f6d657373616765732f6576656e74732f242e63743d6170706c69636174696f6e2532466a736f6e26242e63653d7574662d3800017b2274656d7065726174757265223a32342e312c2268756d6964697479223a36302e352c226d657373616765223a2248656c6c6f2066726f6d20537769667420582e35303920445053206465766963652120286d65737361676520312f3329222c2274696d657374616d70223a22323032352d30352d32325430383a30363a35392e363236383933222c226465766963654964223a2264657669636531227d"),
            reply: Hex("40020001"))
    case 2:
        return ScriptStep(
            name: "PUBLISH telemetry 2/3 id 2 -> PUBACK",
            expect: Hex("32e5010042646576696365732f646576696365312f6d657373616765732f6576656e74732f242e63743d6170706c69636174696f6e2532466a736f6e26242e63653d7574662d3800027b2274656d7065726174757265223a32342e322c2268756d6964697479223a36312e302c226d657373616765223a2248656c6c6f2066726f6d20537769667420582e35303920445053206465766963652120286d65737361676520322f3329222c2274696d657374616d70223a22323032352d30352d32325430383a30373a30302e363236383933222c226465766963654964223a2264657669636531227d"),
            reply: Hex("40020002"))
    case 3:
        return ScriptStep(
            name: "PUBLISH telemetry 3/3 id 3 -> PUBACK",
            expect: Hex("32e5010042646576696365732f646576696365312f6d657373616765732f6576656e74732f242e63743d6170706c69636174696f6e2532466a736f6e26242e63653d7574662d3800037b2274656d7065726174757265223a32342e332c2268756d6964697479223a36312e352c226d657373616765223a2248656c6c6f2066726f6d20537769667420582e35303920445053206465766963652120286d65737361676520332f3329222c2274696d657374616d70223a22323032352d30352d32325430383a30373a30312e363236383933222c226465766963654964223a2264657669636531227d"),
            reply: Hex("40020003"))
    case 4:
        return ScriptStep(name: "DISCONNECT", expect: Hex("e000"), reply: Hex(""))
    default:
        return nil
    }
}

/// Why the scripted peer stopped the client.
enum PeerFailure: Error, Equatable {
    /// The client's packet at this step differs from the script (both printed).
    case unexpectedBytes(step: Int)
    /// The client's bytes do not form a valid MQTT packet.
    case undecodable(MQTTDecodeError)
    /// The client sent more than the script has.
    case scriptEnded
    /// A second connection, or a send/receive on a closed one.
    case notOpen
    case openedTwice
}

struct ScriptedTransport: DeviceTransport {
    typealias Failure = PeerFailure

    private(set) var script: Script
    let clock: SysTickClock
    /// Reassembles the client's bytes into frames.
    var reader: MQTTFrameReader
    /// Next script step, and the reply being delivered.
    private(set) var step = 0
    private var reply = Hex("")
    private var replyPosition = 0
    private(set) var isOpen = false
    private(set) var opens = 0
    private(set) var closes = 0
    private(set) var failed = false
    /// When each step's packet arrived and when its reply was first read, in ms since reset.
    private(set) var arrivedAt = InlineArray<8, Int64>(repeating: -1)
    private(set) var repliedAt = InlineArray<8, Int64>(repeating: -1)

    init(script: Script, clock: SysTickClock, frameStorage: UnsafeMutableRawBufferPointer) {
        self.script = script
        self.clock = clock
        reader = MQTTFrameReader(storage: frameStorage)
    }

    /// Nothing here is worth retrying: a mismatch fails the test at once.
    static func isRetriable(_ failure: PeerFailure) -> Bool { false }

    /// Every step done, every reply delivered, the connection closed, never failed.
    var completed: Bool {
        !failed && script.step(step) == nil && replyPosition == reply.count && !isOpen && opens == 1 && closes >= 1
    }

    /// Pointed at the assigned hub (as `IoTDevice` does after DPS), the peer plays the hub's
    /// script from its start; any other endpoint keeps the script it has.
    mutating func setEndpoint(host: ByteView, port: UInt16) {
        guard host == ByteView("contoso.azure-devices.net"), port == 8883, script != .hub else { return }
        script = .hub
        step = 0
        reply = Hex("")
        replyPosition = 0
        opens = 0
        closes = 0
        arrivedAt = InlineArray(repeating: -1)
        repliedAt = InlineArray(repeating: -1)
    }

    mutating func open(timeout: DeviceDuration) throws(PeerFailure) {
        if opens > 0 { throw fail(.openedTwice) }
        opens += 1
        isOpen = true
        reader.reset()
    }

    mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(PeerFailure) -> Int {
        guard isOpen else { throw fail(.notOpen) }
        var offset = 0
        while offset < bytes.count {
            offset += reader.append(bytes.slice(from: offset, count: bytes.count - offset).buffer)
            while true {
                let frame: MQTTFrame?
                do throws(MQTTDecodeError) { frame = try reader.nextFrame() } catch { throw fail(.undecodable(error)) }
                guard let frame else { break }
                try handle(frame)
            }
        }
        return bytes.count
    }

    private mutating func handle(_ frame: MQTTFrame) throws(PeerFailure) {
        do throws(MQTTDecodeError) { _ = try frame.decode() } catch { throw fail(.undecodable(error)) }
        guard let expected = script.step(step) else {
            Console.write("  peer: client sent more than the script: ")
            Console.hex(frame.bytes)
            Console.newline()
            throw fail(.scriptEnded)
        }
        let now = Int64(word: Int(truncatingIfNeeded: clock.now().milliseconds))
        Console.write("  ")
        Console.write(script.name)
        Console.write(" peer t=")
        Console.decimal(Int(truncatingIfNeeded: now))
        Console.write(" ms: ")
        Console.write(expected.name)
        guard expected.expect.matches(frame.bytes) else {
            Console.line(": MISMATCH")
            Console.write("    expected ")
            Console.write(expected.expect.text)
            Console.newline()
            Console.write("    got      ")
            Console.hex(frame.bytes)
            Console.newline()
            throw fail(.unexpectedBytes(step: step))
        }
        Console.write(": ")
        Console.decimal(frame.bytes.count)
        Console.line(" bytes match")
        guard replyPosition == reply.count else { throw fail(.unexpectedBytes(step: step)) }  // reply not yet read
        if step < arrivedAt.count { arrivedAt[step] = now }
        reply = expected.reply
        replyPosition = 0
        step += 1
    }

    mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(PeerFailure) -> Int {
        guard isOpen else { throw fail(.notOpen) }
        let pending = reply.count - replyPosition
        if pending == 0 {
            clock.sleep(until: clock.now() + timeout)  // nothing comes: the wait passes (WFI)
            return 0
        }
        if replyPosition == 0 && step - 1 < repliedAt.count { repliedAt[step - 1] = Int64(word: Int(truncatingIfNeeded: clock.now().milliseconds)) }
        let count = min(pending, buffer.count)
        var i = 0
        while i < count {
            buffer[i] = reply[replyPosition + i]
            i += 1
        }
        replyPosition += count
        return count
    }

    mutating func close() {
        isOpen = false
        closes += 1
    }

    private mutating func fail(_ failure: PeerFailure) -> PeerFailure {
        failed = true
        return failure
    }
}
