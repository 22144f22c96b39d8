import DeviceCore
import DeviceCoreWords
import Foundation
import Testing

/// Packets a real mosquitto sent (`Fixtures/mosquitto_server_packets.json`, written by
/// `scripts/capture-mosquitto.py`): decoding each `hex` must give its `fields` exactly, and
/// encoding the `fields` must give the `hex` exactly.
@Suite struct ServerPacketTests {
    @Test func fixtureFileIsFromMosquittoAndCoversEveryServerPacket() throws {
        let object = try JSONSerialization.jsonObject(with: Fixtures.data(serverPacketFixtureName)) as? [String: Any]
        let generator = try #require(object?["generator"] as? String)
        #expect(generator.contains("mosquitto"))
        let vectors = try #require(object?["vectors"] as? [[String: Any]])
        #expect(vectors.count == ServerVector.all.count)

        let names = vectors.compactMap { $0["name"] as? String }
        #expect(Set(names).count == vectors.count, "vector names must be unique")
        for vector in vectors {
            #expect(vector["direction"] as? String == "server->client", "\(vector["name"] ?? "?")")
        }

        // What the brief asks to capture, checked on the typed fields.
        let fields = try ServerVector.all.map { try ServerFields(json: $0.fieldsJSON) }
        let types = Set(fields.map(\.type))
        #expect(types.isSuperset(of: ["CONNACK", "SUBACK", "PUBACK", "UNSUBACK", "PINGRESP", "PUBLISH"]))
        let connacks = fields.filter { $0.type == "CONNACK" }
        #expect(Set(connacks.compactMap(\.returnCode)).isSuperset(of: [0, 1, 2, 4, 5]))
        #expect(connacks.contains { $0.sessionPresent == true })
        #expect(connacks.contains { $0.sessionPresent == false && $0.returnCode == 0 })
        let granted = fields.compactMap(\.grantedQoS)
        #expect(Set(granted.joined()).isSuperset(of: [0, 1, 2, 128]))
        #expect(granted.contains { $0.count > 1 && $0.contains(128) }, "a multi-filter SUBACK with a failure")
        let publishes = fields.filter { $0.type == "PUBLISH" }
        for qos in [0, 1] {
            for retain in [false, true] {
                #expect(publishes.contains { $0.qos == qos && $0.retain == retain }, "PUBLISH QoS \(qos) retain \(retain)")
            }
        }
        #expect(ServerVector.all.contains { $0.fieldsJSON.contains("\"PUBLISH\"") && $0.remainingLengthBytes >= 2 })

        // Return code 3 cannot be captured from mosquitto; the file must say so.
        let notes = try #require(object?["notes"] as? [String])
        #expect(notes.contains { $0.contains("return code 3") })
    }

    @Test(arguments: ServerVector.all)
    fileprivate func decodingHexGivesFields(_ vector: ServerVector) throws {
        let packet = bytes(hex: vector.hex)
        let (remainingLength, lengthBytes) = try #require(serverPacketRemainingLength(packet))
        #expect(remainingLength == vector.remainingLength)
        #expect(lengthBytes == vector.remainingLengthBytes)
        #expect(packet.count == 1 + lengthBytes + remainingLength)

        let decoded: String? = withDecoded(packet) { result in
            switch result {
            case .success(let decoded):
                return serverPacketCanonicalJSON(serverPacketFields(of: decoded))
            case .failure(let error):
                Issue.record("\(vector.name): decoding \(vector.hex) failed: \(error.rule) at \(error.offset) (\(error.rule.summary))")
                return nil
            }
        }
        guard let decoded else { return }
        #expect(decoded == vector.fieldsJSON, "\(vector.name): decoded \(vector.hex)")
    }

    @Test(arguments: ServerVector.all)
    fileprivate func encodingFieldsGivesHex(_ vector: ServerVector) throws {
        let fields = try ServerFields(json: vector.fieldsJSON)
        let out = try withServerPacket(from: fields) { packet in try encoded(packet) }
        #expect(hex(out) == vector.hex, "\(vector.name): encoded \(vector.fieldsJSON)")
    }
}

private let serverPacketFixtureName = "mosquitto_server_packets.json"

/// One fixture vector, in a form Swift Testing can pass to a parameterized test.
fileprivate struct ServerVector: Sendable, CustomTestStringConvertible {
    let name: String
    let hex: String
    let remainingLength: Int
    let remainingLengthBytes: Int
    /// The vector's `fields`, as canonical JSON (sorted keys), so equality is exact: `true` is
    /// not `1`, and a missing or extra key shows.
    let fieldsJSON: String

    var testDescription: String { name }

    /// Every vector of the fixture file; empty if it cannot be read (the coverage test then fails).
    static let all: [ServerVector] = {
        guard let vectors = try? Fixtures.vectors(serverPacketFixtureName) else { return [] }
        return vectors.map { vector in
            ServerVector(
                name: vector["name"] as? String ?? "?",
                hex: vector["hex"] as? String ?? "",
                remainingLength: vector["remaining_length"] as? Int ?? -1,
                remainingLengthBytes: vector["remaining_length_bytes"] as? Int ?? -1,
                fieldsJSON: serverPacketCanonicalJSON(vector["fields"] as? [String: Any] ?? [:]))
        }
    }()
}

private func serverPacketCanonicalJSON(_ object: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
        return "<not JSON: \(object)>"
    }
    return String(decoding: data, as: UTF8.self)
}

/// The remaining length and the number of bytes encoding it, read from the packet's bytes.
private func serverPacketRemainingLength(_ packet: [UInt8]) -> (value: Int, bytes: Int)? {
    var value = 0
    var index = 1
    while index < packet.count && index <= 4 {
        value |= Int(packet[index] & 0x7F) << (7 * (index - 1))
        if packet[index] & 0x80 == 0 { return (value, index) }
        index += 1
    }
    return nil
}

/// A decoded packet in the fixture's field names (views copied out while they are valid).
private func serverPacketFields(of packet: MQTTPacket) -> [String: Any] {
    var fields: [String: Any] = ["type": "\(packet.type.name)"]
    switch packet {
    case .connack(let connack):
        fields["session_present"] = connack.sessionPresent
        fields["return_code"] = Int(connack.returnCode.rawValue)
    case .publish(let publish):
        fields["topic"] = publish.topic.string
        fields["qos"] = Int(publish.qos.rawValue)
        fields["retain"] = publish.retain
        fields["dup"] = publish.dup
        if publish.qos != .atMostOnce { fields["packet_id"] = Int(publish.packetID) }
        fields["payload_len"] = publish.payload.count
        fields["payload_hex"] = hex(publish.payload.array)
    case .puback(let id), .pubrec(let id), .pubrel(let id), .pubcomp(let id), .unsuback(let id):
        fields["packet_id"] = Int(id)
    case .suback(let suback):
        fields["packet_id"] = Int(suback.packetID)
        fields["granted_qos"] = (0..<suback.returnCodes.count).map { Int(suback.returnCode(at: $0).rawValue) }
    case .pingresp, .connect, .subscribe, .unsubscribe, .pingreq, .disconnect:
        break
    }
    return fields
}

/// A vector's `fields`, typed; every key must be one the fixture format defines.
private struct ServerFields {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    var type: String
    var sessionPresent: Bool?
    var returnCode: Int?
    var grantedQoS: [Int]?
    var packetID: Int?
    var topic: String?
    var qos: Int?
    var retain: Bool?
    var dup: Bool?
    var payloadLength: Int?
    var payloadHex: String?

    init(json: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw Malformed(description: "fields is not an object: \(json)")
        }
        let known: Set<String> = [
            "type", "session_present", "return_code", "granted_qos", "packet_id", "topic", "qos",
            "retain", "dup", "payload_len", "payload_hex",
        ]
        let unknown = Set(object.keys).subtracting(known)
        if !unknown.isEmpty { throw Malformed(description: "unknown fields \(unknown.sorted()) in \(json)") }
        func value<T>(_ key: String, _: T.Type) throws -> T? {
            guard let raw = object[key] else { return nil }
            guard let typed = raw as? T else { throw Malformed(description: "\(key) is not \(T.self) in \(json)") }
            return typed
        }
        guard let type = try value("type", String.self) else { throw Malformed(description: "no type in \(json)") }
        self.type = type
        sessionPresent = try value("session_present", Bool.self)
        returnCode = try value("return_code", Int.self)
        grantedQoS = try value("granted_qos", [Int].self)
        packetID = try value("packet_id", Int.self)
        topic = try value("topic", String.self)
        qos = try value("qos", Int.self)
        retain = try value("retain", Bool.self)
        dup = try value("dup", Bool.self)
        payloadLength = try value("payload_len", Int.self)
        payloadHex = try value("payload_hex", String.self)
    }

    func require<T>(_ value: T?, _ key: String) throws -> T {
        guard let value else { throw Malformed(description: "\(type) needs \(key)") }
        return value
    }

    func requirePacketID() throws -> UInt16 {
        let id = try require(packetID, "packet_id")
        guard let value = UInt16(exactly: id) else { throw Malformed(description: "packet_id \(id) out of range") }
        return value
    }
}

/// Builds the packet `fields` describe and hands it to `body` while the bytes its views point
/// at are alive.
private func withServerPacket<R>(from fields: ServerFields, _ body: (MQTTPacket) throws -> R) throws -> R {
    switch fields.type {
    case "CONNACK":
        let code = try fields.require(fields.returnCode, "return_code")
        guard let returnCode = UInt8(exactly: code).flatMap(MQTTConnectReturnCode.init(rawValue:)) else {
            throw ServerFields.Malformed(description: "return_code \(code)")
        }
        return try body(.connack(MQTTConnAck(
            sessionPresent: try fields.require(fields.sessionPresent, "session_present"), returnCode: returnCode)))
    case "PUBLISH":
        let qosValue = try fields.require(fields.qos, "qos")
        guard let qos = UInt8(exactly: qosValue).flatMap(QoS.init(rawValue:)) else {
            throw ServerFields.Malformed(description: "qos \(qosValue)")
        }
        let topic = Array(try fields.require(fields.topic, "topic").utf8)
        let payload = bytes(hex: try fields.require(fields.payloadHex, "payload_hex"))
        guard try fields.require(fields.payloadLength, "payload_len") == payload.count else {
            throw ServerFields.Malformed(description: "payload_len \(fields.payloadLength ?? -1) but \(payload.count) payload bytes")
        }
        let packetID: UInt16 = qos == .atMostOnce ? 0 : try fields.requirePacketID()
        if qos == .atMostOnce && fields.packetID != nil {
            throw ServerFields.Malformed(description: "packet_id on a QoS 0 PUBLISH")
        }
        let retain = try fields.require(fields.retain, "retain")
        let dup = try fields.require(fields.dup, "dup")
        return try topic.withUnsafeBytes { topicBytes in
            try payload.withUnsafeBytes { payloadBytes in
                try body(.publish(MQTTPublish(
                    topic: ByteView(topicBytes), payload: ByteView(payloadBytes), qos: qos,
                    packetID: packetID, retain: retain, dup: dup)))
            }
        }
    case "PUBACK": return try body(.puback(packetID: try fields.requirePacketID()))
    case "PUBREC": return try body(.pubrec(packetID: try fields.requirePacketID()))
    case "PUBREL": return try body(.pubrel(packetID: try fields.requirePacketID()))
    case "PUBCOMP": return try body(.pubcomp(packetID: try fields.requirePacketID()))
    case "UNSUBACK": return try body(.unsuback(packetID: try fields.requirePacketID()))
    case "SUBACK":
        let granted = try fields.require(fields.grantedQoS, "granted_qos")
        let codes = try granted.map { value -> UInt8 in
            guard let code = UInt8(exactly: value) else { throw ServerFields.Malformed(description: "granted_qos \(value)") }
            return code
        }
        let packetID = try fields.requirePacketID()
        return try codes.withUnsafeBytes { codeBytes in
            try body(.suback(MQTTSubAck(packetID: packetID, returnCodes: ByteView(codeBytes))))
        }
    case "PINGRESP":
        return try body(.pingresp)
    default:
        throw ServerFields.Malformed(description: "not a packet a server sends: \(fields.type)")
    }
}
