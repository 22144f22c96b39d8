/// Hex text to bytes and back, for the command line.
public enum Hex {
    /// Lower-case hex of `bytes`, no separators.
    public static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let table = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value of one ASCII hex digit.
    static func nibble(_ character: Character) -> UInt8? {
        guard let ascii = character.asciiValue else { return nil }
        switch ascii {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return ascii - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return ascii - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return ascii - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Bytes from hex text spread over `segments` (command-line arguments or lines of standard
    /// input, named `segmentName` in errors).
    ///
    /// Whitespace is ignored anywhere, so `10 13 00 04` and `1013 0004` read the same, and pairs
    /// of digits may even be split across segments. A token (a run of non-whitespace) may start
    /// with `0x` or `0X`, which is skipped. Positions in errors are 1-based.
    /// With `segmentName` `nil` (one segment, e.g. a JSON field) positions read `character N`.
    public static func bytes(segments: [String], segmentName: String?) throws(InspectorError) -> [UInt8] {
        func position(_ segment: Int, _ column: Int) -> String {
            guard let segmentName else { return "character \(column)" }
            return "\(segmentName) \(segment), column \(column)"
        }
        var out: [UInt8] = []
        var pending: (value: UInt8, character: Character, segment: Int, column: Int)?
        for (segmentIndex, segment) in segments.enumerated() {
            let characters = Array(segment)
            var index = 0
            var atTokenStart = true
            while index < characters.count {
                let character = characters[index]
                if character.isWhitespace {
                    atTokenStart = true
                    index += 1
                    continue
                }
                if atTokenStart && character == "0" && index + 1 < characters.count
                    && (characters[index + 1] == "x" || characters[index + 1] == "X") {
                    atTokenStart = false
                    index += 2
                    continue
                }
                atTokenStart = false
                guard let value = nibble(character) else {
                    throw InspectorError(
                        "\(position(segmentIndex + 1, index + 1)): \(quoted(character)) is not a hex digit")
                }
                if let first = pending {
                    out.append(first.value << 4 | value)
                    pending = nil
                } else {
                    pending = (value, character, segmentIndex + 1, index + 1)
                }
                index += 1
            }
        }
        if let last = pending {
            throw InspectorError(
                "odd number of hex digits: the last digit, \(quoted(last.character)) at \(position(last.segment, last.column)), has no partner")
        }
        return out
    }

    /// `'g'` for printable characters, `U+0007` for the rest.
    static func quoted(_ character: Character) -> String {
        let scalars = character.unicodeScalars
        if scalars.count == 1, let scalar = scalars.first,
           scalar.properties.generalCategory == .control || scalar.properties.isWhitespace || scalar.value == 0xFEFF {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
        return "'\(character)'"
    }
}
