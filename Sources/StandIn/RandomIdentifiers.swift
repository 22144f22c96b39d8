/// Identifiers shaped like the ones Azure's services hand out (operation ids, tracking ids,
/// etags), from the system's random generator.
public enum RandomIdentifiers {
    /// A random (version 4) UUID in lowercase, e.g. `3f2b…-…`.
    public static func uuid() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = lowercaseHex(bytes)
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return groups.joined(separator: "-")
    }

    /// `count` random bytes as hex digits (`uppercase` for verification codes).
    public static func hex(byteCount count: Int, uppercase: Bool = false) -> String {
        let text = lowercaseHex((0..<count).map { _ in UInt8.random(in: 0...255) })
        return uppercase ? text.uppercased() : text
    }

    static func lowercaseHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
