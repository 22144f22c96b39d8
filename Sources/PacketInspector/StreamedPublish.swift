import DeviceCore

/// A PUBLISH too large to hold, read as its bytes arrive: its head (fixed header, topic, packet
/// id) is collected and checked by the codec as a PUBLISH of its own with an empty payload,
/// then the payload is handed to the sink piece by piece, never held.
struct StreamedPublish {
    /// Where the packet starts in the input, and its 1-based index there.
    let start: Int
    let index: Int
    /// The whole packet's length, as its fixed header announces.
    let length: Int
    /// Bytes of the packet read so far.
    private(set) var received = 0
    /// Whether the head has been checked and handed to the sink.
    private(set) var started = false
    /// The head, until it is complete.
    private var head: [UInt8] = []

    init(start: Int, index: Int, length: Int) {
        self.start = start
        self.index = index
        self.length = length
    }

    var isComplete: Bool { received == length }

    /// Reads the packet's next bytes from the start of `bytes` and returns how many it took;
    /// the rest belong to the next packet.
    mutating func feed<Sink: DecodedPacketSink>(_ bytes: UnsafeRawBufferPointer, to sink: inout Sink) throws(InspectorError) -> Int {
        let taken = min(bytes.count, length - received)
        var rest = UnsafeRawBufferPointer(rebasing: bytes[..<taken])
        received += taken
        while !started {
            let wanted = headLength
            if head.count == wanted {
                try checkHead(&sink)
                started = true
                head = []
                break
            }
            if rest.isEmpty { break }
            let count = min(rest.count, wanted - head.count)
            head += rest[..<count]
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
        }
        if started && !rest.isEmpty { sink.publishPayload(rest) }
        return taken
    }

    /// The head's length as far as the bytes so far tell (one more byte while the fixed header
    /// is open), never more than the packet.
    private var headLength: Int {
        guard let (header, _) = RemainingLength.lengths(of: head) else { return min(head.count + 1, length) }
        guard head.count >= header + 2 else { return min(header + 2, length) }
        let topicLength = Int(head[header]) << 8 | Int(head[header + 1])
        let qos = head[0] >> 1 & 0x03
        return min(header + 2 + topicLength + (qos == 0 ? 0 : 2), length)
    }

    /// Has the codec decode the head as a PUBLISH with an empty payload (the same checks, in
    /// the same order, as for the whole packet), and hands it to the sink.
    private func checkHead<Sink: DecodedPacketSink>(_ sink: inout Sink) throws(InspectorError) {
        let header = RemainingLength.lengths(of: head).unsafelyUnwrapped.header
        let alone = [head[0]] + RemainingLength.encoded(head.count - header) + head[header...]
        // Offsets in `alone` are this much short of the packet's (its length field is shorter).
        let shift = head.count - alone.count
        let payloadLength = length - head.count
        let failure = alone.withUnsafeBytes { raw -> MQTTDecodeError? in
            do throws(MQTTDecodeError) {
                guard case .publish(let publish) = try MQTTPacket.decode(ByteView(raw)) else {
                    preconditionFailure("a PUBLISH decoded as another type")
                }
                sink.publishStart(publish, payloadLength: payloadLength)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw PacketInspector.decodeError(failure, start: start + shift, index: index) }
    }
}
