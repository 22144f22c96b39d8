// The framed UART protocol between a firmware and a network modem that offers TLS sockets
// (docs/modem-protocol.md). Both ends use this file: the firmware through `ModemTransport`,
// the host-side modem (`dps-device modem`) through `ModemFrameReader` and `ModemFrame.header`.
//
//     0xA5 | kind | sequence | length (u16, big-endian) | payload | CRC-16 (big-endian)
//
// The CRC (CRC-16/CCITT-FALSE) covers kind, sequence, length and payload, so a receiver that
// lost bytes or read noise finds the next good frame by scanning for 0xA5 again.

/// What a frame asks for or answers. A response's kind is its request's kind with bit 7 set;
/// `error` answers any request.
public enum ModemFrameKind: UInt8, Sendable {
    /// Device → modem: protocol version and the largest payload the device accepts.
    case hello = 0x01
    /// Device → modem: open a connection (TLS or TCP) to host:port, closing any previous one.
    case open = 0x02
    /// Device → modem: bytes for the connection.
    case send = 0x03
    /// Device → modem: up to `max` bytes from the connection, waiting at most `timeout`.
    case receive = 0x04
    /// Device → modem: close the connection.
    case close = 0x05
    /// Device → modem: the wall-clock time (a cellular modem has it from the network; the
    /// device may have no clock of its own).
    case time = 0x06

    case helloReply = 0x81
    case opened = 0x82
    case sent = 0x83
    case received = 0x84
    case closed = 0x85
    /// Milliseconds since 1970-01-01 UTC, unsigned 64-bit big-endian.
    case timeReply = 0x86
    /// Modem → device: the request failed; code, flags and a human-readable message.
    case error = 0xFF
}

/// Why the modem refused or failed a request (the first byte of an `error` payload).
public enum ModemErrorCode: UInt8, Sendable {
    /// The request's frame was malformed (length, fields) or of an unknown kind.
    case malformedRequest = 1
    /// SEND or RECV without an open connection (e.g. after the modem was reset).
    case notOpen = 2
    /// The host name did not resolve, or the TCP connection was refused or timed out.
    case connectFailed = 3
    /// The TLS handshake failed: server certificate, host name, the modem's own credentials.
    case tlsFailed = 4
    /// The server closed or reset the connection.
    case connectionClosed = 5
    /// Any other I/O failure on the modem's side.
    case ioFailed = 6
    /// The device speaks a protocol version the modem does not.
    case unsupportedVersion = 7
    /// A code this firmware does not know (a newer modem).
    case unknown = 0
}

/// Constants and the byte layout of one frame.
public enum ModemFrame {
    /// First byte of every frame.
    public static let sync: UInt8 = 0xA5
    /// Sync, kind, sequence, length.
    public static let headerSize = 5
    public static let trailerSize = 2
    public static let overhead = headerSize + trailerSize
    /// The protocol version this code speaks (HELLO's first byte).
    public static let version: UInt8 = 1
    /// Flag in OPEN: wrap the connection in TLS (the modem's certificate and key, SNI = host).
    public static let openFlagTLS: UInt8 = 0x01
    /// Flag in ERROR: trying again later may succeed.
    public static let errorFlagRetriable: UInt8 = 0x01

    /// The five header bytes for a frame with `payloadLength` bytes of payload.
    public static func header(kind: UInt8, sequence: UInt8, payloadLength: Int) -> (UInt8, UInt8, UInt8, UInt8, UInt8) {
        (sync, kind, sequence, UInt8(truncatingIfNeeded: payloadLength >> 8), UInt8(truncatingIfNeeded: payloadLength))
    }
}

/// CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR):
/// "123456789" gives 0x29B1.
public struct ModemCRC16: Sendable {
    public private(set) var value: UInt16 = 0xFFFF

    public init() {}

    public mutating func update(_ byte: UInt8) {
        var crc = value ^ (UInt16(byte) &<< 8)
        var bit = 0
        while bit < 8 {
            crc = crc & 0x8000 != 0 ? (crc &<< 1) ^ 0x1021 : crc &<< 1
            bit += 1
        }
        value = crc
    }

    public mutating func update(_ bytes: ByteView) {
        var i = 0
        while i < bytes.count {
            update(bytes[i])
            i += 1
        }
    }
}

/// One received frame; `payload` points into the reader's buffer and is valid until the
/// reader is used again.
public struct ModemFrameView {
    /// The kind byte as sent (see `ModemFrameKind`; unknown kinds are passed on, not dropped,
    /// so that the receiver can answer them).
    public let kind: UInt8
    public let sequence: UInt8
    public let payload: ByteView
}

/// Why bytes were skipped while looking for the next frame. The reader has already resumed its
/// search after the bad bytes; these are for logging and counting.
public enum ModemFrameError: Error, Equatable, Sendable {
    /// The CRC did not match: bytes were lost or corrupted on the line.
    case badChecksum(expected: UInt16, received: UInt16)
    /// The header announced more payload than the receive buffer holds.
    case bufferTooSmall(BufferTooSmall)
}

/// Finds frames in a byte stream, in a buffer the caller provides (no heap). Write received
/// bytes into `freeSpace`, report them with `didWrite`, then call `nextFrame` until it returns
/// nil. Bytes before a sync byte are noise and skipped.
public struct ModemFrameReader {
    private let storage: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// Bytes skipped as noise (not part of any frame) since the reader was made.
    public private(set) var skippedBytes = 0

    public init(buffer: UnsafeMutableRawBufferPointer) {
        storage = buffer
    }

    /// The largest payload a frame may carry to fit this reader.
    public var maximumPayload: Int { storage.count - ModemFrame.overhead }

    /// Bytes received but not yet returned as frames.
    public var bufferedCount: Int { end - start }

    /// Where the next received bytes go; empty only if a frame fills the whole buffer.
    public mutating func freeSpace() -> UnsafeMutableRawBufferPointer {
        if end == storage.count && start > 0 {
            let base = storage.baseAddress!
            (base).copyMemory(from: base + start, byteCount: end - start)
            end -= start
            start = 0
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[end...])
    }

    public mutating func didWrite(_ count: Int) {
        end += count
    }

    /// Drops everything buffered (after a protocol reset).
    public mutating func reset() {
        start = 0
        end = 0
    }

    /// The next complete, intact frame, or nil when more bytes are needed. Throws when it
    /// skipped a damaged frame; call again to continue after it.
    public mutating func nextFrame() throws(ModemFrameError) -> ModemFrameView? {
        while true {
            while start < end && storage[start] != ModemFrame.sync {
                start += 1
                skippedBytes += 1
            }
            if start == end {
                start = 0
                end = 0
                return nil
            }
            guard end - start >= ModemFrame.headerSize else { return nil }
            let length = Int(storage[start + 3]) << 8 | Int(storage[start + 4])
            if length > maximumPayload {
                skipSync()
                throw .bufferTooSmall(BufferTooSmall(needed: length, capacity: maximumPayload))
            }
            let total = length + ModemFrame.overhead
            guard end - start >= total else { return nil }
            var crc = ModemCRC16()
            var i = start + 1
            let crcAt = start + ModemFrame.headerSize + length
            while i < crcAt {
                crc.update(storage[i])
                i += 1
            }
            let received = UInt16(storage[crcAt]) << 8 | UInt16(storage[crcAt + 1])
            if received != crc.value {
                skipSync()
                throw .badChecksum(expected: crc.value, received: received)
            }
            let frame = ModemFrameView(
                kind: storage[start + 1], sequence: storage[start + 2],
                payload: ByteView(baseAddress: UnsafeRawPointer(storage.baseAddress! + start + ModemFrame.headerSize), count: length))
            start += total
            return frame
        }
    }

    /// A damaged frame's sync byte was noise after all: search again from the byte after it.
    private mutating func skipSync() {
        start += 1
        skippedBytes += 1
    }
}
