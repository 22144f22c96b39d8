import DeviceCore
import DeviceCoreWords
import HostJSON

/// Why the inspector could not decode or encode its input. `message` is meant for a person,
/// without an `error:` prefix (the command line adds one).
public struct InspectorError: Error, Equatable, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Turns decoded MQTT packets into JSON objects and JSON objects into MQTT packets.
///
/// The JSON form (also documented in `docs/packet-inspector.md`) has these members, `type`
/// first and the rest always in this order, absent ones left out:
///
/// | type | members |
/// | --- | --- |
/// | connect | client_id, clean_session, keepalive, username, password \| password_hex, will {topic, payload \| payload_hex, qos, retain} |
/// | connack | session_present, return_code |
/// | publish | topic, qos, retain, dup, packet_id (QoS 1 and 2 only), payload_len, payload_hex |
/// | puback, pubrec, pubrel, pubcomp, unsuback | packet_id |
/// | subscribe | packet_id, topics `[[filter, qos], …]` |
/// | suback | packet_id, granted_qos `[qos or 128, …]` |
/// | unsubscribe | packet_id, topics `[filter, …]` |
/// | pingreq, pingresp, disconnect | — |
public enum PacketInspector {
    // MARK: Packet → JSON

    /// The JSON object for `packet`.
    public static func json(for packet: MQTTPacket) -> JSONValue {
        var m: [JSONMember] = [JSONMember("type", .string(name(of: packet.type)))]
        switch packet {
        case .connect(let connect):
            m.append(JSONMember("client_id", .string(text(connect.clientID))))
            m.append(JSONMember("clean_session", .bool(connect.cleanSession)))
            m.append(JSONMember("keepalive", .int(Int(connect.keepAlive))))
            if let userName = connect.userName { m.append(JSONMember("username", .string(text(userName)))) }
            if let password = connect.password { m.append(binaryMember("password", password)) }
            if let will = connect.will {
                m.append(JSONMember("will", .object([
                    JSONMember("topic", .string(text(will.topic))),
                    binaryMember("payload", will.payload),
                    JSONMember("qos", .int(Int(will.qos.rawValue))),
                    JSONMember("retain", .bool(will.retain)),
                ])))
            }
        case .connack(let connack):
            m.append(JSONMember("session_present", .bool(connack.sessionPresent)))
            m.append(JSONMember("return_code", .int(Int(connack.returnCode.rawValue))))
        case .publish(let publish):
            m = publishMembers(publish, payloadLength: publish.payload.count)
            m.append(JSONMember("payload_hex", .string(Hex.string(publish.payload.buffer))))
        case .puback(let id), .pubrec(let id), .pubrel(let id), .pubcomp(let id), .unsuback(let id):
            m.append(JSONMember("packet_id", .int(Int(id))))
        case .subscribe(let subscribe):
            m.append(JSONMember("packet_id", .int(Int(subscribe.packetID))))
            var topics: [JSONValue] = []
            subscribe.subscriptions.forEach { s in
                topics.append(.array([.string(text(s.filter)), .int(Int(s.qos.rawValue))]))
            }
            m.append(JSONMember("topics", .array(topics)))
        case .suback(let suback):
            m.append(JSONMember("packet_id", .int(Int(suback.packetID))))
            m.append(JSONMember("granted_qos", .array(suback.returnCodes.buffer.map { .int(Int($0)) })))
        case .unsubscribe(let unsubscribe):
            m.append(JSONMember("packet_id", .int(Int(unsubscribe.packetID))))
            var topics: [JSONValue] = []
            unsubscribe.filters.forEach { s in topics.append(.string(text(s.filter))) }
            m.append(JSONMember("topics", .array(topics)))
        case .pingreq, .pingresp, .disconnect:
            break
        }
        return .object(m)
    }

    /// A PUBLISH's members up to `payload_len` (`payloadLength`), all but `payload_hex`, which
    /// comes last: a streamed PUBLISH writes these before its payload has arrived.
    static func publishMembers(_ publish: MQTTPublish, payloadLength: Int) -> [JSONMember] {
        var m: [JSONMember] = [JSONMember("type", .string("publish"))]
        m.append(JSONMember("topic", .string(text(publish.topic))))
        m.append(JSONMember("qos", .int(Int(publish.qos.rawValue))))
        m.append(JSONMember("retain", .bool(publish.retain)))
        m.append(JSONMember("dup", .bool(publish.dup)))
        if publish.qos != .atMostOnce { m.append(JSONMember("packet_id", .int(Int(publish.packetID)))) }
        m.append(JSONMember("payload_len", .int(payloadLength)))
        return m
    }

    /// The lower-case name used as `type`.
    public static func name(of type: MQTTPacketType) -> String {
        switch type {
        case .connect: return "connect"
        case .connack: return "connack"
        case .publish: return "publish"
        case .puback: return "puback"
        case .pubrec: return "pubrec"
        case .pubrel: return "pubrel"
        case .pubcomp: return "pubcomp"
        case .subscribe: return "subscribe"
        case .suback: return "suback"
        case .unsubscribe: return "unsubscribe"
        case .unsuback: return "unsuback"
        case .pingreq: return "pingreq"
        case .pingresp: return "pingresp"
        case .disconnect: return "disconnect"
        }
    }

    /// A field the standard declares a UTF-8 string; the decoder has already validated it.
    static func text(_ view: ByteView) -> String {
        String(decoding: view.buffer, as: UTF8.self)
    }

    /// Binary data as `name` (a string) when it is valid UTF-8, else as `name_hex`.
    static func binaryMember(_ name: String, _ view: ByteView) -> JSONMember {
        if let string = String(validating: view.buffer, as: UTF8.self) {
            return JSONMember(name, .string(string))
        }
        return JSONMember(name + "_hex", .string(Hex.string(view.buffer)))
    }

    // MARK: Rules in words

    /// The rule's summary followed by what the packet actually held, e.g.
    /// `protocol level must be 4 for MQTT 3.1.1 (MQTT-3.1.2-2): got 3`. `packet`, when given, is
    /// the packet that broke it, for what the rule does not carry (the header's remaining length).
    public static func describe(_ rule: MQTTRule, packet: [UInt8]? = nil) -> String {
        let summary = rule.summary.description
        let detail: String?
        switch rule {
        case .reservedPacketType(let type): detail = "got type \(type)"
        case .invalidFixedHeaderFlags(let type, let flags):
            let typeName = MQTTPacketType(rawValue: type).map { name(of: $0).uppercased() } ?? "type \(type)"
            let expected = type == 6 || type == 8 || type == 10 ? "0x2" : "0x0"
            detail = "\(typeName) with flags 0x\(String(flags, radix: 16)), expected \(expected)"
        case .remainingLengthMismatch(let expected):
            if let packet, let lengths = RemainingLength.lengths(of: packet) {
                detail = "expected \(expected), got \(lengths.packet - lengths.header)"
            } else {
                detail = "expected \(expected)"
            }
        case .trailingBytes(let count): detail = count == 1 ? "1 byte left" : "\(count) bytes left"
        case .stringTooLong(let length): detail = "got \(length) bytes"
        case .unsupportedProtocolLevel(let level): detail = "got \(level)"
        case .invalidConnackReturnCode(let code): detail = "got \(code)"
        case .subscribeReservedBitsSet(let byte): detail = "got 0x" + Hex.string([byte])
        case .invalidSubackReturnCode(let code): detail = "got 0x" + Hex.string([code])
        case .packetTooLarge(let size): detail = "\(size) bytes"
        default: detail = nil
        }
        return detail.map { summary + ": " + $0 } ?? summary
    }

    // MARK: Byte stream → JSON

    /// Cuts `bytes` into packets with `PacketStreamDecoder` (as `decode` does its input),
    /// decodes each and hands its JSON object to `body`, in order. Stops at the first malformed
    /// packet with an error naming the byte offset in the whole input, the 1-based packet index
    /// and the rule broken.
    public static func decodeStream(_ bytes: [UInt8], _ body: (JSONValue) throws -> Void) throws {
        let decoder = PacketStreamDecoder(sink: JSONValueCollector())
        var failure: InspectorError?
        do throws(InspectorError) {
            try bytes.withUnsafeBytes { raw in Result { () throws(InspectorError) in try decoder.feed(raw) } }.get()
            try decoder.finish()
        } catch {
            failure = error
        }
        for value in decoder.sink.values { try body(value) }
        if let failure { throw failure }
    }

    /// All packets of `bytes` as JSON objects; throws at the first malformed one.
    public static func decodeAll(_ bytes: [UInt8]) throws -> [JSONValue] {
        var out: [JSONValue] = []
        try decodeStream(bytes) { out.append($0) }
        return out
    }

    /// `error`, found in the packet that starts at input offset `start`, in words.
    static func decodeError(_ error: MQTTDecodeError, start: Int, index: Int, packet: [UInt8]? = nil) -> InspectorError {
        InspectorError("byte \(start + error.offset) (packet \(index)): \(describe(error.rule, packet: packet))")
    }

    /// The input ends inside a packet that starts at `start`: its fixed header `announced` that
    /// many bytes (`nil`: the header itself is cut off), and `present` are there.
    static func incomplete(start: Int, index: Int, announced: Int?, present: Int) -> InspectorError {
        let presentText = present == 1 ? "only 1 byte is present" : "only \(present) bytes are present"
        if let announced {
            return InspectorError(
                "byte \(start) (packet \(index)): incomplete packet: its fixed header announces \(announced) bytes but \(presentText)")
        }
        return InspectorError(
            "byte \(start) (packet \(index)): incomplete packet: the fixed header is cut off, \(presentText)")
    }
}
