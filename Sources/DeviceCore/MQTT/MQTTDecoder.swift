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
        #if !hasFeature(Embedded)
        // A valid PUBLISH with a plain ASCII topic without the general decoder and without a
        // call (no stack frame); anything else goes the general way, out of line. Embedded
        // builds keep only the general decoder (flash).
        if let publish = MQTTPublish.decodeValid(bytes, plainTopicOnly: true) { return .publish(publish) }
        return try decodeOutOfLine(bytes)
        #else
        return try decodeGeneral(bytes)
        #endif
    }

    #if !hasFeature(Embedded)
    /// `decode(_:)` past its first test: a PUBLISH whose topic needs the byte-wise check, then
    /// the general decoder.
    @inline(never)
    static func decodeOutOfLine(_ bytes: ByteView) throws(MQTTDecodeError) -> MQTTPacket {
        if let publish = MQTTPublish.decodeValid(bytes, plainTopicOnly: false) { return .publish(publish) }
        return try decodeGeneral(bytes)
    }
    #endif

    /// The general decoder: fixed header, then the body.
    #if hasFeature(Embedded)
    @inline(__always)  // the body of `decode(_:)` (flash)
    #endif
    static func decodeGeneral(_ bytes: ByteView) throws(MQTTDecodeError) -> MQTTPacket {
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
        if let fromServer = try decodeFromServer(header: header, packet: packet) { return fromServer }
        var cursor = PacketCursor(packet: packet, position: header.length)
        switch header.type {
        case .connect:
            return .connect(try decodeConnect(&cursor))
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
        case .pingreq:
            try requireLength(0, header)
            return .pingreq
        default:  // .disconnect; the other types were decoded above
            try requireLength(0, header)
            return .disconnect
        }
    }

    /// The packet, if it is of a type a server sends to a client (CONNACK, PUBLISH, PUBACK,
    /// PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP); `nil`, without reading the body,
    /// for the others. A client's session decodes through this alone, so that a firmware does
    /// not link the CONNECT and SUBSCRIBE decoders it never needs.
    static func decodeFromServer(header: MQTTFixedHeader, packet: ByteView) throws(MQTTDecodeError) -> MQTTPacket? {
        var cursor = PacketCursor(packet: packet, position: header.length)
        switch header.type {
        case .connect, .subscribe, .unsubscribe, .pingreq, .disconnect:
            return nil
        case .connack:
            try requireLength(2, header)
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
            try requireLength(2, header)
            let id = try cursor.packetID()
            switch header.type {
            case .puback: return .puback(packetID: id)
            case .pubrec: return .pubrec(packetID: id)
            case .pubrel: return .pubrel(packetID: id)
            case .pubcomp: return .pubcomp(packetID: id)
            default: return .unsuback(packetID: id)
            }
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
        case .pingresp:
            try requireLength(0, header)
            return .pingresp
        }
    }

    private static func requireLength(_ expected: Int, _ header: MQTTFixedHeader) throws(MQTTDecodeError) {
        if header.remainingLength != expected {
            throw MQTTDecodeError(.remainingLengthMismatch(expected: expected, actual: header.remainingLength), at: 1)
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

#if !hasFeature(Embedded)
// The PUBLISH fast path (hosts only; docs/benchmarks.md). It accepts exactly the packets the general
// decoder accepts and returns the same `MQTTPublish`, but only decides "valid": anything else
// answers `nil`, and the general decoder, run next, finds the error and its offset.
extension MQTTPublish {
    /// `bytes` decoded, if it is exactly one valid PUBLISH; `nil` otherwise (another type, a
    /// broken rule, too few or too many bytes).
    /// With `plainTopicOnly`, also `nil` for a topic that `isPlainTopicName` does not vouch
    /// for (non-ASCII, say), which the byte-wise check then has to decide.
    @inline(__always)
    static func decodeValid(_ bytes: ByteView, plainTopicOnly: Bool = false) -> MQTTPublish? {
        let count = bytes.count
        guard count >= 2, let base = bytes.baseAddress else { return nil }
        let first = base.load(as: UInt8.self)
        guard first >> 4 == MQTTPacketType.publish.rawValue else { return nil }
        let flags = first & 0x0F
        let qosBits = (flags >> 1) & 0x03
        // QoS 3; DUP on QoS 0.
        guard qosBits != 3 && (qosBits != 0 || flags & 0x08 == 0) else { return nil }
        var remaining = 0
        var index = 1
        if plainTopicOnly {
            // One or two length bytes (up to 16,383), straight-line; longer ones go the other way.
            let second = base.load(fromByteOffset: 1, as: UInt8.self)
            remaining = Int(second)
            index = 2
            if second >= 0x80 {
                guard count >= 3 else { return nil }
                let third = base.load(fromByteOffset: 2, as: UInt8.self)
                guard third != 0 && third < 0x80 else { return nil }
                remaining = Int(second & 0x7F) | Int(third) &<< 7
                index = 3
            }
            guard count &- index == remaining else { return nil }
            return decodeValidBody(flags: flags, packet: bytes, bodyStart: index, plainTopicOnly: true)
        }
        // Remaining length: at most 4 bytes, each after the first non-zero (shortest form).
        var shift = 0
        while true {
            guard index < count && index < 5 else { return nil }
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            if byte == 0 && index > 1 { return nil }
            remaining |= Int(byte & 0x7F) &<< shift
            index &+= 1
            if byte & 0x80 == 0 { break }
            shift &+= 7
        }
        guard count &- index == remaining else { return nil }
        return decodeValidBody(flags: flags, packet: bytes, bodyStart: index, plainTopicOnly: plainTopicOnly)
    }

    /// The PUBLISH whose fixed header (with valid flags `flags`) ends at `bodyStart` of
    /// `packet`, which holds exactly the packet; `nil` if the body breaks a rule.
    @inline(__always)
    static func decodeValidBody(flags: UInt8, packet: ByteView, bodyStart: Int, plainTopicOnly: Bool = false) -> MQTTPublish? {
        let count = packet.count
        // Offsets are within `packet`, so plain (wrapping) arithmetic cannot overflow.
        guard count &- bodyStart >= 2, let base = packet.baseAddress else { return nil }
        let topicLength = Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: bodyStart, as: UInt16.self)))
        var position = bodyStart &+ 2
        guard topicLength <= count &- position else { return nil }
        let topic = ByteView(baseAddress: base + position, count: topicLength)
        if plainTopicOnly {
            guard MQTTValidation.isPlainTopicName(topic) else { return nil }
        } else {
            guard MQTTValidation.checkTopicNameInline(topic) == nil else { return nil }
        }
        position &+= topicLength
        let qosBits = (flags >> 1) & 0x03
        var packetID: UInt16 = 0
        if qosBits != 0 {
            guard count &- position >= 2 else { return nil }
            packetID = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: position, as: UInt16.self))
            guard packetID != 0 else { return nil }
            position &+= 2
        }
        return MQTTPublish(
            topic: topic, payload: ByteView(baseAddress: base + position, count: count &- position),
            qos: QoS(rawValue: qosBits).unsafelyUnwrapped, packetID: packetID,
            retain: flags & 0x01 != 0, dup: flags & 0x08 != 0)
    }
}
#endif
