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
    static func parse(_ bytes: ByteView) throws(MQTTDecodeError) -> Parse {
        guard bytes.count >= 1 else { return .incomplete }
        let first = bytes[0]
        let typeBits = first >> 4
        #if hasFeature(Embedded)
        guard let type = MQTTPacketType(rawValue: typeBits) else {
            throw MQTTDecodeError(.reservedPacketType(typeBits), at: 0)
        }
        #else
        // Types 1…14 (0 and 15 are reserved), without a call to `init(rawValue:)` (hosts;
        // Embedded builds keep the smaller call).
        guard typeBits &- 1 < 14 else {
            throw MQTTDecodeError(.reservedPacketType(typeBits), at: 0)
        }
        let type = MQTTPacketType(wire: typeBits)
        #endif
        let flags = first & 0x0F
        if typeBits != MQTTPacketType.publish.rawValue {
            // `requiredFlags` as a bit test: 0b0010 for PUBREL (6), SUBSCRIBE (8) and
            // UNSUBSCRIBE (10), 0 for the rest.
            let required = (UInt8(truncatingIfNeeded: (0x0540 as UInt16) &>> UInt16(typeBits)) & 1) &<< 1
            if flags != required {
                throw MQTTDecodeError(.invalidFixedHeaderFlags(type: typeBits, flags: flags), at: 0)
            }
        } else {
            let qos = (flags >> 1) & 0x03
            if qos == 3 { throw MQTTDecodeError(.invalidQoS, at: 0) }
            if qos == 0 && flags & 0x08 != 0 { throw MQTTDecodeError(.dupWithQoS0, at: 0) }
        }
        var value = 0
        var shift = 0
        var index = 1
        while true {
            if index == 5 { throw MQTTDecodeError(.malformedRemainingLength, at: 4) }
            guard index < bytes.count else { return .incomplete }
            let byte = bytes[index]
            // Table 2.4 gives each length one size: a last byte of 0 after the first means the
            // value fitted in fewer bytes (e.g. 80 00 for 0), which is not an encoding of it.
            if byte == 0 && index > 1 { throw MQTTDecodeError(.malformedRemainingLength, at: index) }
            value |= Int(byte & 0x7F) << shift
            index += 1
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return .complete(MQTTFixedHeader(type: type, flags: flags, remainingLength: value, length: index))
    }

    /// Bytes needed to encode `value` (at most `maximumRemainingLength`) as a remaining length,
    /// by three compares.
    @inline(__always)
    static func remainingLengthSizeUnchecked(_ value: Int) -> Int {
        1 &+ (value >= 128 ? 1 : 0) &+ (value >= 16_384 ? 1 : 0) &+ (value >= 2_097_152 ? 1 : 0)
    }

    /// Bytes needed to encode `value` as a remaining length, or `nil` if it is too large.
    @inline(__always)
    static func remainingLengthSize(_ value: Int) -> Int? {
        switch value {
        case 0..<128: return 1
        case 128..<16_384: return 2
        case 16_384..<2_097_152: return 3
        case 2_097_152...maximumRemainingLength: return 4
        default: return nil
        }
    }
}
