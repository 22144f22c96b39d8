import DeviceCore

extension JSONError.Kind {
    /// What is wrong, in words.
    public var summary: StaticString {
        switch self {
        case .unexpectedCharacter: return "character cannot start a JSON value here"
        case .unexpectedEnd: return "document ends before the value is complete"
        case .expectedKey: return "expected a member name (a string) in the object"
        case .expectedColon: return "expected ':' after the member name"
        case .expectedCommaOrEnd: return "expected ',' or the closing bracket after the value"
        case .invalidLiteral: return "invalid literal (expected true, false or null)"
        case .unterminatedString: return "string has no closing quote"
        case .invalidEscape: return "invalid escape in string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"
        case .invalidUnicodeEscape: return "\\u must be followed by four hex digits"
        case .loneSurrogate: return "\\u escape of a UTF-16 surrogate that is not part of a pair"
        case .controlCharacterInString: return "control character U+0000..U+001F must be escaped in a string"
        case .invalidUTF8: return "string is not well-formed UTF-8"
        case .invalidNumber: return "invalid number (no leading zeros, no '+', digits needed after '-', '.' and 'e')"
        case .nestingTooDeep: return "objects and arrays nested deeper than the reader allows"
        case .trailingCharacters: return "characters after the end of the JSON document"
        case .notAtValue: return "no value comes next to skip or capture"
        }
    }
}

extension JSONError {
    /// What is wrong, in words.
    public var summary: StaticString { kind.summary }
}
