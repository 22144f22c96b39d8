#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS
import LinuxBoard

/// `LinuxBoard.SystemEntropy`, reachable from the C callback.
enum SystemEntropyBridge {
    static func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        buffer.isEmpty || SystemEntropy.fill(buffer)
    }
}

/// `mbedtls_strerror`'s text for `code`.
func mbedTLSText(_ code: Int32) -> String { mbedTLSMessage(code) }

/// Overwrites secret bytes before they are released.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { mbedtls_platform_zeroize(base, $0.count) } }
}

/// Just enough DER to build the extensions mbedTLS 2.28 has no writer for (extended key usage,
/// subject alternative names, an authority key identifier copied from the CA) and to read a
/// few fields back.
enum DER {
    static let sequence: UInt8 = 0x30
    static let octetString: UInt8 = 0x04
    static let integer: UInt8 = 0x02
    static let oid: UInt8 = 0x06
    static let null: UInt8 = 0x05
    static let bitString: UInt8 = 0x03

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        let count = content.count
        if count < 0x80 {
            out.append(UInt8(count))
        } else {
            var length: [UInt8] = []
            var rest = count
            while rest > 0 { length.insert(UInt8(rest & 0xFF), at: 0); rest >>= 8 }
            out.append(0x80 | UInt8(length.count))
            out += length
        }
        return out + content
    }

    /// One element: its tag, its content, and where the next element starts.
    struct Element {
        var tag: UInt8
        var content: ArraySlice<UInt8>
    }

    /// The elements one after another in `bytes`; `nil` when the encoding is broken.
    static func elements(_ bytes: ArraySlice<UInt8>) -> [Element]? {
        var result: [Element] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let tag = bytes[index]
            index += 1
            guard index < bytes.endIndex else { return nil }
            var length = Int(bytes[index])
            index += 1
            if length & 0x80 != 0 {
                let octets = length & 0x7F
                guard octets >= 1, octets <= 4, index + octets <= bytes.endIndex else { return nil }
                length = 0
                for _ in 0..<octets { length = length << 8 | Int(bytes[index]); index += 1 }
            }
            guard length <= bytes.endIndex - index else { return nil }
            result.append(Element(tag: tag, content: bytes[index..<index + length]))
            index += length
        }
        return result
    }

    // OIDs (content bytes only).
    static let commonName: [UInt8] = [0x55, 0x04, 0x03]
    static let subjectKeyIdentifier: [UInt8] = [0x55, 0x1D, 0x0E]
    static let subjectAltName: [UInt8] = [0x55, 0x1D, 0x11]
    static let authorityKeyIdentifier: [UInt8] = [0x55, 0x1D, 0x23]
    static let extendedKeyUsage: [UInt8] = [0x55, 0x1D, 0x25]
    static let serverAuth: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]
    static let clientAuth: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]
    static let rsaEncryption: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let ecPublicKey: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let prime256v1: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
}

/// Pointer access to a parsed mbedTLS buffer.
extension mbedtls_x509_buf {
    var bytes: [UInt8] {
        guard let p, len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: len))
    }
}

/// Calendar arithmetic on UTC, without Foundation.
enum UTC {
    /// The current time, seconds since 1970.
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec)
    }

    static func components(_ seconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `YYYYMMDDhhmmss`, what `mbedtls_x509write_crt_set_validity` wants.
    static func compact(_ seconds: Int64) -> String {
        let c = components(seconds)
        return "\(c.year)\(two(c.month))\(two(c.day))\(two(c.hour))\(two(c.minute))\(two(c.second))"
    }

    /// `2025-01-31 12:00:00 UTC`, as `TLSIdentity` prints validity.
    static func display(_ time: mbedtls_x509_time) -> String {
        "\(time.year)-\(two(Int(time.mon)))-\(two(Int(time.day))) \(two(Int(time.hour))):\(two(Int(time.min))):\(two(Int(time.sec))) UTC"
    }

    static func display(_ seconds: Int64) -> String {
        let c = components(seconds)
        return "\(c.year)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)):\(two(c.second)) UTC"
    }

    /// The time as a sortable number, YYYYMMDDhhmmss.
    static func ordinal(_ time: mbedtls_x509_time) -> Int64 {
        Int64(time.year) * 10_000_000_000 + Int64(time.mon) * 100_000_000 + Int64(time.day) * 1_000_000
            + Int64(time.hour) * 10_000 + Int64(time.min) * 100 + Int64(time.sec)
    }

    static func ordinal(_ seconds: Int64) -> Int64 {
        let c = components(seconds)
        return Int64(c.year) * 10_000_000_000 + Int64(c.month) * 100_000_000 + Int64(c.day) * 1_000_000
            + Int64(c.hour) * 10_000 + Int64(c.minute) * 100 + Int64(c.second)
    }
}
