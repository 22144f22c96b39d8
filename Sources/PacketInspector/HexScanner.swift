/// Hex text to bytes, fed as UTF-8 in pieces of any size: the inspector's one hex reader, for
/// `decode`'s arguments and standard input and for `payload_hex`-style JSON fields.
///
/// Whitespace (Unicode's) is skipped anywhere, so `10 13 00 04` and `1013 0004` read the same
/// and a pair of digits may be split across pieces, tokens, lines or arguments. A token (a run
/// of non-whitespace) may start with `0x` or `0X`, which is skipped. Positions in errors are
/// 1-based and count Unicode scalars: `line 2, column 5`, `argument 1, column 3`, or
/// `character 7` when there is one segment (`segmentName` `nil`).
///
/// Each call writes the bytes it completes to `out`, which must hold `text.count / 2 + 1`
/// bytes, and says how many; on bad text it also returns the error, after the bytes before it.
struct HexScanner {
    /// What a segment is called in errors (`line`, `argument`); `nil` for a single segment.
    let segmentName: String?
    /// Whether a line feed ends the segment (standard input's lines); otherwise segments end
    /// only with `endSegment(into:)`.
    let linesAreSegments: Bool

    private var segment = 1
    /// Scalars read so far in the current segment.
    private var column = 0
    private var atTokenStart = true
    /// Column of a `0` that began a token and may begin `0x`; 0 when there is none.
    private var zeroColumn = 0
    /// A digit waiting for its partner (when `highColumn` is not 0), and where it was.
    private var high: UInt8 = 0
    private var highScalar: UInt32 = 0
    private var highSegment = 0
    private var highColumn = 0
    private var utf8 = UTF8ScalarDecoder()

    init(segmentName: String?, linesAreSegments: Bool = false) {
        self.segmentName = segmentName
        self.linesAreSegments = linesAreSegments
    }

    /// Reads `text`, a piece of the input.
    mutating func scan(_ text: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> (count: Int, error: InspectorError?) {
        precondition(out.count >= text.count / 2 + 1, "HexScanner: output buffer too small")
        var written = 0
        for byte in text {
            if byte < 0x80 && !utf8.isInsideScalar {
                let digit = Hex.digitValue(byte)
                // The common case, a digit inside a token, without the general path's checks.
                if digit < 16 && !atTokenStart && zeroColumn == 0 {
                    column &+= 1
                    take(digit, scalar: UInt32(byte), column: column, out, &written)
                    continue
                }
                if let error = read(UInt32(byte), digit: digit, out, &written) { return (written, error) }
                continue
            }
            switch utf8.step(byte) {
            case .pending: continue
            case .invalid:
                return (written, InspectorError("\(position(segment, column + 1)): not UTF-8 text (byte 0x\(Hex.string([byte])))"))
            case .scalar(let value):
                if let error = read(value, digit: 0xFF, out, &written) { return (written, error) }
            }
        }
        return (written, nil)
    }

    /// Ends the current segment (an argument): the next text starts a token at column 1 of the
    /// next one.
    mutating func endSegment(into out: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        settleZero(out, &written)
        segment += 1
        column = 0
        atTokenStart = true
        return written
    }

    /// Ends the input: a digit without a partner, or text ending inside a UTF-8 sequence, is an
    /// error.
    mutating func finish(into out: UnsafeMutableRawBufferPointer) -> (count: Int, error: InspectorError?) {
        if utf8.isInsideScalar {
            return (0, InspectorError("\(position(segment, column + 1)): not UTF-8 text (it ends inside a character)"))
        }
        var written = 0
        settleZero(out, &written)
        if highColumn != 0 {
            let digit = Hex.quoted(Unicode.Scalar(highScalar).unsafelyUnwrapped)
            return (written, InspectorError(
                "odd number of hex digits: the last digit, \(digit) at \(position(highSegment, highColumn)), has no partner"))
        }
        return (written, nil)
    }

    /// One scalar, by the general rules; `digit` is its value as a hex digit, or 16 and more.
    private mutating func read(_ scalar: UInt32, digit: UInt8, _ out: UnsafeMutableRawBufferPointer, _ written: inout Int) -> InspectorError? {
        column += 1
        if linesAreSegments && scalar == 0x0A {
            settleZero(out, &written)
            segment += 1
            column = 0
            atTokenStart = true
            return nil
        }
        if Hex.isWhitespace(scalar) {
            settleZero(out, &written)
            atTokenStart = true
            return nil
        }
        if zeroColumn != 0 {
            if scalar == 0x78 || scalar == 0x58 {  // "0x" or "0X": skipped
                zeroColumn = 0
                return nil
            }
            settleZero(out, &written)
        }
        if atTokenStart {
            atTokenStart = false
            if scalar == 0x30 {  // "0": a digit, unless "x" follows
                zeroColumn = column
                return nil
            }
        }
        guard digit < 16 else {
            return InspectorError("\(position(segment, column)): \(Hex.quoted(Unicode.Scalar(scalar).unsafelyUnwrapped)) is not a hex digit")
        }
        take(digit, scalar: scalar, column: column, out, &written)
        return nil
    }

    /// A `0` that began a token and was not followed by `x`: a digit after all.
    private mutating func settleZero(_ out: UnsafeMutableRawBufferPointer, _ written: inout Int) {
        guard zeroColumn != 0 else { return }
        take(0, scalar: 0x30, column: zeroColumn, out, &written)
        zeroColumn = 0
    }

    @inline(__always)
    private mutating func take(_ digit: UInt8, scalar: UInt32, column: Int, _ out: UnsafeMutableRawBufferPointer, _ written: inout Int) {
        if highColumn != 0 {
            out[written] = high << 4 | digit
            written &+= 1
            highColumn = 0
        } else {
            high = digit
            highScalar = scalar
            highSegment = segment
            highColumn = column
        }
    }

    private func position(_ segment: Int, _ column: Int) -> String {
        guard let segmentName else { return "character \(column)" }
        return "\(segmentName) \(segment), column \(column)"
    }
}
