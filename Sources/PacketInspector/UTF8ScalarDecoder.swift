/// Checks UTF-8 one byte at a time (the well-formed sequences of Unicode's Table 3-7: no
/// overlong forms, no surrogates, nothing above U+10FFFF) and hands out each scalar, so text
/// can arrive in pieces cut anywhere.
struct UTF8ScalarDecoder {
    /// One byte's outcome.
    enum Step: Equatable {
        /// The byte completed this scalar.
        case scalar(UInt32)
        /// The byte began or continued a scalar; more bytes are needed.
        case pending
        /// The byte cannot appear here.
        case invalid
    }

    private var value: UInt32 = 0
    private var remaining = 0
    /// Bounds of the next continuation byte (narrower after E0, ED, F0 and F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// Whether a scalar has begun and not ended: the text must not end here.
    var isInsideScalar: Bool { remaining > 0 }

    mutating func step(_ byte: UInt8) -> Step {
        if remaining == 0 {
            lower = 0x80
            upper = 0xBF
            switch byte {
            case 0x00...0x7F: return .scalar(UInt32(byte))
            case 0xC2...0xDF: begin(UInt32(byte & 0x1F), continuations: 1)
            case 0xE0: begin(0, continuations: 2, lower: 0xA0)
            case 0xED: begin(0x0D, continuations: 2, upper: 0x9F)
            case 0xE1...0xEF: begin(UInt32(byte & 0x0F), continuations: 2)
            case 0xF0: begin(0, continuations: 3, lower: 0x90)
            case 0xF4: begin(4, continuations: 3, upper: 0x8F)
            case 0xF1...0xF3: begin(UInt32(byte & 0x07), continuations: 3)
            default: return .invalid
            }
            return .pending
        }
        guard byte >= lower && byte <= upper else {
            remaining = 0
            return .invalid
        }
        lower = 0x80
        upper = 0xBF
        value = value << 6 | UInt32(byte & 0x3F)
        remaining -= 1
        return remaining == 0 ? .scalar(value) : .pending
    }

    private mutating func begin(_ bits: UInt32, continuations: Int, lower: UInt8 = 0x80, upper: UInt8 = 0xBF) {
        value = bits
        remaining = continuations
        self.lower = lower
        self.upper = upper
    }
}
