@testable import DeviceCore
import Foundation
import Testing

/// SeededSplitMix64: a small seeded generator, so every "random" split is the same on every run.
struct SeededSplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Checks frames coming out of a reader against the packets expected, in order.
struct FrameChecker {
    let packets: [[UInt8]]
    /// Offset in the stream at which each packet ends.
    let ends: [Int]
    private(set) var next = 0

    init(_ packets: [[UInt8]]) {
        self.packets = packets
        var ends = [Int]()
        var total = 0
        for packet in packets {
            total += packet.count
            ends.append(total)
        }
        self.ends = ends
    }

    var done: Bool { next == packets.count }
    var streamLength: Int { ends.last ?? 0 }

    /// Takes every complete frame out of `reader`, given that `received` bytes of the stream
    /// have gone in, and checks each against the packet expected next.
    mutating func drain(_ reader: inout MQTTFrameReader, received: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        while let frame = try reader.nextFrame() {
            guard next < packets.count else {
                Issue.record("frame beyond the last packet", sourceLocation: sourceLocation)
                return
            }
            let expected = packets[next]
            #expect(received >= ends[next], "frame \(next) handed out before all its bytes were in", sourceLocation: sourceLocation)
            #expect(frame.bytes.count == expected.count, "frame \(next) length", sourceLocation: sourceLocation)
            let same = frame.bytes.count == expected.count
                && expected.withUnsafeBytes { memcmp($0.baseAddress!, frame.bytes.baseAddress!, expected.count) == 0 }
            #expect(same, "frame \(next) bytes", sourceLocation: sourceLocation)
            #expect(frame.header == (try parsedHeader(expected)), sourceLocation: sourceLocation)
            let fromStream = try frame.decode()
            try withDecoded(expected) { separately in
                let alone = try separately.get()
                #expect(fromStream == alone, "frame \(next) decodes as the packet does alone", sourceLocation: sourceLocation)
            }
            next += 1
        }
        // Whatever is still buffered is the start of the next packet, never a whole one.
        let start = next == 0 ? 0 : ends[next - 1]
        #expect(reader.bufferedCount == received - start, sourceLocation: sourceLocation)
        if next < packets.count {
            #expect(received < ends[next], "packet \(next) complete but not handed out", sourceLocation: sourceLocation)
        }
    }
}

/// The paho vectors that carry hex, as one stream.
func pahoStream() throws -> (packets: [[UInt8]], stream: [UInt8]) {
    let packets = try PahoVector.packetsWithHex().map { bytes(hex: $0.hex!) }
    return (packets, packets.flatMap { $0 })
}

@Suite("Frame reader")
struct FrameReaderTests {
    @Test func streamInventory() throws {
        let (packets, stream) = try pahoStream()
        #expect(packets.count == 52)
        #expect(stream.count == packets.reduce(0) { $0 + $1.count })
        #expect(packets.map(\.count).max() == 16_393)
    }

    @Test func oneByteAtATime() throws {
        let (packets, stream) = try pahoStream()
        var checker = FrameChecker(packets)
        // Storage exactly as big as the largest packet.
        let box = ReaderBox(capacity: packets.map(\.count).max()!)
        for (index, byte) in stream.enumerated() {
            let taken = [byte].withUnsafeBytes { box.reader.append($0) }
            #expect(taken == 1)
            try checker.drain(&box.reader, received: index + 1)
        }
        #expect(checker.done)
        #expect(box.reader.bufferedCount == 0)
    }

    @Test(arguments: [1 as UInt64, 2, 3, 0xDEAD_BEEF, 20_240_229])
    func randomSplits(seed: UInt64) throws {
        let (packets, stream) = try pahoStream()
        var rng = SeededSplitMix64(seed: seed)
        var checker = FrameChecker(packets)
        let largest = packets.map(\.count).max()!
        let box = ReaderBox(capacity: largest + Int.random(in: 0...64, using: &rng))
        var offset = 0
        var usedBothWays = (append: false, direct: false)
        while offset < stream.count {
            // Mostly small chunks, sometimes large ones.
            let limit = [1, 7, 100, 2_000, 40_000][Int.random(in: 0..<5, using: &rng)]
            let want = min(Int.random(in: 1...limit, using: &rng), stream.count - offset)
            let taken: Int
            if Bool.random(using: &rng) {
                usedBothWays.append = true
                taken = stream[offset..<(offset + want)].withUnsafeBytes { box.reader.append($0) }
                #expect(taken <= want)
            } else {
                usedBothWays.direct = true
                let space = box.reader.writableSpace()
                taken = min(want, space.count)
                stream[offset..<(offset + taken)].withUnsafeBytes { source in
                    if taken > 0 { space.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: taken) }
                }
                box.reader.didWrite(taken)
            }
            offset += taken
            try checker.drain(&box.reader, received: offset)
        }
        #expect(checker.done)
        #expect(usedBothWays == (true, true))
    }

    /// The whole stream offered at once to a buffer that holds only the largest packet: `append`
    /// takes what fits, frames come out, the rest goes in.
    @Test func allAtOnceThroughASmallBuffer() throws {
        let (packets, stream) = try pahoStream()
        var checker = FrameChecker(packets)
        let box = ReaderBox(capacity: packets.map(\.count).max()!)
        var offset = 0
        var partialAppends = 0
        var rounds = 0
        while offset < stream.count {
            rounds += 1
            let offered = stream.count - offset
            let taken = stream[offset...].withUnsafeBytes { box.reader.append($0) }
            #expect(taken > 0, "no progress")
            #expect(taken <= offered)
            if taken < offered { partialAppends += 1 }
            offset += taken
            try checker.drain(&box.reader, received: offset)
            if taken == 0 { break }
        }
        #expect(checker.done)
        #expect(partialAppends >= 5, "stream is ~7 buffers long, so most appends are partial")
        #expect(rounds == partialAppends + 1)
    }

    @Test func writableSpaceAndDidWrite() throws {
        let box = ReaderBox(capacity: 10)
        let base = box.storage.baseAddress!
        #expect(box.reader.maximumPacketSize == 10)

        var space = box.reader.writableSpace()
        #expect(space.count == 10)
        #expect(space.baseAddress == base)
        // A PUBACK and the first two bytes of a PINGRESP... and of a PUBREC.
        let first: [UInt8] = [0x40, 0x02, 0x12, 0x34, 0xD0, 0x00, 0x50, 0x02]
        first.withUnsafeBytes { space.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: first.count) }
        box.reader.didWrite(0)
        #expect(box.reader.bufferedCount == 0)
        #expect(try box.reader.nextFrame() == nil)
        box.reader.didWrite(first.count)
        #expect(box.reader.bufferedCount == 8)

        let puback = try #require(try box.reader.nextFrame())
        #expect(puback.bytes.baseAddress == UnsafeRawPointer(base), "frames are handed out in place")
        #expect(try puback.decode() == .puback(packetID: 0x1234))
        #expect(box.reader.bufferedCount == 4)
        let pingresp = try #require(try box.reader.nextFrame())
        #expect(pingresp.bytes.baseAddress == UnsafeRawPointer(base + 4))
        #expect(try pingresp.decode() == .pingresp)
        #expect(box.reader.bufferedCount == 2)
        #expect(try box.reader.nextFrame() == nil)

        // The partial PUBREC moves to the front; the rest of the buffer is free.
        space = box.reader.writableSpace()
        #expect(space.count == 8)
        #expect(space.baseAddress == base + 2)
        #expect(box.storage[0] == 0x50 && box.storage[1] == 0x02)
        space[0] = 0xAB
        space[1] = 0xCD
        box.reader.didWrite(2)
        let pubrec = try #require(try box.reader.nextFrame())
        #expect(pubrec.bytes.baseAddress == UnsafeRawPointer(base))
        #expect(try pubrec.decode() == .pubrec(packetID: 0xABCD))
        #expect(try box.reader.nextFrame() == nil)
        #expect(box.reader.bufferedCount == 0)
        // Everything handed out: the whole buffer is free again.
        #expect(box.reader.writableSpace().count == 10)

        // A packet exactly as big as the buffer, written in two goes.
        let subscribe = bytes(hex: "82 08 00 01 00 03 61 2f 62 01")
        #expect(subscribe.count == 10)
        #expect(subscribe[..<3].withUnsafeBytes { box.reader.append($0) } == 3)
        #expect(try box.reader.nextFrame() == nil)
        space = box.reader.writableSpace()
        #expect(space.count == 7)
        #expect(subscribe[3...].withUnsafeBytes { box.reader.append($0) } == 7)
        #expect(box.reader.writableSpace().count == 0)
        #expect(([0x00] as [UInt8]).withUnsafeBytes { box.reader.append($0) } == 0, "full buffer takes nothing")
        let frame = try #require(try box.reader.nextFrame())
        #expect(frame.bytes.array == subscribe)
        guard case .subscribe(let decoded) = try frame.decode() else { Issue.record("not a SUBSCRIBE"); return }
        #expect(decoded.packetID == 1)
        #expect(decoded.subscriptions.entries == [FilterEntry(filter: Array("a/b".utf8), qos: 1)])
    }

    /// A packet over `maximumPacketSize` is refused once its length is known, before its body arrives.
    @Test(arguments: [
        // (header bytes, size of the whole packet, maximum)
        ("30 62", 100, 99),
        ("30 80 01", 131, 130),
        ("30 ff ff 7f", 2_097_155, 1_000),
        ("82 80 80 80 01", 2_097_157, 64),
        ("c0 01", 3, 2),
    ] as [(String, Int, Int)])
    func packetTooLarge(header: String, size: Int, limit: Int) throws {
        let head = bytes(hex: header)
        let box = ReaderBox(capacity: max(limit, 64), maximumPacketSize: limit)
        #expect(box.reader.maximumPacketSize == limit)
        for (index, byte) in head.enumerated() {
            #expect([byte].withUnsafeBytes { box.reader.append($0) } == 1)
            if index + 1 < head.count {
                #expect(try box.reader.nextFrame() == nil, "header not complete after \(index + 1) bytes")
            } else {
                #expect(throws: MQTTDecodeError(.packetTooLarge(size: size), at: 1)) { try box.reader.nextFrame() }
            }
        }
    }

    /// A packet exactly `maximumPacketSize` big is accepted.
    @Test func packetAtTheLimit() throws {
        let box = ReaderBox(capacity: 128, maximumPacketSize: 100)
        // PUBLISH QoS 0 "t" with 95 payload bytes: 2 + 3 + 95 = 100.
        let packet = [0x30, 98, 0x00, 0x01, 0x74] + [UInt8](repeating: 0x5A, count: 95)
        #expect(packet.count == 100)
        #expect(packet.withUnsafeBytes { box.reader.append($0) } == 100)
        let frame = try #require(try box.reader.nextFrame())
        #expect(frame.bytes.count == 100)
        guard case .publish(let publish) = try frame.decode() else { Issue.record("not a PUBLISH"); return }
        #expect(publish.payload.array == [UInt8](repeating: 0x5A, count: 95))
    }

    /// A continuation bit on the fourth length byte is an error as soon as that byte is in.
    @Test func fifthLengthByteRefusedEarly() throws {
        let box = ReaderBox(capacity: 64)
        for byte: UInt8 in [0x30, 0xFF, 0xFF, 0xFF] {
            #expect([byte].withUnsafeBytes { box.reader.append($0) } == 1)
            #expect(try box.reader.nextFrame() == nil)
        }
        #expect(([0xFF] as [UInt8]).withUnsafeBytes { box.reader.append($0) } == 1)
        #expect(throws: MQTTDecodeError(.malformedRemainingLength, at: 4)) { try box.reader.nextFrame() }

        // After reset the reader works again.
        box.reader.reset()
        #expect(box.reader.bufferedCount == 0)
        #expect(([0xC0, 0x00] as [UInt8]).withUnsafeBytes { box.reader.append($0) } == 2)
        let frame = try #require(try box.reader.nextFrame())
        #expect(try frame.decode() == .pingreq)
    }

    /// A frame's bytes, and the views of the packet decoded from it, stay as they are while the
    /// frames after it are still buffered, and are handed out in place (no copy).
    @Test func frameBytesValidUntilNextFrame() throws {
        let a = bytes(hex: "30 08 00 03 61 2f 62 41 42 43")   // PUBLISH a/b "ABC"
        let b = bytes(hex: "32 07 00 01 78 00 05 44 45")      // PUBLISH x id 5 "DE"
        let c = bytes(hex: "40 02 00 09")
        let box = ReaderBox(capacity: 64)
        let all = a + b + c
        #expect(all.withUnsafeBytes { box.reader.append($0) } == all.count)

        let frameA = try #require(try box.reader.nextFrame())
        #expect(frameA.bytes.baseAddress == UnsafeRawPointer(box.storage.baseAddress!))
        guard case .publish(let pa) = try frameA.decode() else { Issue.record("not a PUBLISH"); return }
        #expect(box.reader.bufferedCount == b.count + c.count)
        #expect(frameA.bytes.array == a)
        #expect(pa.topic.string == "a/b")
        #expect(pa.payload.string == "ABC")

        let frameB = try #require(try box.reader.nextFrame())
        #expect(frameB.bytes.baseAddress == UnsafeRawPointer(box.storage.baseAddress! + a.count))
        guard case .publish(let pb) = try frameB.decode() else { Issue.record("not a PUBLISH"); return }
        #expect(frameB.bytes.array == b)
        #expect(pb.topic.string == "x")
        #expect(pb.packetID == 5)
        #expect(pb.payload.string == "DE")

        let frameC = try #require(try box.reader.nextFrame())
        #expect(try frameC.decode() == .puback(packetID: 9))
        #expect(try box.reader.nextFrame() == nil)
    }

    /// `MQTTFrame.bytes` stays valid until the reader is next asked for a frame, even when the
    /// transport appends in between.
    @Test func frameBytesSurviveAppendBeforeNextFrame() throws {
        let a = bytes(hex: "40 02 00 01")
        let box = ReaderBox(capacity: 16)
        #expect(a.withUnsafeBytes { box.reader.append($0) } == 4)
        let frame = try #require(try box.reader.nextFrame())
        #expect(frame.bytes.array == a)
        #expect(([0xC0, 0x00] as [UInt8]).withUnsafeBytes { box.reader.append($0) } == 2)
        #expect(frame.bytes.array == a)
        let next = try #require(try box.reader.nextFrame())
        #expect(try next.decode() == .pingreq)
    }
}

/// `MQTTFrame.decodeFromServer()`: what a client's session decodes through. It must agree with
/// `decode()` on every packet a server may send, and give `nil` for the types only clients send
/// whatever their body holds.
@Suite("Frame decoding as a client")
struct DecodeFromServerTests {
    /// Each packet alone through a reader.
    static func frame(_ packet: [UInt8], _ body: (MQTTFrame) throws -> Void) throws {
        let box = ReaderBox(capacity: max(packet.count, 8))
        packet.withUnsafeBytes { box.storage.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: packet.count) }
        box.reader.didWrite(packet.count)
        try body(try #require(try box.reader.nextFrame()))
    }

    @Test(arguments: [
        // Valid and malformed packets of every type a server sends.
        "20020000", "20020105", "20020100", "20020006", "20020200",
        "300700036162630102", "320700036162630001", "320700036162630000", "30040002612b",
        "40020001", "40020000", "50020001", "62020001", "70020001", "b0020001",
        "9003000100", "90030001ff", "900400010080", "d000",
    ])
    func serverPacketsDecodeAsDecodeDoes(packetHex: String) throws {
        try Self.frame(bytes(hex: packetHex)) { frame in
            var general: Result<MQTTPacket, MQTTDecodeError>
            do throws(MQTTDecodeError) { general = .success(try frame.decode()) } catch { general = .failure(error) }
            var fromServer: Result<MQTTPacket?, MQTTDecodeError>
            do throws(MQTTDecodeError) { fromServer = .success(try frame.decodeFromServer().map(MQTTPacket.init)) } catch { fromServer = .failure(error) }
            switch (general, fromServer) {
            case (.success(let a), .success(let b)): #expect(b == a)
            case (.failure(let a), .failure(let b)): #expect(b == a)
            default: Issue.record("decode() gave \(general), decodeFromServer() \(fromServer)")
            }
        }
    }

    @Test(arguments: [
        // CONNECT (valid, then with a bad protocol name), SUBSCRIBE (valid, then without
        // filters), UNSUBSCRIBE (valid, then empty), PINGREQ, DISCONNECT.
        "100c00044d5154540402003c0000", "100c00044d5154580402003c0000",
        "8206000100017801", "82020001", "a20500010001" + "78", "a2020001", "c000", "e000",
    ])
    func clientOnlyTypesAreNilWhateverTheBody(packetHex: String) throws {
        try Self.frame(bytes(hex: packetHex)) { frame in
            let decoded = try frame.decodeFromServer()
            #expect(decoded == nil)
        }
    }
}
