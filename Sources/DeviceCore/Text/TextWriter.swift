/// Appends UTF-8 text into a buffer the caller owns, without allocating.
///
/// Like `snprintf`, the writer keeps counting once the buffer is full: bytes that do not fit
/// are dropped, but `count` goes on growing, so `finish()` can say exactly how big the buffer
/// needed to be. Numbers are formatted by hand (decimal, fixed point, hex), never through
/// `String`.
public struct TextWriter {
    private let base: UnsafeMutableRawPointer?
    /// Bytes the buffer holds.
    public let capacity: Int
    /// Bytes written so far, counting those that did not fit.
    public private(set) var count: Int = 0

    /// A writer that starts at the beginning of `buffer`, which must outlive it.
    public init(into buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress
        capacity = buffer.baseAddress == nil ? 0 : buffer.count
    }

    /// `true` once more has been appended than the buffer holds.
    @inline(__always)
    public var overflowed: Bool { count > capacity }

    /// The bytes that fit, from the start of the buffer: all of them unless `overflowed`.
    public var written: ByteView {
        ByteView(baseAddress: base.map { UnsafeRawPointer($0) }, count: count < capacity ? count : capacity)
    }

    /// The text written, or `BufferTooSmall` with the exact size needed when it did not fit.
    public func finish() throws(BufferTooSmall) -> ByteView {
        if overflowed { throw BufferTooSmall(needed: count, capacity: capacity) }
        return written
    }

    /// Appends one byte.
    @inline(__always)
    public mutating func append(_ byte: UInt8) {
        if count < capacity {
            base.unsafelyUnwrapped.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        }
        count += 1
    }

    /// Appends the bytes of `bytes`, as they are. Out of line: inlined, each string literal
    /// appended carried its own copy of the overflow checks (flash).
    @inline(never)
    public mutating func append(_ bytes: ByteView) {
        let room = count < capacity ? capacity - count : 0
        let fitting = bytes.count < room ? bytes.count : room
        if fitting > 0 {
            (base.unsafelyUnwrapped + count).copyMemory(from: bytes.start, byteCount: fitting)
        }
        count += bytes.count
    }

    /// Appends the UTF-8 bytes of a string literal.
    @inline(__always)
    public mutating func append(_ text: StaticString) {
        append(ByteView(text))
    }

    /// Appends `value` in decimal, with a leading `-` when negative (`Int64.min` included).
    public mutating func appendDecimal(_ value: Int64) {
        appendFixedPoint(value, fractionDigits: 0)
    }

    /// Appends `value` in decimal.
    public mutating func appendDecimal(_ value: UInt64) {
        appendMagnitude(value, negative: false, fractionDigits: 0, minimumDigits: 1)
    }

    /// Appends `value` in decimal, with a leading `-` when negative.
    public mutating func appendDecimal(_ value: Int) {
        appendMagnitude(UInt64(_truncatingBits: value.magnitude), negative: value < 0, fractionDigits: 0, minimumDigits: 1)
    }

    /// Appends `value` in decimal, padded with leading zeros to at least `minimumDigits` digits
    /// (the sign, if any, comes before the zeros): `appendDecimal(7, minimumDigits: 2)` gives `07`.
    public mutating func appendDecimal(_ value: Int64, minimumDigits: Int) {
        appendMagnitude(value.magnitude, negative: value < 0, fractionDigits: 0, minimumDigits: minimumDigits)
    }

    /// Appends `value` in decimal, padded with leading zeros to at least `minimumDigits` digits.
    public mutating func appendDecimal(_ value: Int, minimumDigits: Int) {
        appendMagnitude(UInt64(_truncatingBits: value.magnitude), negative: value < 0, fractionDigits: 0, minimumDigits: minimumDigits)
    }

    /// Appends `value / 10^fractionDigits` as a decimal with exactly `fractionDigits` digits after
    /// the point, and at least one before it: `(246, 1)` gives `24.6`, `(-5, 2)` gives `-0.05`,
    /// `(0, 1)` gives `0.0`. A `fractionDigits` of 0 or less gives a plain integer.
    public mutating func appendFixedPoint(_ value: Int64, fractionDigits: Int) {
        appendMagnitude(value.magnitude, negative: value < 0, fractionDigits: fractionDigits, minimumDigits: 1)
    }

    /// Appends the two hex digits of `byte`.
    @inline(__always)
    public mutating func appendHex(_ byte: UInt8, uppercase: Bool) {
        append(hexDigit(byte >> 4, uppercase: uppercase))
        append(hexDigit(byte & 0x0F, uppercase: uppercase))
    }

    /// The digits of `magnitude`, with a point before the last `fractionDigits` and zeros in
    /// front up to `minimumDigits` (and up to one before the point). Written from the last digit
    /// back, each at its place (or only counted, past the end of the buffer): one division by
    /// ten per digit, where writing from the first needs a power of ten and two divisions.
    private mutating func appendMagnitude(_ magnitude: UInt64, negative: Bool, fractionDigits: Int, minimumDigits: Int) {
        let fraction = fractionDigits > 0 ? fractionDigits : 0
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            rest /= 10
            digits &+= 1  // at most 20
        }
        if digits < fraction + 1 { digits = fraction + 1 }
        if digits < minimumDigits { digits = minimumDigits }
        if negative { append(UInt8(ascii: "-")) }
        count += fraction > 0 ? digits + 1 : digits
        var position = count
        var value = magnitude
        var written = 0
        while written < digits {
            if written == fraction && fraction > 0 {
                position &-= 1  // never below where the number starts
                store(UInt8(ascii: "."), at: position)
            }
            position &-= 1
            store(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10), at: position)
            value /= 10
            written &+= 1
        }
    }

    /// Puts `byte` at `offset` if the buffer reaches it; `count` is left alone.
    @inline(__always)
    private func store(_ byte: UInt8, at offset: Int) {
        if offset < capacity {
            base.unsafelyUnwrapped.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
        }
    }
}

/// The hex digit for a value 0…15.
@inline(__always)
func hexDigit(_ nibble: UInt8, uppercase: Bool) -> UInt8 {
    if nibble < 10 { return UInt8(ascii: "0") &+ nibble }
    return (uppercase ? UInt8(ascii: "A") : UInt8(ascii: "a")) &+ (nibble &- 10)
}

/// The value of a hex digit (either case), or `nil`.
@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    let digit = byte &- UInt8(ascii: "0")
    if digit < 10 { return digit }
    let letter = (byte | 0x20) &- UInt8(ascii: "a")  // `A`...`F` folded onto `a`...`f`
    return letter < 6 ? letter &+ 10 : nil
}
