// CONNECT (§3.1), both ways: a client encodes it; a server (the stand-ins, the packet
// inspector) decodes it through `MQTTPacket`. A firmware links only the encoder.
extension MQTTConnect {
    /// Bytes the encoded CONNECT takes; `MQTTPacket.connect(self).encodedSize()`.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        try UncheckedWriter.packetLength(remainingLength: try remainingLength())
    }

    /// Encodes this CONNECT at the start of `buffer` and returns the number of bytes written.
    /// Nothing is written when the packet breaks a rule or does not fit.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        var writer = try UncheckedWriter(
            firstByte: MQTTPacketType.connect.rawValue << 4, remainingLength: try remainingLength(), into: buffer)
        // Protocol name "MQTT" and level 4 (§3.1.2.1, §3.1.2.2).
        writer.uint16(4)
        writer.uint16(0x4D51)
        writer.uint16(0x5454)
        writer.byte(4)
        var flags: UInt8 = cleanSession ? 0x02 : 0
        if let will { flags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0) }
        if password != nil { flags |= 0x40 }
        if userName != nil { flags |= 0x80 }
        writer.byte(flags)
        writer.uint16(keepAlive)
        writer.prefixed(clientID)
        if let will {
            writer.prefixed(will.topic)
            writer.prefixed(will.payload)
        }
        if let userName { writer.prefixed(userName) }
        if let password { writer.prefixed(password) }
        return writer.position
    }

    /// Validates the packet and returns the length of everything after the fixed header.
    private func remainingLength() throws(MQTTEncodeError) -> Int {
        if clientID.isEmpty && !cleanSession { throw .invalid(.emptyClientIDWithoutCleanSession) }
        // Protocol name (6), level, flags, keep-alive (4).
        var length = 10 &+ (try MQTTFieldLength.string(clientID))
        if let will {
            length &+= 2 &+ (try MQTTTopicName(validating: will.topic)).bytes.count
            length &+= try MQTTFieldLength.binary(will.payload)
        }
        if let userName { length &+= try MQTTFieldLength.string(userName) }
        if let password {
            if userName == nil { throw .invalid(.passwordWithoutUserName) }
            length &+= try MQTTFieldLength.binary(password)
        }
        // At most 10 + 5 × 65,537: no overflow.
        return length
    }

    /// Decodes the CONNECT in `frame`, checking every rule a server can check.
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTConnect {
        var cursor = PacketCursor(frame)
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
