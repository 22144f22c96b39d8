import DeviceCore

// Test doubles for the device side of the modem protocol: a virtual clock and a scripted
// modem on an in-memory line, plus an independent frame encoder/decoder (not the code under
// test) to build and check bytes.

/// A clock that only moves when someone sleeps: a `ModemLink` that has nothing to deliver
/// sleeps until its deadline, so timeouts take no real time and are exact.
final class VirtualClock: DeviceClock, @unchecked Sendable {
    private(set) var current: DeviceInstant

    init(start: UInt32 = 1_000) { current = DeviceInstant(milliseconds: start) }

    func now() -> DeviceInstant { current }

    func sleep(until deadline: DeviceInstant) {
        if deadline > current { current = deadline }
    }
}

/// One request as the scripted modem parsed it off the line.
struct SeenFrame: Equatable {
    var kind: UInt8
    var sequence: UInt8
    var payload: [UInt8]
}

/// The modem end of an in-memory line. Everything the device writes is kept in `written`;
/// each complete request frame goes to `respond`, whose bytes are queued for the device's
/// reads. `readChunk` limits how many bytes one read delivers (1: byte by byte).
final class ScriptedModem: @unchecked Sendable {
    let clock: VirtualClock
    var written: [UInt8] = []
    var requests: [SeenFrame] = []
    /// Each request frame's bytes as written.
    var writtenFrames: [[UInt8]] = []
    var pending: [UInt8] = []
    var readChunk = Int.max
    var reads = 0
    var respond: (SeenFrame) -> [UInt8]
    private var parseOffset = 0

    init(clock: VirtualClock, respond: @escaping (SeenFrame) -> [UInt8] = { _ in [] }) {
        self.clock = clock
        self.respond = respond
    }

    fileprivate func deviceWrote(_ bytes: ByteView) {
        written += Array(bytes.buffer)
        // Parse complete frames (without judging them: the byte-exact tests do that).
        while written.count - parseOffset >= 7 {
            let length = Int(written[parseOffset + 3]) << 8 | Int(written[parseOffset + 4])
            guard written.count - parseOffset >= length + 7 else { break }
            let frame = SeenFrame(
                kind: written[parseOffset + 1], sequence: written[parseOffset + 2],
                payload: Array(written[(parseOffset + 5)..<(parseOffset + 5 + length)]))
            writtenFrames.append(Array(written[parseOffset..<(parseOffset + length + 7)]))
            parseOffset += length + 7
            requests.append(frame)
            pending += respond(frame)
        }
    }

    fileprivate func deviceReads(into buffer: UnsafeMutableRawBufferPointer, until deadline: DeviceInstant) -> Int {
        reads += 1
        if pending.isEmpty {
            clock.sleep(until: deadline)
            return 0
        }
        let count = min(pending.count, buffer.count, readChunk)
        for i in 0..<count { buffer[i] = pending[i] }
        pending.removeFirst(count)
        return count
    }
}

/// The device's `ModemLink` onto a `ScriptedModem`.
struct ScriptedLink: ModemLink {
    let modem: ScriptedModem

    mutating func write(_ bytes: ByteView) { modem.deviceWrote(bytes) }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: DeviceInstant) -> Int {
        modem.deviceReads(into: buffer, until: deadline)
    }
}

/// CRC-16/CCITT-FALSE, written again here so the tests do not check the code with itself.
func referenceCRC(_ bytes: [UInt8]) -> UInt16 {
    var crc: UInt16 = 0xFFFF
    for byte in bytes {
        crc ^= UInt16(byte) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
    }
    return crc
}

/// A frame's bytes, built independently of `ModemService.frame`.
func frameBytes(_ kind: UInt8, _ sequence: UInt8, _ payload: [UInt8] = []) -> [UInt8] {
    let body = [kind, sequence, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
    let crc = referenceCRC(body)
    return [0xA5] + body + [UInt8(crc >> 8), UInt8(crc & 0xFF)]
}

func frameBytes(_ kind: ModemFrameKind, _ sequence: UInt8, _ payload: [UInt8] = []) -> [UInt8] {
    frameBytes(kind.rawValue, sequence, payload)
}

/// Parses exactly one frame (and nothing after it), checking sync, length and CRC.
func parseFrame(_ bytes: [UInt8]) -> SeenFrame? {
    guard bytes.count >= 7, bytes[0] == 0xA5 else { return nil }
    let length = Int(bytes[3]) << 8 | Int(bytes[4])
    guard bytes.count == length + 7 else { return nil }
    let crc = referenceCRC(Array(bytes[1..<(5 + length)]))
    guard bytes[5 + length] == UInt8(crc >> 8), bytes[6 + length] == UInt8(crc & 0xFF) else { return nil }
    return SeenFrame(kind: bytes[1], sequence: bytes[2], payload: Array(bytes[5..<(5 + length)]))
}

func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }

/// `ModemFailure` as a comparable value.
enum Outcome: Equatable, CustomStringConvertible {
    case modem(ModemErrorCode, retriable: Bool)
    case noResponse(request: ModemFrameKind)
    case unexpectedResponse(request: ModemFrameKind, kind: UInt8)
    case incompatibleModem(version: UInt8)

    init(_ failure: ModemFailure) {
        switch failure {
        case .modem(let code, let retriable): self = .modem(code, retriable: retriable)
        case .noResponse(let request): self = .noResponse(request: request)
        case .unexpectedResponse(let request, let kind): self = .unexpectedResponse(request: request, kind: kind)
        case .incompatibleModem(let version): self = .incompatibleModem(version: version)
        }
    }

    var description: String {
        switch self {
        case .modem(let code, let retriable): return "modem(\(code), retriable: \(retriable))"
        case .noResponse(let request): return "noResponse(\(request))"
        case .unexpectedResponse(let request, let kind): return "unexpectedResponse(\(request), 0x\(String(kind, radix: 16)))"
        case .incompatibleModem(let version): return "incompatibleModem(\(version))"
        }
    }
}

/// The channel's `lastErrorMessage` as a String.
func lastErrorMessage<Link: ModemLink, Clock: DeviceClock>(_ channel: ModemChannel<Link, Clock>) -> String {
    channel.lastErrorMessage.withBytes { String(decoding: $0.buffer, as: UTF8.self) }
}

/// The failure `body` throws, or nil when it returns.
func failure<T>(_ body: () throws(ModemFailure) -> T) -> Outcome? {
    do throws(ModemFailure) {
        _ = try body()
        return nil
    } catch {
        return Outcome(error)
    }
}

/// A `ModemChannel` on a scripted modem with a frame buffer of `payload` + 7 bytes, for the
/// duration of `body`.
func withChannel<R>(
    payload: Int = 256, clock: VirtualClock = VirtualClock(), respond: @escaping (SeenFrame) -> [UInt8],
    _ body: (inout ModemChannel<ScriptedLink, VirtualClock>, ScriptedModem) throws -> R
) rethrows -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: payload + ModemFrame.overhead, alignment: 8)
    defer { buffer.deallocate() }
    let modem = ScriptedModem(clock: clock, respond: respond)
    var channel = ModemChannel(link: ScriptedLink(modem: modem), clock: clock, frameBuffer: buffer)
    return try body(&channel, modem)
}

/// A scripted modem's usual answers: HELLO with `limit` and `identity`, empty OPEN/CLOSE.
func standardReply(limit: Int = 1024, identity: String = "device1") -> (SeenFrame) -> [UInt8] {
    { request in
        switch request.kind {
        case 0x01: return frameBytes(.helloReply, request.sequence, [1] + be16(limit) + utf8(identity))
        case 0x02: return frameBytes(.opened, request.sequence)
        case 0x05: return frameBytes(.closed, request.sequence)
        default: return []
        }
    }
}

/// Sends HELLO on the channel (the scripted modem must answer it); the test fails otherwise.
func handshake(_ channel: inout ModemChannel<ScriptedLink, VirtualClock>) throws(ModemFailure) {
    let identity = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
    defer { identity.deallocate() }
    _ = try channel.hello(identityBuffer: identity)
}

/// `channel.send` with an array's bytes.
func sendBytes<L: ModemLink, C: DeviceClock>(
    _ channel: inout ModemChannel<L, C>, _ bytes: [UInt8], timeout: DeviceDuration
) throws(ModemFailure) -> Int {
    var result: Result<Int, ModemFailure> = .success(0)
    bytes.withUnsafeBytes { raw in
        result = Result { () throws(ModemFailure) -> Int in try channel.send(ByteView(raw), timeout: timeout) }
    }
    return try result.get()
}
