/// A percent-encoded text could not be decoded.
public enum PercentDecodingError: Error, Equatable, Sendable {
    /// `%` not followed by two hex digits; `offset` is the `%`.
    case invalidEscape(offset: Int)
    /// `%` too close to the end for two hex digits; `offset` is the `%`.
    case truncatedEscape(offset: Int)
    /// The buffer cannot hold the decoded bytes.
    case bufferTooSmall(BufferTooSmall)
}

/// Percent-encoding of RFC 3986 §2.1, as URL query components and IoT Hub property bags use it.
public enum PercentEncoding {
    /// `true` for the unreserved characters of RFC 3986 §2.3: `A-Z a-z 0-9 - . _ ~`.
    @inline(__always)
    public static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Appends `bytes` with every byte but the unreserved ones written as `%XX` (upper-case hex).
    /// A space becomes `%20`, never `+`.
    public static func encode(_ bytes: ByteView, into writer: inout TextWriter) {
        encode(bytes, alsoKeeping: 0, into: &writer)
    }

    /// `encode(_:into:)` that also passes `kept` through unencoded (0 keeps nothing extra).
    /// Out of line: one copy for every user name, topic and property bag (flash).
    @inline(never)
    static func encode(_ bytes: ByteView, alsoKeeping kept: UInt8, into writer: inout TextWriter) {
        var index = 0
        var runStart = 0
        while index < bytes.count {
            let byte = bytes[index]
            if isUnreserved(byte) || (byte == kept && kept != 0) {
                index += 1
                continue
            }
            writer.append(bytes.slice(from: runStart, count: index - runStart))
            writer.append(UInt8(ascii: "%"))
            writer.appendHex(byte, uppercase: true)
            index += 1
            runStart = index
        }
        writer.append(bytes.slice(from: runStart, count: index - runStart))
    }

    /// Decodes `%XX` escapes (hex in either case) into `buffer` and returns the decoded bytes
    /// there. Every other byte, `+` included, is copied as it is. The buffer may be the input's
    /// own memory (decoding in place), since the output is never longer than the input.
    public static func decode(_ bytes: ByteView, into buffer: UnsafeMutableRawBufferPointer) throws(PercentDecodingError) -> ByteView {
        var writer = TextWriter(into: buffer)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte != UInt8(ascii: "%") {
                writer.append(byte)
                index += 1
                continue
            }
            // Each missing digit is `truncatedEscape`; a present non-hex one is `invalidEscape`.
            guard index + 1 < bytes.count else { throw .truncatedEscape(offset: index) }
            guard let high = hexValue(bytes[index + 1]) else { throw .invalidEscape(offset: index) }
            guard index + 2 < bytes.count else { throw .truncatedEscape(offset: index) }
            guard let low = hexValue(bytes[index + 2]) else { throw .invalidEscape(offset: index) }
            writer.append(high << 4 | low)
            index += 3
        }
        do throws(BufferTooSmall) {
            return try writer.finish()
        } catch {
            throw .bufferTooSmall(error)
        }
    }

    /// `true` when `encoded`, percent-decoded, is exactly `text`; malformed escapes never match.
    /// Needs no buffer: `%24.ct` equals `"$.ct"`.
    public static func decodedEquals(_ encoded: ByteView, _ text: StaticString) -> Bool {
        decodedEquals(encoded, ByteView(text))
    }

    /// `true` when `encoded`, percent-decoded, is exactly the bytes of `text`.
    public static func decodedEquals(_ encoded: ByteView, _ text: ByteView) -> Bool {
        var index = 0
        var matched = 0
        while index < encoded.count {
            guard matched < text.count else { return false }
            var byte = encoded[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < encoded.count,
                    let high = hexValue(encoded[index + 1]), let low = hexValue(encoded[index + 2])
                else { return false }
                byte = high << 4 | low
                index += 3
            } else {
                index += 1
            }
            if byte != text[matched] { return false }
            matched += 1
        }
        return matched == text.count
    }
}
