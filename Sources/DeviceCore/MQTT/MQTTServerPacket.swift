/// A packet a server sends to a client, decoded: what a client's session receives, without
/// the fourteen-case `MQTTPacket` and its CONNECT and SUBSCRIBE decoders.
enum MQTTServerPacket {
    case connack(MQTTConnAck)
    case publish(MQTTPublish)
    /// PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK.
    case acknowledgement(MQTTPacketType, packetID: UInt16)
    case suback(MQTTSubAck)
    case pingresp

    /// The packet's type.
    var type: MQTTPacketType {
        switch self {
        case .connack: return .connack
        case .publish: return .publish
        case .acknowledgement(let type, _): return type
        case .suback: return .suback
        case .pingresp: return .pingresp
        }
    }

    /// The packet in `frame`, checked against every rule a client can check; `nil`, without
    /// reading the body, for the types only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE,
    /// PINGREQ, DISCONNECT), which a client treats as a protocol violation whatever they hold.
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTServerPacket? {
        let type = frame.header.type
        switch type {
        case .publish:
            return .publish(try MQTTPublish.decode(frame))
        case .puback, .pubrec, .pubrel, .pubcomp, .unsuback:
            return .acknowledgement(type, packetID: try MQTTShortPacket.decodePacketID(frame))
        case .connack:
            return .connack(try MQTTConnAck.decode(frame))
        case .suback:
            return .suback(try MQTTSubAck.decode(frame))
        case .pingresp:
            try MQTTShortPacket.decodeEmpty(frame)
            return .pingresp
        case .connect, .subscribe, .unsubscribe, .pingreq, .disconnect:
            return nil
        }
    }
}
