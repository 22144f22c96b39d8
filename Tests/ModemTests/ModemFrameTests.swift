import DeviceCore
import Testing

/// What a reader produced, as a comparable value.
enum ReaderOutput: Equatable {
    case frame(kind: UInt8, sequence: UInt8, payload: [UInt8])
    case error(ModemFrameError)
}

/// A `ModemFrameReader` over its own buffer of `capacity` bytes.
final class ReaderHarness {
    let buffer: UnsafeMutableRawBufferPointer
    var reader: ModemFrameReader

    init(capacity: Int) {
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        reader = ModemFrameReader(buffer: buffer)
    }

    deinit { buffer.deallocate() }

    /// Writes as many of `bytes` as fit into the free space; returns how many.
    @discardableResult
    func feed(_ bytes: [UInt8]) -> Int {
        let space = reader.freeSpace()
        let count = min(space.count, bytes.count)
        for i in 0..<count { space[i] = bytes[i] }
        reader.didWrite(count)
        return count
    }

    /// Everything `nextFrame` yields until it returns nil.
    func drain() -> [ReaderOutput] {
        var out: [ReaderOutput] = []
        while true {
            do throws(ModemFrameError) {
                guard let frame = try reader.nextFrame() else { return out }
                out.append(.frame(kind: frame.kind, sequence: frame.sequence, payload: Array(frame.payload.buffer)))
            } catch {
                out.append(.error(error))
            }
        }
    }
}

/// Frame A: RECEIVED, sequence 7, payload 01 02 03 (computed with an independent CRC).
let frameA: [UInt8] = [0xA5, 0x84, 0x07, 0x00, 0x03, 0x01, 0x02, 0x03, 0xA9, 0x5D]
/// Frame B: TIME reply, sequence 9, empty payload.
let frameB: [UInt8] = [0xA5, 0x86, 0x09, 0x00, 0x00, 0xE0, 0xF0]
let outputA = ReaderOutput.frame(kind: 0x84, sequence: 7, payload: [1, 2, 3])
let outputB = ReaderOutput.frame(kind: 0x86, sequence: 9, payload: [])

@Suite("Modem frame codec")
struct ModemFrameTests {
    @Test("CRC-16/CCITT-FALSE check value: \"123456789\" gives 0x29B1; empty input leaves 0xFFFF")
    func crcCheckValue() {
        var crc = ModemCRC16()
        #expect(crc.value == 0xFFFF)
        Array("123456789".utf8).withUnsafeBytes { crc.update(ByteView($0)) }
        #expect(crc.value == 0x29B1)
        var byteWise = ModemCRC16()
        for byte in "123456789".utf8 { byteWise.update(byte) }
        #expect(byteWise.value == 0x29B1)
        #expect(referenceCRC(Array("123456789".utf8)) == 0x29B1)
    }

    @Test("The vectors of these tests agree with the reference encoder")
    func vectorsAreSelfConsistent() {
        #expect(frameBytes(0x84, 7, [1, 2, 3]) == frameA)
        #expect(frameBytes(0x86, 9) == frameB)
    }

    @Test("Header layout: sync, kind, sequence, length big-endian")
    func header() {
        let h = ModemFrame.header(kind: 0x03, sequence: 0xFE, payloadLength: 0x1234)
        #expect([h.0, h.1, h.2, h.3, h.4] == [0xA5, 0x03, 0xFE, 0x12, 0x34])
        #expect(ModemFrame.overhead == 7)
    }

    @Test("A frame split at every byte boundary is found once, and only when complete")
    func splitAtEveryBoundary() {
        for split in 0...frameA.count {
            let harness = ReaderHarness(capacity: 64)
            harness.feed(Array(frameA[..<split]))
            #expect(harness.drain() == (split == frameA.count ? [outputA] : []), "split at \(split)")
            harness.feed(Array(frameA[split...]))
            #expect(harness.drain() == (split == frameA.count ? [] : [outputA]), "split at \(split)")
            #expect(harness.reader.skippedBytes == 0)
            #expect(harness.reader.bufferedCount == 0)
        }
        // And one byte at a time.
        let harness = ReaderHarness(capacity: 64)
        var outputs: [ReaderOutput] = []
        for byte in frameA + frameB {
            harness.feed([byte])
            outputs += harness.drain()
        }
        #expect(outputs == [outputA, outputB])
    }

    @Test("Two frames in one chunk come out in order")
    func twoFramesInOneChunk() {
        let harness = ReaderHarness(capacity: 64)
        #expect(harness.feed(frameA + frameB) == 17)
        #expect(harness.drain() == [outputA, outputB])
        #expect(harness.reader.skippedBytes == 0)
    }

    @Test("Noise before a frame is skipped and counted")
    func noiseBeforeFrame() {
        let harness = ReaderHarness(capacity: 64)
        harness.feed([0x00, 0x13, 0x37, 0xFF])
        #expect(harness.drain() == [])
        #expect(harness.reader.skippedBytes == 4)
        #expect(harness.reader.bufferedCount == 0)
        harness.feed([0x5A, 0x5A] + frameA)
        #expect(harness.drain() == [outputA])
        #expect(harness.reader.skippedBytes == 6)
    }

    @Test("A false sync byte in the noise costs a .bufferTooSmall error, then the frame is found")
    func falseSyncInNoise() {
        let harness = ReaderHarness(capacity: 64)
        // 0xA5 0x00 then frame A: the false header announces length 0x8407 > 57 → bufferTooSmall.
        harness.feed([0xA5, 0x00] + frameA)
        #expect(harness.drain() == [.error(.bufferTooSmall(BufferTooSmall(needed: 0x8407, capacity: 57))), outputA])
        #expect(harness.reader.skippedBytes == 2)
    }

    @Test("A bad CRC throws .badChecksum with both values, then the next good frame comes out")
    func badChecksumThenGoodFrame() {
        var damaged = frameA
        damaged[9] ^= 0x01  // 0x5D → 0x5C
        let harness = ReaderHarness(capacity: 64)
        harness.feed(damaged + frameB)
        #expect(harness.drain() == [.error(.badChecksum(expected: 0xA95D, received: 0xA95C)), outputB])
        // The whole damaged frame (no 0xA5 inside it) was skipped.
        #expect(harness.reader.skippedBytes == 10)

        // A flipped payload bit: the received CRC is the original, the computed one differs.
        var flipped = frameA
        flipped[6] ^= 0x80
        let second = ReaderHarness(capacity: 64)
        second.feed(flipped + frameA)
        let expected = referenceCRC(Array(flipped[1..<8]))
        #expect(second.drain() == [.error(.badChecksum(expected: expected, received: 0xA95D)), outputA])
    }

    @Test("A length over the capacity throws .bufferTooSmall, then the reader resyncs on the next frame")
    func bufferTooSmallThenResync() {
        // 16 bytes of buffer: payloads up to 9.
        let harness = ReaderHarness(capacity: 16)
        #expect(harness.reader.maximumPayload == 9)
        harness.feed([0xA5, 0x03, 0x07, 0x00, 0x40, 0x11, 0x22, 0x33])
        #expect(harness.drain() == [.error(.bufferTooSmall(BufferTooSmall(needed: 64, capacity: 9)))])
        #expect(harness.reader.skippedBytes == 8)
        harness.feed(frameA)
        #expect(harness.drain() == [outputA])

        // The largest payload that fits still passes.
        let full = frameBytes(0x84, 1, [0, 1, 2, 3, 4, 5, 6, 7, 8])
        #expect(full.count == 16)
        let exact = ReaderHarness(capacity: 16)
        #expect(exact.feed(full) == 16)
        #expect(exact.reader.freeSpace().count == 0)
        #expect(exact.drain() == [.frame(kind: 0x84, sequence: 1, payload: [0, 1, 2, 3, 4, 5, 6, 7, 8])])
        #expect(exact.reader.freeSpace().count == 16)
    }

    @Test("freeSpace moves a partial frame to the front of a full buffer")
    func freeSpaceCompaction() {
        let harness = ReaderHarness(capacity: 16)
        let second = frameBytes(0x85, 2, [0xEE, 0xDD])  // 9 bytes
        // Frame A (10 bytes) and the first 6 bytes of the second fill the buffer exactly.
        #expect(harness.feed(frameA + second[..<6]) == 16)
        #expect(harness.drain() == [outputA])
        #expect(harness.reader.bufferedCount == 6)
        let space = harness.reader.freeSpace()
        #expect(space.count == 10)
        #expect(space.baseAddress == harness.buffer.baseAddress! + 6)
        #expect(Array(harness.buffer[0..<6]) == Array(second[..<6]))
        harness.feed(Array(second[6...]))
        #expect(harness.drain() == [.frame(kind: 0x85, sequence: 2, payload: [0xEE, 0xDD])])
        #expect(harness.reader.bufferedCount == 0)
        #expect(harness.reader.freeSpace().count == 16)
    }

    @Test("reset drops buffered bytes")
    func reset() {
        let harness = ReaderHarness(capacity: 32)
        harness.feed(Array(frameA[..<5]))
        #expect(harness.drain() == [])
        #expect(harness.reader.bufferedCount == 5)
        harness.reader.reset()
        #expect(harness.reader.bufferedCount == 0)
        harness.feed(frameB)
        #expect(harness.drain() == [outputB])
    }
}
