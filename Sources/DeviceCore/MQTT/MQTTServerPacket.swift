/// A packet a server sends to a client, decoded (`MQTTFrame.decodeFromServer()`): what a
/// client's session receives, without the fourteen-case `MQTTPacket` and its CONNECT and
/// SUBSCRIBE decoders (a firmware that decodes through this links neither).
public enum MQTTServerPacket {
    case connack(MQTTConnAck)
    case publish(MQTTPublish)
    /// PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK.
    case acknowledgement(MQTTPacketType, packetID: UInt16)
    case suback(MQTTSubAck)
    case pingresp

    /// The packet's type.
    public var type: MQTTPacketType {
        switch self {
        case .connack: return .connack
        case .publish: return .publish
        case .acknowledgement(let type, _): return type
        case .suback: return .suback
        case .pingresp: return .pingresp
        }
    }
}

extension MQTTFrame {
    /// The packet, decoded as a client receives it (`MQTTSession` does): checked against every
    /// rule a client can check; `nil`, without reading the body, for the types only a client
    /// sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT), which a client treats as a
    /// protocol violation whatever they hold. (A method of the frame rather than a static
    /// function: a static function's unused metatype costs callers in other modules a thunk.)
    public func decodeFromServer() throws(MQTTDecodeError) -> MQTTServerPacket? {
        switch type {
        case .publish:
            return .publish(try MQTTPublish.decode(self))
        case .puback, .pubrec, .pubrel, .pubcomp, .unsuback:
            return .acknowledgement(type, packetID: try MQTTShortPacket.decodePacketID(self))
        case .connack:
            return .connack(try MQTTConnAck.decode(self))
        case .suback:
            return .suback(try MQTTSubAck.decode(self))
        case .pingresp:
            try MQTTShortPacket.decodeEmpty(self)
            return .pingresp
        case .connect, .subscribe, .unsubscribe, .pingreq, .disconnect:
            return nil
        }
    }
}
