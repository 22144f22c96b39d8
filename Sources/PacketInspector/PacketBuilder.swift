import DeviceCore
import DeviceCoreWords
import HostJSON

/// Owns the bytes that the `ByteView`s of a packet built from JSON point at.
final class ByteArena {
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    private var subscriptionBlocks: [UnsafeMutableBufferPointer<MQTTSubscription>] = []

    func view(_ bytes: [UInt8]) -> ByteView {
        if bytes.isEmpty { return ByteView() }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        block.copyBytes(from: bytes)
        blocks.append(block)
        return ByteView(UnsafeRawBufferPointer(block))
    }

    func view(_ string: String) -> ByteView { view(Array(string.utf8)) }

    func list(_ subscriptions: [MQTTSubscription]) -> MQTTTopicFilterList {
        let block = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: subscriptions.count)
        _ = block.initialize(from: subscriptions)
        subscriptionBlocks.append(block)
        return MQTTTopicFilterList(UnsafeBufferPointer(block))
    }

    deinit {
        for block in blocks { block.deallocate() }
        for block in subscriptionBlocks {
            block.deinitialize()
            block.deallocate()
        }
    }
}

/// Reads the members of one JSON object, remembering which were used so that unknown ones
/// can be reported. `prefix` names the object in errors (`will.`).
struct FieldReader {
    let members: [JSONMember]
    let prefix: String
    private(set) var used: Set<String> = []

    init(_ value: JSONValue, prefix: String) throws(InspectorError) {
        guard case .object(let members) = value else {
            throw InspectorError(prefix.isEmpty
                ? "expected a JSON object, got \(value.kindName)"
                : "field \"\(prefix.dropLast())\": expected an object, got \(value.kindName)")
        }
        self.members = members
        self.prefix = prefix
    }

    func path(_ key: String) -> String { prefix + key }

    func error(_ key: String, _ message: String) -> InspectorError {
        InspectorError("field \"\(path(key))\": \(message)")
    }

    /// The value of `key`; `nil` when absent or `null`.
    mutating func value(_ key: String) -> JSONValue? {
        used.insert(key)
        guard let value = members.first(where: { $0.key == key })?.value else { return nil }
        if case .null = value { return nil }
        return value
    }

    mutating func require(_ key: String) throws(InspectorError) -> JSONValue {
        guard let value = value(key) else { throw InspectorError("missing field \"\(path(key))\"") }
        return value
    }

    mutating func string(_ key: String) throws(InspectorError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw error(key, "expected a string, got \(value.kindName)") }
        return text
    }

    mutating func requiredString(_ key: String) throws(InspectorError) -> String {
        _ = try require(key)
        return try string(key).unsafelyUnwrapped
    }

    mutating func bool(_ key: String) throws(InspectorError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw error(key, "expected true or false, got \(value.kindName)") }
        return flag
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(InspectorError) -> Int? {
        guard let value = value(key) else { return nil }
        return try FieldReader.int(value, range: range, name: path(key))
    }

    mutating func requiredInt(_ key: String, in range: ClosedRange<Int>) throws(InspectorError) -> Int {
        _ = try require(key)
        return try int(key, in: range).unsafelyUnwrapped
    }

    static func int(_ value: JSONValue, range: ClosedRange<Int>, name: String) throws(InspectorError) -> Int {
        guard case .number(let text) = value else {
            throw InspectorError("field \"\(name)\": expected an integer, got \(value.kindName)")
        }
        guard let number = Int(text) else {
            throw InspectorError("field \"\(name)\": expected an integer, got \(text)")
        }
        guard range.contains(number) else {
            throw InspectorError("field \"\(name)\": must be \(rangeText(range)), got \(number)")
        }
        return number
    }

    static func rangeText(_ range: ClosedRange<Int>) -> String {
        if range == 0...2 { return "0, 1 or 2" }
        return "from \(range.lowerBound) to \(range.upperBound)"
    }

    /// Binary data given either as `key` (UTF-8 text) or as `key_hex`; `nil` when neither.
    mutating func binary(_ key: String) throws(InspectorError) -> [UInt8]? {
        let hexKey = key + "_hex"
        let text = try string(key)
        let hex = try string(hexKey)
        if text != nil && hex != nil {
            throw InspectorError("fields \"\(path(key))\" and \"\(path(hexKey))\": give only one")
        }
        if let text { return Array(text.utf8) }
        if let hex {
            do {
                return try Hex.bytes(segments: [hex], segmentName: nil)
            } catch {
                throw self.error(hexKey, error.message)
            }
        }
        return nil
    }

    /// Fails on members that were never asked for.
    func finish() throws(InspectorError) {
        for member in members where !used.contains(member.key) {
            throw InspectorError("unknown field \"\(path(member.key))\"")
        }
    }
}

/// How a string field is checked by the codec; used to find which field broke a rule.
enum FieldKind {
    case utf8, topicName, topicFilter, binary
}

/// Builds `MQTTPacket`s from JSON objects.
struct PacketBuilder {
    let arena = ByteArena()
    /// Every string-like field of the packet, in packet order, for blaming encode errors.
    var fields: [(path: String, kind: FieldKind, view: ByteView)] = []

    static let typeNames = [
        "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp", "subscribe",
        "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect",
    ]

    mutating func view(_ path: String, _ kind: FieldKind, _ bytes: [UInt8]) -> ByteView {
        let view = arena.view(bytes)
        fields.append((path, kind, view))
        return view
    }

    mutating func packet(from json: JSONValue) throws(InspectorError) -> MQTTPacket {
        var r = try FieldReader(json, prefix: "")
        guard let typeValue = r.value("type") else { throw InspectorError("missing field \"type\"") }
        guard case .string(let type) = typeValue else {
            throw InspectorError("field \"type\": expected a string, got \(typeValue.kindName)")
        }
        let packet: MQTTPacket
        switch type {
        case "connect":
            let clientID = view("client_id", .utf8, Array(try r.requiredString("client_id").utf8))
            var connect = MQTTConnect(clientID: clientID)
            if let clean = try r.bool("clean_session") { connect.cleanSession = clean }
            if let keepAlive = try r.int("keepalive", in: 0...65_535) { connect.keepAlive = UInt16(keepAlive) }
            if let willValue = r.value("will") {
                var w = try FieldReader(willValue, prefix: "will.")
                let topic = view("will.topic", .topicName, Array(try w.requiredString("topic").utf8))
                let payload = view("will.payload", .binary, try w.binary("payload") ?? [])
                let qos = QoS(rawValue: UInt8(try w.int("qos", in: 0...2) ?? 0)).unsafelyUnwrapped
                let retain = try w.bool("retain") ?? false
                try w.finish()
                connect.will = MQTTWill(topic: topic, payload: payload, qos: qos, retain: retain)
            }
            if let userName = try r.string("username") { connect.userName = view("username", .utf8, Array(userName.utf8)) }
            if let password = try r.binary("password") { connect.password = view("password", .binary, password) }
            packet = .connect(connect)
        case "connack":
            let sessionPresent = try r.bool("session_present") ?? false
            let code = try r.requiredInt("return_code", in: 0...5)
            packet = .connack(MQTTConnAck(sessionPresent: sessionPresent,
                                          returnCode: MQTTConnectReturnCode(rawValue: UInt8(code)).unsafelyUnwrapped))
        case "publish":
            var publish = try publishHead(&r)
            let payloadBytes = try r.binary("payload") ?? []
            if let length = try r.int("payload_len", in: 0...Int.max), length != payloadBytes.count {
                throw r.error("payload_len", "is \(length) but the payload has \(payloadBytes.count) bytes")
            }
            publish.payload = view("payload_hex", .binary, payloadBytes)
            packet = .publish(publish)
        case "puback", "pubrec", "pubrel", "pubcomp", "unsuback":
            let id = UInt16(try r.requiredInt("packet_id", in: 0...65_535))
            switch type {
            case "puback": packet = .puback(packetID: id)
            case "pubrec": packet = .pubrec(packetID: id)
            case "pubrel": packet = .pubrel(packetID: id)
            case "pubcomp": packet = .pubcomp(packetID: id)
            default: packet = .unsuback(packetID: id)
            }
        case "subscribe", "unsubscribe":
            let subscribe = type == "subscribe"
            let id = UInt16(try r.requiredInt("packet_id", in: 0...65_535))
            guard case .array(let topics) = try r.require("topics") else {
                throw r.error("topics", "expected an array, got \(r.value("topics")!.kindName)")
            }
            var subscriptions: [MQTTSubscription] = []
            for (index, topic) in topics.enumerated() {
                let path = "topics[\(index)]"
                let filter: String
                var qos = QoS.atMostOnce
                if subscribe {
                    guard case .array(let pair) = topic, pair.count == 2, case .string(let f) = pair[0] else {
                        throw InspectorError("field \"\(path)\": expected [filter, qos], got \(topic.compactText)")
                    }
                    filter = f
                    qos = QoS(rawValue: UInt8(try FieldReader.int(pair[1], range: 0...2, name: path + "[1]"))).unsafelyUnwrapped
                } else {
                    guard case .string(let f) = topic else {
                        throw InspectorError("field \"\(path)\": expected a string, got \(topic.kindName)")
                    }
                    filter = f
                }
                subscriptions.append(MQTTSubscription(filter: view(path, .topicFilter, Array(filter.utf8)), qos: qos))
            }
            let list = arena.list(subscriptions)
            packet = subscribe
                ? .subscribe(MQTTSubscribe(packetID: id, subscriptions: list))
                : .unsubscribe(MQTTUnsubscribe(packetID: id, filters: list))
        case "suback":
            let id = UInt16(try r.requiredInt("packet_id", in: 0...65_535))
            guard case .array(let codes) = try r.require("granted_qos") else {
                throw r.error("granted_qos", "expected an array, got \(r.value("granted_qos")!.kindName)")
            }
            var bytes: [UInt8] = []
            for (index, code) in codes.enumerated() {
                let value = try FieldReader.int(code, range: 0...255, name: "granted_qos[\(index)]")
                guard MQTTSubscribeReturnCode(rawValue: UInt8(value)) != nil else {
                    throw InspectorError("field \"granted_qos[\(index)]\": must be 0, 1, 2 or 128, got \(value)")
                }
                bytes.append(UInt8(value))
            }
            packet = .suback(MQTTSubAck(packetID: id, returnCodes: arena.view(bytes)))
        case "pingreq": packet = .pingreq
        case "pingresp": packet = .pingresp
        case "disconnect": packet = .disconnect
        default:
            throw InspectorError("unknown type \"\(type)\" (one of: \(PacketBuilder.typeNames.joined(separator: ", ")))")
        }
        try r.finish()
        return packet
    }

    /// A PUBLISH's members other than its payload, into a PUBLISH with an empty one.
    mutating func publishHead(_ r: inout FieldReader) throws(InspectorError) -> MQTTPublish {
        let topic = view("topic", .topicName, Array(try r.requiredString("topic").utf8))
        let qos = QoS(rawValue: UInt8(try r.int("qos", in: 0...2) ?? 0)).unsafelyUnwrapped
        let retain = try r.bool("retain") ?? false
        let dup = try r.bool("dup") ?? false
        var packetID = 0
        if qos == .atMostOnce {
            if r.value("packet_id") != nil { throw r.error("packet_id", "only allowed with qos 1 or 2") }
        } else {
            packetID = try r.requiredInt("packet_id", in: 0...65_535)
        }
        return MQTTPublish(topic: topic, payload: ByteView(), qos: qos, packetID: UInt16(packetID), retain: retain, dup: dup)
    }

    /// The PUBLISH `head` describes, with an empty payload, and its `payload_len`: `head` is a
    /// PUBLISH object whose `payload_hex`, too long to hold, was cut off; it must come last and
    /// after `payload_len`.
    mutating func streamedPublish(from head: JSONValue) throws(InspectorError) -> (publish: MQTTPublish, payloadLength: Int) {
        var r = try FieldReader(head, prefix: "")
        _ = r.value("type")
        let publish = try publishHead(&r)
        if try r.string("payload") != nil {
            throw InspectorError("fields \"payload\" and \"payload_hex\": give only one")
        }
        guard let payloadLength = try r.int("payload_len", in: 0...Int.max) else {
            throw r.error("payload_hex", "longer than \(InspectorLimits.heldJSONSize) characters without \"payload_len\" before it: "
                + "a payload this large is streamed, and the packet's length is written first")
        }
        try r.finish()
        return (publish, payloadLength)
    }

    /// Says which field broke `rule`: by the rule itself where only one field can, else by
    /// checking each string field alone with the codec.
    func blame(_ rule: MQTTRule) -> String? {
        switch rule {
        case .zeroPacketIdentifier: return "packet_id"
        case .dupWithQoS0: return "dup"
        case .passwordWithoutUserName: return "password"
        case .noTopicFilters: return "topics"
        case .noReturnCodes, .invalidSubackReturnCode: return "granted_qos"
        case .sessionPresentWithRefusal: return "session_present"
        default: break
        }
        for field in fields where PacketBuilder.probe(field.kind, field.view) == rule {
            return field.path
        }
        return nil
    }

    /// The rule a lone field of `kind` holding `view` breaks, if any.
    static func probe(_ kind: FieldKind, _ view: ByteView) -> MQTTRule? {
        func rule(_ packet: MQTTPacket) -> MQTTRule? {
            do {
                _ = try packet.encodedSize()
                return nil
            } catch {
                if case .invalid(let rule) = error { return rule }
                return nil
            }
        }
        switch kind {
        case .utf8: return rule(.connect(MQTTConnect(clientID: view)))
        case .topicName: return rule(.publish(MQTTPublish(topic: view, payload: ByteView())))
        case .binary: return rule(.connect(MQTTConnect(clientID: ByteView(), userName: ByteView(), password: view)))
        case .topicFilter:
            let one = [MQTTSubscription(filter: view, qos: .atMostOnce)]
            return one.withUnsafeBufferPointer { buffer in
                rule(.subscribe(MQTTSubscribe(packetID: 1, subscriptions: MQTTTopicFilterList(buffer))))
            }
        }
    }
}

extension PacketInspector {
    /// Builds the packet `json` describes and calls `body` with it; the packet's bytes live
    /// until `body` returns.
    public static func withPacket<R>(from json: JSONValue, _ body: (MQTTPacket) throws -> R) throws -> R {
        var builder = PacketBuilder()
        let packet = try builder.packet(from: json)
        return try withExtendedLifetime(builder) { try body(packet) }
    }

    /// The wire bytes of the packet `json` describes. Errors name the field at fault.
    public static func encode(_ json: JSONValue) throws(InspectorError) -> [UInt8] {
        var builder = PacketBuilder()
        let packet = try builder.packet(from: json)
        return try encoded(packet, fieldsOf: builder)
    }

    /// The fixed header, topic and packet id of the PUBLISH `head` describes (a PUBLISH object
    /// cut off in its `payload_hex`, as for `PacketBuilder.streamedPublish(from:)`), checked by
    /// the codec, and the length of the payload that is to follow them.
    static func encodeStreamedPublishHead(_ head: JSONValue) throws(InspectorError) -> (head: [UInt8], payloadLength: Int) {
        var builder = PacketBuilder()
        let (publish, payloadLength) = try builder.streamedPublish(from: head)
        let alone = try encoded(.publish(publish), fieldsOf: builder)
        let header = RemainingLength.lengths(of: alone).unsafelyUnwrapped.header
        let (remainingLength, overflow) = (alone.count - header).addingReportingOverflow(payloadLength)
        guard !overflow && remainingLength <= MQTTFixedHeader.maximumRemainingLength else {
            let length = overflow ? "over \(Int.max)" : "\(remainingLength)"
            throw InspectorError("field \"payload_hex\": packet too large: remaining length \(length) exceeds 268435455 (MQTT 2.2.3)")
        }
        return ([alone[0]] + RemainingLength.encoded(remainingLength) + alone[header...], payloadLength)
    }

    /// `packet`'s wire bytes; a rule broken is blamed on one of `builder`'s fields.
    static func encoded(_ packet: MQTTPacket, fieldsOf builder: PacketBuilder) throws(InspectorError) -> [UInt8] {
        try withExtendedLifetime(builder) { () throws(InspectorError) -> [UInt8] in
            do throws(MQTTEncodeError) {
                let size = try packet.encodedSize()
                var out = [UInt8](repeating: 0, count: size)
                let written = try out.withUnsafeMutableBytes { raw in
                    Result { () throws(MQTTEncodeError) -> Int in try packet.encode(into: raw) }
                }.get()
                precondition(written == size)
                return out
            } catch {
                switch error {
                case .invalid(let rule):
                    let field = builder.blame(rule).map { "field \"\($0)\": " } ?? ""
                    throw InspectorError(field + describe(rule))
                case .packetTooLarge(let remainingLength):
                    throw InspectorError("field \"payload_hex\": packet too large: remaining length \(remainingLength) exceeds 268435455 (MQTT 2.2.3)")
                case .bufferTooSmall(let tooSmall):
                    throw InspectorError("internal error: " + tooSmall.words("the packet buffer"))
                }
            }
        }
    }
}
