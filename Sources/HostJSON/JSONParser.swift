/// Malformed JSON text.
public struct JSONSyntaxError: Error, Equatable, Sendable {
    /// Byte offset into the UTF-8 text.
    public let offset: Int
    public let message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }
}

/// Reads JSON text (RFC 8259) into `JSONValue`s.
public struct JSONParser {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ text: String) { bytes = Array(text.utf8) }

    /// Parses text holding exactly one JSON value.
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(text)
        guard let value = try parser.next() else { throw JSONSyntaxError(offset: 0, message: "no JSON value") }
        parser.skipWhitespace()
        if parser.position < parser.bytes.count {
            throw JSONSyntaxError(offset: parser.position, message: "unexpected text after the JSON value")
        }
        return value
    }

    /// Parses text holding any number of JSON values separated by whitespace (one per line, or
    /// several lines each).
    public static func parseSequence(_ text: String) throws(JSONSyntaxError) -> [JSONValue] {
        var parser = JSONParser(text)
        var values: [JSONValue] = []
        while let value = try parser.next() { values.append(value) }
        return values
    }

    /// The next value, or `nil` at the end of the text.
    public mutating func next() throws(JSONSyntaxError) -> JSONValue? {
        skipWhitespace()
        if position >= bytes.count { return nil }
        return try value(depth: 0)
    }

    private func fail(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? position, message: message)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func describeHere() -> String {
        guard position < bytes.count else { return "end of input" }
        let byte = bytes[position]
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16)
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        if depth > 64 { throw fail("nested too deeply") }
        skipWhitespace()
        guard position < bytes.count else { throw fail("expected a value, found end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var members: [JSONMember] = []
            skipWhitespace()
            if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                let keyAt = position
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    throw fail("expected a string key, found \(describeHere())")
                }
                let key = try string()
                if members.contains(where: { $0.key == key }) {
                    throw fail("duplicate key \"\(key)\"", at: keyAt)
                }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':'")
                members.append(JSONMember(key, try value(depth: depth + 1)))
                skipWhitespace()
                if try endOrComma(UInt8(ascii: "}"), "'}'") { return .object(members) }
            }
        case UInt8(ascii: "["):
            position += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                if try endOrComma(UInt8(ascii: "]"), "']'") { return .array(elements) }
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        default:
            throw fail("expected a value, found \(describeHere())")
        }
    }

    private mutating func expect(_ byte: UInt8, _ name: String) throws(JSONSyntaxError) {
        guard position < bytes.count, bytes[position] == byte else {
            throw fail("expected \(name), found \(describeHere())")
        }
        position += 1
    }

    /// After an element: `true` at the closing bracket, `false` after a comma.
    private mutating func endOrComma(_ close: UInt8, _ name: String) throws(JSONSyntaxError) -> Bool {
        guard position < bytes.count else { throw fail("expected ',' or \(name), found end of input") }
        if bytes[position] == close {
            position += 1
            return true
        }
        if bytes[position] == UInt8(ascii: ",") {
            position += 1
            return false
        }
        throw fail("expected ',' or \(name), found \(describeHere())")
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        guard position + count <= bytes.count, bytes[position..<position + count].elementsEqual(expected) else {
            throw fail("expected a value, found \(describeHere())")
        }
        position += count
    }

    private mutating func number() throws(JSONSyntaxError) -> String {
        let start = position
        func digits(_ parser: inout JSONParser) -> Int {
            var n = 0
            while parser.position < parser.bytes.count,
                  (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.position]) {
                parser.position += 1
                n += 1
            }
            return n
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let intStart = position
        let intDigits = digits(&self)
        if intDigits == 0 { throw fail("expected a digit, found \(describeHere())") }
        if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") { throw fail("leading zero in number", at: intStart) }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            if digits(&self) == 0 { throw fail("expected a digit, found \(describeHere())") }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                position += 1
            }
            if digits(&self) == 0 { throw fail("expected a digit, found \(describeHere())") }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count else { throw fail("unfinished \\u escape") }
            let c = bytes[position]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw fail("expected a hex digit in \\u escape, found \(describeHere())")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        position += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                let escapeAt = position
                position += 1
                guard position < bytes.count else { throw fail("unterminated string") }
                let kind = bytes[position]
                position += 1
                switch kind {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired UTF-16 surrogate in \\u escape", at: escapeAt)
                        }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw fail("unpaired UTF-16 surrogate in \\u escape", at: escapeAt)
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw fail("unpaired UTF-16 surrogate in \\u escape", at: escapeAt)
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(code).unsafelyUnwrapped)).utf8)
                default:
                    throw fail("invalid escape in string", at: escapeAt)
                }
            case 0x00...0x1F:
                throw fail("control character in string (must be escaped)")
            default:
                out.append(byte)
                position += 1
            }
        }
    }
}

extension JSONSyntaxError {
    /// 1-based line and column (in bytes) of `offset` within `text`.
    public func lineAndColumn(in text: String) -> (line: Int, column: Int) {
        let position = TextPosition().advanced(over: text.utf8.prefix(offset))
        return (position.line, position.column)
    }
}

extension String {
    /// The text without the JSON whitespace (space, tab, line feed, carriage return) around it:
    /// a JSON text exactly as it was written, less a trailing newline.
    public var trimmingJSONWhitespace: Substring {
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        return self[first...last]
    }
}
