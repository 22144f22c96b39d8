// PUBLISH (§3.3), both ways: the session encodes and decodes through these directly, and
// `MQTTPacket`'s encoder and decoder come here for `.publish`.
extension MQTTPublish {
    /// Bytes the encoded PUBLISH takes; `MQTTPacket.publish(self).encodedSize()`.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        let remainingLength = try remainingLength()
        _ = try MQTTTopicName(validating: topic)
        return try UncheckedWriter.packetLength(remainingLength: remainingLength)
    }

    /// Encodes this PUBLISH at the start of `buffer` and returns the number of bytes written.
    /// Nothing is written when the packet breaks a rule or does not fit.
    ///
    /// The topic is checked as `MQTTTopicName(validating:)` checks it, then the packet is
    /// written as `encode(topic:payload:qos:packetID:retain:dup:into:)` writes it.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        let remainingLength = try remainingLength()
        try MQTTTopicName.check(topic)
        return try write(remainingLength: remainingLength, into: buffer)
    }

    /// Encodes a PUBLISH to a topic validated beforehand (the topic is not checked again);
    /// otherwise the same bytes and errors as `encode(into:)` of
    /// `MQTTPublish(topic: topic.bytes, payload:qos:packetID:retain:dup:)`.
    public static func encode(
        topic: MQTTTopicName, payload: ByteView, qos: QoS = .atMostOnce, packetID: UInt16 = 0,
        retain: Bool = false, dup: Bool = false, into buffer: UnsafeMutableRawBufferPointer
    ) throws(MQTTEncodeError) -> Int {
        let publish = MQTTPublish(topic: topic.bytes, payload: payload, qos: qos, packetID: packetID, retain: retain, dup: dup)
        return try publish.write(remainingLength: try publish.remainingLength(), into: buffer)
    }

    /// Writes the packet, whose topic was checked and whose remaining length is
    /// `remainingLength()`, or throws if it does not fit.
    @inline(__always)
    func write(remainingLength: Int, into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        var writer = try UncheckedWriter(
            firstByte: MQTTPacketType.publish.rawValue &<< 4 | flags, remainingLength: remainingLength, into: buffer)
        writer.prefixed(topic)
        if flags & 0x06 != 0 { writer.uint16(packetID) }
        writer.bytes(payload)
        return writer.position
    }

    /// Checks the flags and the packet id and returns the length of everything after the
    /// fixed header, for a topic of at most 65,535 bytes (checked before or after).
    @inline(__always)
    func remainingLength() throws(MQTTEncodeError) -> Int {
        let atMostOnce = flags & 0x06 == 0
        if atMostOnce {
            if flags & 0x08 != 0 { throw .invalid(.dupWithQoS0) }
        } else if packetID == 0 {
            throw .invalid(.zeroPacketIdentifier)
        }
        // The payload's count is the caller's, so its addition stays checked.
        return (2 &+ topic.count &+ (atMostOnce ? 0 : 2)) + payload.count
    }

    /// Decodes the PUBLISH in `frame` (whose fixed header, flags included, the reader checked).
    /// Inlined into the one dispatch of a client's receive path (`MQTTFrame.decodeFromServer()`).
    @inline(__always)
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTPublish {
        let count = frame.bytes.count
        let base = frame.bytes.start  // a frame has at least 2 bytes
        let flags = frame.flags
        // Offsets are within the frame, so plain (wrapping) arithmetic cannot overflow.
        var position = frame.headerLength
        guard count &- position >= 2 else { try raise(MQTTDecodeError(.truncatedField, at: position)) }
        let topicLength = Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: position, as: UInt16.self)))
        guard topicLength <= count &- position &- 2 else { try raise(MQTTDecodeError(.truncatedField, at: position)) }
        position &+= 2
        let topic = ByteView(baseAddress: base + position, count: topicLength)
        if let failure = MQTTValidation.checkTopicName(topic) {
            try raise(MQTTDecodeError(failure.rule, at: position &+ failure.index))
        }
        position &+= topicLength
        var packetID: UInt16 = 0
        if flags & 0x06 != 0 {  // QoS 1 or 2 (not 3: checked with the header)
            guard count &- position >= 2 else { try raise(MQTTDecodeError(.truncatedField, at: position)) }
            packetID = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: position, as: UInt16.self))
            if packetID == 0 { try raise(MQTTDecodeError(.zeroPacketIdentifier, at: position)) }
            position &+= 2
        }
        return MQTTPublish(
            topic: topic, payload: ByteView(baseAddress: base + position, count: count &- position),
            packetID: packetID, flags: flags)
    }
}
