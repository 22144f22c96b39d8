import DeviceCore
import HostJSON
@testable import PacketInspector
import Testing

/// What `encode` writes for standard input `text` read in pieces of `pieceSize` bytes, and its
/// error.
func streamEncode(_ text: [UInt8], pieceSize: Int, heldJSONSize: Int = InspectorLimits.heldJSONSize) -> (output: String, error: String?) {
    let output = CapturedOutput()
    let encoder = JSONPacketEncoder(output: output.buffer, heldJSONSize: heldJSONSize)
    let error = errorMessage {
        try forEachPiece(of: text, size: pieceSize) { try encoder.feed($0) }
        try encoder.finish()
    }
    return (output.text, error)
}

func streamEncode(_ text: String, pieceSize: Int, heldJSONSize: Int = InspectorLimits.heldJSONSize) -> (output: String, error: String?) {
    streamEncode(Array(text.utf8), pieceSize: pieceSize, heldJSONSize: heldJSONSize)
}

@Suite("streaming encode")
struct StreamingEncodeTests {
    static let pieceSizes = [1, 2, 3, 7, 4_096]

    /// A PUBLISH object as `decode` writes it, with `payloadHex` as its payload's text.
    static func publishJSON(payloadLength: Int, payloadHex: String, qos: Int = 1) -> String {
        let id = qos == 0 ? "" : #","packet_id":7"#
        return #"{"type":"publish","topic":"a/b","qos":\#(qos),"retain":false,"dup":false\#(id),"payload_len":\#(payloadLength),"payload_hex":"\#(payloadHex)"}"#
    }

    @Test("values split at every piece boundary encode the same", arguments: pieceSizes)
    func pieces(pieceSize: Int) {
        let input = """
            {"type":"subscribe","packet_id":1,"topics":[["$dps/registrations/res/#",1]]}
            [{"type":"puback","packet_id":1}, {"type":"disconnect"}]
            {
              "type": "publish", "topic": "a/b", "qos": 1, "packet_id": 7, "retain": true, "payload_hex": "72"
            }
            {"type":"connect","client_id":"gerät \\"1\\"\\n\\ud83d\\ude00"}"pingreq"

            """
        #expect(streamEncode(input, pieceSize: pieceSize) == (
            "821d00010018246470732f726567697374726174696f6e732f7265732f2301\n40020001\ne000\n33080003612f62000772\n"
                + "101b00044d5154540402003c000f676572c3a474202231220af09f9880\n",
            "object 6: expected a JSON object, got a string"))
    }

    @Test("decode's PUBLISH lines stream back to their packets", arguments: pieceSizes)
    func streamedPublishes(pieceSize: Int) throws {
        // A held size of 120 bytes streams every payload_hex that runs past it.
        let packets: [[UInt8]] = [0, 1, 60, 100, 1_000].flatMap { length in
            [0, 1, 2].map { qos in
                let publish = bigPublish(qos: UInt8(qos), payloadLength: length)
                return publish.head + bytes(patternPayloadHex(length))
            }
        } + [[0xc0, 0x00]]
        let lines = try PacketInspector.decodeAll(packets.flatMap { $0 }).map(\.compactText).joined(separator: "\n") + "\n"
        let result = streamEncode(lines, pieceSize: pieceSize, heldJSONSize: 120)
        #expect(result.error == nil)
        #expect(result.output == packets.map { Hex.string($0) + "\n" }.joined())
    }

    @Test func fiveMebibytePublish() {
        // Past the default held size of 8 MiB of JSON.
        let publish = bigPublish(payloadLength: 5 << 20)
        let json = Self.publishJSON(payloadLength: 5 << 20, payloadHex: patternPayloadHex(5 << 20))
        let result = streamEncode(json + "\n{\"type\":\"pingreq\"}\n", pieceSize: 65_536)
        #expect(result.error == nil)
        #expect(result.output == publish.hex + "\nc000\n")
    }

    @Test func escapesAndSpaceInAStreamedPayload() {
        // What a held payload_hex may hold: spaces, 0x, escapes (\n, \u0030 is '0').
        let hex = String(repeating: "0x00 01\\n\\u0030\\u0032\\t", count: 20)
        let result = streamEncode(Self.publishJSON(payloadLength: 60, payloadHex: hex), pieceSize: 5, heldJSONSize: 120)
        #expect(result.error == nil)
        #expect(result.output == "32430003612f620007" + String(repeating: "000102", count: 20) + "\n")
    }

    @Test func streamedPayloadErrors() {
        func encode(_ json: String) -> (output: String, error: String?) {
            streamEncode(json, pieceSize: 3, heldJSONSize: 120)
        }
        let hex = patternPayloadHex(100)
        let head = "326b0003612f620007"
        // Each error after the head is written leaves the line unfinished, ended.
        #expect(encode(Self.publishJSON(payloadLength: 101, payloadHex: hex))
            == ("326c0003612f620007" + hex + "\n", #"object 1 (publish): field "payload_len": is 101 but the payload has 100 bytes"#))
        // Past `payload_len`, the payload is counted, not written.
        #expect(encode(Self.publishJSON(payloadLength: 99, payloadHex: hex))
            == ("326a0003612f620007" + hex.dropLast(2) + "\n", #"object 1 (publish): field "payload_len": is 99 but the payload has 100 bytes"#))
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex + "0g"))
            == (head + hex + "\n", #"object 1 (publish): field "payload_hex": character 202: 'g' is not a hex digit"#))
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex + "0")).error
            == #"object 1 (publish): field "payload_hex": odd number of hex digits: the last digit, '0' at character 201, has no partner"#)
        #expect(encode(#"{"type":"pingreq"}"# + "\n" + Self.publishJSON(payloadLength: 100, payloadHex: hex).dropLast() + #","retain":true}"#)
            == ("c000\n" + head + hex + "\n",
                #"object 2 (publish): field "payload_hex": must be the object's last member when it is longer than 8388608 characters (it is written out as it is read)"#))
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex).dropLast() + " x").error
            == "invalid JSON at line 1, column 317: expected ',' or '}', found 'x'")
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex + "\u{1}")).error
            == "invalid JSON at line 1, column 315: control character in string (must be escaped)")
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex + #"\q"#)).error
            == "invalid JSON at line 1, column 315: invalid escape in string")
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex + #"\ud800\u0030"#)).error
            == "invalid JSON at line 1, column 315: unpaired UTF-16 surrogate in \\u escape")
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex + #"\u00g0"#)).error
            == "invalid JSON at line 1, column 319: expected a hex digit in \\u escape, found 'g'")
        #expect(encode("\n" + Self.publishJSON(payloadLength: 100, payloadHex: hex).dropLast(2)).error
            == "invalid JSON at line 2, column 315: unterminated string")
        #expect(encode(Self.publishJSON(payloadLength: 100, payloadHex: hex).dropLast() + "\n ").error
            == "invalid JSON at line 2, column 2: expected ',' or '}', found end of input")
    }

    @Test func streamedHeadErrors() {
        func encode(_ json: String) -> (output: String, error: String?) {
            streamEncode(json, pieceSize: 7, heldJSONSize: 120)
        }
        let hex = patternPayloadHex(100)
        // Nothing is written for a head that fails.
        #expect(encode(#"{"type":"publish","topic":"a/b","payload_hex":"\#(hex)"}"#) == ("",
            #"object 1 (publish): field "payload_hex": longer than 8388608 characters without "payload_len" before it: a payload this large is streamed, and the packet's length is written first"#))
        #expect(encode(#"{"type":"publish","topic":"a/+","qos":1,"packet_id":7,"payload_len":100,"payload_hex":"\#(hex)"}"#) == ("",
            #"object 1 (publish): field "topic": topic name contains a wildcard + or # (MQTT-3.3.2-2)"#))
        #expect(encode(#"{"type":"publish","topic":"a","payload":"x","payload_len":100,"payload_hex":"\#(hex)"}"#).error
            == #"object 1 (publish): fields "payload" and "payload_hex": give only one"#)
        #expect(encode(#"{"type":"publish","topic":"a","payload_len":268435456,"payload_hex":"\#(hex)"}"#).error
            == #"object 1 (publish): field "payload_hex": packet too large: remaining length 268435459 exceeds 268435455 (MQTT 2.2.3)"#)
        #expect(encode(#"{"type":"puback","packet_id":1,"payload_hex":"\#(hex)"}"#).error
            == #"object 1 (puback): unknown field "payload_hex""#)
        #expect(encode(#"{"type":"puback","packet_id":"1","payload_hex":"\#(hex)"}"#).error
            == #"object 1 (puback): field "packet_id": expected an integer, got a string"#)
        #expect(encode(#"{"type":"publish","payload_hex":"00","topic":"a","payload_hex":"\#(hex)"}"#).error
            == #"invalid JSON at line 1, column 50: duplicate key "payload_hex""#)
        #expect(encode(#"{"type":"publish","topic":["a" 1],"payload_hex":"\#(hex)"}"#).error
            == "invalid JSON at line 1, column 32: expected ',' or ']', found '1'")
    }

    @Test func otherValuesOverTheHeldSizeAreRefused() {
        func encode(_ json: String) -> String? {
            streamEncode(json, pieceSize: 7, heldJSONSize: 120).error
        }
        let text = String(repeating: "x", count: 200)
        #expect(encode("{\"type\":\"pingreq\"}\n " + #"{"type":"publish","topic":"a","payload":"\#(text)"}"#)
            == #"line 2, column 2: JSON value longer than 120 bytes: encode holds each value whole, but for the "payload_hex" of a PUBLISH object, which it streams when it comes last, after "payload_len""#)
        #expect(encode("[" + String(repeating: #"{"type":"pingreq"},"#, count: 10) + "]")
            == #"line 1, column 1: JSON value longer than 120 bytes: encode holds each value whole, but for the "payload_hex" of a PUBLISH object, which it streams when it comes last, after "payload_len""#)
        // A syntax error in the part held is reported as such.
        #expect(encode("[" + String(repeating: #"{"type":"pingreq"},"#, count: 2) + "{\"type\" 1}" + String(repeating: " ", count: 100) + "]")
            == "invalid JSON at line 1, column 48: expected ':', found '1'")
        #expect(encode(String(repeating: "[", count: 70)) == "invalid JSON at line 1, column 66: nested too deeply")
    }

    @Test func notUTF8() {
        #expect(streamEncode(Array(#"{"type":"pingreq"} {"type":""#.utf8) + [0xFF] + Array(#""}"#.utf8), pieceSize: 4)
            == ("c000\n", "invalid JSON at line 1, column 29: not UTF-8 text (byte 0xff)"))
    }
}
