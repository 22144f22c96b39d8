import DeviceCore

extension Base64Error {
    /// What is wrong, in words.
    public var summary: StaticString {
        switch kind {
        case .invalidCharacter: return "character outside the base64 alphabet"
        case .invalidPadding: return "misplaced '=' padding"
        case .invalidLength: return "base64 length must be a multiple of 4"
        case .nonZeroTrailingBits: return "unused bits of the last base64 group must be zero"
        case .bufferTooSmall: return "buffer too small for the decoded bytes"
        }
    }
}
