import DeviceCore
import HostJSON
@testable import PacketInspector
import Testing

/// Text an `OutputBuffer` wrote, for the tests.
final class CapturedOutput {
    private(set) var bytes: [UInt8] = []
    lazy var buffer = OutputBuffer(capacity: 64) { [unowned self] in self.bytes += $0 }
    var text: String {
        buffer.flush()
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Calls `body` with `text` in pieces of `pieceSize` bytes.
func forEachPiece(of text: [UInt8], size pieceSize: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
    try text.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            try body(UnsafeRawBufferPointer(rebasing: raw[offset..<min(offset + pieceSize, raw.count)]))
            offset += pieceSize
        }
    }
}

/// What `decode` writes for standard input `text` read in pieces of `pieceSize` bytes, and
/// its error.
func streamDecode(_ text: [UInt8], pieceSize: Int, heldPacketSize: Int = InspectorLimits.heldPacketSize) -> (output: String, error: String?) {
    let output = CapturedOutput()
    let decoder = HexPacketDecoder(segmentName: "line", linesAreSegments: true, output: output.buffer, heldPacketSize: heldPacketSize)
    let error = errorMessage {
        try forEachPiece(of: text, size: pieceSize) { try decoder.feed($0) }
        try decoder.finish()
    }
    return (output.text, error)
}

func streamDecode(_ text: String, pieceSize: Int, heldPacketSize: Int = InspectorLimits.heldPacketSize) -> (output: String, error: String?) {
    streamDecode(Array(text.utf8), pieceSize: pieceSize, heldPacketSize: heldPacketSize)
}

/// The JSON lines the codec and `json(for:)` give for each whole packet: the reference the
/// streaming decoder is held to.
func referenceLines(_ packets: [[UInt8]]) throws -> String {
    try packets.map { packet in
        try packet.withUnsafeBytes { raw in
            PacketInspector.json(for: try MQTTPacket.decode(ByteView(raw))).compactText + "\n"
        }
    }.joined()
}

/// A PUBLISH of `payloadLength` bytes (byte i is i % 256) to `topic`: the packet's head and
/// the hex of the whole packet.
func bigPublish(topic: [UInt8] = Array("a/b".utf8), qos: UInt8 = 1, packetID: UInt16 = 7, payloadLength: Int) -> (head: [UInt8], hex: String) {
    var variable = [UInt8(topic.count >> 8), UInt8(topic.count & 0xFF)] + topic
    if qos > 0 { variable += [UInt8(packetID >> 8), UInt8(packetID & 0xFF)] }
    let head = [0x30 | qos << 1] + RemainingLength.encoded(variable.count + payloadLength) + variable
    return (head, Hex.string(head) + patternPayloadHex(payloadLength))
}

@Suite("streaming decode")
struct StreamingDecodeTests {
    static let pieceSizes = [1, 2, 3, 7, 4_096]

    @Test("hex split at every piece boundary reads the same", arguments: pieceSizes)
    func hexPieces(pieceSize: Int) throws {
        let text = "0x10 0X13 00 04\n4d 51 5 4 54\t04 02 00 3c\u{2003}00 07 64 65 76 69 63 65 31\r\nc0 00 0\n"
        var scanner = HexScanner(segmentName: "line", linesAreSegments: true)
        var decoded: [UInt8] = []
        var out = [UInt8](repeating: 0, count: pieceSize / 2 + 1)
        var failure: InspectorError?
        forEachPiece(of: Array(text.utf8), size: pieceSize) { piece in
            let (count, error) = out.withUnsafeMutableBytes { scanner.scan(piece, into: $0) }
            decoded += out[..<count]
            if let error { failure = error }
        }
        #expect(failure == nil)
        let (count, error) = out.withUnsafeMutableBytes { scanner.finish(into: $0) }
        #expect(count == 0)
        #expect(error?.message == "odd number of hex digits: the last digit, '0' at line 3, column 7, has no partner")
        #expect(decoded == bytes("10 13 00 04 4d 51 54 54 04 02 00 3c 00 07 64 65 76 69 63 65 31 c0 00"))
    }

    @Test("the paho vectors back to back, in pieces, equal the codec's whole-packet decode", arguments: pieceSizes)
    func pahoVectors(pieceSize: Int) throws {
        let packets = PahoVector.clientPackets.map { bytes($0.hex!) }
        let text = PahoVector.clientPackets.map { $0.hex! }.joined(separator: "\n")
        let result = streamDecode(text, pieceSize: pieceSize)
        #expect(result.error == nil)
        #expect(result.output == (try referenceLines(packets)))
    }

    @Test("PUBLISH over the held size streams to the same lines, in pieces", arguments: pieceSizes)
    func streamedPahoPublishes(pieceSize: Int) throws {
        // A held size of 64 bytes sends every longer PUBLISH through `StreamedPublish`.
        let vectors = PahoVector.clientPackets.filter { $0.type == "publish" || $0.hex!.count <= 128 }
        #expect(vectors.filter { $0.type == "publish" && $0.hex!.count > 128 }.count == 14)
        let text = vectors.map { $0.hex! }.joined(separator: " ")
        let result = streamDecode(text, pieceSize: pieceSize, heldPacketSize: 64)
        #expect(result.error == nil)
        #expect(result.output == (try referenceLines(vectors.map { bytes($0.hex!) })))
    }

    @Test func threeMebibytePublish() throws {
        let publish = bigPublish(payloadLength: 3 << 20)
        let result = streamDecode(publish.hex + "\nc000\n", pieceSize: 65_536 + 7)
        #expect(result.error == nil)
        let head = #"{"type":"publish","topic":"a/b","qos":1,"retain":false,"dup":false,"packet_id":7,"payload_len":3145728,"payload_hex":""#
        let lines = result.output.split(separator: "\n")
        try #require(lines.count == 2)
        #expect(lines[0].hasPrefix(head + "000102030405"))
        #expect(lines[0].hasSuffix("fafbfcfdfeff\"}"))
        #expect(lines[0].utf8.count == head.utf8.count + 2 * (3 << 20) + 2)
        #expect(lines[1] == #"{"type":"pingreq"}"#)
        // The library's in-memory decode goes the same way.
        let objects = try PacketInspector.decodeAll(bytes(publish.hex))
        #expect(objects.map(\.compactText) == [String(lines[0])])
    }

    @Test func streamedPublishCutOff() {
        let publish = bigPublish(payloadLength: 2 << 20)
        let cut = String(publish.hex.prefix(2 * 1_500_000))
        let result = streamDecode("c000 " + cut, pieceSize: 4_096)
        // The line was begun; it is left unfinished and ended, and the error says what is missing.
        #expect(result.output.hasPrefix(#"{"type":"pingreq"}"# + "\n" + #"{"type":"publish","topic":"a/b","#))
        #expect(result.output.hasSuffix("\n"))
        #expect(!result.output.hasSuffix("\"}\n"))
        #expect(result.error == "byte 2 (packet 2): incomplete packet: its fixed header announces 2097164 bytes but only 1500000 bytes are present")
    }

    @Test func streamedPublishHeadErrorsNameTheirByte() {
        // The head is checked by the codec as it is for a held PUBLISH; offsets are the
        // packet's own, with its 5-byte fixed header.
        let wildcard = bigPublish(topic: Array("a/#".utf8), payloadLength: 2 << 20)
        #expect(streamDecode("c000" + wildcard.hex, pieceSize: 997)
            == ("{\"type\":\"pingreq\"}\n", "byte 11 (packet 2): topic name contains a wildcard + or # (MQTT-3.3.2-2)"))
        let zeroID = bigPublish(packetID: 0, payloadLength: 2 << 20)
        #expect(streamDecode(zeroID.hex, pieceSize: 997).error
            == "byte 10 (packet 1): packet identifier must be non-zero (MQTT-2.3.1-1)")
        let badUTF8 = bigPublish(topic: [0x61, 0xFF], payloadLength: 2 << 20)
        #expect(streamDecode(badUTF8.hex, pieceSize: 997).error
            == "byte 8 (packet 1): string is not well-formed UTF-8 (MQTT-1.5.3-1)")
        // A head that runs past its packet: the codec's own error for the whole packet.
        #expect(streamDecode("32 05 00 09 61 2f 62", pieceSize: 1, heldPacketSize: 5).error
            == "byte 2 (packet 1): field runs past the end of the packet (MQTT 1.5)")
        #expect(decodeLines("32 05 00 09 61 2f 62").error == "byte 2 (packet 1): field runs past the end of the packet (MQTT 1.5)")
    }

    @Test func largestRemainingLengthCutOff() {
        #expect(streamDecode("30 ff ff ff 7f 00 03 61", pieceSize: 3).error
            == "byte 0 (packet 1): incomplete packet: its fixed header announces 268435460 bytes but only 8 bytes are present")
    }

    @Test func otherPacketsOverTheHeldSizeAreRefused() {
        // A SUBSCRIBE of 2 MiB: legal, but held whole it would be more than the inspector holds.
        #expect(streamDecode("c000 82 80 80 80 01 00 01", pieceSize: 2).error
            == "byte 3 (packet 2): packet of 2097157 bytes is more than the inspector holds: it decodes packets other than PUBLISH whole, up to 1048576 bytes")
    }

    @Test func heldPacketsGrowTheBuffer() throws {
        // A SUBSCRIBE of 16 KiB, past the decoder's first 4 KiB buffer.
        let filters = (0..<1_638).map { _ in "0008" + Hex.string(Array("abcd/efg".utf8)) + "01" }.joined()
        let hex = "82" + Hex.string(RemainingLength.encoded(2 + filters.count / 2)) + "0001" + filters
        let result = streamDecode(hex + " c000", pieceSize: 333)
        #expect(result.error == nil)
        #expect(result.output == (try referenceLines([bytes(hex), [0xc0, 0x00]])))
    }

    @Test("errors come in input order, whatever the pieces", arguments: pieceSizes)
    func errorsInInputOrder(pieceSize: Int) {
        // A bad first byte is known at once, before the bad hex after it.
        #expect(streamDecode("f0 00 zz", pieceSize: pieceSize) == ("", "byte 0 (packet 1): packet type 0 and 15 are reserved (MQTT 2.2.1): got type 15"))
        // Bad hex after a whole packet: the packet is printed first.
        #expect(streamDecode("c0 00\ne0 0g", pieceSize: pieceSize)
            == ("{\"type\":\"pingreq\"}\n", "line 2, column 5: 'g' is not a hex digit"))
        #expect(streamDecode("c0 00\ne0 0\n", pieceSize: pieceSize)
            == ("{\"type\":\"pingreq\"}\n", "odd number of hex digits: the last digit, '0' at line 2, column 4, has no partner"))
        #expect(streamDecode(Array("c0 00 ".utf8) + [0xFF], pieceSize: pieceSize).error == "line 1, column 7: not UTF-8 text (byte 0xff)")
        #expect(streamDecode(Array("c0 00 ".utf8) + [0xE0, 0x80, 0x80], pieceSize: pieceSize).error
            == "line 1, column 7: not UTF-8 text (byte 0x80)")
        #expect(streamDecode(Array("c0 00\n".utf8) + [0xC3], pieceSize: pieceSize)
            == ("{\"type\":\"pingreq\"}\n", "line 2, column 1: not UTF-8 text (it ends inside a character)"))
        #expect(streamDecode("c0 00 \u{E9}", pieceSize: pieceSize).error
            == "line 1, column 7: 'é' is not a hex digit")
    }
}
