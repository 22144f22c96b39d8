/// `decode`'s pipeline: hex text, fed in pieces of any size, to one JSON line per packet on
/// `output` (`HexScanner`, then `PacketStreamDecoder` writing with `JSONLineWriter`), in memory
/// that does not grow with the input.
///
/// Errors come in input order, after the lines of the packets before them: bytes read before
/// bad hex are decoded first, so a packet error in them wins.
public final class HexPacketDecoder {
    private var scanner: HexScanner
    private let packets: PacketStreamDecoder<JSONLineWriter>
    /// The bytes of one piece of text.
    private let bytes: UnsafeMutableRawBufferPointer
    private static let pieceSize = 65_536

    /// A decoder whose hex errors call segments `segmentName` (`argument`, `line`); with
    /// `linesAreSegments` a line feed ends one, otherwise `endSegment()` does.
    public convenience init(segmentName: String, linesAreSegments: Bool, output: OutputBuffer) {
        self.init(segmentName: segmentName, linesAreSegments: linesAreSegments, output: output,
                  heldPacketSize: InspectorLimits.heldPacketSize)
    }

    init(segmentName: String, linesAreSegments: Bool, output: OutputBuffer, heldPacketSize: Int) {
        scanner = HexScanner(segmentName: segmentName, linesAreSegments: linesAreSegments)
        packets = PacketStreamDecoder(sink: JSONLineWriter(output: output), heldPacketSize: heldPacketSize)
        bytes = .allocate(byteCount: Self.pieceSize / 2 + 1, alignment: 1)
    }

    deinit { bytes.deallocate() }

    /// Reads the next piece of text.
    public func feed(_ text: UnsafeRawBufferPointer) throws(InspectorError) {
        var offset = 0
        while offset < text.count {
            let piece = UnsafeRawBufferPointer(rebasing: text[offset..<min(offset + Self.pieceSize, text.count)])
            try pass(scanner.scan(piece, into: bytes))
            offset += piece.count
        }
    }

    /// Ends a segment (an argument).
    public func endSegment() throws(InspectorError) {
        try pass((scanner.endSegment(into: bytes), nil))
    }

    /// Ends the input: an odd digit or a packet cut off is an error.
    public func finish() throws(InspectorError) {
        try pass(scanner.finish(into: bytes))
        try packets.finish()
    }

    /// Decodes the bytes the scanner wrote, then throws its error if it had one.
    private func pass(_ scanned: (count: Int, error: InspectorError?)) throws(InspectorError) {
        try packets.feed(UnsafeRawBufferPointer(rebasing: bytes[..<scanned.count]))
        if let error = scanned.error { throw error }
    }
}
