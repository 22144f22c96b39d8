import DeviceCore
import HostJSON
import PacketInspector
import Testing

/// Packets without paho vectors (server packets), binary fields and string escaping.
@Suite("round trips")
struct RoundTripTests {
    /// Encodes `json`, checks the hex, decodes it and checks the JSON comes back the same text.
    func roundTrip(_ json: String, hex: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let packet = try PacketInspector.encode(try JSONParser.parse(json))
        #expect(Hex.string(packet) == hex, sourceLocation: sourceLocation)
        let decoded = try PacketInspector.decodeAll(packet)
        #expect(decoded.map(\.compactText) == [json], sourceLocation: sourceLocation)
    }

    @Test func serverPackets() throws {
        try roundTrip(#"{"type":"connack","session_present":true,"return_code":0}"#, hex: "20020100")
        try roundTrip(#"{"type":"connack","session_present":false,"return_code":5}"#, hex: "20020005")
        try roundTrip(#"{"type":"suback","packet_id":1,"granted_qos":[0,1,2,128]}"#, hex: "9006000100010280")
        try roundTrip(#"{"type":"unsuback","packet_id":258}"#, hex: "b0020102")
        try roundTrip(#"{"type":"pubrec","packet_id":5}"#, hex: "50020005")
        try roundTrip(#"{"type":"pubrel","packet_id":5}"#, hex: "62020005")
        try roundTrip(#"{"type":"pubcomp","packet_id":5}"#, hex: "70020005")
        try roundTrip(#"{"type":"pingresp"}"#, hex: "d000")
    }

    @Test func binaryPasswordAndWillPayload() throws {
        // Not UTF-8: written as *_hex.
        try roundTrip(
            #"{"type":"connect","client_id":"d","clean_session":true,"keepalive":60,"username":"u","password_hex":"ff00","will":{"topic":"t","payload_hex":"c328","qos":1,"retain":false}}"#,
            hex: "101b00044d51545404ce003c0001640001740002c3280001750002ff00")
        // UTF-8 (even with U+0000, which binary fields may hold): written as strings.
        try roundTrip(
            #"{"type":"connect","client_id":"d","clean_session":false,"keepalive":0,"username":"u","password":"p\u0000","will":{"topic":"t","payload":"","qos":0,"retain":true}}"#,
            hex: "101900044d51545404e40000000164000174000000017500027000")
    }

    @Test func nullWillPayloadIsEmpty() throws {
        let hex = try PacketInspector.encode(try JSONParser.parse(#"{"type":"connect","client_id":"d","will":{"topic":"w","payload":null}}"#))
        let objects = try PacketInspector.decodeAll(hex)
        #expect(objects.map(\.compactText)
            == [#"{"type":"connect","client_id":"d","clean_session":true,"keepalive":60,"will":{"topic":"w","payload":"","qos":0,"retain":false}}"#])
    }

    @Test func publishTextPayload() throws {
        // `payload` (UTF-8 text) is accepted for PUBLISH as well as `payload_hex`.
        let hex = try PacketInspector.encode(try JSONParser.parse(#"{"type":"publish","topic":"a/b","payload":"hi"}"#))
        #expect(Hex.string(hex) == "30070003612f626869")
    }

    @Test func stringEscaping() throws {
        // Quote, backslash, slash, controls, DEL, non-ASCII and an astral character.
        let clientID = "q\"b\\s/n\nt\tr\r\u{1}\u{1f}\u{7f}é✓😀"
        let packet = try PacketInspector.encode(.object([
            JSONMember("type", .string("connect")), JSONMember("client_id", .string(clientID)),
        ]))
        let line = try PacketInspector.decodeAll(packet)[0].compactText
        #expect(line == "{\"type\":\"connect\",\"client_id\":\"q\\\"b\\\\s/n\\nt\\tr\\r\\u0001\\u001f\u{7f}é✓😀\",\"clean_session\":true,\"keepalive\":60}")
        // The output parses back to the same string.
        #expect(try JSONParser.parse(line)["client_id"] == .string(clientID))
    }

    @Test func jsonParser() throws {
        #expect(try JSONParser.parse(#" {"a":[1,-2,3.5e1,true,false,null,"\u00e9\ud83d\ude00\/"]} "#)
            == .object([JSONMember("a", .array([
                .number("1"), .number("-2"), .number("3.5e1"), .bool(true), .bool(false), .null, .string("é😀/"),
            ]))]))
        #expect(try JSONParser.parseSequence("{\"a\":1}\n{\"b\":2} [3]").count == 3)
        #expect(throws: JSONSyntaxError(offset: 6, message: "expected ',' or '}', found ']'")) { try JSONParser.parse(#"{"a":1]"#) }
        #expect(throws: JSONSyntaxError(offset: 7, message: "duplicate key \"a\"")) { try JSONParser.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONSyntaxError(offset: 1, message: "unpaired UTF-16 surrogate in \\u escape")) { try JSONParser.parse(#""\ud800""#) }
    }
}
