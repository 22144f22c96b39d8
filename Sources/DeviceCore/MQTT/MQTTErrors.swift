/// A rule of MQTT 3.1.1 that a packet breaks. Each case names one check; `code` is its stable
/// number, and DeviceCoreWords's `summary` says it in words, citing the standard's conformance
/// statement where there is one.
public enum MQTTRule: Equatable, Sendable {
    /// Packet type 0 or 15 (§2.2.1).
    case reservedPacketType(UInt8)
    /// Fixed-header flag bits that the packet type does not allow (§2.2.2).
    case invalidFixedHeaderFlags(type: UInt8, flags: UInt8)
    /// A fifth remaining-length byte, or a length written with more bytes than it needs (§2.2.3, Table 2.4).
    case malformedRemainingLength
    /// The remaining length (the header's, at byte 1) disagrees with what the packet type
    /// requires or the buffer holds, `expected`.
    case remainingLengthMismatch(expected: Int)
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
    /// A packet of `size` bytes, more than the frame reader's `maximumPacketSize`.
    case packetTooLarge(size: Int)

    /// The rule's number, 1…31 in the order of the cases above; it never changes. The words
    /// for it are in the module DeviceCoreWords (`summary`), which a firmware need not link: its
    /// console prints the number, and `dps-device mqtt rule CODE` prints the words.
    public var code: UInt8 {
        switch self {
        case .reservedPacketType: return 1
        case .invalidFixedHeaderFlags: return 2
        case .malformedRemainingLength: return 3
        case .remainingLengthMismatch: return 4
        case .truncatedField: return 5
        case .trailingBytes: return 6
        case .invalidUTF8: return 7
        case .surrogateInString: return 8
        case .nullCharacterInString: return 9
        case .stringTooLong: return 10
        case .emptyTopic: return 11
        case .wildcardInTopicName: return 12
        case .misplacedMultiLevelWildcard: return 13
        case .misplacedSingleLevelWildcard: return 14
        case .zeroPacketIdentifier: return 15
        case .invalidQoS: return 16
        case .dupWithQoS0: return 17
        case .invalidProtocolName: return 18
        case .unsupportedProtocolLevel: return 19
        case .connectReservedFlagSet: return 20
        case .willFieldsWithoutWillFlag: return 21
        case .passwordWithoutUserName: return 22
        case .emptyClientIDWithoutCleanSession: return 23
        case .connackReservedFlagsSet: return 24
        case .invalidConnackReturnCode: return 25
        case .sessionPresentWithRefusal: return 26
        case .noTopicFilters: return 27
        case .subscribeReservedBitsSet: return 28
        case .noReturnCodes: return 29
        case .invalidSubackReturnCode: return 30
        case .packetTooLarge: return 31
        }
    }

    /// The numbers the rules have.
    public static let codes: ClosedRange<UInt8> = 1...31
}

/// A received packet broke a rule of MQTT 3.1.1.
public struct MQTTDecodeError: Error, Equatable {
    // The offset first: the rule's tag then ends the value (9 bytes on 32-bit, not 12), and
    // the session's error can keep its own tag in the padding after it.
    /// Byte offset, from the packet's first byte, of the field that breaks it.
    public let offset: Int
    /// The rule broken.
    public let rule: MQTTRule

    public init(_ rule: MQTTRule, at offset: Int) {
        self.rule = rule
        self.offset = offset
    }
}

/// A packet could not be encoded.
public enum MQTTEncodeError: Error, Equatable {
    /// The output buffer cannot hold the whole packet.
    case bufferTooSmall(BufferTooSmall)
    /// The packet's remaining length would exceed 268,435,455 bytes.
    case packetTooLarge(remainingLength: Int)
    /// The packet would break a rule of the standard; nothing was written.
    case invalid(MQTTRule)
}

/// Throws `error`. Out of line, so that the receive path (fixed header, frame reader, PUBLISH
/// decoder) holds no throw of its own: on hosts each throw site calls the runtime's error hook,
/// and that call alone makes a function set up a stack frame on every path, the fast one
/// included (frame + decode 271 -> 261 instructions, 14 / 20 B more flash). The encoders keep
/// their plain `throw`s: there the calls cost more flash than they saved.
@inline(never)
func raise<Failure: Error>(_ error: Failure) throws(Failure) -> Never {
    throw error
}
