/// A JSON document broke the grammar of RFC 8259: always the document's fault, never the
/// reader's buffers (a string that does not fit `JSONString.decode(into:)` is `BufferTooSmall`).
public struct JSONError: Error, Equatable, Sendable {
    /// What is wrong.
    public enum Kind: Equatable, Sendable {
        /// A byte that cannot start a value here (`+`, `.5`, `]` after a comma, …).
        case unexpectedCharacter
        /// The document ends before its value is complete.
        case unexpectedEnd
        /// Inside an object, something other than a string where a member name must come.
        case expectedKey
        /// A member name not followed by `:`.
        case expectedColon
        /// A value inside a container not followed by `,` or the container's closing bracket.
        case expectedCommaOrEnd
        /// A word that starts like `true`, `false` or `null` but is not one.
        case invalidLiteral
        /// A string without its closing quote.
        case unterminatedString
        /// A backslash followed by something other than `" \ / b f n r t u`.
        case invalidEscape
        /// `\u` not followed by four hex digits.
        case invalidUnicodeEscape
        /// A `\u` escape of a UTF-16 surrogate that is not half of a high-low pair.
        case loneSurrogate
        /// A byte below 0x20 inside a string (it must be escaped).
        case controlCharacterInString
        /// A string holding bytes that are not well-formed UTF-8.
        case invalidUTF8
        /// A number that breaks the grammar: leading zero, missing digits after `-`, `.` or `e`.
        case invalidNumber
        /// Containers nested deeper than the reader's `maximumDepth`.
        case nestingTooDeep
        /// Something other than whitespace after the top-level value.
        case trailingCharacters
        /// `skipValue()` or `captureValue()` called where no value comes next (before a closing
        /// bracket, or after the end of the document).
        case notAtValue
    }

    /// What is wrong.
    public let kind: Kind
    /// Byte offset in the document where the problem was found.
    public let offset: Int

    public init(kind: Kind, offset: Int) {
        self.kind = kind
        self.offset = offset
    }
}

/// One token of a JSON document, as returned by `JSONReader.next()`.
public enum JSONToken: Equatable {
    case beginObject
    case endObject
    case beginArray
    case endArray
    /// A member name; its value comes next.
    case key(JSONString)
    case string(JSONString)
    case number(JSONNumber)
    case bool(Bool)
    case null
}

/// A JSON string as it appears in the document: the bytes between the quotes, escapes not yet
/// decoded. The reader has checked it, so decoding cannot fail except for lack of room.
public struct JSONString: Equatable {
    /// The bytes between the quotes, as written.
    public let raw: ByteView
    /// Offset of the opening quote in the document.
    public let offset: Int
    /// `false` when `raw` has no backslash, so it is already the decoded value.
    public let hasEscapes: Bool

    init(raw: ByteView, offset: Int, hasEscapes: Bool) {
        self.raw = raw
        self.offset = offset
        self.hasEscapes = hasEscapes
    }

    /// Compares the raw (undecoded) bytes: `"\u0041"` and `"A"` differ. Use `equals(_:)` to
    /// compare values.
    public static func == (lhs: JSONString, rhs: JSONString) -> Bool { lhs.raw == rhs.raw }

    /// `true` when the decoded value is exactly `text`. Needs no buffer.
    public func equals(_ text: StaticString) -> Bool { equals(ByteView(text)) }

    /// `true` when the decoded value is exactly the UTF-8 bytes of `text`. Needs no buffer.
    @inline(never)  // one copy for all the key comparisons of a parser (flash)
    public func equals(_ text: ByteView) -> Bool {
        if !hasEscapes { return raw == text }
        var index = 0
        var matched = 0
        while index < raw.count {
            let unit = JSONString.unit(raw, at: index)
            guard matched + unit.length <= text.count else { return false }
            var k = 0
            while k < unit.length {
                if text[matched + k] != UInt8(truncatingIfNeeded: unit.bytes >> UInt32(truncatingIfNeeded: 8 * k)) {
                    return false
                }
                k += 1
            }
            matched += unit.length
            index = unit.next
        }
        return matched == text.count
    }

    /// Bytes of the decoded value.
    public var decodedCount: Int {
        if !hasEscapes { return raw.count }
        var index = 0
        var total = 0
        while index < raw.count {
            let unit = JSONString.unit(raw, at: index)
            total += unit.length
            index = unit.next
        }
        return total
    }

    /// Decodes the value into `buffer` as UTF-8 (`\uXXXX` escapes, surrogate pairs included)
    /// and returns the view of it there; when it does not fit, `BufferTooSmall` with the exact
    /// size, and `buffer` may hold part of it.
    public func decode(into buffer: UnsafeMutableRawBufferPointer) throws(BufferTooSmall) -> ByteView {
        var writer = TextWriter(into: buffer)
        if !hasEscapes {
            writer.append(raw)
        } else {
            var index = 0
            while index < raw.count {
                let unit = JSONString.unit(raw, at: index)
                var k = 0
                while k < unit.length {
                    writer.append(UInt8(truncatingIfNeeded: unit.bytes >> UInt32(truncatingIfNeeded: 8 * k)))
                    k += 1
                }
                index = unit.next
            }
        }
        return try writer.finish()
    }

    /// The decoded bytes (packed, first lowest) of the character or escape at `index` of a
    /// checked raw string, and the index after it. Bytes other than escapes come one at a time.
    @inline(never)  // one copy for `equals`, `decode` and `decodedCount` (flash)
    static func unit(_ raw: ByteView, at index: Int) -> (bytes: UInt32, length: Int, next: Int) {
        let byte = raw[index]
        guard byte == UInt8(ascii: "\\"), index + 1 < raw.count else { return (UInt32(byte), 1, index + 1) }
        let simple: UInt8
        switch raw[index + 1] {
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"):
            var scalar = hex4(raw, at: index + 2)
            var next = index + 6
            if scalar >= 0xD800 && scalar <= 0xDBFF && next + 6 <= raw.count {
                let low = hex4(raw, at: next + 2)
                scalar = 0x10000 + ((scalar - 0xD800) << 10 | (low &- 0xDC00) & 0x3FF)
                next += 6
            }
            let encoded = UTF8Scan.encode(scalar)
            return (encoded.bytes, encoded.length, next)
        default: simple = raw[index + 1]  // `"`, `\`, `/`
        }
        return (UInt32(simple), 1, index + 2)
    }

    /// The value of the four hex digits at `index` (0 for any that are missing or not hex; the
    /// reader has already rejected those).
    static func hex4(_ raw: ByteView, at index: Int) -> UInt32 {
        var value: UInt32 = 0
        var k = index
        while k < index + 4 {
            var digit: UInt8 = 0
            if k < raw.count, let d = hexValue(raw[k]) { digit = d }
            value = value << 4 | UInt32(digit)
            k += 1
        }
        return value
    }
}

/// A JSON number as it appears in the document, checked against the grammar but not converted.
public struct JSONNumber: Equatable {
    /// The number's bytes, as written.
    public let raw: ByteView
    /// Offset of the number in the document.
    public let offset: Int

    init(raw: ByteView, offset: Int) {
        self.raw = raw
        self.offset = offset
    }

    /// Compares the bytes as written: `1.0` and `1` differ.
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool { lhs.raw == rhs.raw }

    /// The value, when the number is written as an integer (no `.`, no exponent: `1.0` and
    /// `1e2` give `nil`) and fits in `Int64`.
    public func int64() -> Int64? {
        // The reader has checked the grammar: after an optional `-`, only digits make an integer.
        // Up to 18 digits always fit; 19 fit when they do not exceed Int64's magnitude, which is
        // compared as text. No 64-bit overflow checks (costly on Cortex-M0).
        let negative = !raw.isEmpty && raw[0] == UInt8(ascii: "-")
        let start = negative ? 1 : 0
        let digits = raw.count - start
        guard digits > 0 && digits <= 19 else { return nil }
        var magnitude: UInt64 = 0
        var index = start
        while index < raw.count {
            let digit = raw[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }  // `.`, `e`, `E`
            magnitude = magnitude &* 10 &+ UInt64(_truncatingBits: UInt(digit))
            index += 1
        }
        if digits == 19 {
            // "9223372036854775807", one more when negative.
            let limit = ByteView(JSONNumber.int64Magnitude)
            var k = 0
            while k < 19 {
                let a = raw[start + k]
                let b = k == 18 && negative ? limit[k] &+ 1 : limit[k]
                if a != b {
                    if a > b { return nil }
                    break
                }
                k += 1
            }
        }
        return negative ? Int64(bitPattern: 0 &- magnitude) : Int64(bitPattern: magnitude)
    }

    static let int64Magnitude: StaticString = "9223372036854775807"

    /// The value times `10^fractionDigits`, when that is exact and fits in `Int64`: `24.6` with
    /// 1 gives 246, `24` with 2 gives 2400, `24.50` with 1 gives 245. `nil` for an exponent,
    /// for more non-zero fraction digits than `fractionDigits`, for a negative
    /// `fractionDigits`, or on overflow.
    public func fixedPoint(fractionDigits: Int) -> Int64? {
        guard fractionDigits >= 0, !raw.isEmpty else { return nil }
        var index = 0
        let negative = raw[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        // Accumulated as a negative number, so Int64.min fits.
        var value: Int64 = 0
        var sawDigit = false
        var fraction = -1  // fraction digits taken so far; -1 before the point
        while index < raw.count {
            let byte = raw[index]
            index += 1
            if byte == UInt8(ascii: ".") {
                guard fraction < 0 else { return nil }
                fraction = 0
                continue
            }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }  // exponent
            sawDigit = true
            if fraction >= fractionDigits {
                // Beyond the precision asked for: only zeros keep the value exact.
                guard byte == UInt8(ascii: "0") else { return nil }
                continue
            }
            if fraction >= 0 { fraction += 1 }
            guard let next = JSONNumber.shift(value, digit: byte &- UInt8(ascii: "0")) else { return nil }
            value = next
        }
        guard sawDigit else { return nil }
        var scale = fraction < 0 ? 0 : fraction
        while scale < fractionDigits {
            guard let next = JSONNumber.shift(value, digit: 0) else { return nil }
            value = next
            scale += 1
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }

    /// `value * 10 - digit`, or `nil` on overflow.
    private static func shift(_ value: Int64, digit: UInt8) -> Int64? {
        let times = value.multipliedReportingOverflow(by: 10)
        if times.overflow { return nil }
        let result = times.partialValue.subtractingReportingOverflow(Int64(_truncatingBits: UInt(digit)))
        return result.overflow ? nil : result.partialValue
    }
}

/// A pull tokenizer for one JSON document (RFC 8259), over bytes the caller owns.
///
/// `next()` returns the tokens in order and `nil` after the top-level value, once it has seen
/// that only whitespace follows. The grammar is checked strictly as the tokens go by: numbers,
/// string escapes and UTF-8, literals, commas and colons, and nesting up to `maximumDepth`.
/// Strings and numbers are handed out as views into the document, undecoded.
///
/// The first error is final: later calls to `next()` throw it again.
public struct JSONReader {
    /// The document.
    public let bytes: ByteView
    /// Deepest nesting of objects and arrays accepted (at most 64).
    public let maximumDepth: Int
    /// Offset of the first byte not yet read.
    public private(set) var offset = 0
    /// Objects and arrays open at this point.
    public private(set) var depth = 0
    /// Offset of the first byte of the token returned last.
    public private(set) var tokenOffset = 0

    private enum State {
        /// A value must come (document start, after `:`, after `,` in an array).
        case value
        /// After `[`: a value or `]`.
        case valueOrEnd
        /// After `{`: a member name or `}`.
        case keyOrEnd
        /// After a member name: `:` then a value.
        case colon
        /// After a value: `,` or a closing bracket, or the end of the document at depth 0.
        case afterValue
        /// `nil` has been returned.
        case finished
    }

    private var state = State.value
    /// Bit `n` is set when the container at depth `n + 1` is an object.
    private var objectBits: UInt64 = 0
    private var failure: JSONError?

    /// A reader over `bytes`, which must stay valid while the reader and its tokens are used.
    public init(_ bytes: ByteView, maximumDepth: Int = 16) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth < 0 ? 0 : (maximumDepth > 64 ? 64 : maximumDepth)
    }

    /// The next token, or `nil` at the end of a complete document.
    @inline(never)
    public mutating func next() throws(JSONError) -> JSONToken? {
        if let failure { throw failure }
        do throws(JSONError) {
            return try step()
        } catch {
            failure = error
            throw error
        }
    }

    /// Skips the value that comes next, with everything nested in it. At a member name, skips
    /// the name and its value.
    public mutating func skipValue() throws(JSONError) {
        _ = try captureValue()
    }

    /// The bytes of the value that comes next, exactly as written (for passing through), after
    /// checking them. At a member name, the name is consumed and its value captured.
    @inline(never)  // one copy for every caller (flash)
    public mutating func captureValue() throws(JSONError) -> ByteView {
        if let failure { throw failure }
        // What `next()` changes when it returns `nil` or a closing bracket, put back then.
        let saved = (offset: offset, depth: depth, tokenOffset: tokenOffset, state: state)
        guard var token = try next() else {
            (offset, depth, tokenOffset, state) = saved
            throw JSONError(kind: .notAtValue, offset: offset)
        }
        if case .key = token {
            guard let value = try next() else { throw JSONError(kind: .unexpectedEnd, offset: offset) }
            token = value
        }
        let start = tokenOffset
        switch token {
        case .endObject, .endArray:
            (offset, depth, tokenOffset, state) = saved
            throw JSONError(kind: .notAtValue, offset: start)
        case .beginObject, .beginArray:
            // Up to the bracket that closes this container, which takes the depth below it
            // (`next()` returns `nil` only at depth 0, after the document's last bracket).
            let level = depth
            while depth >= level { _ = try next() }
        default: break
        }
        return bytes.slice(from: start, count: offset - start)
    }

    // MARK: Grammar

    private var inObject: Bool {
        depth > 0 && objectBits & JSONReader.bit(depth - 1) != 0
    }

    /// The bit for the container at depth `level + 1` (0...63). Written with `&<<` on a
    /// `UInt64` built from `_truncatingBits`: the generic shift or conversion from `Int` would
    /// pull in array code on 32-bit targets, which `-no-allocations` rejects.
    @inline(__always)
    private static func bit(_ level: Int) -> UInt64 {
        (1 as UInt64) &<< UInt64(_truncatingBits: UInt(bitPattern: level))
    }

    @inline(__always)
    private func byte(_ index: Int) -> UInt8 {
        bytes.start.load(fromByteOffset: index, as: UInt8.self)
    }

    private func error(_ kind: JSONError.Kind, _ at: Int) -> JSONError { JSONError(kind: kind, offset: at) }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch byte(offset) {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private mutating func step() throws(JSONError) -> JSONToken? {
        skipWhitespace()
        switch state {
        case .finished:
            return nil
        case .value:
            return try value()
        case .valueOrEnd:
            if offset < bytes.count && byte(offset) == UInt8(ascii: "]") { return close() }
            return try value()
        case .keyOrEnd:
            if offset < bytes.count && byte(offset) == UInt8(ascii: "}") { return close() }
            return try key()
        case .colon:
            guard offset < bytes.count else { throw error(.unexpectedEnd, offset) }
            guard byte(offset) == UInt8(ascii: ":") else { throw error(.expectedColon, offset) }
            offset += 1
            skipWhitespace()
            return try value()
        case .afterValue:
            if depth == 0 {
                guard offset == bytes.count else { throw error(.trailingCharacters, offset) }
                state = .finished
                return nil
            }
            guard offset < bytes.count else { throw error(.unexpectedEnd, offset) }
            let next = byte(offset)
            if next == UInt8(ascii: ",") {
                offset += 1
                skipWhitespace()
                return inObject ? try key() : try value()
            }
            if next == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) { return close() }
            throw error(.expectedCommaOrEnd, offset)
        }
    }

    private mutating func close() -> JSONToken {
        tokenOffset = offset
        offset += 1
        depth -= 1
        state = .afterValue
        return objectBits & JSONReader.bit(depth) != 0 ? .endObject : .endArray
    }

    private mutating func key() throws(JSONError) -> JSONToken {
        guard offset < bytes.count else { throw error(.unexpectedEnd, offset) }
        guard byte(offset) == UInt8(ascii: "\"") else { throw error(.expectedKey, offset) }
        let string = try scanString()
        state = .colon
        return .key(string)
    }

    private mutating func value() throws(JSONError) -> JSONToken {
        guard offset < bytes.count else { throw error(.unexpectedEnd, offset) }
        tokenOffset = offset
        switch byte(offset) {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let object = byte(offset) == UInt8(ascii: "{")
            guard depth < maximumDepth else { throw error(.nestingTooDeep, offset) }
            let bit = JSONReader.bit(depth)
            if object { objectBits |= bit } else { objectBits &= ~bit }
            depth += 1
            offset += 1
            state = object ? .keyOrEnd : .valueOrEnd
            return object ? .beginObject : .beginArray
        case UInt8(ascii: "\""):
            let string = try scanString()
            state = .afterValue
            return .string(string)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let number = try scanNumber()
            state = .afterValue
            return .number(number)
        case UInt8(ascii: "t"):
            try literal("true")
            state = .afterValue
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            state = .afterValue
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            state = .afterValue
            return .null
        default:
            throw error(.unexpectedCharacter, offset)
        }
    }

    /// Reads `word` at `offset`: `.invalidLiteral` at its start when it differs,
    /// `.unexpectedEnd` when the document stops inside it.
    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let expected = ByteView(word)
        var k = 0
        while k < expected.count {
            guard offset + k < bytes.count else { throw error(.unexpectedEnd, bytes.count) }
            guard byte(offset + k) == expected[k] else { throw error(.invalidLiteral, offset) }
            k += 1
        }
        offset += expected.count
    }

    // Index arithmetic in the scanners wraps (`&+`): indexes stay within a buffer's size, far
    // from `Int.max`, and each overflow check was a trap site of its own (flash).

    /// Reads a number at `offset`. `.invalidNumber` points at the byte where a digit was needed
    /// (or a leading zero's second digit).
    private mutating func scanNumber() throws(JSONError) -> JSONNumber {
        let start = offset
        var i = offset
        let count = bytes.count
        if byte(i) == UInt8(ascii: "-") { i &+= 1 }
        guard i < count, isDigit(byte(i)) else { throw error(.invalidNumber, i) }
        if byte(i) == UInt8(ascii: "0") {
            i &+= 1
            if i < count && isDigit(byte(i)) { throw error(.invalidNumber, i) }
        } else {
            while i < count && isDigit(byte(i)) { i &+= 1 }
        }
        if i < count && byte(i) == UInt8(ascii: ".") {
            i &+= 1
            guard i < count, isDigit(byte(i)) else { throw error(.invalidNumber, i) }
            while i < count && isDigit(byte(i)) { i &+= 1 }
        }
        if i < count && (byte(i) == UInt8(ascii: "e") || byte(i) == UInt8(ascii: "E")) {
            i &+= 1
            if i < count && (byte(i) == UInt8(ascii: "+") || byte(i) == UInt8(ascii: "-")) { i &+= 1 }
            guard i < count, isDigit(byte(i)) else { throw error(.invalidNumber, i) }
            while i < count && isDigit(byte(i)) { i &+= 1 }
        }
        offset = i
        return JSONNumber(raw: bytes.slice(from: start, count: i - start), offset: start)
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Reads a string whose opening quote is at `offset`. Escape errors point at the escape's
    /// backslash; a string cut off by the end of the document is `.unterminatedString` at its
    /// opening quote.
    private mutating func scanString() throws(JSONError) -> JSONString {
        let quote = offset
        let count = bytes.count
        var i = quote &+ 1
        var escaped = false
        while true {
            guard i < count else { throw error(.unterminatedString, quote) }
            let b = byte(i)
            if b == UInt8(ascii: "\"") { break }
            if b == UInt8(ascii: "\\") {
                escaped = true
                guard i &+ 1 < count else { throw error(.unterminatedString, quote) }
                switch byte(i &+ 1) {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i &+= 2
                case UInt8(ascii: "u"):
                    let unit = try hexEscape(at: i, quote: quote)
                    if unit >= 0xDC00 && unit <= 0xDFFF { throw error(.loneSurrogate, i) }
                    if unit >= 0xD800 && unit <= 0xDBFF {
                        // A high surrogate must be followed at once by `\u` and a low surrogate.
                        let second = i &+ 6
                        guard second < count else { throw error(.unterminatedString, quote) }
                        guard byte(second) == UInt8(ascii: "\\") else { throw error(.loneSurrogate, i) }
                        guard second &+ 1 < count else { throw error(.unterminatedString, quote) }
                        guard byte(second &+ 1) == UInt8(ascii: "u") else { throw error(.loneSurrogate, i) }
                        let low = try hexEscape(at: second, quote: quote)
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw error(.loneSurrogate, i) }
                        i &+= 12
                    } else {
                        i &+= 6
                    }
                default:
                    throw error(.invalidEscape, i)
                }
                continue
            }
            if b < 0x20 { throw error(.controlCharacterInString, i) }
            if b < 0x80 {
                i &+= 1
                continue
            }
            switch UTF8Scan.sequence(in: bytes, at: i) {
            case .valid(let length): i &+= length
            case .invalid(let at): throw error(.invalidUTF8, at)
            case .truncated: throw error(.unterminatedString, quote)
            }
        }
        offset = i &+ 1
        return JSONString(raw: bytes.slice(from: quote + 1, count: i - quote - 1), offset: quote, hasEscapes: escaped)
    }

    /// The code unit of the `\uXXXX` escape whose backslash is at `index`.
    private func hexEscape(at index: Int, quote: Int) throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        var k = 2
        while k < 6 {
            guard index &+ k < bytes.count else { throw error(.unterminatedString, quote) }
            guard let digit = hexValue(byte(index &+ k)) else { throw error(.invalidUnicodeEscape, index) }
            value = value << 4 | UInt32(digit)
            k &+= 1
        }
        return value
    }
}
