@testable import DeviceCore
import Testing

/// One input the decoder must refuse, with the exact error the standard's rule and the
/// packet's layout call for. Offsets count from the packet's first byte; a string's error is at
/// the offending byte of its content, a field's at the field.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var hex: String
    var error: MQTTDecodeError
    /// The input only makes sense as a whole-buffer decode (its length disagrees with the buffer,
    /// or it stops inside the fixed header): not fed through the frame reader.
    var wholeBufferOnly = false

    var testDescription: String { "\(name) [\(hex)]" }

    init(_ name: String, _ hex: String, _ rule: MQTTRule, at offset: Int, wholeBufferOnly: Bool = false) {
        self.name = name
        self.hex = hex
        self.error = MQTTDecodeError(rule, at: offset)
        self.wholeBufferOnly = wholeBufferOnly
    }

    static let all: [MalformedCase] = [
        // Fixed header: reserved types (§2.2.1).
        .init("type 0", "00 00", .reservedPacketType(0), at: 0),
        .init("type 15", "f0 00", .reservedPacketType(15), at: 0),
        .init("type 15 with flags", "ff 00", .reservedPacketType(15), at: 0),
        // Fixed header: flags of each fixed-flag type (MQTT-2.2.2-1, -2).
        .init("CONNECT flags 0001", "11 00", .invalidFixedHeaderFlags(type: 1, flags: 1), at: 0),
        .init("CONNACK flags 0001", "21 02 00 00", .invalidFixedHeaderFlags(type: 2, flags: 1), at: 0),
        .init("PUBACK flags 0010", "42 02 00 01", .invalidFixedHeaderFlags(type: 4, flags: 2), at: 0),
        .init("PUBREC flags 1000", "58 02 00 01", .invalidFixedHeaderFlags(type: 5, flags: 8), at: 0),
        .init("PUBREL flags 0000", "60 02 00 01", .invalidFixedHeaderFlags(type: 6, flags: 0), at: 0),
        .init("PUBREL flags 0011", "63 02 00 01", .invalidFixedHeaderFlags(type: 6, flags: 3), at: 0),
        .init("PUBCOMP flags 0001", "71 02 00 01", .invalidFixedHeaderFlags(type: 7, flags: 1), at: 0),
        .init("SUBSCRIBE flags 0000", "80 06 00 01 00 01 61 00", .invalidFixedHeaderFlags(type: 8, flags: 0), at: 0),
        .init("SUBSCRIBE flags 1010", "8a 06 00 01 00 01 61 00", .invalidFixedHeaderFlags(type: 8, flags: 10), at: 0),
        .init("SUBACK flags 0010", "92 03 00 01 00", .invalidFixedHeaderFlags(type: 9, flags: 2), at: 0),
        .init("UNSUBSCRIBE flags 0000", "a0 05 00 01 00 01 61", .invalidFixedHeaderFlags(type: 10, flags: 0), at: 0),
        .init("UNSUBSCRIBE flags 0011", "a3 05 00 01 00 01 61", .invalidFixedHeaderFlags(type: 10, flags: 3), at: 0),
        .init("UNSUBACK flags 0001", "b1 02 00 01", .invalidFixedHeaderFlags(type: 11, flags: 1), at: 0),
        .init("PINGREQ flags 0010", "c2 00", .invalidFixedHeaderFlags(type: 12, flags: 2), at: 0),
        .init("PINGRESP flags 1000", "d8 00", .invalidFixedHeaderFlags(type: 13, flags: 8), at: 0),
        .init("DISCONNECT flags 0100", "e4 00", .invalidFixedHeaderFlags(type: 14, flags: 4), at: 0),
        // PUBLISH flags (MQTT-3.3.1-4, MQTT-3.3.1-2).
        .init("PUBLISH QoS 3", "36 05 00 01 74 00 01", .invalidQoS, at: 0),
        .init("PUBLISH QoS 3 with DUP and retain", "3f 05 00 01 74 00 01", .invalidQoS, at: 0),
        .init("PUBLISH DUP with QoS 0", "38 03 00 01 74", .dupWithQoS0, at: 0),
        // Remaining length (§2.2.3): a continuation bit on the fourth length byte.
        .init("5-byte remaining length", "30 ff ff ff ff 01", .malformedRemainingLength, at: 4, wholeBufferOnly: true),
        .init("5-byte remaining length of zeros", "c0 80 80 80 80 00", .malformedRemainingLength, at: 4, wholeBufferOnly: true),
        // Input that ends inside the fixed header.
        .init("no bytes", "", .truncatedField, at: 0, wholeBufferOnly: true),
        .init("type byte only", "30", .truncatedField, at: 1, wholeBufferOnly: true),
        .init("length continues past the end", "30 80", .truncatedField, at: 2, wholeBufferOnly: true),
        // Remaining length against what the type requires.
        .init("PUBACK remaining length 3", "40 03 00 01 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("PUBACK remaining length 1", "40 01 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("PUBREC remaining length 0", "50 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("PUBREL remaining length 3", "62 03 00 01 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("PUBCOMP remaining length 4", "70 04 00 01 00 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("UNSUBACK remaining length 0", "b0 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("CONNACK remaining length 3", "20 03 00 00 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("CONNACK remaining length 1", "20 01 00", .remainingLengthMismatch(expected: 2), at: 1),
        .init("PINGREQ remaining length 1", "c0 01 00", .remainingLengthMismatch(expected: 0), at: 1),
        .init("PINGRESP remaining length 1", "d0 01 00", .remainingLengthMismatch(expected: 0), at: 1),
        .init("DISCONNECT remaining length 2", "e0 02 00 00", .remainingLengthMismatch(expected: 0), at: 1),
        // Remaining length against the buffer handed to `decode` (expected = bytes present).
        .init("buffer shorter than remaining length", "40 02 00", .remainingLengthMismatch(expected: 1), at: 1, wholeBufferOnly: true),
        .init("buffer longer than remaining length", "c0 00 00", .remainingLengthMismatch(expected: 1), at: 1, wholeBufferOnly: true),
        // Fields that run past the end of the packet.
        .init("PUBLISH empty body", "30 00", .truncatedField, at: 2),
        .init("PUBLISH topic length past end", "30 03 00 05 61", .truncatedField, at: 2),
        .init("PUBLISH QoS 1 without packet id", "32 03 00 01 74", .truncatedField, at: 5),
        .init("PUBLISH QoS 2 with half a packet id", "34 04 00 01 74 00", .truncatedField, at: 5),
        .init("CONNECT protocol name past end", "10 02 00 04", .truncatedField, at: 2),
        .init("CONNECT without flags", "10 07 00 04 4d 51 54 54 04", .truncatedField, at: 9),
        .init("CONNECT half a keep-alive", "10 09 00 04 4d 51 54 54 04 02 00", .truncatedField, at: 10),
        .init("CONNECT without client id", "10 0a 00 04 4d 51 54 54 04 02 00 3c", .truncatedField, at: 12),
        .init("CONNECT client id past end", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 05 61 62", .truncatedField, at: 12),
        .init("CONNECT user name flag, no user name", "10 0d 00 04 4d 51 54 54 04 82 00 3c 00 01 61", .truncatedField, at: 15),
        .init("CONNECT password flag, no password", "10 10 00 04 4d 51 54 54 04 c2 00 3c 00 01 61 00 01 75", .truncatedField, at: 18),
        .init("CONNECT will flag, no will payload", "10 10 00 04 4d 51 54 54 04 06 00 3c 00 01 61 00 01 77", .truncatedField, at: 18),
        .init("SUBSCRIBE half a packet id", "82 01 00", .truncatedField, at: 2),
        .init("SUBSCRIBE filter without QoS byte", "82 05 00 01 00 01 61", .truncatedField, at: 7),
        .init("SUBSCRIBE filter length past end", "82 06 00 01 00 04 61 00", .truncatedField, at: 4),
        .init("UNSUBSCRIBE second filter truncated", "a2 08 00 01 00 01 61 00 02 62", .truncatedField, at: 7),
        .init("SUBACK half a packet id", "90 01 00", .truncatedField, at: 2),
        // Bytes after the last field of a CONNECT.
        .init("CONNECT 1 trailing byte", "10 14 00 04 4d 51 54 54 04 02 00 3c 00 07 64 65 76 69 63 65 31 ff", .trailingBytes(count: 1), at: 21),
        .init("CONNECT 3 trailing bytes", "10 10 00 04 4d 51 54 54 04 02 00 3c 00 01 61 00 00 00", .trailingBytes(count: 3), at: 15),
        // Ill-formed UTF-8 (MQTT-1.5.3-1), in a PUBLISH topic whose bytes start at offset 4.
        .init("UTF-8 continuation byte as lead", "30 05 00 03 61 80 62", .invalidUTF8, at: 5),
        .init("UTF-8 lead byte FF", "30 03 00 01 ff", .invalidUTF8, at: 4),
        .init("UTF-8 lead byte FE", "30 04 00 02 61 fe", .invalidUTF8, at: 5),
        .init("UTF-8 2-byte sequence cut by the string's end", "30 04 00 02 61 c3", .invalidUTF8, at: 5),
        .init("UTF-8 3-byte sequence cut by the string's end", "30 04 00 02 e2 9c", .invalidUTF8, at: 4),
        .init("UTF-8 4-byte sequence cut, payload follows", "30 06 00 03 f0 9f 98 80", .invalidUTF8, at: 4),
        .init("UTF-8 overlong C0 80", "30 04 00 02 c0 80", .invalidUTF8, at: 4),
        .init("UTF-8 overlong C1 BF", "30 04 00 02 c1 bf", .invalidUTF8, at: 4),
        .init("UTF-8 overlong E0 80 80", "30 05 00 03 e0 80 80", .invalidUTF8, at: 5),
        .init("UTF-8 overlong E0 9F BF", "30 05 00 03 e0 9f bf", .invalidUTF8, at: 5),
        .init("UTF-8 overlong F0 80 80 80", "30 06 00 04 f0 80 80 80", .invalidUTF8, at: 5),
        .init("UTF-8 above U+10FFFF: F4 90 80 80", "30 06 00 04 f4 90 80 80", .invalidUTF8, at: 5),
        .init("UTF-8 lead byte F5", "30 06 00 04 f5 80 80 80", .invalidUTF8, at: 4),
        .init("UTF-8 lead byte F8", "30 07 00 05 f8 88 80 80 80", .invalidUTF8, at: 4),
        .init("UTF-8 bad second byte C3 28", "30 04 00 02 c3 28", .invalidUTF8, at: 5),
        .init("UTF-8 bad third byte E2 9C 61", "30 05 00 03 e2 9c 61", .invalidUTF8, at: 6),
        .init("UTF-8 bad fourth byte F0 9F 98 2F", "30 06 00 04 f0 9f 98 2f", .invalidUTF8, at: 7),
        .init("UTF-8 in a SUBSCRIBE filter", "82 06 00 01 00 01 ff 00", .invalidUTF8, at: 6),
        .init("UTF-8 in a CONNECT user name", "10 10 00 04 4d 51 54 54 04 82 00 3c 00 01 61 00 01 ff", .invalidUTF8, at: 17),
        .init("UTF-8 in a CONNECT client id", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c3 c3", .invalidUTF8, at: 15),
        // Surrogates (MQTT-1.5.3-1).
        .init("surrogate ED A0 80 (U+D800)", "30 05 00 03 ed a0 80", .surrogateInString, at: 4),
        .init("surrogate ED BF BF (U+DFFF)", "30 06 00 04 61 ed bf bf", .surrogateInString, at: 5),
        .init("surrogate in a will topic", "10 14 00 04 4d 51 54 54 04 06 00 3c 00 01 61 00 03 ed b0 80 00 00", .surrogateInString, at: 17),
        // U+0000 (MQTT-1.5.3-2).
        .init("U+0000 in topic", "30 05 00 03 61 00 62", .nullCharacterInString, at: 5),
        .init("U+0000 in client id", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 61 00", .nullCharacterInString, at: 15),
        .init("U+0000 in user name", "10 10 00 04 4d 51 54 54 04 82 00 3c 00 01 61 00 01 00", .nullCharacterInString, at: 17),
        .init("U+0000 in UNSUBSCRIBE filter", "a2 06 00 01 00 02 61 00", .nullCharacterInString, at: 7),
        // Wildcards in topic names (MQTT-3.3.2-2).
        .init("+ in topic name", "30 05 00 03 61 2f 2b", .wildcardInTopicName, at: 6),
        .init("# in topic name", "30 03 00 01 23", .wildcardInTopicName, at: 4),
        .init("+ inside a level of a topic name", "32 07 00 03 61 2b 62 00 01", .wildcardInTopicName, at: 5),
        .init("# in will topic", "10 12 00 04 4d 51 54 54 04 06 00 3c 00 01 61 00 01 23 00 00", .wildcardInTopicName, at: 17),
        // Misplaced wildcards in filters (MQTT-4.7.1-2, -3); SUBSCRIBE filter bytes start at 6.
        .init("filter a/#/b", "82 0a 00 01 00 05 61 2f 23 2f 62 00", .misplacedMultiLevelWildcard, at: 8),
        .init("filter a#", "82 07 00 01 00 02 61 23 00", .misplacedMultiLevelWildcard, at: 7),
        .init("filter ##", "82 07 00 01 00 02 23 23 00", .misplacedMultiLevelWildcard, at: 6),
        .init("filter #/", "82 07 00 01 00 02 23 2f 00", .misplacedMultiLevelWildcard, at: 6),
        .init("UNSUBSCRIBE filter a/b#", "a2 08 00 01 00 04 61 2f 62 23", .misplacedMultiLevelWildcard, at: 9),
        .init("filter a+/b", "82 09 00 01 00 04 61 2b 2f 62 00", .misplacedSingleLevelWildcard, at: 7),
        .init("filter +a", "82 07 00 01 00 02 2b 61 00", .misplacedSingleLevelWildcard, at: 6),
        .init("filter a/+b", "82 09 00 01 00 04 61 2f 2b 62 00", .misplacedSingleLevelWildcard, at: 8),
        .init("second filter ++/", "82 0c 00 01 00 01 23 00 00 03 2b 2b 2f 01", .misplacedSingleLevelWildcard, at: 10),
        .init("UNSUBSCRIBE filter +#", "a2 06 00 01 00 02 2b 23", .misplacedSingleLevelWildcard, at: 6),
        // Empty topics (MQTT-4.7.3-1): reported where the empty string's bytes would begin.
        .init("PUBLISH empty topic", "30 02 00 00", .emptyTopic, at: 4),
        .init("PUBLISH QoS 1 empty topic", "32 04 00 00 00 01", .emptyTopic, at: 4),
        .init("SUBSCRIBE empty filter", "82 05 00 01 00 00 00", .emptyTopic, at: 6),
        .init("UNSUBSCRIBE empty filter", "a2 04 00 01 00 00", .emptyTopic, at: 6),
        .init("CONNECT empty will topic", "10 11 00 04 4d 51 54 54 04 06 00 3c 00 01 61 00 00 00 00", .emptyTopic, at: 17),
        // Packet identifier 0 (MQTT-2.3.1-1).
        .init("PUBLISH QoS 1 packet id 0", "32 05 00 01 74 00 00", .zeroPacketIdentifier, at: 5),
        .init("PUBLISH QoS 2 packet id 0", "34 06 00 01 74 00 00 ff", .zeroPacketIdentifier, at: 5),
        .init("PUBACK packet id 0", "40 02 00 00", .zeroPacketIdentifier, at: 2),
        .init("PUBREC packet id 0", "50 02 00 00", .zeroPacketIdentifier, at: 2),
        .init("PUBREL packet id 0", "62 02 00 00", .zeroPacketIdentifier, at: 2),
        .init("PUBCOMP packet id 0", "70 02 00 00", .zeroPacketIdentifier, at: 2),
        .init("SUBSCRIBE packet id 0", "82 06 00 00 00 01 61 00", .zeroPacketIdentifier, at: 2),
        .init("SUBACK packet id 0", "90 03 00 00 00", .zeroPacketIdentifier, at: 2),
        .init("UNSUBSCRIBE packet id 0", "a2 05 00 00 00 01 61", .zeroPacketIdentifier, at: 2),
        .init("UNSUBACK packet id 0", "b0 02 00 00", .zeroPacketIdentifier, at: 2),
        // CONNECT variable header (§3.1.2).
        .init("protocol name MQIsdp (3.1)", "10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 61", .invalidProtocolName, at: 2),
        .init("protocol name MQTX", "10 0d 00 04 4d 51 54 58 04 02 00 3c 00 01 61", .invalidProtocolName, at: 2),
        .init("protocol name mqtt", "10 0d 00 04 6d 71 74 74 04 02 00 3c 00 01 61", .invalidProtocolName, at: 2),
        .init("protocol name empty", "10 09 00 00 04 02 00 3c 00 01 61", .invalidProtocolName, at: 2),
        .init("protocol level 3", "10 0d 00 04 4d 51 54 54 03 02 00 3c 00 01 61", .unsupportedProtocolLevel(3), at: 8),
        .init("protocol level 5", "10 0d 00 04 4d 51 54 54 05 02 00 3c 00 01 61", .unsupportedProtocolLevel(5), at: 8),
        .init("CONNECT reserved flag", "10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 61", .connectReservedFlagSet, at: 9),
        .init("will QoS 1 without will flag", "10 0d 00 04 4d 51 54 54 04 0a 00 3c 00 01 61", .willFieldsWithoutWillFlag, at: 9),
        .init("will QoS 2 without will flag", "10 0d 00 04 4d 51 54 54 04 12 00 3c 00 01 61", .willFieldsWithoutWillFlag, at: 9),
        .init("will retain without will flag", "10 0d 00 04 4d 51 54 54 04 22 00 3c 00 01 61", .willFieldsWithoutWillFlag, at: 9),
        .init("will QoS 3", "10 12 00 04 4d 51 54 54 04 1e 00 3c 00 01 61 00 01 77 00 00", .invalidQoS, at: 9),
        .init("password without user name", "10 10 00 04 4d 51 54 54 04 42 00 3c 00 01 61 00 01 70", .passwordWithoutUserName, at: 9),
        // SUBSCRIBE / UNSUBSCRIBE payload (MQTT-3.8.3-3, -4, MQTT-3.10.3-2).
        .init("SUBSCRIBE without filters", "82 02 00 01", .noTopicFilters, at: 4),
        .init("UNSUBSCRIBE without filters", "a2 02 00 01", .noTopicFilters, at: 4),
        .init("SUBSCRIBE requested QoS 3", "82 06 00 01 00 01 61 03", .subscribeReservedBitsSet(3), at: 7),
        .init("SUBSCRIBE reserved bit 2", "82 06 00 01 00 01 61 04", .subscribeReservedBitsSet(4), at: 7),
        .init("SUBSCRIBE reserved bit 7", "82 06 00 01 00 01 61 81", .subscribeReservedBitsSet(0x81), at: 7),
        .init("SUBSCRIBE second filter reserved bits", "82 0a 00 01 00 01 61 00 00 01 62 f2", .subscribeReservedBitsSet(0xF2), at: 11),
        // CONNACK (§3.2.2).
        .init("CONNACK reserved flag bit 1", "20 02 02 00", .connackReservedFlagsSet, at: 2),
        .init("CONNACK reserved flag bit 7", "20 02 80 00", .connackReservedFlagsSet, at: 2),
        .init("CONNACK return code 6", "20 02 00 06", .invalidConnackReturnCode(6), at: 3),
        .init("CONNACK return code FF", "20 02 00 ff", .invalidConnackReturnCode(0xFF), at: 3),
        .init("CONNACK session present with refusal 5", "20 02 01 05", .sessionPresentWithRefusal, at: 2),
        .init("CONNACK session present with refusal 1", "20 02 01 01", .sessionPresentWithRefusal, at: 2),
        // SUBACK (§3.9.3).
        .init("SUBACK without return codes", "90 02 00 01", .noReturnCodes, at: 4),
        .init("SUBACK return code 3", "90 03 00 01 03", .invalidSubackReturnCode(3), at: 4),
        .init("SUBACK return code 0x81", "90 03 00 01 81", .invalidSubackReturnCode(0x81), at: 4),
        .init("SUBACK second return code 0x7F", "90 04 00 01 80 7f", .invalidSubackReturnCode(0x7F), at: 5),
    ]
}

/// Inputs at the edges of what the standard allows: they must decode, and encode back to the same bytes.
struct AcceptedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var hex: String
    var type: MQTTPacketType
    var testDescription: String { "\(name) [\(hex)]" }

    init(_ name: String, _ hex: String, _ type: MQTTPacketType) {
        self.name = name
        self.hex = hex
        self.type = type
    }

    static let all: [AcceptedCase] = [
        .init("topic /", "30 03 00 01 2f", .publish),
        .init("topic with empty levels a//b", "30 06 00 04 61 2f 2f 62", .publish),
        .init("topic $SYS/x", "30 08 00 06 24 53 59 53 2f 78", .publish),
        .init("topic U+007F U+0080 U+07FF", "30 07 00 05 7f c2 80 df bf", .publish),
        .init("topic U+0800 U+D7FF U+E000 U+FFFF", "30 0e 00 0c e0 a0 80 ed 9f bf ee 80 80 ef bf bf", .publish),
        .init("topic U+10000 U+10FFFF", "30 0a 00 08 f0 90 80 80 f4 8f bf bf", .publish),
        .init("topic U+FEFF (BOM kept)", "30 06 00 04 ef bb bf 61", .publish),
        .init("payload that is not UTF-8", "30 06 00 01 74 ff 00 c0", .publish),
        .init("QoS 1 DUP retain", "3b 05 00 01 74 ff ff", .publish),
        .init("filter #", "82 06 00 01 00 01 23 02", .subscribe),
        .init("filter +", "82 06 00 01 00 01 2b 00", .subscribe),
        .init("filter +/+/#", "82 0a 00 01 00 05 2b 2f 2b 2f 23 01", .subscribe),
        .init("filter /+/", "82 08 00 01 00 03 2f 2b 2f 01", .subscribe),
        .init("filter $SYS/#", "82 0b 00 01 00 06 24 53 59 53 2f 23 00", .subscribe),
        .init("UNSUBSCRIBE filters # and a/+", "a2 0a 00 07 00 01 23 00 03 61 2f 2b", .unsubscribe),
        .init("binary password and will payload", "10 1a 00 04 4d 51 54 54 04 c6 00 00 00 00 00 01 77 00 02 00 ff 00 01 75 00 02 ff 00", .connect),
        .init("will QoS 2 retain", "10 12 00 04 4d 51 54 54 04 36 ff ff 00 01 61 00 01 77 00 00", .connect),
        .init("empty user name and password", "10 11 00 04 4d 51 54 54 04 c2 00 3c 00 01 61 00 00 00 00", .connect),
        .init("CONNACK session present, accepted", "20 02 01 00", .connack),
        .init("CONNACK refused without session", "20 02 00 05", .connack),
        .init("SUBACK every code", "90 06 ff ff 00 01 02 80", .suback),
        .init("PUBREL", "62 02 ff ff", .pubrel),
        .init("UNSUBACK", "b0 02 00 01", .unsuback),
        .init("PINGRESP", "d0 00", .pingresp),
        .init("PUBLISH with 2-byte remaining length", "30 80 01 00 01 74" + String(repeating: " 41", count: 125), .publish),
    ]
}

/// A packet the encoder must refuse, with the exact error.
struct EncodeRefusal: Sendable, CustomTestStringConvertible {
    var name: String
    var build: @Sendable (Arena) -> MQTTPacket
    var error: MQTTEncodeError
    var testDescription: String { name }

    init(_ name: String, _ error: MQTTEncodeError, _ build: @escaping @Sendable (Arena) -> MQTTPacket) {
        self.name = name
        self.error = error
        self.build = build
    }

    static func publish(_ topic: [UInt8], qos: QoS = .atMostOnce, id: UInt16 = 0, dup: Bool = false) -> @Sendable (Arena) -> MQTTPacket {
        { arena in .publish(MQTTPublish(topic: arena.view(topic), payload: arena.view("x"), qos: qos, packetID: id, dup: dup)) }
    }

    static func subscribe(_ filters: [String], id: UInt16 = 1) -> @Sendable (Arena) -> MQTTPacket {
        { arena in
            .subscribe(MQTTSubscribe(packetID: id, subscriptions: arena.list(filters.map { MQTTSubscription(filter: arena.view($0), qos: .atLeastOnce) })))
        }
    }

    static func unsubscribe(_ filters: [String], id: UInt16 = 1) -> @Sendable (Arena) -> MQTTPacket {
        { arena in
            .unsubscribe(MQTTUnsubscribe(packetID: id, filters: arena.list(filters.map { MQTTSubscription(filter: arena.view($0), qos: .atMostOnce) })))
        }
    }

    static func connect(
        clientID: [UInt8] = Array("c".utf8), userName: [UInt8]? = nil, password: [UInt8]? = nil,
        will: (topic: [UInt8], payload: [UInt8])? = nil
    ) -> @Sendable (Arena) -> MQTTPacket {
        let willTopic = will?.topic, willPayload = will?.payload
        return { arena in
            .connect(MQTTConnect(
                clientID: arena.view(clientID), userName: userName.map(arena.view), password: password.map(arena.view),
                will: willTopic.map { MQTTWill(topic: arena.view($0), payload: arena.view(willPayload!), qos: .atLeastOnce) }))
        }
    }

    static let all: [EncodeRefusal] = [
        .init("PUBLISH QoS 0 with DUP", .invalid(.dupWithQoS0), publish(Array("a".utf8), dup: true)),
        .init("PUBLISH QoS 1 packet id 0", .invalid(.zeroPacketIdentifier), publish(Array("a".utf8), qos: .atLeastOnce)),
        .init("PUBLISH QoS 2 packet id 0", .invalid(.zeroPacketIdentifier), publish(Array("a".utf8), qos: .exactlyOnce)),
        .init("PUBLISH empty topic", .invalid(.emptyTopic), publish([])),
        .init("PUBLISH topic a/+", .invalid(.wildcardInTopicName), publish(Array("a/+".utf8))),
        .init("PUBLISH topic #", .invalid(.wildcardInTopicName), publish(Array("#".utf8))),
        .init("PUBLISH topic with U+0000", .invalid(.nullCharacterInString), publish([0x61, 0x00])),
        .init("PUBLISH topic ill-formed UTF-8", .invalid(.invalidUTF8), publish([0xC0, 0x80])),
        .init("PUBLISH topic surrogate", .invalid(.surrogateInString), publish([0xED, 0xA0, 0x80])),
        .init("PUBLISH topic 65536 bytes", .invalid(.stringTooLong(length: 65_536)), publish([UInt8](repeating: 0x61, count: 65_536))),
        .init("PUBACK packet id 0", .invalid(.zeroPacketIdentifier), { _ in .puback(packetID: 0) }),
        .init("PUBREC packet id 0", .invalid(.zeroPacketIdentifier), { _ in .pubrec(packetID: 0) }),
        .init("PUBREL packet id 0", .invalid(.zeroPacketIdentifier), { _ in .pubrel(packetID: 0) }),
        .init("PUBCOMP packet id 0", .invalid(.zeroPacketIdentifier), { _ in .pubcomp(packetID: 0) }),
        .init("UNSUBACK packet id 0", .invalid(.zeroPacketIdentifier), { _ in .unsuback(packetID: 0) }),
        .init("SUBSCRIBE packet id 0", .invalid(.zeroPacketIdentifier), subscribe(["a"], id: 0)),
        .init("SUBSCRIBE no filters", .invalid(.noTopicFilters), subscribe([])),
        .init("SUBSCRIBE filter a/#/b", .invalid(.misplacedMultiLevelWildcard), subscribe(["ok", "a/#/b"])),
        .init("SUBSCRIBE filter a+", .invalid(.misplacedSingleLevelWildcard), subscribe(["a+"])),
        .init("SUBSCRIBE empty filter", .invalid(.emptyTopic), subscribe([""])),
        .init("UNSUBSCRIBE packet id 0", .invalid(.zeroPacketIdentifier), unsubscribe(["a"], id: 0)),
        .init("UNSUBSCRIBE no filters", .invalid(.noTopicFilters), unsubscribe([])),
        .init("UNSUBSCRIBE filter a#", .invalid(.misplacedMultiLevelWildcard), unsubscribe(["a#"])),
        .init("SUBACK packet id 0", .invalid(.zeroPacketIdentifier), { arena in .suback(MQTTSubAck(packetID: 0, returnCodes: arena.view([0]))) }),
        .init("SUBACK no return codes", .invalid(.noReturnCodes), { arena in .suback(MQTTSubAck(packetID: 1, returnCodes: arena.view([]))) }),
        .init("SUBACK return code 3", .invalid(.invalidSubackReturnCode(3)), { arena in .suback(MQTTSubAck(packetID: 1, returnCodes: arena.view([0, 3]))) }),
        .init("SUBACK return code 0x81", .invalid(.invalidSubackReturnCode(0x81)), { arena in .suback(MQTTSubAck(packetID: 1, returnCodes: arena.view([0x81]))) }),
        .init("CONNACK session present with refusal", .invalid(.sessionPresentWithRefusal), { _ in
            .connack(MQTTConnAck(sessionPresent: true, returnCode: .notAuthorized))
        }),
        .init("CONNECT password without user name", .invalid(.passwordWithoutUserName), connect(password: Array("p".utf8))),
        .init("CONNECT client id ill-formed UTF-8", .invalid(.invalidUTF8), connect(clientID: [0x61, 0xFF])),
        .init("CONNECT client id with U+0000", .invalid(.nullCharacterInString), connect(clientID: [0x00])),
        .init("CONNECT client id 65536 bytes", .invalid(.stringTooLong(length: 65_536)), connect(clientID: [UInt8](repeating: 0x61, count: 65_536))),
        .init("CONNECT user name surrogate", .invalid(.surrogateInString), connect(userName: [0xED, 0xBF, 0xBF])),
        .init("CONNECT password 65536 bytes", .invalid(.stringTooLong(length: 65_536)), connect(userName: [0x75], password: [UInt8](repeating: 0, count: 65_536))),
        .init("CONNECT will topic with +", .invalid(.wildcardInTopicName), connect(will: (Array("a/+".utf8), []))),
        .init("CONNECT empty will topic", .invalid(.emptyTopic), connect(will: ([], []))),
        .init("CONNECT will payload 65536 bytes", .invalid(.stringTooLong(length: 65_536)), connect(will: (Array("w".utf8), [UInt8](repeating: 1, count: 65_536)))),
    ]
}

@Suite("Malformed packets and encoder refusals")
struct MalformedPacketTests {
    @Test func tableCoversEveryReceiverRule() {
        var seen = Set<String>()
        for c in MalformedCase.all { seen.insert(ruleName(c.error.rule)) }
        // Every rule a receiver can hit. `stringTooLong` cannot arrive (lengths are 16-bit) and
        // `packetTooLarge` is the frame reader's (FrameReaderTests).
        let receiverRules: Set<String> = [
            "reservedPacketType", "invalidFixedHeaderFlags", "malformedRemainingLength", "remainingLengthMismatch",
            "truncatedField", "trailingBytes", "invalidUTF8", "surrogateInString", "nullCharacterInString",
            "emptyTopic", "wildcardInTopicName", "misplacedMultiLevelWildcard", "misplacedSingleLevelWildcard",
            "zeroPacketIdentifier", "invalidQoS", "dupWithQoS0", "invalidProtocolName", "unsupportedProtocolLevel",
            "connectReservedFlagSet", "willFieldsWithoutWillFlag", "passwordWithoutUserName", "connackReservedFlagsSet",
            "invalidConnackReturnCode", "sessionPresentWithRefusal", "noTopicFilters", "subscribeReservedBitsSet",
            "noReturnCodes", "invalidSubackReturnCode",
        ]
        #expect(seen == receiverRules)
        #expect(MalformedCase.all.count >= 45)
        #expect(Set(MalformedCase.all.map(\.name)).count == MalformedCase.all.count, "case names are unique")
    }

    /// Decoding the whole buffer fails with exactly the expected rule and offset.
    @Test(arguments: MalformedCase.all)
    func decodeRefuses(_ c: MalformedCase) {
        let input = bytes(hex: c.hex)
        withDecoded(input) { result in
            switch result {
            case .success(let packet):
                Issue.record("decoded as \(packet.type)")
            case .failure(let error):
                #expect(error == c.error)
                #expect(error.offset >= 0 && error.offset <= input.count)
            }
        }
    }

    /// Through the frame reader: errors in the fixed header come from `nextFrame()`, the others
    /// from decoding the frame, with the same rule and offset.
    @Test(arguments: MalformedCase.all.filter { !$0.wholeBufferOnly })
    func frameReaderRefuses(_ c: MalformedCase) {
        let input = bytes(hex: c.hex)
        let box = ReaderBox(capacity: 64)
        #expect(input.withUnsafeBytes { box.reader.append($0) } == input.count)
        let headerRules: Bool
        switch c.error.rule {
        case .reservedPacketType, .invalidFixedHeaderFlags, .dupWithQoS0:
            headerRules = true
        case .invalidQoS:
            headerRules = c.error.offset == 0  // PUBLISH QoS 3; a CONNECT's will QoS 3 is in the body
        default:
            headerRules = false
        }
        do {
            let frame = try box.reader.nextFrame()
            #expect(!headerRules, "fixed-header error not reported by the reader")
            guard let frame else {
                Issue.record("no frame from a complete packet")
                return
            }
            #expect(frame.bytes.count == input.count)
            #expect(throws: c.error) { try frame.decode() }
        } catch {
            #expect(headerRules)
            #expect(error == c.error)
        }
    }

    /// Every prefix of a malformed packet that ends inside the fixed header: a fixed-header error
    /// shows as soon as its byte is in, anything else waits for the whole packet.
    @Test func fixedHeaderErrorsNeedOnlyTheirBytes() throws {
        let cases: [(hex: String, error: MQTTDecodeError, bytesNeeded: Int)] = [
            ("00 00", MQTTDecodeError(.reservedPacketType(0), at: 0), 1),
            ("f3 00", MQTTDecodeError(.reservedPacketType(15), at: 0), 1),
            ("60 02 00 01", MQTTDecodeError(.invalidFixedHeaderFlags(type: 6, flags: 0), at: 0), 1),
            ("36 02 00 01", MQTTDecodeError(.invalidQoS, at: 0), 1),
            ("38 02 00 01", MQTTDecodeError(.dupWithQoS0, at: 0), 1),
            ("30 80 80 80 80 01", MQTTDecodeError(.malformedRemainingLength, at: 4), 5),
        ]
        for c in cases {
            let input = bytes(hex: c.hex)
            let box = ReaderBox(capacity: 16)
            for (index, byte) in input.enumerated() {
                #expect([byte].withUnsafeBytes { box.reader.append($0) } == 1)
                do {
                    let frame = try box.reader.nextFrame()
                    #expect(frame == nil && index + 1 < c.bytesNeeded, "\(c.hex): no error after \(index + 1) bytes")
                } catch {
                    #expect(error == c.error)
                    #expect(index + 1 == c.bytesNeeded, "\(c.hex): error after \(index + 1) bytes")
                    break
                }
            }
        }
    }

    @Test(arguments: AcceptedCase.all)
    func decodeAccepts(_ c: AcceptedCase) throws {
        let input = bytes(hex: c.hex)
        try withDecoded(input) { result in
            let packet = try result.get()
            #expect(packet.type == c.type)
            #expect(try encoded(packet) == input)
        }
    }

    @Test(arguments: EncodeRefusal.all)
    func encoderRefuses(_ c: EncodeRefusal) {
        withArena { arena in
            let packet = c.build(arena)
            #expect(throws: c.error) { try packet.encodedSize() }
            // Nothing is written, even into a buffer big enough for anything here.
            var out = [UInt8](repeating: 0xA5, count: 70_000)
            let result = out.withUnsafeMutableBytes { raw in
                Result { () throws(MQTTEncodeError) -> Int in try packet.encode(into: raw) }
            }
            #expect(throws: c.error) { try result.get() }
            #expect(out.allSatisfy { $0 == 0xA5 }, "bytes written by a refused encode")
        }
    }

    @Test func bufferTooSmall() throws {
        try withArena { arena in
            // PUBLISH QoS 1 "a/b", id 7, "hello": 1 + 1 + (2 + 3 + 2 + 5) = 14 bytes.
            let publish = MQTTPacket.publish(MQTTPublish(topic: arena.view("a/b"), payload: arena.view("hello"), qos: .atLeastOnce, packetID: 7))
            #expect(try publish.encodedSize() == 14)
            for available in [0, 1, 2, 13] {
                var out = [UInt8](repeating: 0xA5, count: available)
                let result = out.withUnsafeMutableBytes { raw in
                    Result { () throws(MQTTEncodeError) -> Int in try publish.encode(into: raw) }
                }
                #expect(throws: MQTTEncodeError.bufferTooSmall(BufferTooSmall(needed: 14, capacity: available))) { try result.get() }
                #expect(out.allSatisfy { $0 == 0xA5 })
            }
            var exact = [UInt8](repeating: 0, count: 14)
            let written = try exact.withUnsafeMutableBytes { raw in
                Result { () throws(MQTTEncodeError) -> Int in try publish.encode(into: raw) }
            }.get()
            #expect(written == 14)
            #expect(hex(exact) == "320c0003612f620007" + "68656c6c6f")

            for (packet, needed) in [(MQTTPacket.pingreq, 2), (.puback(packetID: 1), 4), (.connack(MQTTConnAck(sessionPresent: false, returnCode: .accepted)), 4)] {
                var one = [UInt8](repeating: 0, count: needed - 1)
                let result = one.withUnsafeMutableBytes { raw in
                    Result { () throws(MQTTEncodeError) -> Int in try packet.encode(into: raw) }
                }
                #expect(throws: MQTTEncodeError.bufferTooSmall(BufferTooSmall(needed: needed, capacity: needed - 1))) { try result.get() }
            }

            // A 2-byte remaining length: 1 + 2 + (2 + 1 + 125) = 131 bytes.
            let longer = MQTTPacket.publish(MQTTPublish(topic: arena.view("t"), payload: arena.pattern(count: 125)))
            var buffer = [UInt8](repeating: 0, count: 130)
            let result = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(MQTTEncodeError) -> Int in try longer.encode(into: raw) }
            }
            #expect(throws: MQTTEncodeError.bufferTooSmall(BufferTooSmall(needed: 131, capacity: 130))) { try result.get() }
        }
    }

    @Test func packetTooLarge() throws {
        try withArena { (arena) throws in
            // Topic "t" is 3 bytes of the remaining length; the payload's bytes are never read when sizing.
            let largest = MQTTPacket.publish(MQTTPublish(topic: arena.view("t"), payload: arena.unread(count: 268_435_452)))
            #expect(try largest.encodedSize() == 268_435_460)

            let payload = arena.unread(count: 268_435_453)
            let tooLarge = MQTTPacket.publish(MQTTPublish(topic: arena.view("t"), payload: payload))
            #expect(throws: MQTTEncodeError.packetTooLarge(remainingLength: 268_435_456)) { try tooLarge.encodedSize() }
            var small = [UInt8](repeating: 0xA5, count: 16)
            let result = small.withUnsafeMutableBytes { raw in
                Result { () throws(MQTTEncodeError) -> Int in try tooLarge.encode(into: raw) }
            }
            #expect(throws: MQTTEncodeError.packetTooLarge(remainingLength: 268_435_456)) { try result.get() }
            #expect(small.allSatisfy { $0 == 0xA5 })

            let qos1 = MQTTPacket.publish(MQTTPublish(topic: arena.view("t"), payload: payload, qos: .atLeastOnce, packetID: 1))
            #expect(throws: MQTTEncodeError.packetTooLarge(remainingLength: 268_435_458)) { try qos1.encodedSize() }

        }
    }

    /// MQTT-3.1.3-7: "If the Client supplies a zero-byte ClientId, the Client MUST also set
    /// CleanSession to 1." The encoder is the client's: it should refuse to write such a CONNECT.
    @Test func encoderRefusesEmptyClientIDWithoutCleanSession() {
        withArena { arena in
            let packet = MQTTPacket.connect(MQTTConnect(clientID: arena.view(""), cleanSession: false))
            #expect(throws: MQTTEncodeError.invalid(.emptyClientIDWithoutCleanSession)) { try packet.encodedSize() }
        }
        // With CleanSession 1 the empty id is fine.
        withArena { arena in
            let packet = MQTTPacket.connect(MQTTConnect(clientID: arena.view(""), cleanSession: true, keepAlive: 60))
            #expect((try? encoded(packet)).map { hex($0) } == "100c00044d5154540402003c0000")
        }
    }
}

/// The case name of a rule, without its associated values.
func ruleName(_ rule: MQTTRule) -> String {
    let text = String(describing: rule)
    return String(text.prefix { $0 != "(" })
}
