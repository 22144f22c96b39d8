/// A rule of MQTT 3.1.1 that a packet breaks. Each case names one check; `summary` says it in
/// words and cites the standard's conformance statement where there is one.
public enum MQTTRule: Equatable, Sendable {
    /// Packet type 0 or 15 (§2.2.1).
    case reservedPacketType(UInt8)
    /// Fixed-header flag bits that the packet type does not allow (§2.2.2).
    case invalidFixedHeaderFlags(type: UInt8, flags: UInt8)
    /// A fifth remaining-length byte, or a length written with more bytes than it needs (§2.2.3, Table 2.4).
    case malformedRemainingLength
    /// The remaining length disagrees with what the packet type requires or contains.
    case remainingLengthMismatch(expected: Int, actual: Int)
    /// A field (string, packet id, flags) runs past the end of the packet.
    case truncatedField
    /// Bytes left over after the last field of the packet.
    case trailingBytes(count: Int)
    /// A UTF-8 string that is not well-formed UTF-8 (§1.5.3, MQTT-1.5.3-1).
    case invalidUTF8
    /// A UTF-8 string that encodes a surrogate code point U+D800…U+DFFF (MQTT-1.5.3-1).
    case surrogateInString
    /// A UTF-8 string that contains U+0000 (MQTT-1.5.3-2).
    case nullCharacterInString
    /// A string longer than 65,535 bytes (§1.5.3).
    case stringTooLong(length: Int)
    /// A topic name or filter of zero bytes (MQTT-4.7.3-1).
    case emptyTopic
    /// A topic name containing `+` or `#` (MQTT-3.3.2-2).
    case wildcardInTopicName
    /// A `#` that is not the last character, alone in its level (MQTT-4.7.1-2).
    case misplacedMultiLevelWildcard
    /// A `+` that does not occupy a whole level (MQTT-4.7.1-3).
    case misplacedSingleLevelWildcard
    /// A packet identifier of 0 where one is required (MQTT-2.3.1-1).
    case zeroPacketIdentifier
    /// QoS 3 in a PUBLISH (MQTT-3.3.1-4) or a will (MQTT-3.1.2-14).
    case invalidQoS
    /// DUP set on a QoS 0 PUBLISH (MQTT-3.3.1-2).
    case dupWithQoS0
    /// CONNECT protocol name other than "MQTT" (MQTT-3.1.2-1).
    case invalidProtocolName
    /// CONNECT protocol level other than 4 (MQTT-3.1.2-2).
    case unsupportedProtocolLevel(UInt8)
    /// CONNECT reserved flag bit 0 set (MQTT-3.1.2-3).
    case connectReservedFlagSet
    /// Will QoS or will retain set without the will flag (MQTT-3.1.2-11, -13, -15).
    case willFieldsWithoutWillFlag
    /// Password flag set without the user name flag (MQTT-3.1.2-22).
    case passwordWithoutUserName
    /// A zero-byte client id without CleanSession 1 (MQTT-3.1.3-7). Only the encoder refuses
    /// it: a server answers it with CONNACK 2, so the decoder lets it through.
    case emptyClientIDWithoutCleanSession
    /// CONNACK acknowledge-flags bits 7…1 set (§3.2.2.1).
    case connackReservedFlagsSet
    /// CONNACK return code above 5 (§3.2.2.3).
    case invalidConnackReturnCode(UInt8)
    /// CONNACK refusing the connection but claiming a session (MQTT-3.2.2-4).
    case sessionPresentWithRefusal
    /// SUBSCRIBE or UNSUBSCRIBE with no topic filters (MQTT-3.8.3-3, MQTT-3.10.3-2).
    case noTopicFilters
    /// SUBSCRIBE requested-QoS byte with reserved bits set (MQTT-3.8.3-4).
    case subscribeReservedBitsSet(UInt8)
    /// SUBACK with no return codes (§3.9.3).
    case noReturnCodes
    /// SUBACK return code other than 0, 1, 2 or 0x80 (MQTT-3.9.3-2).
    case invalidSubackReturnCode(UInt8)
    /// A packet bigger than the reader's configured maximum.
    case packetTooLarge(size: Int, limit: Int)

    /// What is wrong, in words, with the conformance statement where the standard has one.
    public var summary: StaticString {
        switch self {
        case .reservedPacketType: return "packet type 0 and 15 are reserved (MQTT 2.2.1)"
        case .invalidFixedHeaderFlags: return "fixed header flags not allowed for this packet type (MQTT-2.2.2-1, MQTT-2.2.2-2)"
        case .malformedRemainingLength: return "remaining length longer than 4 bytes or not in its shortest form (MQTT 2.2.3, Table 2.4)"
        case .remainingLengthMismatch: return "remaining length does not match what the packet type requires or contains (MQTT 2.2.3)"
        case .truncatedField: return "field runs past the end of the packet (MQTT 1.5)"
        case .trailingBytes: return "bytes left after the last field of the packet (remaining length too large)"
        case .invalidUTF8: return "string is not well-formed UTF-8 (MQTT-1.5.3-1)"
        case .surrogateInString: return "string encodes a UTF-16 surrogate U+D800..U+DFFF (MQTT-1.5.3-1)"
        case .nullCharacterInString: return "string contains U+0000 (MQTT-1.5.3-2)"
        case .stringTooLong: return "string longer than 65535 bytes (MQTT 1.5.3)"
        case .emptyTopic: return "topic names and filters must be at least one character (MQTT-4.7.3-1)"
        case .wildcardInTopicName: return "topic name contains a wildcard + or # (MQTT-3.3.2-2)"
        case .misplacedMultiLevelWildcard: return "# must be the last character and alone in its level (MQTT-4.7.1-2)"
        case .misplacedSingleLevelWildcard: return "+ must occupy an entire topic level (MQTT-4.7.1-3)"
        case .zeroPacketIdentifier: return "packet identifier must be non-zero (MQTT-2.3.1-1)"
        case .invalidQoS: return "QoS 3 is not a valid QoS (MQTT-3.3.1-4, MQTT-3.1.2-14)"
        case .dupWithQoS0: return "DUP must be 0 on a QoS 0 PUBLISH (MQTT-3.3.1-2)"
        case .invalidProtocolName: return "protocol name must be \"MQTT\" (MQTT-3.1.2-1)"
        case .unsupportedProtocolLevel: return "protocol level must be 4 for MQTT 3.1.1 (MQTT-3.1.2-2)"
        case .connectReservedFlagSet: return "CONNECT reserved flag bit 0 must be 0 (MQTT-3.1.2-3)"
        case .willFieldsWithoutWillFlag: return "will QoS and will retain must be 0 without the will flag (MQTT-3.1.2-11, -13, -15)"
        case .passwordWithoutUserName: return "password flag set without user name flag (MQTT-3.1.2-22)"
        case .emptyClientIDWithoutCleanSession: return "a zero-byte client id needs CleanSession 1 (MQTT-3.1.3-7)"
        case .connackReservedFlagsSet: return "CONNACK acknowledge flags bits 7-1 must be 0 (MQTT 3.2.2.1)"
        case .invalidConnackReturnCode: return "CONNACK return code must be 0-5 (MQTT 3.2.2.3)"
        case .sessionPresentWithRefusal: return "session present must be 0 when the connection is refused (MQTT-3.2.2-4)"
        case .noTopicFilters: return "SUBSCRIBE and UNSUBSCRIBE need at least one topic filter (MQTT-3.8.3-3, MQTT-3.10.3-2)"
        case .subscribeReservedBitsSet: return "requested QoS byte has reserved bits set or QoS 3 (MQTT-3.8.3-4)"
        case .noReturnCodes: return "SUBACK needs at least one return code (MQTT 3.9.3)"
        case .invalidSubackReturnCode: return "SUBACK return code must be 0, 1, 2 or 0x80 (MQTT-3.9.3-2)"
        case .packetTooLarge: return "packet is larger than the configured maximum packet size"
        }
    }
}

/// A received packet broke a rule of MQTT 3.1.1.
public struct MQTTDecodeError: Error, Equatable {
    /// The rule broken.
    public let rule: MQTTRule
    /// Byte offset, from the packet's first byte, of the field that breaks it.
    public let offset: Int

    public init(_ rule: MQTTRule, at offset: Int) {
        self.rule = rule
        self.offset = offset
    }
}

/// A packet could not be encoded.
public enum MQTTEncodeError: Error, Equatable {
    /// The output buffer holds `available` bytes; the packet needs `needed`.
    case bufferTooSmall(needed: Int, available: Int)
    /// The packet's remaining length would exceed 268,435,455 bytes.
    case packetTooLarge(remainingLength: Int)
    /// The packet would break a rule of the standard; nothing was written.
    case invalid(MQTTRule)
}
