// Target `json`: JSONReader tokenized to the end, with skipValue/captureValue mixed in and
// every string decoded into a small buffer.
//
// Input: byte 0 picks the maximum depth and the string buffer size, byte 1 seeds the choice of
// next/skip/capture; the rest is the document.

func fuzzJSONReader(_ data: ByteView) {
    var input = FuzzInput(data)
    let config = input.byte()
    let maximumDepth = Int(config & 0x0F) * 5  // 0...75; the reader clamps to 64
    let stringCapacity = Int(config >> 4) * 3  // 0...45
    var rng = SplitMix64(seed: UInt64(input.byte()))
    let document = FuzzBuffer(copying: input.rest)
    let small = FuzzBuffer(count: stringCapacity)

    // Pass 1: plain tokenizing. Errors are final and repeat.
    var plain = JSONReader(document.view, maximumDepth: maximumDepth)
    var plainTokens = 0
    var plainError: JSONError?
    while true {
        do throws(JSONError) {
            guard let token = try plain.next() else { break }
            plainTokens += 1
            checkToken(token, small: small)
        } catch {
            plainError = error
            fuzzCheck(error.offset >= 0 && error.offset <= document.raw.count, "error offset \(error.offset) outside the document")
            do throws(JSONError) {
                _ = try plain.next()
                finding("next() after an error did not throw")
            } catch {
                fuzzCheck(error == plainError!, "a second next() threw a different error")
            }
            break
        }
    }
    if plainError == nil {
        fuzzCheck(plain.depth == 0, "document ended at depth \(plain.depth)")
        do throws(JSONError) { let extra = try plain.next(); fuzzCheck(extra == nil, "next() after the end returned a token") } catch {
            finding("next() after the end threw \(error)")
        }
    }

    // Pass 2: the same document with skips and captures. A captured value is a document of its own.
    var reader = JSONReader(document.view, maximumDepth: maximumDepth)
    var steps = 0
    while steps < 10_000 {
        steps += 1
        let choice = rng.next() % 4
        do throws(JSONError) {
            if choice == 0 {
                let before = reader.offset
                try reader.skipValue()
                fuzzCheck(reader.offset >= before, "skipValue went backwards")
            } else if choice == 1 {
                let captured = try reader.captureValue()
                checkCaptured(captured, maximumDepth: maximumDepth, small: small)
            } else {
                guard let token = try reader.next() else { break }
                checkToken(token, small: small)
            }
        } catch {
            if error.kind == .notAtValue { continue }  // before a closing bracket or after the end
            // The document is bad: pass 1 must have said so too.
            fuzzCheck(plainError != nil, "pass 2 threw \(error) on a document pass 1 accepted")
            break
        }
    }
}

private func checkCaptured(_ captured: ByteView, maximumDepth: Int, small: FuzzBuffer) {
    let copy = FuzzBuffer(copying: captured)
    var reader = JSONReader(copy.view, maximumDepth: maximumDepth)
    do throws(JSONError) {
        var count = 0
        while let token = try reader.next() { count += 1; checkToken(token, small: small) }
        fuzzCheck(count > 0, "captured an empty value")
    } catch {
        finding("captured value \(hexString(captured)) is not a document: \(error)")
    }
}

nonisolated(unsafe) private let bigStringBuffer = FuzzBuffer(count: 1 << 20)

private func checkToken(_ token: JSONToken, small: FuzzBuffer) {
    switch token {
    case .key(let s), .string(let s):
        let needed = s.decodedCount
        fuzzCheck(needed <= s.raw.count, "decoded string longer than its escaped form")
        do throws(BufferTooSmall) {
            let decoded = try s.decode(into: small.raw)
            fuzzCheck(decoded.count == needed, "decoded \(decoded.count) bytes, decodedCount says \(needed)")
            fuzzCheck(s.equals(decoded), "string does not equal its own decoded value")
            // Decoded JSON text is well-formed UTF-8.
            var i = 0
            while i < decoded.count {
                switch UTF8Scan.sequence(in: decoded, at: i) {
                case .valid(let length): i += length
                default: finding("decoded string is not UTF-8: \(hexString(decoded)) from \(hexString(s.raw))")
                }
            }
        } catch {
            fuzzCheck(error == BufferTooSmall(needed: needed, capacity: small.raw.count) && needed > small.raw.count,
                      "decode into \(small.raw.count) bytes threw \(error), decodedCount \(needed)")
            do throws(BufferTooSmall) {
                let decoded = try s.decode(into: UnsafeMutableRawBufferPointer(rebasing: bigStringBuffer.raw[0..<needed]))
                fuzzCheck(decoded.count == needed && s.equals(decoded), "exact-size decode differs")
            } catch { finding("exact-size decode threw \(error)") }
        }
    case .number(let n):
        _ = n.int64()
        _ = n.fixedPoint(fractionDigits: Int(n.raw.count % 5))
        if let v = n.int64() {
            // An integer without exponent prints back as written (JSON has no leading zeros; -0 aside).
            let out = FuzzBuffer(count: 24)
            var w = TextWriter(into: out.raw)
            w.appendDecimal(v)
            if let text = try? w.finish(), !(n.raw == ByteView("-0")) {
                fuzzCheck(text == n.raw, "int64 of \(hexString(n.raw)) prints as \(hexString(text))")
            }
        }
    default:
        break
    }
}
