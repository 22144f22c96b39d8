#if canImport(Glibc)
import Glibc
#endif
import DeviceCore
import DeviceCoreWords

/// The modem's side of the UART protocol (docs/modem-protocol.md), on Linux: it answers a
/// firmware's requests with real TCP and TLS connections, using the device certificate and
/// key it holds (as a modem with a secure element would). `dps-device modem` runs it on a
/// serial line: a tty, or the Unix socket QEMU offers for an emulated UART.
///
/// The service is a plain request → response function (`respond(to:)`), so tests can drive it
/// without a serial line; `serve(on:)` is the loop around it.
public struct ModemService {
    /// What the modem reports as it works (one line per event, no newline).
    public enum LogLevel: Int, Comparable, Sendable {
        /// Connections opened and closed, errors, damaged frames.
        case connections
        /// Also every SEND and RECV.
        case requests

        public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
    }

    /// The certificate, key and trusted CAs used for TLS connections.
    public let identity: TLSIdentity
    /// The largest frame payload the modem accepts and sends.
    public let maximumPayload: Int
    public var logLevel: LogLevel = .connections
    public var log: (String) -> Void

    /// Totals since the service started.
    public private(set) var statistics = Statistics()

    public struct Statistics: Sendable, Equatable {
        public var requests = 0
        public var connections = 0
        public var bytesSent = 0
        public var bytesReceived = 0
        public var damagedFrames = 0
    }

    /// The open connection, TLS or plain TCP; its failures come out as the modem reports them.
    private enum Connection {
        case tls(TLSTransport)
        case tcp(TCPTransport)

        mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(ModemError) -> Int {
            switch self {
            case .tls(let tls):
                do throws(TLSFailure) { return try tls.send(bytes, timeout: timeout) } catch { throw ModemService.modemError(error) }
            case .tcp(var tcp):
                defer { self = .tcp(tcp) }
                do throws(TCPTransport.Failure) { return try tcp.send(bytes, timeout: timeout) } catch { throw ModemService.modemError(error) }
            }
        }

        mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(ModemError) -> Int {
            switch self {
            case .tls(let tls):
                do throws(TLSFailure) { return try tls.receive(into: buffer, timeout: timeout) } catch { throw ModemService.modemError(error) }
            case .tcp(var tcp):
                defer { self = .tcp(tcp) }
                do throws(TCPTransport.Failure) { return try tcp.receive(into: buffer, timeout: timeout) } catch { throw ModemService.modemError(error) }
            }
        }

        mutating func close() {
            switch self {
            case .tls(let tls): tls.close()
            case .tcp(var tcp):
                tcp.close()
                self = .tcp(tcp)
            }
        }
    }

    private var connection: Connection?
    /// The largest payload the firmware accepts (from its HELLO); no frame to it is larger.
    private var deviceMaximumPayload: Int?

    /// The largest payload of a frame to the firmware: ours, and its own once it said HELLO.
    private var replyLimit: Int { min(maximumPayload, deviceMaximumPayload ?? maximumPayload) }

    public init(identity: TLSIdentity, maximumPayload: Int = 2048, log: @escaping (String) -> Void = { _ in }) {
        precondition(maximumPayload >= 64 && maximumPayload <= 0xFFFF, "maximumPayload must be 64...65535")
        self.identity = identity
        self.maximumPayload = maximumPayload
        self.log = log
    }

    /// The response frame (complete, ready to write) to one request frame.
    public mutating func respond(to request: ModemFrameView) -> [UInt8] {
        statistics.requests += 1
        let sequence = request.sequence
        do throws(ModemError) {
            guard let kind = ModemFrameKind(rawValue: request.kind) else {
                throw ModemError(.malformedRequest, "unknown request kind 0x\(String(request.kind, radix: 16))")
            }
            let reply = try handle(kind, request.payload)
            return Self.frame(kind: kind.rawValue | 0x80, sequence: sequence, payload: reply)
        } catch {
            log("modem: \(error.code) error: \(error.message)")
            var body: [UInt8] = [error.code.rawValue, error.retriable ? ModemFrame.errorFlagRetriable : 0]
            body += Array(error.message.utf8.prefix(max(replyLimit - 2, 0)))
            return Self.frame(kind: ModemFrameKind.error.rawValue, sequence: sequence, payload: body)
        }
    }

    /// Closes the connection, if any (the serial line went away).
    public mutating func closeConnection() {
        connection?.close()
        connection = nil
    }

    /// A frame's bytes: header, payload, CRC.
    public static func frame(kind: UInt8, sequence: UInt8, payload: [UInt8]) -> [UInt8] {
        let header = ModemFrame.header(kind: kind, sequence: sequence, payloadLength: payload.count)
        var bytes = [header.0, header.1, header.2, header.3, header.4] + payload
        var crc = ModemCRC16()
        for byte in bytes.dropFirst() { crc.update(byte) }
        bytes += [UInt8(crc.value >> 8), UInt8(crc.value & 0xFF)]
        return bytes
    }

    struct ModemError: Error {
        let code: ModemErrorCode
        let retriable: Bool
        let message: String
        init(_ code: ModemErrorCode, retriable: Bool = false, _ message: String) {
            self.code = code
            self.retriable = retriable
            self.message = message
        }
    }

    private mutating func handle(_ kind: ModemFrameKind, _ payload: ByteView) throws(ModemError) -> [UInt8] {
        var fields = FieldReader(payload)
        switch kind {
        case .hello:
            let version = try fields.u8()
            let deviceLimit = try fields.u16()
            guard version == ModemFrame.version else {
                throw ModemError(.unsupportedVersion, "the firmware speaks protocol version \(version); this modem speaks \(ModemFrame.version)")
            }
            deviceMaximumPayload = Int(deviceLimit)
            log("modem: HELLO from the firmware (protocol \(version), frames up to \(deviceLimit) bytes); identity \(identity.subjectCommonName ?? "(none)")")
            return [ModemFrame.version, UInt8(maximumPayload >> 8), UInt8(maximumPayload & 0xFF)]
                + Array((identity.subjectCommonName ?? "").utf8.prefix(max(replyLimit - 3, 0)))
        case .open:
            let port = try fields.u16()
            let flags = try fields.u8()
            let timeout = DeviceDuration(milliseconds: Int32(clamping: try fields.u32()))
            guard let host = String(validating: fields.rest.buffer, as: UTF8.self), !host.isEmpty else {
                throw ModemError(.malformedRequest, "OPEN without a valid UTF-8 host name")
            }
            closeConnection()
            try open(host: host, port: port, tls: flags & ModemFrame.openFlagTLS != 0, timeout: timeout)
            return []
        case .send:
            let timeout = DeviceDuration(milliseconds: Int32(clamping: try fields.u32()))
            let data = fields.rest
            let taken = try useConnection(.send) { (connection) throws(ModemError) -> Int in
                try connection.send(data, timeout: timeout)
            }
            statistics.bytesSent += taken
            if logLevel >= .requests { log("modem: SEND \(data.count) bytes, \(taken) sent") }
            return [UInt8(taken >> 8), UInt8(taken & 0xFF)]
        case .receive:
            let limit = min(Int(try fields.u16()), maximumPayload)
            let timeout = DeviceDuration(milliseconds: Int32(clamping: try fields.u32()))
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(limit, 1), alignment: 1)
            defer { buffer.deallocate() }
            let count = try useConnection(.receive) { (connection) throws(ModemError) -> Int in
                try connection.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<limit]), timeout: timeout)
            }
            statistics.bytesReceived += count
            if logLevel >= .requests { log("modem: RECV up to \(limit) bytes within \(timeout.milliseconds) ms: \(count)") }
            return Array(buffer[..<count])
        case .close:
            if connection != nil { log("modem: CLOSE") }
            closeConnection()
            return []
        case .time:
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let milliseconds = UInt64(now.tv_sec) &* 1000 &+ UInt64(now.tv_nsec / 1_000_000)
            return (0..<8).map { UInt8(truncatingIfNeeded: milliseconds >> (56 - 8 * UInt64($0))) }
        default:
            throw ModemError(.malformedRequest, "0x\(String(kind.rawValue, radix: 16)) is a response, not a request")
        }
    }

    private mutating func open(host: String, port: UInt16, tls: Bool, timeout: DeviceDuration) throws(ModemError) {
        let connectTimeout = timeout.milliseconds > 0 ? timeout : .seconds(30)
        if tls {
            let transport = TLSTransport(host: host, port: port, identity: identity, connectTimeout: connectTimeout)
            transport.handshakeTimeout = connectTimeout
            do throws(TLSFailure) {
                try transport.open()
            } catch {
                throw Self.modemError(error)
            }
            connection = .tls(transport)
            log("modem: OPEN \(host):\(port) in TLS: connected (\(transport.protocolVersion ?? "?"), \(transport.cipherSuite ?? "?"))")
        } else {
            var transport = TCPTransport(host: host, port: port, connectTimeout: connectTimeout)
            do throws(TCPTransport.Failure) {
                try transport.open()
            } catch {
                throw Self.modemError(error)
            }
            connection = .tcp(transport)
            log("modem: OPEN \(host):\(port) in plain TCP: connected")
        }
        statistics.connections += 1
    }

    /// Runs `body` on the open connection; a failure closes it (the firmware opens a new one).
    private mutating func useConnection<R>(
        _ request: ModemFrameKind, _ body: (inout Connection) throws(ModemError) -> R
    ) throws(ModemError) -> R {
        guard var open = connection else {
            throw ModemError(.notOpen, retriable: true, "\(request == .send ? "SEND" : "RECV") without an open connection: OPEN first")
        }
        do throws(ModemError) {
            let result = try body(&open)
            connection = open
            return result
        } catch {
            open.close()
            connection = nil
            throw error
        }
    }

    /// A damaged frame, in words.
    static func words(_ error: ModemFrameError) -> String {
        switch error {
        case .badChecksum(let expected, let received):
            return "bad CRC: computed 0x\(String(expected, radix: 16, uppercase: true)), the frame says 0x\(String(received, radix: 16, uppercase: true))"
        case .bufferTooSmall(let tooSmall):
            return "its payload does not fit: " + tooSmall.words("the receive buffer")
        }
    }

    static func modemError(_ failure: TLSFailure) -> ModemError {
        let code: ModemErrorCode
        switch failure {
        case .dnsFailure, .connectionRefused, .timedOut(.connect, _, _): code = .connectFailed
        case .closedByPeer: code = .connectionClosed
        case .io, .notConnected, .timedOut: code = .ioFailed
        default: code = .tlsFailed
        }
        return ModemError(code, retriable: failure.isRetriable, failure.description)
    }

    static func modemError(_ failure: TCPTransport.Failure) -> ModemError {
        switch failure {
        case .dnsFailure, .connectionRefused, .timedOut(.connect): return ModemError(.connectFailed, retriable: true, failure.description)
        case .closedByPeer: return ModemError(.connectionClosed, retriable: true, failure.description)
        default: return ModemError(.ioFailed, retriable: true, failure.description)
        }
    }

    /// Big-endian fields at the start of a request's payload, read in place.
    struct FieldReader {
        let bytes: ByteView
        var offset = 0
        init(_ bytes: ByteView) { self.bytes = bytes }

        mutating func u8() throws(ModemError) -> UInt8 {
            guard offset < bytes.count else { throw ModemError(.malformedRequest, "request too short: \(bytes.count) bytes") }
            defer { offset += 1 }
            return bytes[offset]
        }
        mutating func u16() throws(ModemError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
        mutating func u32() throws(ModemError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }
        var rest: ByteView { bytes.slice(from: offset, count: bytes.count - offset) }
    }
}

extension ModemService {
    /// Serves requests on `port` until the other end closes it (QEMU exited, the cable was
    /// pulled) or `shouldStop` returns true (checked at least every 200 ms).
    public mutating func serve(on port: inout SerialPort, shouldStop: () -> Bool = { false }) throws(SerialPort.Failure) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maximumPayload + ModemFrame.overhead, alignment: 8)
        defer {
            buffer.deallocate()
            closeConnection()
        }
        var reader = ModemFrameReader(buffer: buffer)
        while !shouldStop() {
            let space = reader.freeSpace()
            if space.count == 0 {  // a frame longer than our limit that never ends
                reader.reset()
                continue
            }
            guard let count = try port.read(into: space, timeoutMilliseconds: 200) else { return }  // closed
            reader.didWrite(count)
            while true {
                let frame: ModemFrameView?
                do throws(ModemFrameError) {
                    frame = try reader.nextFrame()
                } catch {
                    statistics.damagedFrames += 1
                    log("modem: skipped a damaged frame (\(Self.words(error)))")
                    continue
                }
                guard let frame else { break }
                do throws(SerialPort.Failure) {
                    try port.write(respond(to: frame))
                } catch .io(let code) where code == EPIPE || code == ECONNRESET {
                    return  // the other end closed the line before reading the answer
                }
            }
        }
    }
}
