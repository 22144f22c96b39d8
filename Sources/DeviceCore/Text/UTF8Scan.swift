/// The result of checking one UTF-8 sequence.
enum UTF8Sequence {
    /// A well-formed sequence of `length` bytes.
    case valid(length: Int)
    /// Not well-formed; `offset` is the first offending byte.
    case invalid(offset: Int)
    /// A well-formed start cut off by the end of the bytes.
    case truncated
}

/// The core's one UTF-8 checker. U+0000 is well-formed here (JSON and percent-encoding can
/// carry it); `MQTTValidation.checkUTF8` adds MQTT's ban on it.
enum UTF8Scan {
    /// Checks the sequence whose lead byte is at `index` in `bytes` (Unicode 3-7: no overlong
    /// forms, no surrogates, nothing above U+10FFFF). Out of line: one copy for the JSON reader
    /// and writer and MQTT's string check (flash).
    @inline(never)
    static func sequence(in bytes: ByteView, at index: Int) -> UTF8Sequence {
        let base = bytes.start
        let lead = base.load(fromByteOffset: index, as: UInt8.self)
        if lead < 0x80 { return .valid(length: 1) }
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return .invalid(offset: index)
        }
        var k = 1
        while k < length {
            if index + k >= bytes.count { return .truncated }
            let next = base.load(fromByteOffset: index + k, as: UInt8.self)
            if k == 1 {
                if next < low || next > high { return .invalid(offset: index + 1) }
            } else if next & 0xC0 != 0x80 {
                return .invalid(offset: index + k)
            }
            k += 1
        }
        return .valid(length: length)
    }

    /// The UTF-8 encoding of `scalar` (at most U+10FFFF, not a surrogate), packed first byte
    /// lowest, with its length.
    static func encode(_ scalar: UInt32) -> (bytes: UInt32, length: Int) {
        if scalar < 0x80 { return (scalar, 1) }
        if scalar < 0x800 {
            return ((0xC0 | scalar >> 6) | (0x80 | scalar & 0x3F) << 8, 2)
        }
        if scalar < 0x10000 {
            return ((0xE0 | scalar >> 12) | (0x80 | scalar >> 6 & 0x3F) << 8 | (0x80 | scalar & 0x3F) << 16, 3)
        }
        return ((0xF0 | scalar >> 18) | (0x80 | scalar >> 12 & 0x3F) << 8
            | (0x80 | scalar >> 6 & 0x3F) << 16 | (0x80 | scalar & 0x3F) << 24, 4)
    }
}
