/// One complete packet, as cut from the byte stream by `MQTTFrameReader`, its fixed header
/// checked. Three words, so that a frame goes back and forth in registers.
public struct MQTTFrame {
    /// The whole packet, fixed header included. Valid until the reader is next asked for a frame.
    public let bytes: ByteView
    /// Bytes of the fixed header: 2 to 5.
    let headerLength: Int

    init(bytes: ByteView, headerLength: Int) {
        self.bytes = bytes
        self.headerLength = headerLength
    }

    /// The low four bits of the first byte.
    @inline(__always)
    var flags: UInt8 { bytes.start.load(as: UInt8.self) & 0x0F }

    /// The packet's type.
    @inline(__always)
    var type: MQTTPacketType { MQTTPacketType(wire: bytes.start.load(as: UInt8.self) &>> 4) }

    /// The fixed header, as the reader parsed it.
    public var header: MQTTFixedHeader {
        MQTTFixedHeader(type: type, flags: flags, remainingLength: bytes.count &- headerLength, length: headerLength)
    }
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
    @usableFromInline var start = 0
    /// One past the last byte received.
    @usableFromInline var end = 0
    /// Bytes of the frame handed out last; released by the next `nextFrame()`.
    @usableFromInline var handedOut = 0

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
    ///
    /// Inlined: the caller asks again after each frame, and the answer to that (nothing
    /// buffered) is then a few instructions instead of a call.
    @inlinable
    public mutating func nextFrame() throws(MQTTDecodeError) -> MQTTFrame? {
        // Release the frame handed out last; with nothing else buffered, start the buffer over.
        start &+= handedOut  // within the storage
        handedOut = 0
        let pendingCount = end &- start
        if pendingCount == 0 {
            start = 0
            end = 0
            return nil
        }
        return try frame(pendingCount: pendingCount)
    }

    /// The frame at `start`, of the `pendingCount` (at least 1) bytes buffered, if complete.
    @inline(__always) @usableFromInline
    mutating func frame(pendingCount: Int) throws(MQTTDecodeError) -> MQTTFrame? {
        let base = UnsafeRawPointer(storage.baseAddress.unsafelyUnwrapped + start)
        guard case .complete(let header) = try MQTTFixedHeader.parse(base, count: pendingCount) else {
            // A header still open with the limit already reached belongs to a packet over it;
            // waiting would hang, as no more bytes fit.
            if pendingCount >= maximumPacketSize {
                try raise(MQTTDecodeError(.packetTooLarge(size: pendingCount + 1), at: 1))
            }
            return nil
        }
        // At most 5 + 268,435,455: no overflow.
        let packetLength = header.length &+ header.remainingLength
        if packetLength > maximumPacketSize {
            try raise(MQTTDecodeError(.packetTooLarge(size: packetLength), at: 1))
        }
        guard pendingCount >= packetLength else { return nil }
        handedOut = packetLength
        return MQTTFrame(bytes: ByteView(baseAddress: base, count: packetLength), headerLength: header.length)
    }
}
