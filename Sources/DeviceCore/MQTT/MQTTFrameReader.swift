/// One complete packet, as cut from the byte stream by `MQTTFrameReader`.
public struct MQTTFrame {
    public let header: MQTTFixedHeader
    /// The whole packet, fixed header included. Valid until the reader is next asked for a frame.
    public let bytes: ByteView

    /// Decodes the packet, checking every rule of the standard a receiver can check.
    public func decode() throws(MQTTDecodeError) -> MQTTPacket {
        #if !hasFeature(Embedded)
        // A valid PUBLISH without the general decoder; anything else, or a PUBLISH that breaks
        // a rule, goes the general way. Embedded builds keep only the general decoder (flash).
        if header.type == .publish,
            let publish = MQTTPublish.decodeValidBody(
                flags: header.flags, packet: bytes, bodyStart: header.length, plainTopicOnly: true)
        {
            return .publish(publish)
        }
        return try decodeOutOfLine()
        #else
        return try MQTTPacket.decode(header: header, packet: bytes)
        #endif
    }

    /// Decodes a packet from a server, as a client receives it: `nil`, without reading the
    /// body, for the types only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
    /// DISCONNECT), which a client treats as a protocol violation whatever their body holds.
    /// The session decodes through this, so that a firmware links only the decoders of packets
    /// a server sends.
    public func decodeFromServer() throws(MQTTDecodeError) -> MQTTPacket? {
        switch header.type {
        case .connect, .subscribe, .unsubscribe, .pingreq, .disconnect:
            return nil
        default:
            #if !hasFeature(Embedded)
            return try decode()  // with the PUBLISH fast path (hosts)
            #else
            return try MQTTPacket.decodeFromServer(header: header, packet: bytes)
            #endif
        }
    }

    #if !hasFeature(Embedded)
    /// `decode()` past its first test: a PUBLISH whose topic needs the byte-wise check, then
    /// the general decoder.
    @inline(never)
    func decodeOutOfLine() throws(MQTTDecodeError) -> MQTTPacket {
        if header.type == .publish,
            let publish = MQTTPublish.decodeValidBody(flags: header.flags, packet: bytes, bodyStart: header.length)
        {
            return .publish(publish)
        }
        return try MQTTPacket.decode(header: header, packet: bytes)
    }
    #endif
}

/// Cuts a byte stream into MQTT packets, over a fixed-capacity buffer the caller provides.
///
/// Bytes may arrive in any chunking: one at a time, half a header, many packets at once. The
/// transport either copies into the reader with `append(_:)` or reads straight into
/// `writableSpace()` and reports with `didWrite(_:)`. `nextFrame()` then returns each complete
/// packet in turn, without copying it; its bytes stay valid until the next `nextFrame()` or
/// `reset()` call, even while more bytes are appended.
///
/// A stream error (bad fixed header, packet over the limit) leaves the stream unusable: the
/// connection must be closed and the reader `reset()`.
public struct MQTTFrameReader {
    private let storage: UnsafeMutableRawBufferPointer
    /// Largest packet, fixed header included, that the reader accepts.
    public let maximumPacketSize: Int
    /// First byte not yet handed out as a frame.
    private var start = 0
    /// One past the last byte received.
    private var end = 0
    /// Bytes of the frame handed out last; released by the next `nextFrame()`.
    private var handedOut = 0

    /// A reader over `storage`, which must outlive it. `maximumPacketSize` defaults to, and must
    /// not exceed, the storage's size.
    public init(storage: UnsafeMutableRawBufferPointer, maximumPacketSize: Int? = nil) {
        let limit = maximumPacketSize ?? storage.count
        precondition(limit >= 2 && limit <= storage.count, "maximumPacketSize must be between 2 and the storage size")
        self.storage = storage
        self.maximumPacketSize = limit
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedCount: Int { end - start - handedOut }

    /// Forgets everything buffered, for a new connection.
    public mutating func reset() {
        start = 0
        end = 0
        handedOut = 0
    }

    /// Free space at the end of the buffer, for the transport to read into. The frame handed
    /// out last stays valid: while it is held, buffered bytes are not moved, so the space may be
    /// smaller (even empty) until `nextFrame()` is called again.
    public mutating func writableSpace() -> UnsafeMutableRawBufferPointer {
        if handedOut == 0 && start > 0 {
            let pending = end - start
            if pending > 0 {
                storage.baseAddress.unsafelyUnwrapped.copyMemory(
                    from: storage.baseAddress.unsafelyUnwrapped + start, byteCount: pending)
            }
            start = 0
            end = pending
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[end...])
    }

    /// Records that the transport wrote `count` bytes at the start of `writableSpace()`.
    public mutating func didWrite(_ count: Int) {
        precondition(count >= 0 && end + count <= storage.count, "didWrite past the writable space")
        end += count
    }

    /// Copies as many of `bytes` as fit and returns how many that was. When it is fewer than
    /// offered, take frames out with `nextFrame()` and append the rest.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let space = writableSpace()
        let taken = min(space.count, bytes.count)
        if taken > 0 {
            space.baseAddress.unsafelyUnwrapped.copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: taken)
        }
        end += taken
        return taken
    }

    /// The next complete packet, or `nil` until more bytes arrive. Errors are reported as soon
    /// as the bytes that show them are in: a bad type or flags at the first byte, an oversized
    /// packet as soon as its length is known. Offsets in errors count from the packet's start.
    public mutating func nextFrame() throws(MQTTDecodeError) -> MQTTFrame? {
        releaseHandedOut()
        #if !hasFeature(Embedded)
        // Hosts: nothing buffered, or a whole packet with a valid first byte and a remaining
        // length of one or two bytes (up to 16,383: PUBACKs, telemetry, most C2D messages),
        // without a call. Anything else, errors included, takes the general path below, which
        // decides it again from the start.
        let pendingCount = end &- start
        if pendingCount == 0 { return nil }
        if pendingCount >= 2 {
            let at = storage.baseAddress.unsafelyUnwrapped + start
            let first = at.load(as: UInt8.self)
            let typeBits = first &>> 4
            let flags = first & 0x0F
            let validFirst: Bool
            if typeBits == MQTTPacketType.publish.rawValue {
                // QoS 3; DUP on QoS 0.
                let qos = (flags &>> 1) & 0x03
                validFirst = qos != 3 && (qos != 0 || flags & 0x08 == 0)
            } else {
                // `MQTTFixedHeader.parse`'s test: types 1…14, 0b0010 for PUBREL, SUBSCRIBE and
                // UNSUBSCRIBE, 0 for the rest.
                let required = (UInt8(truncatingIfNeeded: (0x0540 as UInt16) &>> UInt16(typeBits)) & 1) &<< 1
                validFirst = typeBits &- 1 < 14 && flags == required
            }
            let second = at.load(fromByteOffset: 1, as: UInt8.self)
            var remaining = Int(second)
            var headerLength = 2
            if second >= 0x80 {
                // A second length byte of 0 is not the shortest form: the general path says so.
                let third = pendingCount >= 3 ? at.load(fromByteOffset: 2, as: UInt8.self) : 0
                remaining = third == 0 || third >= 0x80 ? Int.max &>> 1 : Int(second & 0x7F) | Int(third) &<< 7
                headerLength = 3
            }
            let packetLength = headerLength &+ remaining
            if validFirst && packetLength <= pendingCount && packetLength <= maximumPacketSize {
                handedOut = packetLength
                return MQTTFrame(
                    header: MQTTFixedHeader(
                        type: MQTTPacketType(wire: typeBits), flags: flags, remainingLength: remaining, length: headerLength),
                    bytes: ByteView(baseAddress: UnsafeRawPointer(at), count: packetLength))
            }
        }
        return try nextFrameGeneral()
        #else
        return try nextFrameGeneral()
        #endif
    }

    /// `nextFrame()` after the frame handed out last has been released: the fixed header
    /// parsed in full, every error reported.
    #if hasFeature(Embedded)
    @inline(__always)  // the body of `nextFrame()` (flash)
    #else
    @inline(never)
    #endif
    private mutating func nextFrameGeneral() throws(MQTTDecodeError) -> MQTTFrame? {
        let pending = ByteView(baseAddress: storage.baseAddress.map { UnsafeRawPointer($0 + start) }, count: end - start)
        guard case .complete(let header) = try MQTTFixedHeader.parse(pending) else {
            // A header still open with the limit already reached belongs to a packet over it;
            // waiting would hang, as no more bytes fit.
            if pending.count >= maximumPacketSize {
                throw MQTTDecodeError(.packetTooLarge(size: pending.count + 1, limit: maximumPacketSize), at: 1)
            }
            return nil
        }
        if header.packetLength > maximumPacketSize {
            throw MQTTDecodeError(.packetTooLarge(size: header.packetLength, limit: maximumPacketSize), at: 1)
        }
        guard pending.count >= header.packetLength else { return nil }
        handedOut = header.packetLength
        return MQTTFrame(header: header, bytes: pending.slice(from: 0, count: header.packetLength))
    }

    private mutating func releaseHandedOut() {
        start += handedOut
        handedOut = 0
        if start == end {
            start = 0
            end = 0
        }
    }
}
