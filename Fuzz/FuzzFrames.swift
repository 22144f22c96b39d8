// Target `frames`: MQTTFrameReader fed the input in arbitrary chunks; every frame decoded.
//
// Input: byte 0 picks the storage size, byte 1 the maximum packet size, bytes 2-3 seed the
// chunking; the rest is the stream.

private let storageSizes = [2, 3, 4, 5, 6, 8, 16, 32, 64, 127, 128, 131, 256, 1024, 4096, 8192]

func fuzzFrameReader(_ data: ByteView) {
    var input = FuzzInput(data)
    let storageSize = storageSizes[Int(input.byte()) % storageSizes.count]
    let limitByte = input.byte()
    let maximum = limitByte & 0x80 != 0 ? storageSize : 2 + Int(limitByte) % (storageSize - 1)
    var rng = SplitMix64(seed: UInt64(input.uint16()))
    let stream = input.rest

    let storage = FuzzBuffer(count: storageSize)
    var reader = MQTTFrameReader(storage: storage.raw, maximumPacketSize: maximum)
    var fed = 0        // stream bytes handed to the reader
    var framed = 0     // stream offset where the next frame must start

    while fed < stream.count {
        // One chunk: 1 to 64 bytes, sometimes a large one.
        let roll = rng.next()
        var chunk = Int(roll % 64) + 1
        if roll & 0x3F00 == 0 { chunk = stream.count - fed }
        chunk = min(chunk, stream.count - fed)
        let offered = stream.slice(from: fed, count: chunk)
        let taken: Int
        if roll & 0x10000 != 0 {
            taken = reader.append(offered.buffer)
        } else {
            let space = reader.writableSpace()
            taken = min(space.count, chunk)
            if taken > 0 { offered.slice(from: 0, count: taken).copyBytes(to: space.baseAddress!) }
            reader.didWrite(taken)
        }
        fed += taken
        fuzzCheck(reader.bufferedCount == fed - framed, "bufferedCount \(reader.bufferedCount), expected \(fed - framed)")

        // Drain every complete frame.
        var frames = 0
        while true {
            let frame: MQTTFrame?
            do throws(MQTTDecodeError) {
                frame = try reader.nextFrame()
            } catch {
                // The stream is unusable: start over with the bytes that come next.
                _ = error
                reader.reset()
                framed = fed
                break
            }
            guard let frame else { break }
            frames += 1
            let length = frame.bytes.count
            fuzzCheck(length == frame.header.packetLength, "frame length \(length) != header's \(frame.header.packetLength)")
            fuzzCheck(length <= maximum, "frame of \(length) bytes over the maximum \(maximum)")
            fuzzCheck(framed + length <= fed, "frame runs past the bytes received")
            fuzzCheck(frame.bytes == stream.slice(from: framed, count: length), "frame bytes differ from the stream at \(framed)")
            framed += length
            // The frame's decode and the whole-buffer decode agree.
            let viaFrame: Result<MQTTPacket, MQTTDecodeError> = Result { () throws(MQTTDecodeError) in try frame.decode() }
            let whole: Result<MQTTPacket, MQTTDecodeError> = Result { () throws(MQTTDecodeError) in try MQTTPacket.decode(frame.bytes) }
            switch (viaFrame, whole) {
            case (.success(let a), .success(let b)):
                fuzzCheck(a == b, "frame and whole-buffer decodes differ")
                _ = touchViews(a)
                checkReencodes(a, frame.bytes)
            case (.failure(let a), .failure(let b)):
                fuzzCheck(a == b, "frame and whole-buffer decode errors differ: \(a) vs \(b)")
            default:
                finding("frame and whole-buffer decodes disagree on success [\(hexString(frame.bytes))]")
            }
        }
        if taken == 0 && frames == 0 && reader.bufferedCount > 0 {
            // Full of a packet's start, no frame and no error: the reader can never move on.
            if isKnown("reader-stuck") {
                reader.reset()
                framed = fed
            } else {
                finding("reader stuck: \(reader.bufferedCount) bytes buffered, no room, no frame, no error (storage \(storageSize), maximum \(maximum)) [\(hexString(stream.slice(from: framed, count: fed - framed)))]")
            }
        }
    }
}
