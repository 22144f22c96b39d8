import DeviceCore

/// Cuts bytes, fed in pieces of any size, into MQTT packets with the codec's `MQTTFrameReader`,
/// decodes each with the codec and hands it to `sink`, in order.
///
/// One packet is held at a time, in a buffer that grows to the packet's size up to
/// `heldPacketSize`. A larger PUBLISH is streamed (`StreamedPublish`); any other larger packet
/// is an error. Errors name the byte offset in the whole input, the 1-based packet index and
/// the rule broken; bytes fed after an error are not meaningful.
final class PacketStreamDecoder<Sink: DecodedPacketSink> {
    var sink: Sink
    let heldPacketSize: Int
    private var storage: UnsafeMutableRawBufferPointer
    private var reader: MQTTFrameReader
    private var publish: StreamedPublish?
    /// Where the packet being read starts in the input, and its 1-based index.
    private var packetStart = 0
    private var packetIndex = 1

    init(sink: Sink, heldPacketSize: Int = InspectorLimits.heldPacketSize) {
        precondition(heldPacketSize >= 5, "a held packet must have room for a fixed header")
        self.sink = sink
        self.heldPacketSize = heldPacketSize
        storage = .allocate(byteCount: min(4_096, heldPacketSize), alignment: 1)
        reader = MQTTFrameReader(storage: storage)
    }

    deinit { storage.deallocate() }

    /// Reads the next bytes of the input.
    func feed(_ bytes: UnsafeRawBufferPointer) throws(InspectorError) {
        var rest = bytes
        while !rest.isEmpty {
            if publish != nil {
                let taken = try publish!.feed(rest, to: &sink)
                rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
                if publish!.isComplete {
                    sink.publishEnd()
                    next(after: publish!.length)
                    publish = nil
                }
                continue
            }
            let taken = reader.append(rest)
            rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
            try readFrames()
        }
    }

    /// Ends the input: a packet cut off is an error.
    func finish() throws(InspectorError) {
        if let publish {
            if publish.started { sink.publishCutOff() }
            throw PacketInspector.incomplete(start: packetStart, index: packetIndex, announced: publish.length, present: publish.received)
        }
        guard reader.bufferedCount > 0 else { return }
        let held = heldBytes()
        throw PacketInspector.incomplete(
            start: packetStart, index: packetIndex, announced: RemainingLength.lengths(of: held)?.packet, present: held.count)
    }

    /// Decodes the complete packets the reader holds.
    private func readFrames() throws(InspectorError) {
        while publish == nil {
            let frame: MQTTFrame?
            do {
                frame = try reader.nextFrame()
            } catch {
                guard case .packetTooLarge(let size) = error.rule else {
                    throw PacketInspector.decodeError(error, start: packetStart, index: packetIndex)
                }
                try outgrow(size)
                continue
            }
            guard let frame else { return }
            let packet: MQTTPacket
            do {
                packet = try frame.decode()
            } catch {
                throw PacketInspector.decodeError(error, start: packetStart, index: packetIndex, packet: Array(frame.bytes.buffer))
            }
            sink.packet(packet)
            next(after: frame.bytes.count)
        }
    }

    /// The packet being read announces `size` bytes, more than the buffer: a larger buffer, up
    /// to `heldPacketSize`; beyond it, streaming for a PUBLISH and an error for the rest.
    private func outgrow(_ size: Int) throws(InspectorError) {
        let held = heldBytes()
        if size <= heldPacketSize {
            let larger = UnsafeMutableRawBufferPointer.allocate(
                byteCount: min(heldPacketSize, max(size, storage.count * 2)), alignment: 1)
            var grown = MQTTFrameReader(storage: larger)
            precondition(grown.append(held) == held.count)
            storage.deallocate()
            storage = larger
            reader = grown
            return
        }
        guard held[0] >> 4 == MQTTPacketType.publish.rawValue else {
            throw InspectorError(
                "byte \(packetStart + 1) (packet \(packetIndex)): packet of \(size) bytes is more than the inspector holds: "
                    + "it decodes packets other than PUBLISH whole, up to \(heldPacketSize) bytes")
        }
        var streamed = StreamedPublish(start: packetStart, index: packetIndex, length: size)
        _ = try streamed.feed(held, to: &sink)
        publish = streamed
        reader.reset()
    }

    /// The bytes the reader holds and has not handed out (all of the packet being read): they
    /// end where its free space begins.
    private func heldBytes() -> UnsafeRawBufferPointer {
        let space = reader.writableSpace()
        let end = space.baseAddress.map { UnsafeRawPointer(storage.baseAddress.unsafelyUnwrapped).distance(to: UnsafeRawPointer($0)) } ?? storage.count
        return UnsafeRawBufferPointer(rebasing: storage[(end - reader.bufferedCount)..<end])
    }

    private func next(after length: Int) {
        packetStart += length
        packetIndex += 1
    }
}
