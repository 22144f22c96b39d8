import DeviceCore
import HostJSON
import PacketInspector
import Testing

/// The documented member order of each packet type's JSON object (docs/packet-inspector.md).
let documentedOrder: [String: [String]] = [
    "connect": ["type", "client_id", "clean_session", "keepalive", "username", "password", "password_hex", "will"],
    "connack": ["type", "session_present", "return_code"],
    "publish": ["type", "topic", "qos", "retain", "dup", "packet_id", "payload_len", "payload_hex"],
    "puback": ["type", "packet_id"], "pubrec": ["type", "packet_id"], "pubrel": ["type", "packet_id"],
    "pubcomp": ["type", "packet_id"], "unsuback": ["type", "packet_id"],
    "subscribe": ["type", "packet_id", "topics"],
    "suback": ["type", "packet_id", "granted_qos"],
    "unsubscribe": ["type", "packet_id", "topics"],
    "pingreq": ["type"], "pingresp": ["type"], "disconnect": ["type"],
]

/// The payload the paho vectors use where they leave out `payload_hex`: byte i is i % 256.
func patternPayloadHex(_ count: Int) -> String {
    Hex.string((0..<count).map { UInt8(truncatingIfNeeded: $0) })
}

/// The vector's fields as the inspector writes them: `type` added, a `null` will payload as
/// "" (empty), and `payload_hex` filled in from the pattern where the vector leaves it out.
func expectedObject(_ vector: PahoVector) -> JSONValue {
    var object = setting(.object([JSONMember("type", .string(vector.type))]), [])
    if case .object(let members) = vector.fields { object = setting(object, members) }
    if case .object(var will)? = object["will"],
       let index = will.firstIndex(where: { $0.key == "payload" }), will[index].value == .null {
        will[index].value = .string("")
        object = setting(object, [JSONMember("will", .object(will))])
    }
    if vector.type == "publish", object["payload_hex"] == nil, let length = object["payload_len"]?.intValue {
        object = setting(object, [JSONMember("payload_hex", .string(patternPayloadHex(length)))])
    }
    return object
}

@Suite("paho-mqtt 1.6.1 client vectors")
struct PahoVectorTests {
    @Test func fixtureHasTheClientPackets() {
        // 56 client->server vectors, of which the four over 2 MiB carry a hash instead of hex.
        #expect(PahoVector.clientPackets.count == 52)
    }

    @Test("decode hex to the vector's fields", arguments: PahoVector.clientPackets)
    func decode(_ vector: PahoVector) throws {
        let objects = try PacketInspector.decodeAll(bytes(vector.hex!))
        try #require(objects.count == 1)
        let object = objects[0]
        #expect(sortedKeys(object) == sortedKeys(expectedObject(vector)))
        // `type` first, then the documented order.
        let order = try #require(documentedOrder[vector.type])
        #expect(object.keys == order.filter(object.keys.contains))
        #expect(object.keys.first == "type")
    }

    @Test("encode the vector's fields to its hex", arguments: PahoVector.clientPackets)
    func encode(_ vector: PahoVector) throws {
        #expect(Hex.string(try PacketInspector.encode(expectedObject(vector))) == vector.hex!)
    }

    @Test("encode the vector's fields exactly as given, type added", arguments: PahoVector.clientPackets.filter {
        $0.type != "publish" || $0.fields["payload_hex"] != nil
    })
    func encodeRawFields(_ vector: PahoVector) throws {
        // `null` will payloads and absent optional members are accepted as they stand.
        var object = JSONValue.object([JSONMember("type", .string(vector.type))])
        if case .object(let members) = vector.fields { object = setting(object, members) }
        #expect(Hex.string(try PacketInspector.encode(object)) == vector.hex!)
    }

    @Test("all client packets back to back decode to one object each")
    func concatenated() throws {
        let all = PahoVector.clientPackets.map { $0.hex! }.joined(separator: "\n")
        let objects = try PacketInspector.decodeAll(bytes(all))
        #expect(objects.map(sortedKeys) == PahoVector.clientPackets.map { sortedKeys(expectedObject($0)) })
    }
}
