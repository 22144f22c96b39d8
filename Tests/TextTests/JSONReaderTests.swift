import DeviceCore
import DeviceCoreWords
import Testing

/// A realistic DPS 200 response body (operation ids and etags as the service sends them).
let dpsAssignedBody = #"""
{"operationId":"4.d0a6e8f44a1c3f6b.0c2c7e0b-7a1b-4c7e-9b0e-1f2a3b4c5d6e","status":"assigned","registrationState":{"x509":{},"registrationId":"device1","createdDateTimeUtc":"2025-05-22T08:06:58.2Z","assignedHub":"contoso.azure-devices.net","deviceId":"device1","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2025-05-22T08:06:59.626893Z","etag":"IjFhMDA4NjE4LTAwMDAtMDMwMC0wMDAwLTY4MmVkYzgzMDAwMCI=","payload":{"a":[1,2,{"b":null}]}}}
"""#

@Suite struct JSONReaderTests {
    @Test func dpsResponseTokens() {
        let result = tokens(dpsAssignedBody)
        #expect(result == .success([
            "{",
            "k:operationId", "s:4.d0a6e8f44a1c3f6b.0c2c7e0b-7a1b-4c7e-9b0e-1f2a3b4c5d6e",
            "k:status", "s:assigned",
            "k:registrationState", "{",
            "k:x509", "{", "}",
            "k:registrationId", "s:device1",
            "k:createdDateTimeUtc", "s:2025-05-22T08:06:58.2Z",
            "k:assignedHub", "s:contoso.azure-devices.net",
            "k:deviceId", "s:device1",
            "k:status", "s:assigned",
            "k:substatus", "s:initialAssignment",
            "k:lastUpdatedDateTimeUtc", "s:2025-05-22T08:06:59.626893Z",
            "k:etag", "s:IjFhMDA4NjE4LTAwMDAtMDMwMC0wMDAwLTY4MmVkYzgzMDAwMCI=",
            "k:payload", "{", "k:a", "[", "n:1", "n:2", "{", "k:b", "null", "}", "]", "}",
            "}",
            "}",
        ]))
    }

    /// Reads the fields a DPS client needs, skipping the rest, and captures the custom payload.
    @Test func dpsResponseNavigation() throws {
        var reader = JSONReader(view(dpsAssignedBody))
        var status = "", hub = "", device = "", payload = "", skipped: [String] = []
        #expect(try reader.next() == .beginObject)
        while case .key(let key)? = try reader.next() {
            if key.equals("status") {
                guard case .string(let s)? = try reader.next() else { Issue.record("status"); return }
                status = text(s.raw)
            } else if key.equals("registrationState") {
                #expect(try reader.next() == .beginObject)
                while case .key(let inner)? = try reader.next() {
                    if inner.equals("assignedHub"), case .string(let s)? = try reader.next() {
                        hub = text(try s.decode(into: buffer(64)))
                    } else if inner.equals("deviceId"), case .string(let s)? = try reader.next() {
                        device = text(s.raw)
                    } else if inner.equals("payload") {
                        payload = text(try reader.captureValue())
                    } else {
                        skipped.append(text(inner.raw))
                        try reader.skipValue()
                    }
                }
            } else {
                skipped.append(text(key.raw))
                try reader.skipValue()
            }
        }
        #expect(try reader.next() == nil)
        #expect(try reader.next() == nil)
        #expect(status == "assigned")
        #expect(hub == "contoso.azure-devices.net")
        #expect(device == "device1")
        #expect(payload == #"{"a":[1,2,{"b":null}]}"#)
        #expect(skipped == ["operationId", "x509", "registrationId", "createdDateTimeUtc", "status", "substatus",
                            "lastUpdatedDateTimeUtc", "etag"])
    }

    @Test func captureAndSkip() throws {
        var reader = JSONReader(view(#" { "a" : [ 1 , { "b" : "x" } ] , "c" : -1.5e3 , "d" : true } "#))
        #expect(try reader.next() == .beginObject)
        // At a key, captureValue consumes the key and captures its value.
        #expect(text(try reader.captureValue()) == #"[ 1 , { "b" : "x" } ]"#)
        #expect(describe(try reader.next()!) == "k:c")
        #expect(text(try reader.captureValue()) == "-1.5e3")
        try reader.skipValue()  // "d": true
        // No value before `}`: an error that leaves the reader usable.
        do throws(JSONError) {
            try reader.skipValue()
            Issue.record("expected notAtValue")
        } catch {
            #expect(error == JSONError(kind: .notAtValue, offset: 59))
        }
        #expect(try reader.next() == .endObject)
        #expect(try reader.next() == nil)
        do throws(JSONError) {
            _ = try reader.captureValue()
            Issue.record("expected notAtValue")
        } catch {
            #expect(error.kind == .notAtValue)
        }
        // Whole documents.
        var scalar = JSONReader(view(" \"s\" "))
        #expect(text(try scalar.captureValue()) == "\"s\"")
        #expect(try scalar.next() == nil)
        var nested = JSONReader(view("[[[]],{}]"))
        #expect(text(try nested.captureValue()) == "[[[]],{}]")
        #expect(try nested.next() == nil)
        // Errors inside the skipped value are reported.
        var broken = JSONReader(view(#"{"a":[1,2,}"#))
        _ = try broken.next()
        do throws(JSONError) {
            try broken.skipValue()
            Issue.record("expected an error")
        } catch {
            #expect(error == JSONError(kind: .unexpectedCharacter, offset: 10))
        }
        // A document that ends inside the captured value; the capture stops at its own bracket.
        var truncated = JSONReader(view(#"{"a":[1,[2]"#))
        _ = try truncated.next()
        do throws(JSONError) {
            _ = try truncated.captureValue()
            Issue.record("expected an error")
        } catch {
            #expect(error == JSONError(kind: .unexpectedEnd, offset: 11))
        }
        var siblings = JSONReader(view(#"[[1,[2]],3]"#))
        _ = try siblings.next()
        #expect(text(try siblings.captureValue()) == "[1,[2]]")
        #expect(siblings.depth == 1)
        guard case .number(let three)? = try siblings.next() else { Issue.record("expected 3"); return }
        #expect(text(three.raw) == "3")
        #expect(try siblings.next() == .endArray)
    }

    @Test func allValueKinds() {
        #expect(tokens(#"[true,false,null,-0,0,1.5e-3,2E+10,-12.34,"x",{},[]]"#) == .success([
            "[", "true", "false", "null", "n:-0", "n:0", "n:1.5e-3", "n:2E+10", "n:-12.34", "s:x", "{", "}", "[", "]", "]",
        ]))
        #expect(tokens("42") == .success(["n:42"]))
        #expect(tokens(" \t\r\n null \n") == .success(["null"]))
        #expect(tokens(#""only""#) == .success(["s:only"]))
        #expect(tokens(#"{"":""}"#) == .success(["{", "k:", "s:", "}"]))
        #expect(tokens("[0.0,1E5,1e-0]") == .success(["[", "n:0.0", "n:1E5", "n:1e-0", "]"]))
    }

    @Test func nestingLimit() {
        let sixteen = String(repeating: "[", count: 16) + String(repeating: "]", count: 16)
        #expect(tokens(sixteen).value?.count == 32)
        let seventeen = String(repeating: "[", count: 17) + String(repeating: "]", count: 17)
        #expect(tokens(seventeen).failure == JSONError(kind: .nestingTooDeep, offset: 16))
        #expect(tokens(#"{"a":{"b":[{}]}}"#, maximumDepth: 3).failure == JSONError(kind: .nestingTooDeep, offset: 11))
        #expect(tokens(#"{"a":{"b":[]}}"#, maximumDepth: 3).value?.count == 8)
        #expect(tokens("[]", maximumDepth: 0).failure == JSONError(kind: .nestingTooDeep, offset: 0))
        #expect(tokens("1", maximumDepth: 0) == .success(["n:1"]))
        let deep = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(tokens(deep, maximumDepth: 1000).value?.count == 128)  // clamped to 64
        #expect(tokens("[" + deep + "]", maximumDepth: 1000).failure == JSONError(kind: .nestingTooDeep, offset: 64))
        // Alternating objects and arrays at depth: the right closer is expected at each level.
        let mixed = String(repeating: #"{"a":["#, count: 30) + String(repeating: "]}", count: 30)
        #expect(tokens(mixed, maximumDepth: 60).value?.count == 150)
    }

    @Test func errorsAreSticky() {
        var reader = JSONReader(view("[1,]"))
        var first: JSONError?
        do throws(JSONError) {
            while try reader.next() != nil {}
        } catch {
            first = error
        }
        #expect(first == JSONError(kind: .unexpectedCharacter, offset: 3))
        do throws(JSONError) {
            _ = try reader.next()
            Issue.record("expected the same error again")
        } catch {
            #expect(error == first)
        }
        #expect(first?.summary.description == "character cannot start a JSON value here")
    }

    @Test func tokenOffsets() throws {
        var again = JSONReader(view(#" {"k": [12, "s"]}"#))
        var own: [Int] = []
        while let token = try again.next() {
            switch token {
            case .key(let s), .string(let s): own.append(s.offset)
            case .number(let n): own.append(n.offset)
            default: own.append(again.tokenOffset)
            }
        }
        #expect(own == [1, 2, 7, 8, 12, 15, 16])
    }
}

@Suite struct JSONStringTests {
    /// The first string token of `document`.
    func string(_ document: String) -> JSONString {
        var reader = JSONReader(view(document))
        while let token = try? reader.next() {
            if case .string(let s) = token { return s }
        }
        fatalError("no string in \(document)")
    }

    func decoded(_ document: String, capacity: Int = 64) -> Result<[UInt8], BufferTooSmall> {
        do throws(BufferTooSmall) {
            return .success(bytes(try string(document).decode(into: buffer(capacity))))
        } catch {
            return .failure(error)
        }
    }

    @Test func surrogatePair() {
        #expect(decoded(#""\ud83d\ude00""#) == .success([0xF0, 0x9F, 0x98, 0x80]))
        #expect(decoded(#""\uD83D\uDE00""#) == .success([0xF0, 0x9F, 0x98, 0x80]))
        #expect(decoded(#""\udbff\udfff""#) == .success([0xF4, 0x8F, 0xBF, 0xBF]))  // U+10FFFF
        #expect(decoded(#""\ud800\udc00""#) == .success([0xF0, 0x90, 0x80, 0x80]))  // U+10000
        #expect(string(#""\ud83d\ude00""#).equals("😀"))
    }

    @Test func everyEscape() {
        #expect(decoded(#""\"\\\/\b\f\n\r\t""#) == .success([0x22, 0x5C, 0x2F, 0x08, 0x0C, 0x0A, 0x0D, 0x09]))
        #expect(decoded(#""\u0000\u0041\u00e4\u00E4\u07ff\u0800\u2713\uffff""#)
            == .success([0x00, 0x41, 0xC3, 0xA4, 0xC3, 0xA4, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xE2, 0x9C, 0x93, 0xEF, 0xBF, 0xBF]))
        #expect(decoded(#""plain ä✓😀""#) == .success(Array("plain ä✓😀".utf8)))
        #expect(decoded(#""a\nb""#) == .success(Array("a\nb".utf8)))
        #expect(decoded(#""""#) == .success([]))
    }

    @Test func decodeBufferTooSmall() {
        #expect(decoded(#"  "\u2713\u2713""#, capacity: 5) == .failure(BufferTooSmall(needed: 6, capacity: 5)))
        #expect(decoded(#""\u2713\u2713""#, capacity: 6) == .success([0xE2, 0x9C, 0x93, 0xE2, 0x9C, 0x93]))
        #expect(decoded(#""abcdef""#, capacity: 3) == .failure(BufferTooSmall(needed: 6, capacity: 3)))
        #expect(string(#""a\u00e4\ud83d\ude00""#).decodedCount == 7)
        #expect(string(#""abc""#).decodedCount == 3)
    }

    @Test func equalsComparesDecodedValue() {
        #expect(string(#""assigned""#).equals("assigned"))
        #expect(!string(#""assigned""#).equals("assigning"))
        #expect(!string(#""assigned""#).equals("assigne"))
        #expect(!string(#""assigned""#).equals("assignedX"))
        #expect(string(#""a\u0062c""#).equals("abc"))
        #expect(!string(#""a\u0062c""#).equals("ab"))
        #expect(!string(#""a\u0062c""#).equals("abcd"))
        #expect(!string(#""a\u0062c""#).equals("a\\u0062c"))
        #expect(string(#""\u00e4""#).equals("ä"))
        #expect(string(#""ä""#).equals("ä"))
        #expect(string(#""\/\"""#).equals("/\""))
        #expect(string(#""""#).equals(""))
        #expect(!string(#""""#).equals("x"))
        #expect(string(#""x\n""#).equals(view("x\n")))
        // `==` compares raw bytes.
        #expect(string(#""\u0041""#) != string(#""A""#))
        #expect(string(#""A""#) == string(#" "A" "#))
    }
}

@Suite struct JSONNumberTests {
    func number(_ text: String) -> JSONNumber {
        var reader = JSONReader(view(text))
        guard case .number(let n)? = try? reader.next() else { fatalError("not a number: \(text)") }
        return n
    }

    @Test(arguments: [
        ("0", Int64(0) as Int64?), ("-0", 0), ("7", 7), ("-7", -7), ("1234567890123", 1_234_567_890_123),
        ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ("9223372036854775808", nil), ("-9223372036854775809", nil), ("99999999999999999999", nil),
        ("1.0", nil), ("1e2", nil), ("1E0", nil), ("-1.5", nil),
    ])
    func int64(text: String, expected: Int64?) {
        #expect(number(text).int64() == expected)
    }

    @Test(arguments: [
        ("24.6", 1, Int64(246) as Int64?), ("24", 2, 2400), ("-0.05", 2, -5), ("0", 1, 0), ("0.0", 1, 0),
        ("24.65", 1, nil), ("24.60", 1, 246), ("24.600000000000000000000", 1, 246), ("-24.6", 1, -246),
        ("1e2", 0, nil), ("1.5E1", 1, nil), ("5", 0, 5), ("5.5", 0, nil), ("5.0", 0, 5), ("5", -1, nil),
        ("-9223372036854775.808", 3, Int64.min), ("9223372036854775.807", 3, Int64.max),
        ("922337203685477.5808", 4, nil), ("9223372036854775807", 1, nil), ("0.000001", 6, 1),
        ("123.456789", 6, 123_456_789), ("-0", 2, 0),
    ])
    func fixedPoint(text: String, fractionDigits: Int, expected: Int64?) {
        #expect(number(text).fixedPoint(fractionDigits: fractionDigits) == expected)
    }
}
