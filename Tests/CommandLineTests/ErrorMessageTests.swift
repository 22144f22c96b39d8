import DeviceCore
import HostJSON
import PacketInspector
import Testing

/// Exact error messages: byte offset in the whole input, 1-based packet index, rule in words.
@Suite("decode errors")
struct DecodeErrorTests {
    static let connect = "10 13 00 04 4d 51 54 54 04 02 00 3c 00 07 64 65 76 69 63 65 31"

    @Test func protocolLevel() {
        let result = decodeLines("10 13 00 04 4d 51 54 54 03 02 00 3c 00 07 64 65 76 69 63 65 31")
        #expect(result.lines.isEmpty)
        #expect(result.error == "byte 8 (packet 1): protocol level must be 4 for MQTT 3.1.1 (MQTT-3.1.2-2): got 3")
    }

    @Test func offsetCountsFromTheWholeInput() {
        // CONNECT (21 bytes), PINGREQ, then a PUBACK with packet id 0 at byte 23.
        let result = decodeLines(Self.connect + " c0 00 40 02 00 00")
        #expect(result.lines == [
            #"{"type":"connect","client_id":"device1","clean_session":true,"keepalive":60}"#,
            #"{"type":"pingreq"}"#,
        ])
        #expect(result.error == "byte 25 (packet 3): packet identifier must be non-zero (MQTT-2.3.1-1)")
    }

    @Test func reservedType() {
        #expect(decodeLines("f0 00").error == "byte 0 (packet 1): packet type 0 and 15 are reserved (MQTT 2.2.1): got type 15")
    }

    @Test func fixedHeaderFlags() {
        #expect(decodeLines("c0 00 80 06 00 01 00 01 61 00").error
            == "byte 2 (packet 2): fixed header flags not allowed for this packet type (MQTT-2.2.2-1, MQTT-2.2.2-2): SUBSCRIBE with flags 0x0, expected 0x2")
    }

    @Test func fiveByteRemainingLength() {
        #expect(decodeLines("30 ff ff ff ff 01").error == "byte 4 (packet 1): remaining length longer than 4 bytes or not in its shortest form (MQTT 2.2.3, Table 2.4)")
    }

    @Test func remainingLengthMismatch() {
        #expect(decodeLines("c0 01 00").error
            == "byte 1 (packet 1): remaining length does not match what the packet type requires or contains (MQTT 2.2.3): expected 0, got 1")
    }

    @Test func wildcardInTopicName() {
        // PUBLISH "a/#" after a PINGREQ: '#' is byte 4 + 2 of packet 2, byte 8 of the input.
        #expect(decodeLines("c000 3005 0003 612f23").error
            == "byte 8 (packet 2): topic name contains a wildcard + or # (MQTT-3.3.2-2)")
    }

    @Test func trailingBytesInConnect() {
        #expect(decodeLines("10 14 00 04 4d 51 54 54 04 02 00 3c 00 07 64 65 76 69 63 65 31 ff").error
            == "byte 21 (packet 1): bytes left after the last field of the packet (remaining length too large): 1 byte left")
    }

    @Test func invalidUTF8InClientID() {
        #expect(decodeLines("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c3 28").error
            == "byte 15 (packet 1): string is not well-formed UTF-8 (MQTT-1.5.3-1)")
    }

    @Test func subscribeQoS3() {
        #expect(decodeLines("82 06 00 01 00 01 61 03").error
            == "byte 7 (packet 1): requested QoS byte has reserved bits set or QoS 3 (MQTT-3.8.3-4): got 0x03")
    }

    @Test func connackReturnCode() {
        #expect(decodeLines("20 02 00 06").error == "byte 3 (packet 1): CONNACK return code must be 0-5 (MQTT 3.2.2.3): got 6")
    }

    @Test func incompleteBody() {
        let result = decodeLines("c0 00 10 13 00 04 4d 51 54")
        #expect(result.lines == [#"{"type":"pingreq"}"#])
        #expect(result.error == "byte 2 (packet 2): incomplete packet: its fixed header announces 21 bytes but only 7 bytes are present")
    }

    @Test func incompleteBodyShorterThanTheInput() {
        // The cut-off packet announces less than the whole input holds.
        let result = decodeLines(Self.connect + " 30 05 00 03")
        #expect(result.lines.count == 1)
        #expect(result.error == "byte 21 (packet 2): incomplete packet: its fixed header announces 7 bytes but only 4 bytes are present")
    }

    @Test func incompleteFixedHeader() {
        #expect(decodeLines("c0 00 30").error == "byte 2 (packet 2): incomplete packet: the fixed header is cut off, only 1 byte is present")
        #expect(decodeLines("30 80 80").error == "byte 0 (packet 1): incomplete packet: the fixed header is cut off, only 3 bytes are present")
    }

    @Test func emptyInputDecodesToNothing() {
        #expect(decodeLines("") == ([], nil))
    }
}

@Suite("hex input")
struct HexInputTests {
    @Test func whitespaceAndNewlinesAnywhere() throws {
        let lines = ["c0 0", "0\te0", "  0x00  ", "", "0Xd0 00"]
        #expect(try Hex.bytes(segments: lines, segmentName: "line") == [0xc0, 0x00, 0xe0, 0x00, 0xd0, 0x00])
    }

    @Test func oddLength() {
        #expect(errorMessage { _ = try Hex.bytes(segments: ["c000", "e00"], segmentName: "argument") }
            == "odd number of hex digits: the last digit, '0' at argument 2, column 3, has no partner")
        #expect(errorMessage { _ = try Hex.bytes(segments: ["c0 00", "1"], segmentName: "line") }
            == "odd number of hex digits: the last digit, '1' at line 2, column 1, has no partner")
    }

    @Test func notHex() {
        #expect(errorMessage { _ = try Hex.bytes(segments: ["c0 00", "e0 0g"], segmentName: "line") }
            == "line 2, column 5: 'g' is not a hex digit")
        #expect(errorMessage { _ = try Hex.bytes(segments: ["c0,00"], segmentName: "argument") }
            == "argument 1, column 3: ',' is not a hex digit")
        #expect(errorMessage { _ = try Hex.bytes(segments: ["c0\u{7}00"], segmentName: "argument") }
            == "argument 1, column 3: U+0007 is not a hex digit")
        #expect(errorMessage { _ = try Hex.bytes(segments: ["c0０0"], segmentName: "argument") }
            == "argument 1, column 3: '０' is not a hex digit")
        // 0x only as the start of a token.
        #expect(errorMessage { _ = try Hex.bytes(segments: ["c00x00"], segmentName: "argument") }
            == "argument 1, column 4: 'x' is not a hex digit")
    }
}

@Suite("encode errors")
struct EncodeErrorTests {
    func encodeError(_ json: String) -> String? {
        errorMessage { _ = try PacketInspector.encode(try JSONParser.parse(json)) }
    }

    @Test func unknownType() {
        #expect(encodeError(#"{"type":"ping"}"#)
            == "unknown type \"ping\" (one of: connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe, suback, unsubscribe, unsuback, pingreq, pingresp, disconnect)")
    }

    @Test func missingFields() {
        #expect(encodeError(#"{"client_id":"x"}"#) == "missing field \"type\"")
        #expect(encodeError(#"{"type":"publish","qos":1,"topic":"a"}"#) == "missing field \"packet_id\"")
        #expect(encodeError(#"{"type":"connect","client_id":"x","will":{"payload":"p"}}"#) == "missing field \"will.topic\"")
    }

    @Test func wrongTypes() {
        #expect(encodeError(#"{"type":"connect","client_id":7}"#) == "field \"client_id\": expected a string, got a number")
        #expect(encodeError(#"{"type":"connect","client_id":"x","clean_session":1}"#)
            == "field \"clean_session\": expected true or false, got a number")
        #expect(encodeError(#"{"type":"publish","topic":"a","qos":3}"#) == "field \"qos\": must be 0, 1 or 2, got 3")
        #expect(encodeError(#"{"type":"puback","packet_id":1.5}"#) == "field \"packet_id\": expected an integer, got 1.5")
        #expect(encodeError(#"{"type":"puback","packet_id":65536}"#) == "field \"packet_id\": must be from 0 to 65535, got 65536")
        #expect(encodeError(#"{"type":"subscribe","packet_id":1,"topics":["a"]}"#)
            == "field \"topics[0]\": expected [filter, qos], got \"a\"")
        #expect(encodeError(#"{"type":"suback","packet_id":1,"granted_qos":[0,3]}"#)
            == "field \"granted_qos[1]\": must be 0, 1, 2 or 128, got 3")
        #expect(encodeError(#"[]"#) == "expected a JSON object, got an array")
    }

    @Test func unknownAndConflictingFields() {
        #expect(encodeError(#"{"type":"puback","packet_id":1,"packetid":2}"#) == "unknown field \"packetid\"")
        #expect(encodeError(#"{"type":"connect","client_id":"x","will":{"topic":"t","qos":1,"retian":true}}"#)
            == "unknown field \"will.retian\"")
        #expect(encodeError(#"{"type":"connect","client_id":"x","username":"u","password":"p","password_hex":"70"}"#)
            == "fields \"password\" and \"password_hex\": give only one")
        #expect(encodeError(#"{"type":"publish","topic":"a","packet_id":1}"#)
            == "field \"packet_id\": only allowed with qos 1 or 2")
        #expect(encodeError(#"{"type":"publish","topic":"a","payload_len":2,"payload_hex":"00"}"#)
            == "field \"payload_len\": is 2 but the payload has 1 bytes")
        #expect(encodeError(#"{"type":"publish","topic":"a","payload_hex":"0g"}"#)
            == "field \"payload_hex\": character 2: 'g' is not a hex digit")
    }

    @Test func codecRulesNameTheField() {
        #expect(encodeError(#"{"type":"publish","topic":"a","qos":1,"packet_id":0}"#)
            == "field \"packet_id\": packet identifier must be non-zero (MQTT-2.3.1-1)")
        #expect(encodeError(#"{"type":"publish","topic":"a","dup":true}"#)
            == "field \"dup\": DUP must be 0 on a QoS 0 PUBLISH (MQTT-3.3.1-2)")
        #expect(encodeError(#"{"type":"connect","client_id":"x","password":"p"}"#)
            == "field \"password\": password flag set without user name flag (MQTT-3.1.2-22)")
        #expect(encodeError(#"{"type":"connect","client_id":"x","will":{"topic":"w/+"}}"#)
            == "field \"will.topic\": topic name contains a wildcard + or # (MQTT-3.3.2-2)")
        #expect(encodeError(#"{"type":"connect","client_id":"x","username":"a\u0000b"}"#)
            == "field \"username\": string contains U+0000 (MQTT-1.5.3-2)")
        #expect(encodeError(#"{"type":"subscribe","packet_id":1,"topics":[["a/#",1],["a/b+",0]]}"#)
            == "field \"topics[1]\": + must occupy an entire topic level (MQTT-4.7.1-3)")
        #expect(encodeError(#"{"type":"unsubscribe","packet_id":1,"topics":[]}"#)
            == "field \"topics\": SUBSCRIBE and UNSUBSCRIBE need at least one topic filter (MQTT-3.8.3-3, MQTT-3.10.3-2)")
        #expect(encodeError(#"{"type":"publish","topic":""}"#)
            == "field \"topic\": topic names and filters must be at least one character (MQTT-4.7.3-1)")
        #expect(encodeError(#"{"type":"connack","session_present":true,"return_code":5}"#)
            == "field \"session_present\": session present must be 0 when the connection is refused (MQTT-3.2.2-4)")
    }
}
