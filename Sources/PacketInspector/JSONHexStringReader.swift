/// A JSON string of hex digits, read as it arrives after its opening quote: escapes are undone
/// as `JSONParser` undoes them, with its errors at the same places, and the characters are read
/// by a `HexScanner` (positions `character N`, as for a held `payload_hex`).
struct JSONHexStringReader {
    /// What is wrong: the JSON, at a line and column, or the hex in it.
    enum Failure: Error {
        case json(line: Int, column: Int, message: String)
        case hex(InspectorError)
    }

    private enum Escape {
        case none
        /// After `\`; `at` is the backslash's column, where `JSONParser` reports escape errors.
        case backslash(at: Int)
        /// In the 4 digits of `\u`, the low half of a surrogate pair when `high` is set.
        case unicode(at: Int, digits: Int, value: UInt32, high: UInt32?)
        /// After a high surrogate, which must be followed by `\u` and a low one.
        case lowBackslash(at: Int, high: UInt32)
        case lowU(at: Int, high: UInt32)
    }

    /// The string's line (a line feed in it is an error) and the column of the next byte.
    let line: Int
    private(set) var column: Int
    private var scanner = HexScanner(segmentName: nil)
    private var escape = Escape.none

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// Reads `bytes` up to and including the closing quote, handing the bytes the hex stands for
    /// to `sink`; returns how many bytes it took and whether the string has ended.
    mutating func read(_ bytes: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) -> Void) throws(Failure) -> (taken: Int, ended: Bool) {
        let startColumn = column
        var runStart = 0
        var index = 0
        defer { column = startColumn + index }
        while index < bytes.count {
            let byte = bytes[index]
            if case .none = escape, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 {
                index += 1
                continue
            }
            try hex(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]), sink)
            let here = startColumn + index
            index += 1
            runStart = index
            switch escape {
            case .none:
                if byte == UInt8(ascii: "\"") {
                    try finishHex(sink)
                    return (index, true)
                }
                if byte == UInt8(ascii: "\\") {
                    escape = .backslash(at: here)
                } else {
                    throw .json(line: line, column: here, message: "control character in string (must be escaped)")
                }
            case .backslash(let at):
                escape = .none
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): try character(UInt32(byte), sink)
                case UInt8(ascii: "b"): try character(0x08, sink)
                case UInt8(ascii: "f"): try character(0x0C, sink)
                case UInt8(ascii: "n"): try character(0x0A, sink)
                case UInt8(ascii: "r"): try character(0x0D, sink)
                case UInt8(ascii: "t"): try character(0x09, sink)
                case UInt8(ascii: "u"): escape = .unicode(at: at, digits: 0, value: 0, high: nil)
                default: throw .json(line: line, column: at, message: "invalid escape in string")
                }
            case .unicode(let at, let digits, let value, let high):
                let digit = Hex.digitValue(byte)
                guard digit < 16 else {
                    throw .json(line: line, column: here, message: "expected a hex digit in \\u escape, found \(Self.describe(byte))")
                }
                let code = value << 4 | UInt32(digit)
                if digits < 3 {
                    escape = .unicode(at: at, digits: digits + 1, value: code, high: high)
                } else {
                    try unicode(code, high: high, at: at, sink)
                }
            case .lowBackslash(let at, let high):
                guard byte == UInt8(ascii: "\\") else { throw unpaired(at) }
                escape = .lowU(at: at, high: high)
            case .lowU(let at, let high):
                guard byte == UInt8(ascii: "u") else { throw unpaired(at) }
                escape = .unicode(at: at, digits: 0, value: 0, high: high)
            }
        }
        try hex(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]), sink)
        return (index, false)
    }

    /// What `JSONParser` says when the text ends inside the string.
    func cutOff() -> Failure {
        switch escape {
        case .none, .backslash: return .json(line: line, column: column, message: "unterminated string")
        case .unicode: return .json(line: line, column: column, message: "unfinished \\u escape")
        case .lowBackslash(let at, _), .lowU(let at, _): return unpaired(at)
        }
    }

    /// The last 4 digits of a `\u` escape.
    private mutating func unicode(_ code: UInt32, high: UInt32?, at: Int, _ sink: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        escape = .none
        if let high {
            guard (0xDC00...0xDFFF).contains(code) else { throw unpaired(at) }
            try character(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00), sink)
        } else if (0xD800...0xDBFF).contains(code) {
            escape = .lowBackslash(at: at, high: code)
        } else if (0xDC00...0xDFFF).contains(code) {
            throw unpaired(at)
        } else {
            try character(code, sink)
        }
    }

    private func unpaired(_ at: Int) -> Failure {
        .json(line: line, column: at, message: "unpaired UTF-16 surrogate in \\u escape")
    }

    /// An escaped character, to the hex scanner as its UTF-8.
    private mutating func character(_ scalar: UInt32, _ sink: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        var utf8: [UInt8] = []
        UTF8.encode(Unicode.Scalar(scalar).unsafelyUnwrapped) { utf8.append($0) }
        try utf8.withUnsafeBytes { raw in Result { () throws(Failure) in try hex(raw, sink) } }.get()
    }

    /// Characters of the string, to the hex scanner.
    private mutating func hex(_ text: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        guard !text.isEmpty else { return }
        try Self.withScratch { (out) throws(Failure) in
            var offset = 0
            while offset < text.count {
                let piece = UnsafeRawBufferPointer(rebasing: text[offset..<min(offset + Self.pieceSize, text.count)])
                let (count, error) = scanner.scan(piece, into: out)
                sink(UnsafeRawBufferPointer(rebasing: out[..<count]))
                if let error { throw .hex(error) }
                offset += piece.count
            }
        }
    }

    /// The closing quote: a digit without its partner is an error.
    private mutating func finishHex(_ sink: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        try Self.withScratch { (out) throws(Failure) in
            let (count, error) = scanner.finish(into: out)
            sink(UnsafeRawBufferPointer(rebasing: out[..<count]))
            if let error { throw .hex(error) }
        }
    }

    private static let pieceSize = 8_192

    private static func withScratch(_ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Void) throws(Failure) {
        try withUnsafeTemporaryAllocation(byteCount: pieceSize / 2 + 1, alignment: 1) { out in
            Result { () throws(Failure) in try body(out) }
        }.get()
    }

    /// A byte as `JSONParser` names it in errors.
    static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16)
    }
}
