import CMbedTLS
import DeviceCore

/// `HMACSHA256` with mbedTLS (`mbedtls_md_hmac` over SHA-256), for SAS tokens and derived
/// device keys on the Linux board.
public struct MbedTLSHMAC: HMACSHA256, Sendable {
    public init() {}

    /// Writes the 32-byte MAC of `message` under `key` into the first 32 bytes of `mac`.
    public func authenticate(key: ByteView, message: ByteView, into mac: UnsafeMutableRawBufferPointer) {
        precondition(mac.count >= 32, "HMAC-SHA256 needs 32 bytes of output")
        // mbedTLS copies from its inputs even when they are empty: give it a valid address.
        var empty: UInt8 = 0
        withUnsafePointer(to: &empty) { placeholder in
            let keyBytes = key.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? placeholder
            let messageBytes = message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? placeholder
            let result = mbedtls_md_hmac(
                mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), keyBytes, key.count, messageBytes, message.count,
                mac.baseAddress!.assumingMemoryBound(to: UInt8.self))
            // Fails only for a missing digest or bad arguments, which the lines above rule out.
            precondition(result == 0, "mbedtls_md_hmac failed: \(result)")
        }
    }
}
