/// Hex text to bytes and back, for the command line.
public enum Hex {
    /// Lower-case hex of `bytes`, no separators.
    public static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digit(byte >> 4))
            out.append(digit(byte & 0x0F))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes from hex text spread over `segments` (command-line arguments or lines of standard
    /// input, named `segmentName` in errors), read by `HexScanner`: whitespace ignored
    /// anywhere, `0x` allowed at the start of a token, 1-based positions. With `segmentName`
    /// `nil` (one segment, e.g. a JSON field) positions read `character N`.
    public static func bytes(segments: [String], segmentName: String?) throws(InspectorError) -> [UInt8] {
        var scanner = HexScanner(segmentName: segmentName)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_098)
        func append(_ step: (UnsafeMutableRawBufferPointer) -> (count: Int, error: InspectorError?)) throws(InspectorError) {
            let (count, error) = buffer.withUnsafeMutableBytes { step($0) }
            out += buffer[..<count]
            if let error { throw error }
        }
        for (index, segment) in segments.enumerated() {
            if index > 0 { try append { (scanner.endSegment(into: $0), nil) } }
            var text = segment
            try text.withUTF8 { utf8 in
                Result { () throws(InspectorError) in
                    var offset = 0
                    while offset < utf8.count {
                        let piece = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[offset..<min(offset + 8_192, utf8.count)])
                        try append { scanner.scan(piece, into: $0) }
                        offset += piece.count
                    }
                }
            }.get()
        }
        try append { scanner.finish(into: $0) }
        return out
    }

    /// The lower-case hex digit for `value` (0 to 15).
    @inline(__always)
    static func digit(_ value: UInt8) -> UInt8 {
        value < 10 ? 0x30 &+ value : 0x57 &+ value
    }

    /// The value of the ASCII hex digit `byte`, or 16 and more when it is not one.
    @inline(__always)
    static func digitValue(_ byte: UInt8) -> UInt8 {
        let decimal = byte &- 0x30
        if decimal < 10 { return decimal }
        let letter = (byte | 0x20) &- 0x61
        return letter < 6 ? letter &+ 10 : 0xFF
    }

    /// Unicode's White_Space, as `Character.isWhitespace` sees a character's first scalar.
    @inline(__always)
    static func isWhitespace(_ scalar: UInt32) -> Bool {
        if scalar < 0x80 { return scalar == 0x20 || (scalar >= 0x09 && scalar <= 0x0D) }
        return Unicode.Scalar(scalar).map { $0.properties.isWhitespace } ?? false
    }

    /// `'g'` for printable characters, `U+0007` for the rest.
    static func quoted(_ scalar: Unicode.Scalar) -> String {
        if scalar.properties.generalCategory == .control || scalar.properties.isWhitespace || scalar.value == 0xFEFF {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
        return "'\(Character(scalar))'"
    }
}
