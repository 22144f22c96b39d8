/// Why `JSONWriter` could not produce a document.
public enum JSONWriteError: Error, Equatable, Sendable {
    /// The document did not fit; `needed` is the size it takes.
    case bufferTooSmall(BufferTooSmall)
    /// A string or key passed to the writer is not well-formed UTF-8; `offset` is the first
    /// offending byte within that string.
    case invalidUTF8(offset: Int)
    /// The calls do not make one JSON value: a value without a key inside an object, a key
    /// inside an array, an end that does not match its begin, a second top-level value,
    /// nesting deeper than 32, or `finish()` with containers still open or nothing written.
    case unbalanced
}

/// Writes one JSON document into a caller's buffer, without allocating.
///
/// The calls a body builder makes many of are `@inline(never)`: one copy each instead of one per
/// call site keeps a firmware's flash small (measured with `make size`).
///
/// Commas and colons are placed automatically:
///
///     var json = JSONWriter(into: buffer)
///     json.beginObject()
///     json.key("registrationId"); json.string(id)
///     json.key("temperature"); json.fixedPoint(246, fractionDigits: 1)
///     json.endObject()
///     let body = try json.finish()   // {"registrationId":"…","temperature":24.6}
///
/// Misuse is reported, never trapped on: the first error is remembered, later calls are ignored,
/// and `finish()` throws it. Strings are checked to be well-formed UTF-8 and escaped (`"`, `\`
/// and control characters; everything else, non-ASCII included, is written as is).
public struct JSONWriter {
    /// The text written so far (including anything the writer held before the JSON began).
    public private(set) var writer: TextWriter
    /// The first misuse or invalid string, if any.
    public private(set) var error: JSONWriteError?

    /// Open containers (at most `maximumDepth`).
    private var depth = 0
    /// Bit `n` is set when the container at depth `n + 1` is an object.
    private var objectBits: UInt32 = 0
    /// Something was written at the current level, so the next item needs a comma.
    private var needsComma = false
    /// Inside an object, a key was written and its value has not been.
    private var awaitingValue = false
    /// The top-level value is complete.
    private var complete = false
    /// Between `beginString()` and `endString()`.
    private var inString = false

    /// Deepest nesting the writer accepts.
    public static let maximumDepth = 32

    /// A writer that starts at the beginning of `buffer`.
    public init(into buffer: UnsafeMutableRawBufferPointer) {
        writer = TextWriter(into: buffer)
    }

    /// A writer that continues `writer` (for JSON after a prefix); `finish()` returns everything.
    public init(_ writer: TextWriter) {
        self.writer = writer
    }

    /// The document, or why there is none. A recorded error wins over an overflow.
    public func finish() throws(JSONWriteError) -> ByteView {
        if let error { throw error }
        if depth != 0 || !complete || inString { throw .unbalanced }
        do throws(BufferTooSmall) {
            return try writer.finish()
        } catch {
            throw .bufferTooSmall(error)
        }
    }

    // MARK: Containers

    /// Writes `{`.
    public mutating func beginObject() { begin(object: true) }
    /// Writes `}`.
    public mutating func endObject() { end(object: true) }
    /// Writes `[`.
    public mutating func beginArray() { begin(object: false) }
    /// Writes `]`.
    public mutating func endArray() { end(object: false) }

    // MARK: Keys

    /// Writes a member name and `:`; the next call must write its value.
    public mutating func key(_ name: StaticString) { key(ByteView(name)) }

    /// Writes a member name (UTF-8, escaped as needed) and `:`; the next call must write its value.
    @inline(never)
    public mutating func key(_ name: ByteView) {
        guard error == nil else { return }
        guard depth > 0, inObject, !awaitingValue, !inString else { return fail(.unbalanced) }
        guard let invalid = firstInvalidUTF8(name) else {
            if needsComma { writer.append(UInt8(ascii: ",")) }
            writeString(name)
            writer.append(UInt8(ascii: ":"))
            awaitingValue = true
            return
        }
        fail(.invalidUTF8(offset: invalid))
    }

    // MARK: Values

    /// Writes a string value: UTF-8, escaped as needed.
    @inline(never)
    public mutating func string(_ value: ByteView) {
        guard beginValue() else { return }
        if let invalid = firstInvalidUTF8(value) { return fail(.invalidUTF8(offset: invalid)) }
        writeString(value)
        endValue()
    }

    /// Writes a string value.
    public mutating func string(_ value: StaticString) { string(ByteView(value)) }

    /// Writes an integer.
    public mutating func integer(_ value: Int64) {
        guard beginValue() else { return }
        writer.appendDecimal(value)
        endValue()
    }

    /// Writes an integer.
    public mutating func integer(_ value: Int) {
        guard beginValue() else { return }
        writer.appendDecimal(value)
        endValue()
    }

    /// Writes `value / 10^fractionDigits` as a decimal number: `(246, 1)` gives `24.6`.
    @inline(never)
    public mutating func fixedPoint(_ value: Int64, fractionDigits: Int) {
        guard beginValue() else { return }
        writer.appendFixedPoint(value, fractionDigits: fractionDigits)
        endValue()
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        guard beginValue() else { return }
        writer.append(value ? "true" : "false")
        endValue()
    }

    /// Writes `null`.
    public mutating func null() {
        guard beginValue() else { return }
        writer.append("null")
        endValue()
    }

    /// Starts a string value written in parts, for text composed on the fly without a scratch
    /// buffer: `beginString()`, any number of `stringPart`/`stringDecimal`, then `endString()`.
    @inline(never)
    public mutating func beginString() {
        guard beginValue() else { return }
        writer.append(UInt8(ascii: "\""))
        inString = true
    }

    /// Appends `part` (UTF-8, escaped as needed) to the string begun with `beginString()`.
    @inline(never)
    public mutating func stringPart(_ part: ByteView) {
        guard error == nil else { return }
        guard inString else { return fail(.unbalanced) }
        if let invalid = firstInvalidUTF8(part) { return fail(.invalidUTF8(offset: invalid)) }
        writeEscaped(part)
    }

    /// Appends `part` to the string begun with `beginString()`.
    public mutating func stringPart(_ part: StaticString) { stringPart(ByteView(part)) }

    /// Appends `value` in decimal to the string begun with `beginString()`.
    @inline(never)
    public mutating func stringDecimal(_ value: Int64) {
        guard error == nil else { return }
        guard inString else { return fail(.unbalanced) }
        writer.appendDecimal(value)
    }

    /// Appends what `body` writes, unescaped, to the string begun with `beginString()`: for
    /// ASCII text that needs no escaping (timestamps, numbers).
    public mutating func stringPartUnescaped(_ body: (inout TextWriter) -> Void) {
        guard error == nil else { return }
        guard inString else { return fail(.unbalanced) }
        body(&writer)
    }

    /// Closes the string begun with `beginString()`.
    @inline(never)
    public mutating func endString() {
        guard error == nil else { return }
        guard inString else { return fail(.unbalanced) }
        writer.append(UInt8(ascii: "\""))
        inString = false
        endValue()
    }

    /// Writes `json` as one value, unchanged. It is not checked: it must be a complete, valid
    /// JSON value (for example a custom payload already checked with `JSONReader`).
    public mutating func raw(_ json: ByteView) {
        guard beginValue() else { return }
        writer.append(json)
        endValue()
    }

    // MARK: State

    private var inObject: Bool { depth > 0 && objectBits & (1 << UInt32(truncatingIfNeeded: depth - 1)) != 0 }

    private mutating func fail(_ failure: JSONWriteError) {
        if error == nil { error = failure }
    }

    /// Checks a value may come here and writes the comma before it.
    private mutating func beginValue() -> Bool {
        guard error == nil else { return false }
        if inString { fail(.unbalanced); return false }
        if depth == 0 {
            if complete { fail(.unbalanced); return false }
        } else if inObject {
            if !awaitingValue { fail(.unbalanced); return false }
        } else if needsComma {
            writer.append(UInt8(ascii: ","))
        }
        return true
    }

    private mutating func endValue() {
        awaitingValue = false
        needsComma = true
        if depth == 0 { complete = true }
    }

    @inline(never)
    private mutating func begin(object: Bool) {
        guard beginValue() else { return }
        guard depth < JSONWriter.maximumDepth else { return fail(.unbalanced) }
        writer.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        let bit: UInt32 = 1 << UInt32(truncatingIfNeeded: depth)
        if object { objectBits |= bit } else { objectBits &= ~bit }
        depth += 1
        needsComma = false
        awaitingValue = false
    }

    @inline(never)
    private mutating func end(object: Bool) {
        guard error == nil else { return }
        guard depth > 0, inObject == object, !awaitingValue, !inString else { return fail(.unbalanced) }
        writer.append(object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        depth -= 1
        endValue()
    }

    /// Writes `"…"` with the escapes JSON requires; `value` is well-formed UTF-8.
    private mutating func writeString(_ value: ByteView) {
        writer.append(UInt8(ascii: "\""))
        writeEscaped(value)
        writer.append(UInt8(ascii: "\""))
    }

    /// Writes `value`'s bytes with `"`, `\` and control characters escaped.
    private mutating func writeEscaped(_ value: ByteView) {
        var index = 0
        var runStart = 0
        while index < value.count {
            let byte = value[index]
            let escape: UInt8
            switch byte {
            case UInt8(ascii: "\""): escape = UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): escape = UInt8(ascii: "\\")
            case 0x08: escape = UInt8(ascii: "b")
            case 0x0C: escape = UInt8(ascii: "f")
            case 0x0A: escape = UInt8(ascii: "n")
            case 0x0D: escape = UInt8(ascii: "r")
            case 0x09: escape = UInt8(ascii: "t")
            case 0x00..<0x20: escape = UInt8(ascii: "u")
            default:
                index += 1
                continue
            }
            writer.append(value.slice(from: runStart, count: index - runStart))
            writer.append(UInt8(ascii: "\\"))
            writer.append(escape)
            if escape == UInt8(ascii: "u") {
                writer.append("00")
                writer.appendHex(byte, uppercase: false)
            }
            index += 1
            runStart = index
        }
        writer.append(value.slice(from: runStart, count: index - runStart))
    }
}

/// Offset of the first byte of `bytes` that breaks well-formed UTF-8, or `nil`. Out of line:
/// one copy for keys, strings and string parts.
@inline(never)
func firstInvalidUTF8(_ bytes: ByteView) -> Int? {
    var index = 0
    while index < bytes.count {
        if bytes[index] < 0x80 {
            index += 1
            continue
        }
        switch UTF8Scan.sequence(in: bytes, at: index) {
        case .valid(let length): index += length
        case .invalid(let offset): return offset
        case .truncated: return index
        }
    }
    return nil
}
