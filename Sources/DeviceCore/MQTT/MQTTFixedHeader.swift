/// The first byte and remaining length of a packet (§2.2).
public struct MQTTFixedHeader: Equatable, Sendable {
    public let type: MQTTPacketType
    /// The low four bits of the first byte.
    public let flags: UInt8
    /// Bytes after the fixed header.
    public let remainingLength: Int
    /// Bytes of the fixed header itself: 2 to 5.
    public let length: Int

    /// Total bytes of the packet.
    public var packetLength: Int { length + remainingLength }

    /// Largest remaining length the 4-byte encoding can express.
    public static let maximumRemainingLength = 268_435_455

    /// Outcome of looking at the start of a byte stream.
    enum Parse {
        /// Not enough bytes yet to know the header.
        case incomplete
        case complete(MQTTFixedHeader)
    }

    /// Parses the fixed header at the start of `bytes`, checking packet type, flags and the
    /// remaining-length encoding as soon as the bytes that carry them are present.
    ///
    /// Inlined: the frame reader is its one caller in a firmware, and a packet of up to 16,383
    /// bytes then costs two loads and a few compares.
    @inline(__always)
    static func parse(_ bytes: ByteView) throws(MQTTDecodeError) -> Parse {
        guard bytes.count >= 1 else { return .incomplete }
        return try parse(bytes.start, count: bytes.count)  // not empty: has a base
    }

    /// `parse(_:)` of the `count` bytes at `base`, `count` at least 1.
    @inline(__always)
    static func parse(_ base: UnsafeRawPointer, count: Int) throws(MQTTDecodeError) -> Parse {
        let first = base.load(as: UInt8.self)
        let type = try packetType(first)
        var value = 0
        var shift = 0
        var index = 1
        while true {
            if index == 5 { try raise(MQTTDecodeError(.malformedRemainingLength, at: 4)) }
            guard index < count else { return .incomplete }
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            // Table 2.4 gives each length one size: a last byte of 0 after the first means the
            // value fitted in fewer bytes (e.g. 80 00 for 0), which is not an encoding of it.
            if byte == 0 && index > 1 { try raise(MQTTDecodeError(.malformedRemainingLength, at: index)) }
            value |= Int(byte & 0x7F) &<< shift
            index &+= 1
            if byte < 0x80 { break }
            shift &+= 7
        }
        return .complete(MQTTFixedHeader(type: type, flags: first & 0x0F, remainingLength: value, length: index))
    }

    /// The type of a packet whose first byte is `first`, after the rules on that byte: types
    /// 0 and 15 are reserved (§2.2.1); PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0b0010,
    /// every other type but PUBLISH 0 (§2.2.2); a PUBLISH has no QoS 3 (MQTT-3.3.1-4) and no
    /// DUP at QoS 0 (MQTT-3.3.1-2). The one statement of these rules, decoder and encoder alike.
    ///
    /// The common case is one test of the flags against the set the type allows (bit `f` of
    /// `allowed` for flags `f`); which rule a refused byte breaks is worked out out of line.
    @inline(__always)
    static func packetType(_ first: UInt8) throws(MQTTDecodeError) -> MQTTPacketType {
        let typeBits = first &>> 4
        // PUBLISH: every flags value but QoS 3 (6, 7, 14, 15) and DUP at QoS 0 (8, 9). Bit 6
        // (PUBREL), 8 (SUBSCRIBE) and 10 (UNSUBSCRIBE) of 0x0540: flags 0b0010. Others: 0.
        let required = ((0x0540 as UInt16) &>> UInt16(typeBits) & 1) &<< 1
        let allowed: UInt16 = typeBits == MQTTPacketType.publish.rawValue ? 0x3C3F : 1 &<< required
        guard typeBits &- 1 < 14, allowed &>> UInt16(first & 0x0F) & 1 != 0 else { try refuse(first) }
        return MQTTPacketType(wire: typeBits)
    }

    /// Throws the rule a first byte that `packetType` refused breaks.
    @inline(never)
    static func refuse(_ first: UInt8) throws(MQTTDecodeError) -> Never {
        let typeBits = first &>> 4
        let flags = first & 0x0F
        if typeBits &- 1 >= 14 { throw MQTTDecodeError(.reservedPacketType(typeBits), at: 0) }
        if typeBits == MQTTPacketType.publish.rawValue {
            throw MQTTDecodeError(flags & 0x06 == 0x06 ? .invalidQoS : .dupWithQoS0, at: 0)
        }
        throw MQTTDecodeError(.invalidFixedHeaderFlags(type: typeBits, flags: flags), at: 0)
    }

    /// Bytes needed to encode `value` as a remaining length, or `nil` if it is too large.
    static func remainingLengthSize(_ value: Int) -> Int? {
        guard value >= 0 && value <= maximumRemainingLength else { return nil }
        return 1 &+ (value >= 128 ? 1 : 0) &+ (value >= 16_384 ? 1 : 0) &+ (value >= 2_097_152 ? 1 : 0)
    }
}
