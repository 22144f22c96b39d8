import DeviceCore

/// Identifiers shaped like the ones Azure's services hand out (operation ids, tracking ids,
/// etags), from the system's random generator.
public enum RandomIdentifiers {
    /// A random (version 4) UUID in lowercase, e.g. `3f2b…-…`.
    public static func uuid() -> String {
        var bytes = randomBytes(16)
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex(bytes[$0], uppercase: false) }.joined(separator: "-")
    }

    /// `count` random bytes as hex digits (`uppercase` for verification codes).
    public static func hex(byteCount count: Int, uppercase: Bool = false) -> String {
        hex(randomBytes(count)[...], uppercase: uppercase)
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255) }
    }

    /// The bytes as hex digits, by the core's `TextWriter.appendHex`.
    static func hex(_ bytes: ArraySlice<UInt8>, uppercase: Bool) -> String {
        withUnsafeTemporaryAllocation(byteCount: bytes.count * 2 + 1, alignment: 1) { buffer in
            var writer = TextWriter(into: buffer)
            for byte in bytes { writer.appendHex(byte, uppercase: uppercase) }
            return String(decoding: UnsafeRawBufferPointer(start: writer.written.baseAddress, count: writer.written.count), as: UTF8.self)
        }
    }
}
