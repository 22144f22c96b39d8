// SUBSCRIBE (§3.8) and UNSUBSCRIBE (§3.10), both ways: a client encodes them; a server decodes
// them through `MQTTPacket`. A firmware links only the encoders.
extension MQTTSubscribe {
    /// Bytes the encoded SUBSCRIBE takes; `MQTTPacket.subscribe(self).encodedSize()`.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        try UncheckedWriter.packetLength(
            remainingLength: try MQTTTopicFilterList.remainingLength(packetID: packetID, subscriptions, withQoS: true))
    }

    /// Encodes this SUBSCRIBE at the start of `buffer` and returns the number of bytes written.
    /// Nothing is written when the packet breaks a rule or does not fit.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        try subscriptions.encode(packetID: packetID, withQoS: true, into: buffer)
    }

    /// Decodes the SUBSCRIBE in `frame`, checking every rule a server can check.
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTSubscribe {
        let (id, list) = try MQTTTopicFilterList.decode(frame, withQoS: true)
        return MQTTSubscribe(packetID: id, subscriptions: list)
    }
}

extension MQTTUnsubscribe {
    /// Bytes the encoded UNSUBSCRIBE takes; `MQTTPacket.unsubscribe(self).encodedSize()`.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        try UncheckedWriter.packetLength(
            remainingLength: try MQTTTopicFilterList.remainingLength(packetID: packetID, filters, withQoS: false))
    }

    /// Encodes this UNSUBSCRIBE at the start of `buffer` and returns the number of bytes
    /// written. Nothing is written when the packet breaks a rule or does not fit.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        try filters.encode(packetID: packetID, withQoS: false, into: buffer)
    }

    /// Decodes the UNSUBSCRIBE in `frame`, checking every rule a server can check.
    static func decode(_ frame: MQTTFrame) throws(MQTTDecodeError) -> MQTTUnsubscribe {
        let (id, list) = try MQTTTopicFilterList.decode(frame, withQoS: false)
        return MQTTUnsubscribe(packetID: id, filters: list)
    }
}

extension MQTTTopicFilterList {
    /// The packet id and the filters (each followed by its QoS byte when `withQoS`).
    func encode(packetID: UInt16, withQoS: Bool, into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        let type = withQoS ? MQTTPacketType.subscribe : .unsubscribe
        var writer = try UncheckedWriter(
            firstByte: type.rawValue << 4 | 0b0010,
            remainingLength: try MQTTTopicFilterList.remainingLength(packetID: packetID, self, withQoS: withQoS),
            into: buffer)
        writer.uint16(packetID)
        forEach { subscription in
            writer.prefixed(subscription.filter)
            if withQoS { writer.byte(subscription.qos.rawValue) }
        }
        return writer.position
    }

    /// Validates the packet and returns the length of everything after the fixed header.
    static func remainingLength(packetID: UInt16, _ list: MQTTTopicFilterList, withQoS: Bool) throws(MQTTEncodeError) -> Int {
        if packetID == 0 { throw .invalid(.zeroPacketIdentifier) }
        var length = 2
        var any = false
        try list.forEach { (subscription) throws(MQTTEncodeError) in
            any = true
            let filterLength = try MQTTFieldLength.binary(subscription.filter)
            if let failure = MQTTValidation.checkTopicFilter(subscription.filter) { throw .invalid(failure.rule) }
            length += filterLength + (withQoS ? 1 : 0)
        }
        if !any { throw .invalid(.noTopicFilters) }
        return length
    }

    /// The packet id and the validated filter list of the SUBSCRIBE or UNSUBSCRIBE in `frame`.
    static func decode(_ frame: MQTTFrame, withQoS: Bool) throws(MQTTDecodeError) -> (UInt16, MQTTTopicFilterList) {
        var cursor = PacketCursor(frame)
        let id = try cursor.packetID()
        let list = cursor.rest
        if cursor.remaining == 0 { throw MQTTDecodeError(.noTopicFilters, at: cursor.position) }
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
        return (id, MQTTTopicFilterList(wire: list, withQoS: withQoS))
    }
}
