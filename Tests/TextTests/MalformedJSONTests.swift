import DeviceCore
import DeviceCoreWords
import Testing

/// A malformed document and the exact error the reader must report.
struct Malformed: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let kind: JSONError.Kind
    let offset: Int
    let maximumDepth: Int

    init(_ input: String, _ kind: JSONError.Kind, _ offset: Int, maximumDepth: Int = 16) {
        self.init(Array(input.utf8), kind, offset, maximumDepth: maximumDepth)
    }

    init(_ input: [UInt8], _ kind: JSONError.Kind, _ offset: Int, maximumDepth: Int = 16) {
        self.input = input
        self.kind = kind
        self.offset = offset
        self.maximumDepth = maximumDepth
    }

    var testDescription: String {
        String(decoding: input, as: UTF8.self).debugDescription + " → \(kind) at \(offset)"
    }
}

let malformedDocuments: [Malformed] = [
    // Structure
    Malformed("", .unexpectedEnd, 0),
    Malformed("   ", .unexpectedEnd, 3),
    Malformed("{", .unexpectedEnd, 1),
    Malformed("[", .unexpectedEnd, 1),
    Malformed("[1,", .unexpectedEnd, 3),
    Malformed("[1,2", .unexpectedEnd, 4),
    Malformed(#"{"a""#, .unexpectedEnd, 4),
    Malformed(#"{"a":"#, .unexpectedEnd, 5),
    Malformed(#"{"a":1"#, .unexpectedEnd, 6),
    Malformed("[1,]", .unexpectedCharacter, 3),
    Malformed("[,1]", .unexpectedCharacter, 1),
    Malformed(#"{"a":1,}"#, .expectedKey, 7),
    Malformed("{a:1}", .expectedKey, 1),
    Malformed("{1:2}", .expectedKey, 1),
    Malformed("{,}", .expectedKey, 1),
    Malformed(#"{"a" 1}"#, .expectedColon, 5),
    Malformed(#"{"a":1,"b"}"#, .expectedColon, 10),
    Malformed(#"{"a"=1}"#, .expectedColon, 4),
    Malformed(#"{"a":1 "b":2}"#, .expectedCommaOrEnd, 7),
    Malformed("[1 2]", .expectedCommaOrEnd, 3),
    Malformed("[1}", .expectedCommaOrEnd, 2),
    Malformed(#"{"a":1]"#, .expectedCommaOrEnd, 6),
    Malformed("[1:2]", .expectedCommaOrEnd, 2),
    Malformed("]", .unexpectedCharacter, 0),
    Malformed("}", .unexpectedCharacter, 0),
    Malformed(":", .unexpectedCharacter, 0),
    Malformed("'a'", .unexpectedCharacter, 0),
    Malformed("NaN", .unexpectedCharacter, 0),
    Malformed("Infinity", .unexpectedCharacter, 0),
    Malformed("\u{FEFF}{}", .unexpectedCharacter, 0),  // byte order mark
    Malformed("/* c */ 1", .unexpectedCharacter, 0),
    // Numbers
    Malformed("+1", .unexpectedCharacter, 0),
    Malformed(".5", .unexpectedCharacter, 0),
    Malformed("[.5]", .unexpectedCharacter, 1),
    Malformed("01", .invalidNumber, 1),
    Malformed("-01", .invalidNumber, 2),
    Malformed("00", .invalidNumber, 1),
    Malformed("-", .invalidNumber, 1),
    Malformed("-a", .invalidNumber, 1),
    Malformed("[-]", .invalidNumber, 2),
    Malformed("1.", .invalidNumber, 2),
    Malformed("1.e5", .invalidNumber, 2),
    Malformed("1e", .invalidNumber, 2),
    Malformed("1e+", .invalidNumber, 3),
    Malformed("1E-x", .invalidNumber, 3),
    Malformed("- 1", .invalidNumber, 1),
    Malformed("1.5.3", .trailingCharacters, 3),
    Malformed("0x10", .trailingCharacters, 1),
    // Literals
    Malformed("tru", .unexpectedEnd, 3),
    Malformed("trUe", .invalidLiteral, 0),
    Malformed("nul1", .invalidLiteral, 0),
    Malformed("[falsy]", .invalidLiteral, 1),
    Malformed(#"{"a":tru}"#, .invalidLiteral, 5),
    Malformed("True", .unexpectedCharacter, 0),
    Malformed("truex", .trailingCharacters, 4),
    Malformed("[nullx]", .expectedCommaOrEnd, 5),
    // Strings
    Malformed(#""abc"#, .unterminatedString, 0),
    Malformed(#"["a\"]"#, .unterminatedString, 1),
    Malformed(#""\"#, .unterminatedString, 0),
    Malformed(#""\u"#, .unterminatedString, 0),
    Malformed(#""\u12"#, .unterminatedString, 0),
    Malformed(#""\ud83d"#, .unterminatedString, 0),
    Malformed(#""\ud83d\"#, .unterminatedString, 0),
    Malformed(#""\x""#, .invalidEscape, 1),
    Malformed(#""ab\'""#, .invalidEscape, 3),
    Malformed(#""\U0041""#, .invalidEscape, 1),
    Malformed(#""\u12G4""#, .invalidUnicodeEscape, 1),
    Malformed(#""\u12""#, .invalidUnicodeEscape, 1),
    Malformed(#""\ud83d\uZZZZ""#, .invalidUnicodeEscape, 7),
    Malformed(#""\ud83d""#, .loneSurrogate, 1),
    Malformed(#""\ude00""#, .loneSurrogate, 1),
    Malformed(#""x\udfff""#, .loneSurrogate, 2),
    Malformed(#""\ud83d\u0041""#, .loneSurrogate, 1),
    Malformed(#""\ud83dx""#, .loneSurrogate, 1),
    Malformed(#""\ud83d\n""#, .loneSurrogate, 1),
    Malformed(#""\ud83d\ud83d""#, .loneSurrogate, 1),
    Malformed(#""\ude00\ud83d""#, .loneSurrogate, 1),
    Malformed("\"a\tb\"", .controlCharacterInString, 2),
    Malformed([0x22, 0x00, 0x22], .controlCharacterInString, 1),
    Malformed("\"line\nbreak\"", .controlCharacterInString, 5),
    Malformed([0x22, 0x1F, 0x22], .controlCharacterInString, 1),
    Malformed([0x7B, 0x22, 0x0A, 0x22, 0x3A, 0x31, 0x7D], .controlCharacterInString, 2),  // in a key
    // UTF-8
    Malformed([0x22, 0xC3, 0x28, 0x22], .invalidUTF8, 2),
    Malformed([0x22, 0xC0, 0xAF, 0x22], .invalidUTF8, 1),  // overlong
    Malformed([0x22, 0xE0, 0x80, 0xAF, 0x22], .invalidUTF8, 2),  // overlong
    Malformed([0x22, 0xED, 0xA0, 0x80, 0x22], .invalidUTF8, 2),  // encoded surrogate
    Malformed([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], .invalidUTF8, 2),  // above U+10FFFF
    Malformed([0x22, 0xFF, 0x22], .invalidUTF8, 1),
    Malformed([0x22, 0x80, 0x22], .invalidUTF8, 1),
    Malformed([0x22, 0xE2, 0x9C, 0x22], .invalidUTF8, 3),  // ✓ cut short by the quote
    Malformed([0x22, 0xE2, 0x9C], .unterminatedString, 0),  // ✓ cut short by the end
    Malformed([0x7B, 0x22, 0xFE, 0x22, 0x3A, 0x31, 0x7D], .invalidUTF8, 2),  // in a key
    // After the value
    Malformed("{} x", .trailingCharacters, 3),
    Malformed("1 2", .trailingCharacters, 2),
    Malformed("{}}", .trailingCharacters, 2),
    Malformed(#""a" "b""#, .trailingCharacters, 4),
    Malformed("[],", .trailingCharacters, 2),
    Malformed([0x6E, 0x75, 0x6C, 0x6C, 0x00], .trailingCharacters, 4),
    // Depth
    Malformed(String(repeating: "[", count: 17), .nestingTooDeep, 16),
    Malformed(String(repeating: #"{"a":"#, count: 17), .nestingTooDeep, 80),
    Malformed(#"[{"a":[1]}]"#, .nestingTooDeep, 6, maximumDepth: 2),
]

@Suite struct MalformedJSONTests {
    @Test(arguments: malformedDocuments)
    func rejected(_ document: Malformed) {
        let result = tokens(view(document.input), maximumDepth: document.maximumDepth)
        #expect(result.failure == JSONError(kind: document.kind, offset: document.offset))
    }

    @Test func tableIsLarge() {
        #expect(malformedDocuments.count >= 30)
    }

    @Test func everyKindHasASummary() {
        let kinds: [JSONError.Kind] = [
            .unexpectedCharacter, .unexpectedEnd, .expectedKey, .expectedColon, .expectedCommaOrEnd, .invalidLiteral,
            .unterminatedString, .invalidEscape, .invalidUnicodeEscape, .loneSurrogate, .controlCharacterInString,
            .invalidUTF8, .invalidNumber, .nestingTooDeep, .trailingCharacters, .notAtValue,
        ]
        let summaries = Set(kinds.map { JSONError(kind: $0, offset: 0).summary.description })
        #expect(summaries.count == kinds.count)
        #expect(!summaries.contains(""))
    }
}
