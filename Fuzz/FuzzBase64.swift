// Target `base64`: Base64.decode into a small buffer, in place, and the round trip.

func fuzzBase64(_ data: ByteView) {
    var input = FuzzInput(data)
    let capacity = Int(input.byte())
    let text = FuzzBuffer(copying: input.rest)
    let small = FuzzBuffer(count: capacity)
    let big = FuzzBuffer(count: text.raw.count)

    let full: Result<ByteView, Base64Error> = Result { () throws(Base64Error) in try Base64.decode(text.view, into: big.raw) }
    let limited: Result<ByteView, Base64Error> = Result { () throws(Base64Error) in try Base64.decode(text.view, into: small.raw) }
    switch full {
    case .success(let decoded):
        fuzzCheck(decoded.count * 4 <= text.raw.count * 3, "decoded more than 3/4 of the text")
        fuzzCheck(text.raw.count == Base64.encodedCount(decoded.count), "length mismatch")
        // Strict base64 has one encoding per byte string: the round trip gives the text back.
        let out = FuzzBuffer(count: text.raw.count)
        var writer = TextWriter(into: out.raw)
        Base64.encode(decoded, into: &writer)
        do throws(BufferTooSmall) {
            let again = try writer.finish()
            fuzzCheck(again == text.view, "round trip differs: \(hexString(text.view)) -> \(hexString(again))")
        } catch { finding("round trip overflow") }
        switch limited {
        case .success(let d): fuzzCheck(d == decoded, "small-buffer decode differs")
        case .failure(let e):
            fuzzCheck(e.kind == .bufferTooSmall(BufferTooSmall(needed: decoded.count, capacity: capacity)) && decoded.count > capacity, "small buffer: \(e)")
        }
        // In place: the output overwrites the text from its start.
        let inPlace = FuzzBuffer(copying: text.view)
        do throws(Base64Error) {
            let d = try Base64.decode(inPlace.view, into: inPlace.raw)
            fuzzCheck(d == decoded, "in-place decode differs")
        } catch { finding("in-place decode failed: \(error)") }
    case .failure(let error):
        fuzzCheck(error.offset >= 0 && error.offset <= text.raw.count, "error offset \(error.offset)")
        switch limited {
        case .success: finding("decode succeeds only into the small buffer")
        case .failure(let e): fuzzCheck(e == error, "small-buffer error \(e) differs from \(error)")
        }
    }
}
