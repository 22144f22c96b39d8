import DeviceCore
import Testing

@Suite struct JSONWriterTests {
    @Test func everyKindOfValue() {
        let result = json { j in
            j.beginObject()
            j.key("a"); j.integer(Int64(1))
            j.key("b"); j.string("x")
            j.key("c"); j.bool(true)
            j.key("d"); j.bool(false)
            j.key("e"); j.null()
            j.key("f"); j.fixedPoint(246, fractionDigits: 1)
            j.key("g")
            j.beginArray()
            j.integer(1); j.integer(Int64(-2)); j.beginObject(); j.endObject(); j.beginArray(); j.endArray()
            j.fixedPoint(-5, fractionDigits: 2)
            j.endArray()
            j.key(view("h"))
            j.beginObject(); j.key("i"); j.beginArray(); j.endArray(); j.endObject()
            j.key("j"); j.integer(Int64.min)
            j.endObject()
        }
        #expect(result == .success(#"{"a":1,"b":"x","c":true,"d":false,"e":null,"f":24.6,"g":[1,-2,{},[],-0.05],"h":{"i":[]},"j":-9223372036854775808}"#))
    }

    @Test func topLevelScalarsAndEmptyContainers() {
        #expect(json { $0.integer(0) } == .success("0"))
        #expect(json { $0.string("") } == .success(#""""#))
        #expect(json { $0.null() } == .success("null"))
        #expect(json { $0.beginArray(); $0.endArray() } == .success("[]"))
        #expect(json { $0.beginObject(); $0.endObject() } == .success("{}"))
        #expect(json { $0.fixedPoint(0, fractionDigits: 1) } == .success("0.0"))
    }

    @Test func registerBodyWithRawPayload() {
        let result = json { j in
            j.beginObject()
            j.key("registrationId"); j.string(view("device1"))
            j.key("payload"); j.raw(view(#"{"modelId":"dtmi:com:example;1","a":[1,2]}"#))
            j.endObject()
        }
        #expect(result == .success(#"{"registrationId":"device1","payload":{"modelId":"dtmi:com:example;1","a":[1,2]}}"#))
        #expect(json { j in j.beginArray(); j.raw(view("1")); j.raw(view("[2]")); j.endArray() } == .success("[1,[2]]"))
    }

    @Test func escapesEveryControlCharacter() {
        var input: [UInt8] = Array(0x00...0x1F)
        input += Array(#""\/ "#.utf8) + [0x7F]
        var expected = "\""
        for byte in 0x00...0x1F {
            switch byte {
            case 0x08: expected += #"\b"#
            case 0x09: expected += #"\t"#
            case 0x0A: expected += #"\n"#
            case 0x0C: expected += #"\f"#
            case 0x0D: expected += #"\r"#
            default: expected += #"\u00"# + (byte < 0x10 ? "0" : "1") + String(byte & 0x0F, radix: 16)
            }
        }
        expected += #"\"\\/ "# + "\u{7F}\""
        #expect(json { $0.string(view(input)) } == .success(expected))
        #expect(expected.hasPrefix(#""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010"#))
        #expect(expected.hasSuffix(#"\u001e\u001f\"\\/ "# + "\u{7F}\""))
    }

    @Test func escapesInsideTextAndKeys() {
        #expect(json { $0.string(#"say "hi"\n"#) } == .success(#""say \"hi\"\\n""#))
        #expect(json { j in j.beginObject(); j.key("a\"b\\c\n"); j.integer(1); j.endObject() }
            == .success(#"{"a\"b\\c\n":1}"#))
        #expect(json { $0.string(view("line1\nline2\ttab")) } == .success(#""line1\nline2\ttab""#))
    }

    @Test func nonASCIIPassesThrough() {
        #expect(json { $0.string(view("ä✓😀")) } == .success("\"ä✓😀\""))
        #expect(json { $0.string("grüße ✓ 😀") } == .success("\"grüße ✓ 😀\""))
        #expect(json { $0.string(view([0xC3, 0xA4, 0xE2, 0x9C, 0x93, 0xF0, 0x9F, 0x98, 0x80])) }
            .value.map { Array($0.utf8) } == [0x22, 0xC3, 0xA4, 0xE2, 0x9C, 0x93, 0xF0, 0x9F, 0x98, 0x80, 0x22])
        // The largest scalar, U+10FFFF.
        #expect(json { $0.string(view([0xF4, 0x8F, 0xBF, 0xBF])) }.value.map { Array($0.utf8) } == [0x22, 0xF4, 0x8F, 0xBF, 0xBF, 0x22])
    }

    @Test(arguments: [
        ([0x61, 0xC3, 0x28] as [UInt8], 2),  // bad continuation
        ([0xFF], 0),  // never valid
        ([0x80], 0),  // lone continuation
        ([0xC0, 0xAF], 0),  // overlong '/'
        ([0xE0, 0x80, 0xAF], 1),  // overlong 3-byte
        ([0xED, 0xA0, 0x80], 1),  // encoded surrogate U+D800
        ([0xF4, 0x90, 0x80, 0x80], 1),  // above U+10FFFF
        ([0xF5, 0x80, 0x80, 0x80], 0),
        ([0x61, 0xE2, 0x9C], 1),  // truncated ✓
        ([0x61, 0x62, 0xF0, 0x9F, 0x98], 2),  // truncated 😀
        ([0xE2, 0x9C, 0x41], 2),
    ])
    func rejectsInvalidUTF8(input: [UInt8], offset: Int) {
        #expect(json { $0.string(view(input)) } == .failure(.invalidUTF8(offset: offset)))
        #expect(json { j in j.beginObject(); j.key(view(input)); j.null(); j.endObject() } == .failure(.invalidUTF8(offset: offset)))
    }

    @Test func firstErrorWinsAndLaterCallsAreIgnored() {
        var writer = JSONWriter(into: buffer(64))
        writer.beginArray()
        writer.string(view([0xFF]))
        writer.endObject()
        writer.endArray()
        #expect(writer.error == .invalidUTF8(offset: 0))
        #expect(text(writer.writer.written) == "[")
    }

    @Test func misuseIsUnbalanced() {
        #expect(json { $0.endObject() } == .failure(.unbalanced))
        #expect(json { $0.endArray() } == .failure(.unbalanced))
        #expect(json { j in j.beginObject(); j.integer(1); j.endObject() } == .failure(.unbalanced))  // value without key
        #expect(json { j in j.beginArray(); j.key("a"); j.endArray() } == .failure(.unbalanced))  // key in array
        #expect(json { $0.key("a") } == .failure(.unbalanced))  // key at top level
        #expect(json { j in j.beginObject(); j.key("a"); j.key("b") } == .failure(.unbalanced))  // two keys
        #expect(json { j in j.beginObject(); j.endArray() } == .failure(.unbalanced))  // mismatched end
        #expect(json { j in j.beginArray(); j.endObject() } == .failure(.unbalanced))
        #expect(json { j in j.beginObject(); j.key("a"); j.endObject() } == .failure(.unbalanced))  // key without value
        #expect(json { j in j.integer(1); j.integer(2) } == .failure(.unbalanced))  // two top-level values
        #expect(json { j in j.beginObject(); j.endObject(); j.beginArray() } == .failure(.unbalanced))
        #expect(json { j in j.beginObject() } == .failure(.unbalanced))  // still open
        #expect(json { j in j.beginArray(); j.beginArray(); j.endArray() } == .failure(.unbalanced))
        #expect(json { _ in } == .failure(.unbalanced))  // nothing written
        #expect(json { j in j.beginObject(); j.key("a"); j.beginObject(); j.key("b"); j.integer(1); j.endObject(); j.integer(2) }
            == .failure(.unbalanced))  // value after a member's value
    }

    @Test func nestingLimit() {
        let deepest = json(capacity: 128) { j in
            for _ in 0..<JSONWriter.maximumDepth { j.beginArray() }
            for _ in 0..<JSONWriter.maximumDepth { j.endArray() }
        }
        #expect(deepest == .success(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)))
        #expect(json(capacity: 128) { j in for _ in 0...JSONWriter.maximumDepth { j.beginArray() } } == .failure(.unbalanced))
        // Objects and arrays alternate correctly across many levels.
        let mixed = json { j in
            for _ in 0..<10 { j.beginObject(); j.key("a"); j.beginArray() }
            for _ in 0..<10 { j.endArray(); j.endObject() }
        }
        #expect(mixed == .success(String(repeating: #"{"a":["#, count: 10) + String(repeating: "]}", count: 10)))
    }

    @Test func overflowReportsExactNeed() {
        let body: (inout JSONWriter) -> Void = { j in
            j.beginObject(); j.key("registrationId"); j.string("device1"); j.endObject()
        }
        let full = #"{"registrationId":"device1"}"#
        #expect(json(capacity: full.utf8.count, body) == .success(full))
        #expect(json(capacity: 10, body) == .failure(.bufferTooSmall(BufferTooSmall(needed: full.utf8.count, capacity: 10))))
        // A misuse is reported rather than the overflow.
        #expect(json(capacity: 2) { j in j.string("abcdef"); j.null() } == .failure(.unbalanced))
    }

    @Test func continuesAPrefix() {
        var text = TextWriter(into: buffer(64))
        text.append("body=")
        var writer = JSONWriter(text)
        writer.beginArray(); writer.integer(1); writer.endArray()
        do throws(JSONWriteError) {
            #expect(TextTests.text(try writer.finish()) == "body=[1]")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func nulIsEscaped() {
        #expect(json { $0.string(view([0x61, 0x00, 0x62])) } == .success(#""a\u0000b""#))
    }

    @Test func outputReadsBackWithJSONReader() {
        let written = json { j in
            j.beginObject()
            j.key("s"); j.string(view(Array(0x00...0x7F) + Array("ä✓😀".utf8)))
            j.key("n"); j.fixedPoint(-12345, fractionDigits: 3)
            j.endObject()
        }.value!
        var reader = JSONReader(view(written))
        var decoded: [UInt8] = []
        var number: Int64?
        do {
            while let token = try reader.next() {
                if case .string(let s) = token {
                    let out = buffer(256)
                    decoded = bytes(try s.decode(into: out))
                }
                if case .number(let n) = token { number = n.fixedPoint(fractionDigits: 3) }
            }
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(decoded == Array(0x00...0x7F) + Array("ä✓😀".utf8))
        #expect(number == -12345)
    }
}
