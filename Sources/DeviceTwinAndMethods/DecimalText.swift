import DeviceCore

/// Reading the unsigned decimal numbers of topics and query strings (`$rid=12`, `$version=7`).
enum DecimalText {
    /// The largest `$rid` and `retry-after` (32 bits).
    static let maximum32: UInt64 = 0xFFFF_FFFF
    /// The largest `$version` (`Int64.max`).
    static let maximumInt64: UInt64 = 0x7FFF_FFFF_FFFF_FFFF

    /// The value of `text` if it is a non-empty run of ASCII digits whose value is at most
    /// `maximum`; `nil` otherwise (a sign, a space, an empty text, an overflow).
    static func parse(_ text: ByteView, maximum: UInt64) -> UInt64? {
        guard !text.isEmpty else { return nil }
        var value: UInt64 = 0
        var i = 0
        while i < text.count {
            guard let digit = digit(text[i]) else { return nil }
            guard value <= (maximum - digit) / 10 else { return nil }
            value = value * 10 + digit
            i += 1
        }
        return value
    }

    @inline(__always)
    static func digit(_ byte: UInt8) -> UInt64? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? UInt64(widening: UInt(byte &- UInt8(ascii: "0"))) : nil
    }
}
