// The firmware's side of the modem protocol (docs/modem-protocol.md): a `DeviceTransport` whose
// connection is a TLS (or TCP) socket inside a modem on the other end of a UART. The modem
// holds the device's certificate and key; the firmware runs MQTT, DPS and telemetry over it.

/// The serial line to the modem, provided by the board (a UART with a receive buffer filled
/// by its interrupt, a socket in tests).
public protocol ModemLink {
    /// Writes all of `bytes`, blocking until the line took them.
    mutating func write(_ bytes: ByteView)
    /// Reads what has arrived into `buffer`, waiting until `deadline` for the first byte;
    /// returns 0 when nothing came by then.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: DeviceInstant) -> Int
}

/// A modem's error message, copied out of its frame (at most `capacity` bytes; longer
/// messages are cut). The channel keeps the last one (`ModemChannel.lastErrorMessage`).
public struct ModemMessage: Sendable {
    public static var capacity: Int { 48 }
    private var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    public private(set) var count = 0

    public init(_ text: ByteView) {
        count = min(text.count, Self.capacity)
        let n = count
        withUnsafeMutableBytes(of: &storage) { raw in
            var i = 0
            while i < n {
                raw[i] = text[i]
                i += 1
            }
        }
    }

    /// Calls `body` with the message's UTF-8 bytes.
    public func withBytes<R>(_ body: (ByteView) -> R) -> R {
        var copy = storage
        let n = count
        return withUnsafeBytes(of: &copy) { raw in body(ByteView(baseAddress: raw.baseAddress, count: n)) }
    }
}

/// Why talking through the modem failed.
public enum ModemFailure: Error, Sendable {
    /// The modem tried and reported an error (`retriable`: the modem thinks a later attempt
    /// may succeed, e.g. a refused connection, as opposed to an untrusted server certificate).
    /// Its message is the channel's `lastErrorMessage` until the next ERROR: kept there, not
    /// here, since every layer of the device flow copies its failures.
    case modem(ModemErrorCode, retriable: Bool)
    /// The modem did not answer the request in time: unpowered, hung, or the line loses bytes.
    case noResponse(request: ModemFrameKind)
    /// The modem answered with a frame that does not fit the request.
    case unexpectedResponse(request: ModemFrameKind, kind: UInt8)
    /// The modem speaks another protocol version.
    case incompatibleModem(version: UInt8)

    /// Whether another attempt may help.
    public var isRetriable: Bool {
        switch self {
        case .modem(_, let retriable): return retriable
        case .noResponse, .unexpectedResponse: return true
        case .incompatibleModem: return false
        }
    }
}

/// Requests and their responses over one modem link: frames, sequence numbers, timeouts.
/// One channel serves one connection at a time; hand it from one transport to the next
/// (DPS, then IoT Hub) with `ModemTransport.channel`.
public struct ModemChannel<Link: ModemLink, Clock: DeviceClock> {
    public var link: Link
    public let clock: Clock
    private var reader: ModemFrameReader
    private var sequence: UInt8 = 0
    /// The largest payload the modem accepts in one frame (from its HELLO reply).
    public private(set) var modemMaximumPayload = 0
    /// Whether HELLO has been exchanged.
    public var isReady: Bool { modemMaximumPayload > 0 }
    /// Damaged frames skipped on the line (bad CRC, impossible length).
    public private(set) var damagedFrames = 0
    /// How long to wait for an answer beyond the time the request itself may take.
    public var responseGrace: DeviceDuration = .seconds(5)
    /// The message of the last ERROR the modem answered with (`ModemFailure.modem`); empty
    /// before the first. `ModemTransport.close` keeps it across a refused CLOSE.
    public internal(set) var lastErrorMessage = ModemMessage(ByteView())

    /// `frameBuffer` receives the modem's frames; its size less 7 bytes bounds each read.
    public init(link: Link, clock: Clock, frameBuffer: UnsafeMutableRawBufferPointer) {
        self.link = link
        self.clock = clock
        self.reader = ModemFrameReader(buffer: frameBuffer)
    }

    /// Bytes skipped on the line as noise.
    public var skippedBytes: Int { reader.skippedBytes }

    /// Exchanges HELLO: checks the protocol version and learns the modem's frame limit.
    /// Returns the identity the modem holds (its device certificate's subject CN, which is the
    /// DPS registration id), copied into `identityBuffer`.
    public mutating func hello(identityBuffer: UnsafeMutableRawBufferPointer) throws(ModemFailure) -> ByteView {
        var fields = FieldWriter()
        fields.put(ModemFrame.version)
        fields.put16(min(reader.maximumPayload, 0xFFFF))
        let reply = try exchange(.hello, fields: fields, data: ByteView(), wait: .zero)
        guard reply.payload.count >= 3 else { throw .unexpectedResponse(request: .hello, kind: reply.kind) }
        guard reply.payload[0] == ModemFrame.version else { throw .incompatibleModem(version: reply.payload[0]) }
        let limit = Int(reply.payload[1]) << 8 | Int(reply.payload[2])
        guard limit >= 16 else { throw .unexpectedResponse(request: .hello, kind: reply.kind) }
        modemMaximumPayload = limit
        let identity = reply.payload.slice(from: 3, count: min(reply.payload.count - 3, identityBuffer.count))
        if identity.count > 0 { identity.copyBytes(to: identityBuffer.baseAddress!) }
        return ByteView(baseAddress: UnsafeRawPointer(identityBuffer.baseAddress), count: identity.count)
    }

    /// Asks the modem to open a connection to `host`:`port`, in TLS when `tls`; exchanges
    /// HELLO first if that has not been done.
    public mutating func open(host: ByteView, port: UInt16, tls: Bool, timeout: DeviceDuration) throws(ModemFailure) {
        if !isReady { _ = try hello(identityBuffer: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        var fields = FieldWriter()
        fields.put16(Int(port))
        fields.put(tls ? ModemFrame.openFlagTLS : 0)
        fields.put32(timeout)
        _ = try exchange(.open, fields: fields, data: host, wait: timeout)
    }

    /// Sends up to one frame's worth of `bytes`; returns how many the modem took.
    public mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(ModemFailure) -> Int {
        var fields = FieldWriter()
        fields.put32(timeout)
        // Before HELLO the modem's limit is unknown: the protocol's minimum (16) is safe.
        let limit = max(modemMaximumPayload, 16) - fields.count
        let chunk = bytes.slice(from: 0, count: min(bytes.count, limit))
        let reply = try exchange(.send, fields: fields, data: chunk, wait: timeout)
        guard reply.payload.count == 2 else { throw .unexpectedResponse(request: .send, kind: reply.kind) }
        let taken = Int(reply.payload[0]) << 8 | Int(reply.payload[1])
        guard taken <= chunk.count else { throw .unexpectedResponse(request: .send, kind: reply.kind) }
        return taken
    }

    /// Receives what the connection has, at most `buffer.count` bytes and at most one frame.
    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(ModemFailure) -> Int {
        let limit = min(min(buffer.count, reader.maximumPayload), 0xFFFF)
        var fields = FieldWriter()
        fields.put16(limit)
        fields.put32(timeout)
        let reply = try exchange(.receive, fields: fields, data: ByteView(), wait: timeout)
        guard reply.payload.count <= limit else { throw .unexpectedResponse(request: .receive, kind: reply.kind) }
        if reply.payload.count > 0 { reply.payload.copyBytes(to: buffer.baseAddress!) }
        return reply.payload.count
    }

    /// The wall-clock time the modem knows, in milliseconds since 1970 (UTC).
    public mutating func time() throws(ModemFailure) -> Int64 {
        let reply = try exchange(.time, fields: FieldWriter(), data: ByteView(), wait: .zero)
        guard reply.payload.count == 8 else { throw .unexpectedResponse(request: .time, kind: reply.kind) }
        var value: Int64 = 0
        var i = 0
        while i < 8 {
            value = value &<< 8 | Int64(widening: UInt(reply.payload[i]))
            i += 1
        }
        return value
    }

    /// Asks the modem to close the connection.
    public mutating func close() throws(ModemFailure) {
        _ = try exchange(.close, fields: FieldWriter(), data: ByteView(), wait: .zero)
    }

    /// Writes one request and waits for the response with the same sequence number; stale
    /// responses (to requests that timed out) and damaged frames are skipped.
    private mutating func exchange(
        _ kind: ModemFrameKind, fields: FieldWriter, data: ByteView, wait: DeviceDuration
    ) throws(ModemFailure) -> ModemFrameView {
        sequence &+= 1
        writeFrame(kind.rawValue, fields: fields, data: data)
        let deadline = clock.now() + (wait + responseGrace)
        while true {
            if let frame = nextFrame() {
                guard frame.sequence == sequence else { continue }  // a late answer to an earlier request
                if frame.kind == ModemFrameKind.error.rawValue { throw failure(from: frame.payload, request: kind) }
                guard frame.kind == kind.rawValue | 0x80 else { throw .unexpectedResponse(request: kind, kind: frame.kind) }
                return frame
            }
            if clock.now() >= deadline { throw .noResponse(request: kind) }
            var space = reader.freeSpace()
            if space.count == 0 {  // a frame bigger than the buffer that never completes
                reader.reset()
                space = reader.freeSpace()
            }
            reader.didWrite(link.read(into: space, until: deadline))
        }
    }

    /// The next intact frame buffered, counting damaged ones on the way.
    private mutating func nextFrame() -> ModemFrameView? {
        while true {
            do throws(ModemFrameError) {
                return try reader.nextFrame()
            } catch {
                damagedFrames += 1
            }
        }
    }

    /// An ERROR frame's failure; its message goes to `lastErrorMessage`.
    private mutating func failure(from payload: ByteView, request: ModemFrameKind) -> ModemFailure {
        guard payload.count >= 2 else { return .unexpectedResponse(request: request, kind: ModemFrameKind.error.rawValue) }
        let code = ModemErrorCode(rawValue: payload[0]) ?? .unknown
        let retriable = payload[1] & ModemFrame.errorFlagRetriable != 0
        lastErrorMessage = ModemMessage(payload.slice(from: 2, count: payload.count - 2))
        return .modem(code, retriable: retriable)
    }

    private mutating func writeFrame(_ kind: UInt8, fields: FieldWriter, data: ByteView) {
        var frame = fields
        let header = ModemFrame.header(kind: kind, sequence: sequence, payloadLength: fields.count + data.count)
        var crc = ModemCRC16()
        crc.update(header.1)
        crc.update(header.2)
        crc.update(header.3)
        crc.update(header.4)
        frame.withBytes { crc.update($0) }
        crc.update(data)
        var head = (header.0, header.1, header.2, header.3, header.4)
        withUnsafeBytes(of: &head) { link.write(ByteView($0)) }
        frame.withBytes { link.write($0) }
        link.write(data)
        var trailer = (UInt8(truncatingIfNeeded: crc.value >> 8), UInt8(truncatingIfNeeded: crc.value))
        withUnsafeBytes(of: &trailer) { link.write(ByteView($0)) }
    }
}

/// A request's fixed fields (at most 8 bytes), big-endian.
struct FieldWriter {
    private var storage: UInt64 = 0
    private(set) var count = 0

    mutating func put(_ byte: UInt8) {
        withUnsafeMutableBytes(of: &storage) { $0[count] = byte }
        count += 1
    }

    mutating func put16(_ value: Int) {
        put(UInt8(truncatingIfNeeded: value >> 8))
        put(UInt8(truncatingIfNeeded: value))
    }

    /// A duration in milliseconds, a negative one as 0.
    mutating func put32(_ duration: DeviceDuration) {
        let value = UInt32(truncatingIfNeeded: max(duration.milliseconds, 0))
        put(UInt8(truncatingIfNeeded: value >> 24))
        put(UInt8(truncatingIfNeeded: value >> 16))
        put(UInt8(truncatingIfNeeded: value >> 8))
        put(UInt8(truncatingIfNeeded: value))
    }

    mutating func withBytes(_ body: (ByteView) -> Void) {
        let n = count
        withUnsafeBytes(of: &storage) { body(ByteView(baseAddress: $0.baseAddress, count: n)) }
    }
}

/// A `DeviceTransport` over a modem's socket: `open` connects to `host`:`port` (TLS unless
/// told otherwise), the rest maps one-to-one onto the protocol's requests.
public struct ModemTransport<Link: ModemLink, Clock: DeviceClock>: DeviceTransport {
    public typealias Failure = ModemFailure

    public var channel: ModemChannel<Link, Clock>
    /// Where `open` connects. `host` points into the caller's memory, which must outlive the
    /// transport (the assigned hub's name is in the DPS results buffer).
    public private(set) var host: ByteView
    public private(set) var port: UInt16
    public var tls: Bool
    /// How long the modem may take to connect and finish the TLS handshake.
    public var openTimeout: DeviceDuration = .seconds(30)

    /// A transport to `host`:`port`; `IoTDevice` sets the endpoint itself, so it needs neither.
    public init(channel: ModemChannel<Link, Clock>, host: ByteView = ByteView(), port: UInt16 = 8883, tls: Bool = true) {
        self.channel = channel
        self.host = host
        self.port = port
        self.tls = tls
    }

    public mutating func open(timeout: DeviceDuration) throws(ModemFailure) {
        try channel.open(host: host, port: port, tls: tls, timeout: min(openTimeout, timeout))
    }

    /// Keeps the view: `host` must outlive the transport here.
    public mutating func setEndpoint(host: ByteView, port: UInt16) {
        self.host = host
        self.port = port
    }

    public mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(ModemFailure) -> Int {
        try channel.send(bytes, timeout: timeout)
    }

    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(ModemFailure) -> Int {
        try channel.receive(into: buffer, timeout: timeout)
    }

    /// A CLOSE the modem refuses (the connection had already gone) leaves the channel's
    /// `lastErrorMessage` as it was: the message of the failure that ended the connection.
    /// Out of line: the flow closes in several places.
    @inline(never)
    public mutating func close() {
        let message = channel.lastErrorMessage
        do throws(ModemFailure) { try channel.close() } catch { channel.lastErrorMessage = message }
    }

    public static func isRetriable(_ failure: ModemFailure) -> Bool { failure.isRetriable }
}
