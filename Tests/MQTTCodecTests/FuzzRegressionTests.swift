@testable import DeviceCore
import Testing

/// Inputs found by the libFuzzer targets in `Fuzz/` (see docs/fuzzing.md), each with the
/// behaviour it must have. The hex is the reproducer as the target saw it, less the target's
/// leading control bytes where it has them.
@Suite("Fuzz regressions: MQTT codec")
struct FuzzRegressionTests {
    /// `decode` / `frames` target: a remaining length written with more bytes than it needs
    /// (`80 00` for 0) decoded, and the packet re-encoded to different bytes (`c0 00`). The
    /// minimal encoding is the only one that round-trips, so the longer one is malformed, at the
    /// zero byte that ends it.
    @Test(arguments: [
        ("c0 80 00", 2),                    // PINGREQ, remaining length 0 in two bytes
        ("e0 80 80 00", 3),                 // DISCONNECT, 0 in three bytes
        ("40 82 00 00 01", 2),              // PUBACK, 2 in two bytes
        ("30 83 80 00 00 01 74", 3),        // PUBLISH "t", 3 in three bytes
        ("d0 80 80 80 00", 4),              // PINGRESP, 0 in four bytes
    ] as [(String, Int)])
    func nonMinimalRemainingLength(hex: String, zeroAt: Int) throws {
        let packet = bytes(hex: hex)
        withDecoded(packet) { result in
            #expect(throws: MQTTDecodeError(.malformedRemainingLength, at: zeroAt)) { try result.get() }
        }
        // The frame reader says so as soon as the zero byte is in.
        let box = ReaderBox(capacity: 64)
        for (index, byte) in packet.enumerated() {
            #expect([byte].withUnsafeBytes { box.reader.append($0) } == 1)
            if index < zeroAt {
                #expect(try box.reader.nextFrame() == nil)
            } else {
                #expect(throws: MQTTDecodeError(.malformedRemainingLength, at: zeroAt)) { try box.reader.nextFrame() }
                break
            }
        }
    }

    /// The minimal forms of the same lengths still decode and round-trip.
    @Test(arguments: ["c0 00", "e0 00", "40 02 00 01", "30 03 00 01 74", "30 80 01 00 01 74" + String(repeating: " 41", count: 125)])
    func minimalRemainingLength(hex: String) throws {
        let packet = bytes(hex: hex)
        try withDecoded(packet) { result throws in
            #expect(try encoded(try result.get()) == packet)
        }
    }

    /// `frames` target: a reader whose storage (2 bytes) cannot hold the fixed header that is
    /// arriving (`50 ff`, a length of at least 128 to come) buffered both bytes, had no room for
    /// more, and returned `nil` for ever: the connection hung. A header still open when the
    /// buffered bytes reach the limit belongs to a packet over it: refused as too large, its size
    /// reported as the least it can be (the bytes in, plus one).
    @Test func readerFullOfAnIncompleteHeader() throws {
        let box = ReaderBox(capacity: 2, maximumPacketSize: 2)
        #expect(([0x50, 0xFF, 0x7F] as [UInt8]).withUnsafeBytes { box.reader.append($0) } == 2)
        #expect(throws: MQTTDecodeError(.packetTooLarge(size: 3), at: 1)) { try box.reader.nextFrame() }
    }

    /// Same with 4 bytes of storage and a header still open after three length bytes.
    @Test func readerFullOfAnIncompleteHeaderFourBytes() throws {
        let box = ReaderBox(capacity: 4)
        #expect(([0x30, 0x80, 0x80, 0x80, 0x01] as [UInt8]).withUnsafeBytes { box.reader.append($0) } == 4)
        #expect(throws: MQTTDecodeError(.packetTooLarge(size: 5), at: 1)) { try box.reader.nextFrame() }
    }

    /// `decode` target: a CONNECT with a zero-byte client id and CleanSession 0 decodes (a
    /// server must answer it with CONNACK 2, MQTT-3.1.3-8, so it is not malformed) but does not
    /// re-encode (a client must never send it, MQTT-3.1.3-7). The fuzz target allows exactly
    /// this asymmetry; this test pins both halves.
    @Test func connectEmptyClientIDWithoutCleanSession() throws {
        let packet = bytes(hex: "10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00")
        try withDecoded(packet) { result throws in
            let decoded = try result.get()
            guard case .connect(let connect) = decoded else { Issue.record("not a CONNECT"); return }
            #expect(connect.clientID.isEmpty)
            #expect(!connect.cleanSession)
            #expect(connect.keepAlive == 60)
            #expect(throws: MQTTEncodeError.invalid(.emptyClientIDWithoutCleanSession)) { try decoded.encodedSize() }
        }
    }
}
