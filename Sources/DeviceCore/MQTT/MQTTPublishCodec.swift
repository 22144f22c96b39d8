// PUBLISH (§3.3), both ways: the session encodes and decodes through these directly, and
// `MQTTPacket`'s encoder and decoder come here for `.publish`.
extension MQTTPublish {
    /// Bytes the encoded PUBLISH takes; `MQTTPacket.publish(self).encodedSize()`.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        try encodedSize(topicChecked: false)
    }

    /// Encodes this PUBLISH at the start of `buffer` and returns the number of bytes written.
    /// Nothing is written when the packet breaks a rule or does not fit.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        try encode(topicChecked: false, into: buffer)
    }

    /// Encodes a PUBLISH to a topic validated beforehand (the topic is not checked again);
    /// otherwise the same bytes and errors as `encode(into:)` of
    /// `MQTTPublish(topic: topic.bytes, payload:qos:packetID:retain:dup:)`.
    public static func encode(
        topic: MQTTTopicName, payload: ByteView, qos: QoS = .atMostOnce, packetID: UInt16 = 0,
        retain: Bool = false, dup: Bool = false, into buffer: UnsafeMutableRawBufferPointer
    ) throws(MQTTEncodeError) -> Int {
        try MQTTPublish(topic: topic.bytes, payload: payload, qos: qos, packetID: packetID, retain: retain, dup: dup)
            .encode(topicChecked: true, into: buffer)
    }

    /// `encodedSize()`, checking the topic too unless `topicChecked`.
    func encodedSize(topicChecked: Bool) throws(MQTTEncodeError) -> Int {
        try UncheckedWriter.packetLength(remainingLength: try remainingLength(topicChecked: topicChecked))
    }

    /// `encode(into:)`, checking the topic too unless `topicChecked`. Inlined: the session's
    /// QoS 0 path (`encode(into:)`) and QoS 1 path each get the variant they use.
    @inline(__always)
    func encode(topicChecked: Bool, into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        var writer = try UncheckedWriter(
            firstByte: firstByte, remainingLength: try remainingLength(topicChecked: topicChecked), into: buffer)
        writer.prefixed(topic)
        if flags & 0x06 != 0 { writer.uint16(packetID) }
        writer.bytes(payload)
        return writer.position
    }

    /// Validates the packet (the topic too unless `topicChecked`) and returns the length of
    /// everything after the fixed header. Inlined: a few compares and additions around the one
    /// out-of-line topic check.
    @inline(__always)
    func remainingLength(topicChecked: Bool) throws(MQTTEncodeError) -> Int {
        let atMostOnce = flags & 0x06 == 0
        if atMostOnce {
            if flags & 0x08 != 0 { throw .invalid(.dupWithQoS0) }
        } else if packetID == 0 {
            throw .invalid(.zeroPacketIdentifier)
        }
        let topicLength = topicChecked ? 2 &+ topic.count : try MQTTFieldLength.topicName(topic)
        // The topic is at most 65,535 bytes here (checked above, or by `MQTTTopicName`); the
        // payload's count is the caller's, so its addition stays checked.
        return (topicLength &+ (atMostOnce ? 0 : 2)) + payload.count
    }

    @inline(__always)
    var firstByte: UInt8 { MQTTPacketType.publish.rawValue &<< 4 | flags }

    /// Decodes the PUBLISH in `frame` (whose fixed header, flags included, the reader checked).
    /// Inlined into the one dispatch of a client's receive path (`MQTTFrame.decodeFromServer()`).
    @inline(__always)
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTPublish {
        let count = frame.bytes.count
        let base = frame.bytes.baseAddress.unsafelyUnwrapped  // a frame has at least 2 bytes
        let flags = frame.flags
        // Offsets are within the frame, so plain (wrapping) arithmetic cannot overflow.
        var position = frame.headerLength
        guard count &- position >= 2 else { throw MQTTDecodeError(.truncatedField, at: position) }
        let topicLength = Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: position, as: UInt16.self)))
        guard topicLength <= count &- position &- 2 else { throw MQTTDecodeError(.truncatedField, at: position) }
        position &+= 2
        let topic = ByteView(baseAddress: base + position, count: topicLength)
        if let failure = MQTTValidation.checkTopicName(topic) {
            throw MQTTDecodeError(failure.rule, at: position &+ failure.index)
        }
        position &+= topicLength
        var packetID: UInt16 = 0
        if flags & 0x06 != 0 {  // QoS 1 or 2 (not 3: checked with the header)
            guard count &- position >= 2 else { throw MQTTDecodeError(.truncatedField, at: position) }
            packetID = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: position, as: UInt16.self))
            if packetID == 0 { throw MQTTDecodeError(.zeroPacketIdentifier, at: position) }
            position &+= 2
        }
        return MQTTPublish(
            topic: topic, payload: ByteView(baseAddress: base + position, count: count &- position),
            packetID: packetID, flags: flags)
    }
}
