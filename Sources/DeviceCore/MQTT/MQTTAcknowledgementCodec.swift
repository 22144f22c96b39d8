// The small packets, both ways: CONNACK and SUBACK (a server sends them), the packet-id-only
// acknowledgements PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK (§3.4–3.7, §3.11), and the
// empty PINGREQ, PINGRESP and DISCONNECT (§3.12–3.14).
extension MQTTConnAck {
    /// Encodes this CONNACK (4 bytes) at the start of `buffer`.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        if sessionPresent && returnCode != .accepted { throw .invalid(.sessionPresentWithRefusal) }
        var writer = try UncheckedWriter(firstByte: MQTTPacketType.connack.rawValue << 4, remainingLength: 2, into: buffer)
        writer.byte(sessionPresent ? 1 : 0)
        writer.byte(returnCode.rawValue)
        return writer.position
    }

    /// Decodes the CONNACK in `frame`, checking every rule a client can check.
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTConnAck {
        try PacketCursor.requireLength(2, frame)
        var cursor = PacketCursor(frame)
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
        return MQTTConnAck(sessionPresent: sessionPresent, returnCode: returnCode)
    }
}

extension MQTTSubAck {
    /// Encodes this SUBACK at the start of `buffer` and returns the number of bytes written.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        var writer = try UncheckedWriter(
            firstByte: MQTTPacketType.suback.rawValue << 4, remainingLength: try remainingLength(), into: buffer)
        writer.uint16(packetID)
        writer.bytes(returnCodes)
        return writer.position
    }

    /// Bytes the encoded SUBACK takes.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        try UncheckedWriter.packetLength(remainingLength: try remainingLength())
    }

    private func remainingLength() throws(MQTTEncodeError) -> Int {
        if packetID == 0 { throw .invalid(.zeroPacketIdentifier) }
        if returnCodes.isEmpty { throw .invalid(.noReturnCodes) }
        var index = 0
        while index < returnCodes.count {
            let code = returnCodes[index]
            if MQTTSubscribeReturnCode(rawValue: code) == nil { throw .invalid(.invalidSubackReturnCode(code)) }
            index += 1
        }
        return 2 + returnCodes.count
    }

    /// Decodes the SUBACK in `frame`, checking every rule a client can check.
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTSubAck {
        var cursor = PacketCursor(frame)
        let id = try cursor.packetID()
        if cursor.remaining == 0 { throw MQTTDecodeError(.noReturnCodes, at: cursor.position) }
        let codes = cursor.rest
        var index = 0
        while index < codes.count {
            if MQTTSubscribeReturnCode(rawValue: codes[index]) == nil {
                throw MQTTDecodeError(.invalidSubackReturnCode(codes[index]), at: cursor.position + index)
            }
            index += 1
        }
        return MQTTSubAck(packetID: id, returnCodes: codes)
    }
}

/// The packets that are a fixed header and at most a packet id.
enum MQTTShortPacket {
    /// Encodes a PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK (`type`) for `packetID`.
    static func encode(_ type: MQTTPacketType, packetID: UInt16, into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        if packetID == 0 { throw .invalid(.zeroPacketIdentifier) }
        var writer = try UncheckedWriter(firstByte: firstByte(type), remainingLength: 2, into: buffer)
        writer.uint16(packetID)
        return writer.position
    }

    /// Encodes a PINGREQ, PINGRESP or DISCONNECT (`type`).
    static func encode(_ type: MQTTPacketType, into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        try UncheckedWriter(firstByte: firstByte(type), remainingLength: 0, into: buffer).position
    }

    /// The first byte of a packet of `type`, with the flags it must carry (not for PUBLISH).
    @inline(__always)
    static func firstByte(_ type: MQTTPacketType) -> UInt8 {
        type.rawValue << 4 | (type == .pubrel || type == .subscribe || type == .unsubscribe ? 0b0010 : 0)
    }

    /// The packet id of the packet-id-only acknowledgement in `frame`.
    static func decodePacketID(_ frame: MQTTFrame) throws(MQTTDecodeError) -> UInt16 {
        try PacketCursor.requireLength(2, frame)
        var cursor = PacketCursor(frame)
        return try cursor.packetID()
    }

    /// Checks that the packet in `frame` (PINGREQ, PINGRESP, DISCONNECT) is empty.
    static func decodeEmpty(_ frame: MQTTFrame) throws(MQTTDecodeError) {
        try PacketCursor.requireLength(0, frame)
    }
}
