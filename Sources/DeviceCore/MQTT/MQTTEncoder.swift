/// Writes bytes into memory already known to be large enough.
struct UncheckedWriter {
    let base: UnsafeMutableRawPointer
    var position = 0

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        base.storeBytes(of: value, toByteOffset: position, as: UInt8.self)
        position &+= 1
    }

    @inline(__always)
    mutating func uint16(_ value: UInt16) {
        byte(UInt8(truncatingIfNeeded: value >> 8))
        byte(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func bytes(_ view: ByteView) {
        view.copyBytes(to: base + position)
        position &+= view.count
    }

    /// A length-prefixed field; its length was checked when the packet was sized.
    @inline(__always)
    mutating func prefixed(_ view: ByteView) {
        uint16(UInt16(truncatingIfNeeded: view.count))
        bytes(view)
    }

    mutating func remainingLength(_ value: Int) {
        var rest = value
        repeat {
            var digit = UInt8(truncatingIfNeeded: rest & 0x7F)
            rest >>= 7
            if rest > 0 { digit |= 0x80 }
            byte(digit)
        } while rest > 0
    }
}

extension MQTTPacket {
    /// Bytes the encoded packet takes. Checks the packet against the standard first, so a
    /// packet that has a size can be encoded.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        try sizes().total
    }

    /// Encodes the packet at the start of `buffer` and returns the number of bytes written.
    /// Nothing is written when the packet breaks a rule or does not fit.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        #if !hasFeature(Embedded)
        // PUBLISH without the switches over packet kinds. Embedded builds keep the one generic
        // path (flash): the same checks, bytes and errors either way.
        if case .publish(let publish) = self { return try publish.encode(into: buffer) }
        #endif
        let sizes = try sizes()
        guard sizes.total <= buffer.count, let base = buffer.baseAddress else {
            throw .bufferTooSmall(needed: sizes.total, available: buffer.count)
        }
        return write(to: base, remainingLength: sizes.remaining)
    }

    /// Writes the packet, already validated by `sizes()`, at `base` (which has room for it).
    func write(to base: UnsafeMutableRawPointer, remainingLength: Int) -> Int {
        var writer = UncheckedWriter(base: base)
        writer.byte(firstByte)
        writer.remainingLength(remainingLength)
        writeBody(&writer)
        return writer.position
    }

    /// The remaining length and the whole packet's length, after validation.
    func sizes() throws(MQTTEncodeError) -> (remaining: Int, total: Int) {
        let remaining = try remainingLength()
        guard let lengthSize = MQTTFixedHeader.remainingLengthSize(remaining) else {
            throw .packetTooLarge(remainingLength: remaining)
        }
        return (remaining, 1 + lengthSize + remaining)
    }

    private var firstByte: UInt8 {
        if case .publish(let publish) = self { return publish.firstByte }
        return type.rawValue << 4 | type.requiredFlags.unsafelyUnwrapped
    }

    /// Validates the packet and returns the length of everything after the fixed header.
    private func remainingLength() throws(MQTTEncodeError) -> Int {
        switch self {
        case .connect(let connect):
            if connect.clientID.isEmpty && !connect.cleanSession { throw .invalid(.emptyClientIDWithoutCleanSession) }
            var length = 10 + (try stringLength(connect.clientID, MQTTValidation.checkUTF8))
            if let will = connect.will {
                length += try stringLength(will.topic, MQTTValidation.checkTopicName)
                length += try binaryLength(will.payload)
            }
            if let userName = connect.userName {
                length += try stringLength(userName, MQTTValidation.checkUTF8)
            }
            if let password = connect.password {
                if connect.userName == nil { throw .invalid(.passwordWithoutUserName) }
                length += try binaryLength(password)
            }
            return length
        case .connack(let connack):
            if connack.sessionPresent && connack.returnCode != .accepted { throw .invalid(.sessionPresentWithRefusal) }
            return 2
        case .publish(let publish):
            return try publish.remainingLength()
        case .puback(let id), .pubrec(let id), .pubrel(let id), .pubcomp(let id), .unsuback(let id):
            if id == 0 { throw .invalid(.zeroPacketIdentifier) }
            return 2
        case .subscribe(let subscribe):
            return try filterListLength(packetID: subscribe.packetID, subscribe.subscriptions, qosBytes: 1)
        case .unsubscribe(let unsubscribe):
            return try filterListLength(packetID: unsubscribe.packetID, unsubscribe.filters, qosBytes: 0)
        case .suback(let suback):
            if suback.packetID == 0 { throw .invalid(.zeroPacketIdentifier) }
            if suback.returnCodes.isEmpty { throw .invalid(.noReturnCodes) }
            var index = 0
            while index < suback.returnCodes.count {
                let code = suback.returnCodes[index]
                if MQTTSubscribeReturnCode(rawValue: code) == nil { throw .invalid(.invalidSubackReturnCode(code)) }
                index += 1
            }
            return 2 + suback.returnCodes.count
        case .pingreq, .pingresp, .disconnect:
            return 0
        }
    }

    private func filterListLength(packetID: UInt16, _ list: MQTTTopicFilterList, qosBytes: Int) throws(MQTTEncodeError) -> Int {
        if packetID == 0 { throw .invalid(.zeroPacketIdentifier) }
        var length = 2
        var any = false
        try list.forEach { (subscription) throws(MQTTEncodeError) in
            any = true
            length += try stringLength(subscription.filter, MQTTValidation.checkTopicFilter) + qosBytes
        }
        if !any { throw .invalid(.noTopicFilters) }
        return length
    }

    private func binaryLength(_ value: ByteView) throws(MQTTEncodeError) -> Int {
        if value.count > 65_535 { throw .invalid(.stringTooLong(length: value.count)) }
        return 2 + value.count
    }

    private func stringLength(
        _ value: ByteView, _ check: (ByteView) -> (rule: MQTTRule, index: Int)?
    ) throws(MQTTEncodeError) -> Int {
        let length = try binaryLength(value)
        if let failure = check(value) { throw .invalid(failure.rule) }
        return length
    }

    private func writeBody(_ writer: inout UncheckedWriter) {
        switch self {
        case .connect(let connect):
            writer.prefixed(ByteView("MQTT"))
            writer.byte(4)
            var flags: UInt8 = connect.cleanSession ? 0x02 : 0
            if let will = connect.will {
                flags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0)
            }
            if connect.password != nil { flags |= 0x40 }
            if connect.userName != nil { flags |= 0x80 }
            writer.byte(flags)
            writer.uint16(connect.keepAlive)
            writer.prefixed(connect.clientID)
            if let will = connect.will {
                writer.prefixed(will.topic)
                writer.prefixed(will.payload)
            }
            if let userName = connect.userName { writer.prefixed(userName) }
            if let password = connect.password { writer.prefixed(password) }
        case .connack(let connack):
            writer.byte(connack.sessionPresent ? 1 : 0)
            writer.byte(connack.returnCode.rawValue)
        case .publish(let publish):
            publish.writeBody(&writer)
        case .puback(let id), .pubrec(let id), .pubrel(let id), .pubcomp(let id), .unsuback(let id):
            writer.uint16(id)
        case .subscribe(let subscribe):
            writer.uint16(subscribe.packetID)
            subscribe.subscriptions.forEach { subscription in
                writer.prefixed(subscription.filter)
                writer.byte(subscription.qos.rawValue)
            }
        case .unsubscribe(let unsubscribe):
            writer.uint16(unsubscribe.packetID)
            unsubscribe.filters.forEach { subscription in writer.prefixed(subscription.filter) }
        case .suback(let suback):
            writer.uint16(suback.packetID)
            writer.bytes(suback.returnCodes)
        case .pingreq, .pingresp, .disconnect:
            break
        }
    }
}

/// A topic name checked once against MQTT 3.1.1 (non-empty, at most 65,535 bytes of UTF-8
/// without U+0000, no wildcard), so that publishing to it again and again skips the check:
/// `MQTTPublish.encode(topic:payload:qos:packetID:retain:dup:into:)` and
/// `MQTTSession.publish(topic:payload:qos:retain:)` take one. The bytes it views must outlive it
/// and must not change.
public struct MQTTTopicName: Equatable {
    /// The topic's bytes, as validated.
    public let bytes: ByteView

    /// Checks `bytes` as a topic name; throws `.invalid(rule)` for the first rule it breaks,
    /// as encoding a PUBLISH with that topic would.
    public init(validating bytes: ByteView) throws(MQTTEncodeError) {
        if bytes.count > 65_535 { throw .invalid(.stringTooLong(length: bytes.count)) }
        if let failure = MQTTValidation.checkTopicName(bytes) { throw .invalid(failure.rule) }
        self.bytes = bytes
    }
}

// PUBLISH on its own, without the switches over packet kinds: `MQTTPacket.encode(into:)` comes
// here for `.publish` (on hosts), and the session calls it directly. Same checks, in the same
// order, and the same bytes as the generic path, which calls the same pieces.
extension MQTTPublish {
    /// Bytes the encoded PUBLISH takes; `MQTTPacket.publish(self).encodedSize()`.
    public func encodedSize() throws(MQTTEncodeError) -> Int {
        try sizes().total
    }

    /// Encodes this PUBLISH at the start of `buffer` and returns the number of bytes written;
    /// the same bytes and errors as `MQTTPacket.publish(self).encode(into:)`. Nothing is
    /// written when the packet breaks a rule or does not fit.
    #if !hasFeature(Embedded)
    // Inlined into `MQTTPacket.encode(into:)` on hosts: the fields are read straight from the
    // enum's payload instead of being copied out and passed to a call.
    @inline(__always)
    #endif
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int {
        let sizes = try sizes()
        guard sizes.total <= buffer.count, let base = buffer.baseAddress else {
            throw .bufferTooSmall(needed: sizes.total, available: buffer.count)
        }
        return write(to: base, remainingLength: sizes.remaining)
    }

    /// Encodes a PUBLISH to a topic validated beforehand (the topic is not checked again);
    /// otherwise the same bytes and errors as `encode(into:)` of
    /// `MQTTPublish(topic: topic.bytes, payload:qos:packetID:retain:dup:)`.
    public static func encode(
        topic: MQTTTopicName, payload: ByteView, qos: QoS = .atMostOnce, packetID: UInt16 = 0,
        retain: Bool = false, dup: Bool = false, into buffer: UnsafeMutableRawBufferPointer
    ) throws(MQTTEncodeError) -> Int {
        let publish = MQTTPublish(topic: topic.bytes, payload: payload, qos: qos, packetID: packetID, retain: retain, dup: dup)
        let sizes = try publish.sizes(topicChecked: true)
        guard sizes.total <= buffer.count, let base = buffer.baseAddress else {
            throw .bufferTooSmall(needed: sizes.total, available: buffer.count)
        }
        return publish.write(to: base, remainingLength: sizes.remaining)
    }

    /// The remaining length and the whole packet's length, after validation (of the topic
    /// too unless `topicChecked`).
    @inline(__always)
    func sizes(topicChecked: Bool = false) throws(MQTTEncodeError) -> (remaining: Int, total: Int) {
        let remaining = try remainingLength(topicChecked: topicChecked)
        #if hasFeature(Embedded)
        guard let lengthSize = MQTTFixedHeader.remainingLengthSize(remaining) else {
            throw .packetTooLarge(remainingLength: remaining)
        }
        #else
        // Three compares instead of a chain of range tests (hosts).
        if remaining > MQTTFixedHeader.maximumRemainingLength { throw .packetTooLarge(remainingLength: remaining) }
        let lengthSize = MQTTFixedHeader.remainingLengthSizeUnchecked(remaining)
        #endif
        return (remaining, 1 &+ lengthSize &+ remaining)
    }

    /// Validates the packet and returns the length of everything after the fixed header.
    @inline(__always)
    func remainingLength(topicChecked: Bool = false) throws(MQTTEncodeError) -> Int {
        if qos == .atMostOnce {
            if dup { throw .invalid(.dupWithQoS0) }
        } else if packetID == 0 {
            throw .invalid(.zeroPacketIdentifier)
        }
        if !topicChecked {
            if topic.count > 65_535 { throw .invalid(.stringTooLong(length: topic.count)) }
            if let failure = MQTTValidation.checkTopicNameInline(topic) { throw .invalid(failure.rule) }
        }
        // The topic is at most 65,535 bytes here (checked above, or by `MQTTTopicName`); the
        // payload's count is the caller's, so its addition stays checked.
        return (2 &+ topic.count &+ (qos == .atMostOnce ? 0 : 2)) + payload.count
    }

    #if hasFeature(Embedded)
    /// Writes the PUBLISH, already validated by `sizes()`, at `base` (which has room for it),
    /// a byte at a time (Embedded builds: flash).
    func write(to base: UnsafeMutableRawPointer, remainingLength: Int) -> Int {
        var writer = UncheckedWriter(base: base)
        writer.byte(firstByte)
        writer.remainingLength(remainingLength)
        writeBody(&writer)
        return writer.position
    }
    #else
    /// Writes the PUBLISH, already validated by `sizes()`, at `base` (which has room for it).
    ///
    /// Hosts: the fixed header and the topic's length go out as one 8-byte store, the topic
    /// (and a payload of up to 64 bytes) as a few overlapping 16-byte moves instead of a call
    /// to `memmove`, the packet id as one 2-byte store. Packets under 8 bytes (their header
    /// is 4 bytes) store the header's 4 bytes instead. Nothing is written past the packet's
    /// last byte.
    @inline(__always)
    func write(to base: UnsafeMutableRawPointer, remainingLength: Int) -> Int {
        let lengthSize = MQTTFixedHeader.remainingLengthSizeUnchecked(remainingLength)
        let total = 1 &+ lengthSize &+ remainingLength
        // Little-endian word: first byte, the remaining length's 7-bit digits (continuation
        // bits on all but the last), then the topic's length, big-endian.
        let r = UInt64(truncatingIfNeeded: remainingLength)
        var length = (r & 0x7F) | (r &<< 1 & 0x7F00) | (r &<< 2 & 0x7F_0000) | (r &<< 3 & 0x7F00_0000)
        let lengthBits = UInt64(truncatingIfNeeded: lengthSize &* 8)
        length |= 0x0080_8080 & ((1 &<< (lengthBits &- 8)) &- 1)
        let topicLength = UInt64(UInt16(truncatingIfNeeded: topic.count).bigEndian)
        let header = UInt64(firstByte) | length &<< 8 | topicLength &<< (lengthBits &+ 8)
        if total >= 8 {
            base.storeBytes(of: header.littleEndian, as: UInt64.self)
        } else {
            // A valid PUBLISH has a topic, so it takes at least 5 bytes, and under 8 its
            // remaining length is one byte: the header is the word's low 4 bytes.
            base.storeBytes(of: UInt32(truncatingIfNeeded: header).littleEndian, as: UInt32.self)
        }
        var position = 3 &+ lengthSize
        MQTTPublish.copyInline(topic, to: base + position)
        position &+= topic.count
        if qos != .atMostOnce {
            (base + position).storeBytes(of: packetID.bigEndian, as: UInt16.self)
            position &+= 2
        }
        MQTTPublish.copyInline(payload, to: base + position)
        return total
    }

    /// Copies `view` to `destination`: up to 64 bytes with overlapping loads and stores (no
    /// call), more with `memmove`.
    @inline(__always)
    static func copyInline(_ view: ByteView, to destination: UnsafeMutableRawPointer) {
        let count = view.count
        guard count > 0 else { return }
        let source = view.baseAddress.unsafelyUnwrapped
        if count > 64 {
            destination.copyMemory(from: source, byteCount: count)
        } else if count >= 16 {
            typealias V = SIMD16<UInt8>
            let first = source.loadUnaligned(as: V.self)
            let last = source.loadUnaligned(fromByteOffset: count &- 16, as: V.self)
            if count > 32 {
                let second = source.loadUnaligned(fromByteOffset: 16, as: V.self)
                let third = source.loadUnaligned(fromByteOffset: count &- 32, as: V.self)
                destination.storeBytes(of: second, toByteOffset: 16, as: V.self)
                destination.storeBytes(of: third, toByteOffset: count &- 32, as: V.self)
            }
            destination.storeBytes(of: first, as: V.self)
            destination.storeBytes(of: last, toByteOffset: count &- 16, as: V.self)
        } else if count >= 8 {
            let first = source.loadUnaligned(as: UInt64.self)
            let last = source.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
            destination.storeBytes(of: first, as: UInt64.self)
            destination.storeBytes(of: last, toByteOffset: count &- 8, as: UInt64.self)
        } else if count >= 4 {
            let first = source.loadUnaligned(as: UInt32.self)
            let last = source.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
            destination.storeBytes(of: first, as: UInt32.self)
            destination.storeBytes(of: last, toByteOffset: count &- 4, as: UInt32.self)
        } else {
            let first = source.load(as: UInt8.self)
            let middle = source.load(fromByteOffset: count &>> 1, as: UInt8.self)
            let last = source.load(fromByteOffset: count &- 1, as: UInt8.self)
            destination.storeBytes(of: first, as: UInt8.self)
            destination.storeBytes(of: middle, toByteOffset: count &>> 1, as: UInt8.self)
            destination.storeBytes(of: last, toByteOffset: count &- 1, as: UInt8.self)
        }
    }
    #endif


    @inline(__always)
    var firstByte: UInt8 {
        MQTTPacketType.publish.rawValue << 4 | (dup ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
    }

    @inline(__always)
    func writeBody(_ writer: inout UncheckedWriter) {
        writer.prefixed(topic)
        if qos != .atMostOnce { writer.uint16(packetID) }
        writer.bytes(payload)
    }
}
