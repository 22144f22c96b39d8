/// Reads fields off a packet, front to back, reporting errors at packet offsets.
struct PacketCursor {
    let packet: ByteView
    var position: Int

    init(packet: ByteView, position: Int) {
        self.packet = packet
        self.position = position
    }

    var remaining: Int { packet.count - position }

    mutating func byte() throws(MQTTDecodeError) -> UInt8 {
        guard position < packet.count else { throw MQTTDecodeError(.truncatedField, at: position) }
        defer { position += 1 }
        return packet[position]
    }

    mutating func uint16() throws(MQTTDecodeError) -> UInt16 {
        guard remaining >= 2 else { throw MQTTDecodeError(.truncatedField, at: position) }
        defer { position += 2 }
        return UInt16(packet[position]) << 8 | UInt16(packet[position + 1])
    }

    mutating func packetID() throws(MQTTDecodeError) -> UInt16 {
        let at = position
        let id = try uint16()
        if id == 0 { throw MQTTDecodeError(.zeroPacketIdentifier, at: at) }
        return id
    }

    /// A length-prefixed byte field (§1.5.3 framing without the UTF-8 check).
    mutating func binary() throws(MQTTDecodeError) -> ByteView {
        let at = position
        let length = Int(try uint16())
        guard remaining >= length else { throw MQTTDecodeError(.truncatedField, at: at) }
        defer { position += length }
        return packet.slice(from: position, count: length)
    }

    mutating func utf8String() throws(MQTTDecodeError) -> ByteView {
        let value = try binary()
        try check(MQTTValidation.checkUTF8(value), in: value)
        return value
    }

    mutating func topicName() throws(MQTTDecodeError) -> ByteView {
        let value = try binary()
        try check(MQTTValidation.checkTopicName(value), in: value)
        return value
    }

    mutating func topicFilter() throws(MQTTDecodeError) -> ByteView {
        let value = try binary()
        try check(MQTTValidation.checkTopicFilter(value), in: value)
        return value
    }

    /// Turns a validation failure inside `field` (a slice of the packet) into a packet-offset error.
    func check(_ failure: (rule: MQTTRule, index: Int)?, in field: ByteView) throws(MQTTDecodeError) {
        guard let failure else { return }
        // A field's offset is the distance from the packet's start; empty fields sit just after their length.
        let fieldStart = field.isEmpty ? position : packet.baseAddress.unsafelyUnwrapped.distance(to: field.baseAddress.unsafelyUnwrapped)
        throw MQTTDecodeError(failure.rule, at: fieldStart + failure.index)
    }

    /// Fails if any bytes are left unread.
    func expectEnd() throws(MQTTDecodeError) {
        if remaining != 0 { throw MQTTDecodeError(.trailingBytes(count: remaining), at: position) }
    }
}

extension MQTTPacket {
    /// Decodes exactly one whole packet (fixed header included) and checks every rule of the
    /// standard a receiver can check. The packet's views point into `bytes`.
    public static func decode(_ bytes: ByteView) throws(MQTTDecodeError) -> MQTTPacket {
        switch try MQTTFixedHeader.parse(bytes) {
        case .incomplete:
            throw MQTTDecodeError(.truncatedField, at: bytes.count)
        case .complete(let header):
            if header.packetLength != bytes.count {
                throw MQTTDecodeError(
                    .remainingLengthMismatch(expected: bytes.count - header.length, actual: header.remainingLength),
                    at: 1)
            }
            return try decode(header: header, packet: bytes)
        }
    }

    /// Decodes the body of a packet whose fixed header has already been parsed and whose
    /// `packet` view holds exactly `header.packetLength` bytes.
    static func decode(header: MQTTFixedHeader, packet: ByteView) throws(MQTTDecodeError) -> MQTTPacket {
        var cursor = PacketCursor(packet: packet, position: header.length)
        let remaining = header.remainingLength

        func requireLength(_ expected: Int) throws(MQTTDecodeError) {
            if remaining != expected {
                throw MQTTDecodeError(.remainingLengthMismatch(expected: expected, actual: remaining), at: 1)
            }
        }

        switch header.type {
        case .connect:
            return .connect(try decodeConnect(&cursor))
        case .connack:
            try requireLength(2)
            let flags = try cursor.byte()
            if flags & 0xFE != 0 { throw MQTTDecodeError(.connackReservedFlagsSet, at: cursor.position - 1) }
            let code = try cursor.byte()
            guard let returnCode = MQTTConnectReturnCode(rawValue: code) else {
                throw MQTTDecodeError(.invalidConnackReturnCode(code), at: cursor.position - 1)
            }
            let sessionPresent = flags & 0x01 != 0
            if sessionPresent && returnCode != .accepted {
                throw MQTTDecodeError(.sessionPresentWithRefusal, at: cursor.position - 2)
            }
            return .connack(MQTTConnAck(sessionPresent: sessionPresent, returnCode: returnCode))
        case .publish:
            let qos = QoS(rawValue: (header.flags >> 1) & 0x03).unsafelyUnwrapped  // checked by the header
            let topic = try cursor.topicName()
            let packetID = qos == .atMostOnce ? 0 : try cursor.packetID()
            let payload = packet.slice(from: cursor.position, count: cursor.remaining)
            return .publish(MQTTPublish(
                topic: topic, payload: payload, qos: qos, packetID: packetID,
                retain: header.flags & 0x01 != 0, dup: header.flags & 0x08 != 0))
        case .puback, .pubrec, .pubrel, .pubcomp, .unsuback:
            try requireLength(2)
            let id = try cursor.packetID()
            switch header.type {
            case .puback: return .puback(packetID: id)
            case .pubrec: return .pubrec(packetID: id)
            case .pubrel: return .pubrel(packetID: id)
            case .pubcomp: return .pubcomp(packetID: id)
            default: return .unsuback(packetID: id)
            }
        case .subscribe, .unsubscribe:
            let withQoS = header.type == .subscribe
            let id = try cursor.packetID()
            let listStart = cursor.position
            if cursor.remaining == 0 { throw MQTTDecodeError(.noTopicFilters, at: listStart) }
            while cursor.remaining > 0 {
                _ = try cursor.topicFilter()
                if withQoS {
                    let at = cursor.position
                    let requested = try cursor.byte()
                    if requested & 0xFC != 0 || requested & 0x03 == 3 {
                        throw MQTTDecodeError(.subscribeReservedBitsSet(requested), at: at)
                    }
                }
            }
            let list = MQTTTopicFilterList(wire: packet.slice(from: listStart, count: packet.count - listStart), withQoS: withQoS)
            return withQoS
                ? .subscribe(MQTTSubscribe(packetID: id, subscriptions: list))
                : .unsubscribe(MQTTUnsubscribe(packetID: id, filters: list))
        case .suback:
            let id = try cursor.packetID()
            if cursor.remaining == 0 { throw MQTTDecodeError(.noReturnCodes, at: cursor.position) }
            let codes = packet.slice(from: cursor.position, count: cursor.remaining)
            var index = 0
            while index < codes.count {
                if MQTTSubscribeReturnCode(rawValue: codes[index]) == nil {
                    throw MQTTDecodeError(.invalidSubackReturnCode(codes[index]), at: cursor.position + index)
                }
                index += 1
            }
            return .suback(MQTTSubAck(packetID: id, returnCodes: codes))
        case .pingreq:
            try requireLength(0)
            return .pingreq
        case .pingresp:
            try requireLength(0)
            return .pingresp
        case .disconnect:
            try requireLength(0)
            return .disconnect
        }
    }

    private static func decodeConnect(_ cursor: inout PacketCursor) throws(MQTTDecodeError) -> MQTTConnect {
        let nameAt = cursor.position
        let name = try cursor.binary()
        if name != ByteView("MQTT") { throw MQTTDecodeError(.invalidProtocolName, at: nameAt) }
        let level = try cursor.byte()
        if level != 4 { throw MQTTDecodeError(.unsupportedProtocolLevel(level), at: cursor.position - 1) }
        let flagsAt = cursor.position
        let flags = try cursor.byte()
        if flags & 0x01 != 0 { throw MQTTDecodeError(.connectReservedFlagSet, at: flagsAt) }
        let hasWill = flags & 0x04 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & 0x20 != 0
        if !hasWill && (willQoSBits != 0 || willRetain) {
            throw MQTTDecodeError(.willFieldsWithoutWillFlag, at: flagsAt)
        }
        if willQoSBits == 3 { throw MQTTDecodeError(.invalidQoS, at: flagsAt) }
        let hasUserName = flags & 0x80 != 0
        let hasPassword = flags & 0x40 != 0
        if hasPassword && !hasUserName { throw MQTTDecodeError(.passwordWithoutUserName, at: flagsAt) }
        let keepAlive = try cursor.uint16()

        var connect = MQTTConnect(clientID: try cursor.utf8String(), cleanSession: flags & 0x02 != 0, keepAlive: keepAlive)
        if hasWill {
            let topic = try cursor.topicName()
            let payload = try cursor.binary()
            connect.will = MQTTWill(topic: topic, payload: payload, qos: QoS(rawValue: willQoSBits).unsafelyUnwrapped, retain: willRetain)
        }
        if hasUserName { connect.userName = try cursor.utf8String() }
        if hasPassword { connect.password = try cursor.binary() }
        try cursor.expectEnd()
        return connect
    }
}
