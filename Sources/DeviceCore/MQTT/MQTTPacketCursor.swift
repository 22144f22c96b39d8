/// Reads fields off a packet, front to back, reporting errors at packet offsets. Each read
/// checks what is left first, then loads without a second bounds check.
struct PacketCursor {
    let packet: ByteView
    var position: Int

    init(packet: ByteView, position: Int) {
        self.packet = packet
        self.position = position
    }

    /// A cursor after the fixed header of `frame`.
    init(_ frame: MQTTFrame) {
        self.init(packet: frame.bytes, position: frame.headerLength)
    }

    var remaining: Int { packet.count &- position }

    /// The bytes not read yet.
    var rest: ByteView { ByteView(baseAddress: packet.baseAddress.map { $0 + position }, count: remaining) }

    mutating func byte() throws(MQTTDecodeError) -> UInt8 {
        guard position < packet.count else { throw MQTTDecodeError(.truncatedField, at: position) }
        defer { position &+= 1 }
        return packet.start.load(fromByteOffset: position, as: UInt8.self)
    }

    mutating func uint16() throws(MQTTDecodeError) -> UInt16 {
        guard remaining >= 2 else { throw MQTTDecodeError(.truncatedField, at: position) }
        defer { position &+= 2 }
        return UInt16(bigEndian: packet.start.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    mutating func packetID() throws(MQTTDecodeError) -> UInt16 {
        let id = try uint16()
        if id == 0 { throw MQTTDecodeError(.zeroPacketIdentifier, at: position &- 2) }
        return id
    }

    /// A length-prefixed byte field (§1.5.3 framing without the UTF-8 check).
    mutating func binary() throws(MQTTDecodeError) -> ByteView {
        let at = position
        let length = Int(try uint16())
        guard remaining >= length else { throw MQTTDecodeError(.truncatedField, at: at) }
        defer { position &+= length }
        return ByteView(baseAddress: packet.start + position, count: length)
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

    /// Turns a validation failure inside `field` (read last) into a packet-offset error.
    @inline(__always)
    func check(_ failure: (rule: MQTTRule, index: Int)?, in field: ByteView) throws(MQTTDecodeError) {
        guard let failure else { return }
        throw MQTTDecodeError(failure.rule, at: position &- field.count &+ failure.index)
    }

    /// Fails if any bytes are left unread.
    func expectEnd() throws(MQTTDecodeError) {
        if remaining != 0 { throw MQTTDecodeError(.trailingBytes(count: remaining), at: position) }
    }

    /// Fails unless the remaining length of `frame` is `expected` (fixed-size packets).
    static func requireLength(_ expected: Int, _ frame: MQTTFrame) throws(MQTTDecodeError) {
        let remainingLength = frame.bytes.count &- frame.headerLength
        if remainingLength != expected {
            throw MQTTDecodeError(.remainingLengthMismatch(expected: expected), at: 1)
        }
    }
}
