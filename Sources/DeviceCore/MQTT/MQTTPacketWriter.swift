/// Writes a packet into memory already known to be large enough: every packet encoder checks
/// its packet, computes the remaining length, then starts one of these with
/// `init(firstByte:remainingLength:into:)`, which does the one size check.
struct UncheckedWriter {
    let base: UnsafeMutableRawPointer
    var position: Int

    /// A writer at the start of `buffer` with the fixed header written, or the error if the
    /// packet (remaining length `remainingLength`) cannot be encoded or does not fit.
    ///
    /// The packets a device sends are mostly under 16 KB: for a remaining length of one or two
    /// bytes the one size test also picks the bytes to write, without the loop. The buffer
    /// check is written in both branches on purpose: shared after them, the branches are taken
    /// twice (encode-publish 221 instructions instead of 216).
    init(firstByte: UInt8, remainingLength: Int, into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) {
        let length = UInt(bitPattern: remainingLength)  // negative: the general branch refuses it
        if length < 0x4000 {
            let total = (length < 0x80 ? 2 : 3) &+ remainingLength
            guard total <= buffer.count else {
                throw .bufferTooSmall(BufferTooSmall(needed: total, capacity: buffer.count))
            }
            self.init(base: buffer.baseAddress.unsafelyUnwrapped)  // at least 2 bytes: has a base
            byte(firstByte)
            if length < 0x80 {
                byte(UInt8(truncatingIfNeeded: length))
            } else {
                byte(UInt8(truncatingIfNeeded: length) | 0x80)
                byte(UInt8(truncatingIfNeeded: length &>> 7))
            }
            return
        }
        let total = try UncheckedWriter.packetLength(remainingLength: remainingLength)
        guard total <= buffer.count else {
            throw .bufferTooSmall(BufferTooSmall(needed: total, capacity: buffer.count))
        }
        self.init(base: buffer.baseAddress.unsafelyUnwrapped)
        byte(firstByte)
        self.remainingLength(remainingLength)
    }

    /// A writer at `base`, for bytes known to fit.
    init(base: UnsafeMutableRawPointer) {
        self.base = base
        position = 0
    }

    /// A remaining length (§2.2.3): 7 bits a byte, low digits first.
    @inline(__always)
    mutating func remainingLength(_ value: Int) {
        var rest = value
        while rest >= 0x80 {
            byte(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest &>>= 7
        }
        byte(UInt8(truncatingIfNeeded: rest))
    }

    /// The whole packet's length for `remainingLength`, or `.packetTooLarge`.
    @inline(__always)
    static func packetLength(remainingLength: Int) throws(MQTTEncodeError) -> Int {
        guard let lengthSize = MQTTFixedHeader.remainingLengthSize(remainingLength) else {
            throw .packetTooLarge(remainingLength: remainingLength)
        }
        return 1 &+ lengthSize &+ remainingLength
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        base.storeBytes(of: value, toByteOffset: position, as: UInt8.self)
        position &+= 1
    }

    @inline(__always)
    mutating func uint16(_ value: UInt16) {
        byte(UInt8(truncatingIfNeeded: value &>> 8))
        byte(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func bytes(_ view: ByteView) {
        view.copyBytes(to: base + position)
        position &+= view.count
    }

    /// A length-prefixed field; its length was checked when the packet was sized.
    @inline(__always)
    mutating func prefixed(_ view: ByteView) {
        uint16(UInt16(truncatingIfNeeded: view.count))
        bytes(view)
    }
}

/// The length checks of the fields an encoder writes (§1.5.3).
enum MQTTFieldLength {
    /// Bytes a length-prefixed binary field takes, or `.stringTooLong`.
    @inline(__always)
    static func binary(_ value: ByteView) throws(MQTTEncodeError) -> Int {
        if value.count > 65_535 { throw .invalid(.stringTooLong(length: value.count)) }
        return 2 &+ value.count
    }

    /// Bytes a UTF-8 string field takes, after its length and UTF-8 checks.
    static func string(_ value: ByteView) throws(MQTTEncodeError) -> Int {
        let length = try binary(value)
        if let failure = MQTTValidation.checkUTF8(value) { throw .invalid(failure.rule) }
        return length
    }
}
