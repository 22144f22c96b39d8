// `MQTTPacket`, the value of any of the fourteen packets (the packet inspector, the stand-ins,
// tests and fuzzing use it), encoded and decoded by the per-packet functions. A firmware that
// only runs `MQTTSession` links none of this.
extension MQTTPacket {
    /// Bytes the encoded packet takes. Checks the packet against the standard first, so a
    /// packet that has a size can be encoded.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        switch self {
        case .connect(let connect): return try connect.encodedSize()
        case .publish(let publish): return try publish.encodedSize()
        case .subscribe(let subscribe): return try subscribe.encodedSize()
        case .unsubscribe(let unsubscribe): return try unsubscribe.encodedSize()
        case .suback(let suback): return try suback.encodedSize()
        case .connack(let connack):
            if connack.sessionPresent && connack.returnCode != .accepted { throw .invalid(.sessionPresentWithRefusal) }
            return 4
        case .puback(let id), .pubrec(let id), .pubrel(let id), .pubcomp(let id), .unsuback(let id):
            if id == 0 { throw .invalid(.zeroPacketIdentifier) }
            return 4
        case .pingreq, .pingresp, .disconnect:
            return 2
        }
    }

    /// Encodes the packet at the start of `buffer` and returns the number of bytes written.
    /// Nothing is written when the packet breaks a rule or does not fit.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        switch self {
        case .connect(let connect): return try connect.encode(into: buffer)
        case .connack(let connack): return try connack.encode(into: buffer)
        case .publish(let publish): return try publish.encode(into: buffer)
        case .puback(let id), .pubrec(let id), .pubrel(let id), .pubcomp(let id), .unsuback(let id):
            return try MQTTShortPacket.encode(type, packetID: id, into: buffer)
        case .subscribe(let subscribe): return try subscribe.encode(into: buffer)
        case .suback(let suback): return try suback.encode(into: buffer)
        case .unsubscribe(let unsubscribe): return try unsubscribe.encode(into: buffer)
        case .pingreq, .pingresp, .disconnect:
            return try MQTTShortPacket.encode(type, into: buffer)
        }
    }

    /// Decodes exactly one whole packet (fixed header included) and checks every rule of the
    /// standard a receiver can check. The packet's views point into `bytes`.
    public static func decode(_ bytes: ByteView) throws(MQTTDecodeError) -> MQTTPacket {
        switch try MQTTFixedHeader.parse(bytes) {
        case .incomplete:
            throw MQTTDecodeError(.truncatedField, at: bytes.count)
        case .complete(let header):
            if header.packetLength != bytes.count {
                throw MQTTDecodeError(
                    .remainingLengthMismatch(expected: bytes.count - header.length),
                    at: 1)
            }
            let frame = MQTTFrame(bytes: bytes, headerLength: header.length)
            // PUBLISH, the common case, without the call to the general dispatch.
            if header.type == .publish { return .publish(try MQTTPublish.decode(frame)) }
            return try frame.decode()
        }
    }

    /// The packet a server sent, as `MQTTServerPacket` decoded it.
    public init(_ packet: MQTTServerPacket) {
        switch packet {
        case .connack(let connack): self = .connack(connack)
        case .publish(let publish): self = .publish(publish)
        case .acknowledgement(let type, let id):
            switch type {
            case .puback: self = .puback(packetID: id)
            case .pubrec: self = .pubrec(packetID: id)
            case .pubrel: self = .pubrel(packetID: id)
            case .pubcomp: self = .pubcomp(packetID: id)
            default: self = .unsuback(packetID: id)
            }
        case .suback(let suback): self = .suback(suback)
        case .pingresp: self = .pingresp
        }
    }
}

extension MQTTFrame {
    /// Decodes the packet, checking every rule of the standard a receiver can check.
    public func decode() throws(MQTTDecodeError) -> MQTTPacket {
        switch type {
        case .publish: return .publish(try MQTTPublish.decode(self))
        case .puback: return .puback(packetID: try MQTTShortPacket.decodePacketID(self))
        case .pubrec: return .pubrec(packetID: try MQTTShortPacket.decodePacketID(self))
        case .pubrel: return .pubrel(packetID: try MQTTShortPacket.decodePacketID(self))
        case .pubcomp: return .pubcomp(packetID: try MQTTShortPacket.decodePacketID(self))
        case .unsuback: return .unsuback(packetID: try MQTTShortPacket.decodePacketID(self))
        case .connack: return .connack(try MQTTConnAck.decode(self))
        case .suback: return .suback(try MQTTSubAck.decode(self))
        case .connect: return .connect(try MQTTConnect.decode(self))
        case .subscribe: return .subscribe(try MQTTSubscribe.decode(self))
        case .unsubscribe: return .unsubscribe(try MQTTUnsubscribe.decode(self))
        case .pingreq, .pingresp, .disconnect:
            try MQTTShortPacket.decodeEmpty(self)
            return type == .pingreq ? .pingreq : type == .pingresp ? .pingresp : .disconnect
        }
    }
}
