/// A base64 text could not be decoded.
public struct Base64Error: Error, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A byte outside the standard alphabet `A-Z a-z 0-9 + /` and `=` (whitespace included).
        case invalidCharacter
        /// `=` where padding cannot be: in the first two places of a group, before the last
        /// group, or followed by something other than `=`.
        case invalidPadding
        /// A length that is not a multiple of 4 (padding is required); `offset` is the length.
        case invalidLength
        /// The last group's unused low bits are not zero (a non-canonical encoding, `QR==`).
        case nonZeroTrailingBits
        /// The buffer cannot hold the decoded bytes.
        case bufferTooSmall(BufferTooSmall)
    }

    /// What is wrong.
    public let kind: Kind
    /// Offset in the text of the offending byte (0 for `.bufferTooSmall`).
    public let offset: Int

    public init(kind: Kind, offset: Int) {
        self.kind = kind
        self.offset = offset
    }
}

/// Base64 with the standard alphabet and padding (RFC 4648 §4), as SAS keys and signatures use.
public enum Base64 {
    /// Appends the base64 of `bytes`, padded with `=` to a multiple of 4.
    public static func encode(_ bytes: ByteView, into writer: inout TextWriter) {
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            writer.append(symbol(group >> 18))
            writer.append(symbol(group >> 12))
            writer.append(remaining > 1 ? symbol(group >> 6) : UInt8(ascii: "="))
            writer.append(remaining > 2 ? symbol(group) : UInt8(ascii: "="))
            index += 3
        }
    }

    /// Bytes the base64 of `count` bytes takes.
    public static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Decodes strict base64 into `buffer` and returns the bytes there. No whitespace, padding
    /// required, unused bits zero. The buffer may be the text's own memory (decoding in place).
    public static func decode(_ text: ByteView, into buffer: UnsafeMutableRawBufferPointer) throws(Base64Error) -> ByteView {
        var writer = TextWriter(into: buffer)
        let count = text.count
        var index = 0
        while index < count {
            // Up to four symbols; `values` packs 6 bits each, `pads` counts trailing `=`.
            var group: UInt32 = 0
            var symbols = 0
            var pads = 0
            var k = 0
            while k < 4 && index + k < count {
                let at = index + k
                let byte = text[at]
                if byte == UInt8(ascii: "=") {
                    // Only the third and fourth places of the last group hold padding.
                    guard k >= 2, index + 4 >= count else { throw Base64Error(kind: .invalidPadding, offset: at) }
                    pads += 1
                    group <<= 6
                } else {
                    guard let value = value(of: byte) else { throw Base64Error(kind: .invalidCharacter, offset: at) }
                    guard pads == 0 else { throw Base64Error(kind: .invalidPadding, offset: at) }
                    group = group << 6 | UInt32(value)
                    symbols += 1
                }
                k += 1
            }
            guard k == 4 else { throw Base64Error(kind: .invalidLength, offset: count) }
            // 2 symbols carry 1 byte (4 spare bits), 3 carry 2 bytes (2 spare bits).
            if pads == 2 && group & 0xF000 != 0 || pads == 1 && group & 0xC0 != 0 {
                throw Base64Error(kind: .nonZeroTrailingBits, offset: index + symbols - 1)
            }
            // Read the whole group before writing: in-place decoding writes behind the reads.
            writer.append(UInt8(truncatingIfNeeded: group >> 16))
            if symbols > 2 { writer.append(UInt8(truncatingIfNeeded: group >> 8)) }
            if symbols > 3 { writer.append(UInt8(truncatingIfNeeded: group)) }
            index += 4
        }
        do throws(BufferTooSmall) {
            return try writer.finish()
        } catch {
            throw Base64Error(kind: .bufferTooSmall(error), offset: 0)
        }
    }

    /// The symbol for the low six bits of `bits`.
    @inline(__always)
    private static func symbol(_ bits: UInt32) -> UInt8 {
        let value = UInt8(truncatingIfNeeded: bits & 0x3F)
        switch value {
        case 0..<26: return UInt8(ascii: "A") &+ value
        case 26..<52: return UInt8(ascii: "a") &+ (value &- 26)
        case 52..<62: return UInt8(ascii: "0") &+ (value &- 52)
        case 62: return UInt8(ascii: "+")
        default: return UInt8(ascii: "/")
        }
    }

    /// The six-bit value of an alphabet symbol, or `nil`.
    @inline(__always)
    private static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte &- UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte &- UInt8(ascii: "a") &+ 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0") &+ 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
