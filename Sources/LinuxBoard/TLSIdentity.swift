#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS

/// What a TLS client trusts and who it is: the trust anchors (CA certificates) that the
/// server's chain must lead to, and optionally the device's certificate chain and private key
/// for mutual TLS (X.509 attestation with DPS and IoT Hub).
///
/// Everything is loaded and checked once, in `init`; the mbedTLS contexts live as long as the
/// identity and are freed in `deinit`. Give the same identity to every `TLSTransport` of the
/// device (DPS, then the hub). After `init` the identity is only read, hence `Sendable`.
///
/// Private keys may be RSA or EC, in every PEM form OpenSSL 3 writes: PKCS#8
/// (`BEGIN PRIVATE KEY`), traditional (`BEGIN RSA PRIVATE KEY`, `BEGIN EC PRIVATE KEY`, also with
/// `Proc-Type: 4,ENCRYPTED`), and encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`). mbedTLS 2.28
/// decrypts PKCS#8 only for DES/3DES and PKCS#12 schemes, while OpenSSL 3 writes PBES2 with
/// PBKDF2-HMAC-SHA256 and AES-256-CBC; that form is decrypted here (`PKCS8Decryption`) with
/// mbedTLS's PBKDF2 and AES, then parsed as a plain PKCS#8 key.
public final class TLSIdentity: @unchecked Sendable {
    /// Debian's (and most distributions') bundle of the system's trusted CAs.
    public static let defaultCAFile = "/etc/ssl/certs/ca-certificates.crt"

    /// The file the trust anchors came from.
    public let caFile: String
    public let certificateFile: String?
    public let keyFile: String?
    /// How many CA certificates were loaded from `caFile`.
    public let trustAnchorCount: Int
    /// How many certificates the device chain has (leaf first, then intermediates); 0 without one.
    public let chainLength: Int
    /// The leaf certificate's subject common name: DPS requires the registration id to equal it.
    public let subjectCommonName: String?
    /// The leaf certificate's whole subject, e.g. `CN=device1, O=Contoso`.
    public let subject: String?
    /// The leaf certificate's validity, as `2025-01-31 12:00:00 UTC`.
    public let notBefore: String?
    public let notAfter: String?

    let trustAnchors: UnsafeMutablePointer<mbedtls_x509_crt>
    let chain: UnsafeMutablePointer<mbedtls_x509_crt>?
    let key: UnsafeMutablePointer<mbedtls_pk_context>?

    /// Loads the trust anchors from `caFile` (default `defaultCAFile`) and, when both are
    /// given, the device's certificate chain (leaf first, then any intermediates, in one PEM)
    /// and its private key, decrypted with `passphrase` if it is encrypted. Checks that the key
    /// belongs to the leaf certificate.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, passphrase: String? = nil) throws(TLSFailure) {
        let caPath = caFile ?? Self.defaultCAFile
        if (certificateFile == nil) != (keyFile == nil) {
            throw .incompleteIdentity(certificateFile: certificateFile, keyFile: keyFile)
        }
        let anchors = try Self.loadCertificates(caPath, role: .trustAnchors)
        var chain: UnsafeMutablePointer<mbedtls_x509_crt>?
        var key: UnsafeMutablePointer<mbedtls_pk_context>?
        if let certificateFile, let keyFile {
            do throws(TLSFailure) {
                chain = try Self.loadCertificates(certificateFile, role: .certificate)
                key = try Self.loadKey(keyFile, passphrase: passphrase)
                if mbedtls_pk_check_pair(&chain!.pointee.pk, key!) != 0 {
                    throw .keyMismatch(certificateFile: certificateFile, keyFile: keyFile)
                }
            } catch {
                Self.free(anchors)
                if let chain { Self.free(chain) }
                if let key { Self.free(key) }
                throw error
            }
        }
        self.caFile = caPath
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.trustAnchors = anchors
        self.chain = chain
        self.key = key
        self.trustAnchorCount = CertificateInfo.count(anchors)
        self.chainLength = chain.map { CertificateInfo.count($0) } ?? 0
        if let chain {
            subjectCommonName = CertificateInfo.commonName(chain)
            subject = CertificateInfo.subject(chain)
            notBefore = CertificateInfo.format(chain.pointee.valid_from)
            notAfter = CertificateInfo.format(chain.pointee.valid_to)
        } else {
            subjectCommonName = nil
            subject = nil
            notBefore = nil
            notAfter = nil
        }
    }

    deinit {
        Self.free(trustAnchors)
        if let chain { Self.free(chain) }
        if let key { Self.free(key) }
    }

    /// Whether the identity has a device certificate (mutual TLS).
    public var hasCertificate: Bool { chain != nil }

    // MARK: Loading

    private static func free(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) {
        mbedtls_x509_crt_free(crt)
        crt.deallocate()
    }

    private static func free(_ pk: UnsafeMutablePointer<mbedtls_pk_context>) {
        mbedtls_pk_free(pk)
        pk.deallocate()
    }

    private static func loadCertificates(_ path: String, role: TLSFailure.FileRole) throws(TLSFailure) -> UnsafeMutablePointer<mbedtls_x509_crt> {
        var text = try readFile(path, role: role)
        defer { zeroize(&text) }
        guard contains(text, "-----BEGIN CERTIFICATE-----") else {
            if let label = firstPEMLabel(text) { throw .wrongKindOfPEM(path: path, role: role, holds: label) }
            throw .notPEM(path: path, role: role)
        }
        let crt = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
        mbedtls_x509_crt_init(crt)
        // PEM input must include its terminating NUL in the length.
        let result = text.withUnsafeBufferPointer { mbedtls_x509_crt_parse(crt, $0.baseAddress, $0.count) }
        // A positive result counts certificates that failed to parse. The system bundle may hold
        // a few that mbedTLS cannot read; skip those, but the device chain must parse entirely.
        if result < 0 || (result > 0 && role != .trustAnchors) || CertificateInfo.count(crt) == 0 {
            free(crt)
            let detail = result < 0
                ? mbedTLSMessage(result)
                : "\(result) certificate(s) in it could not be parsed"
            throw .invalidContent(path: path, role: role, detail: detail)
        }
        return crt
    }

    private static func loadKey(_ path: String, passphrase: String?) throws(TLSFailure) -> UnsafeMutablePointer<mbedtls_pk_context> {
        var text = try readFile(path, role: .privateKey)
        defer { zeroize(&text) }
        guard contains(text, "-----BEGIN "), contains(text, "PRIVATE KEY-----") else {
            if let label = firstPEMLabel(text) { throw .wrongKindOfPEM(path: path, role: .privateKey, holds: label) }
            throw .notPEM(path: path, role: .privateKey)
        }
        let pk = UnsafeMutablePointer<mbedtls_pk_context>.allocate(capacity: 1)
        mbedtls_pk_init(pk)
        var passwordBytes = Array((passphrase ?? "").utf8)
        defer { zeroize(&passwordBytes) }
        var result: Int32
        if contains(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            if passwordBytes.isEmpty {
                free(pk)
                throw .passphraseRequired(keyFile: path)
            }
            result = PKCS8Decryption.parseEncryptedKey(pem: text, password: passwordBytes, into: pk)
        } else {
            result = text.withUnsafeBufferPointer { pem in
                passwordBytes.withUnsafeBufferPointer { password in
                    mbedtls_pk_parse_key(
                        pk, pem.baseAddress, pem.count,
                        password.isEmpty ? nil : password.baseAddress, password.count)
                }
            }
        }
        if result != 0 {
            free(pk)
            switch result {
            case MBEDTLS_ERR_PK_PASSWORD_REQUIRED: throw .passphraseRequired(keyFile: path)
            case MBEDTLS_ERR_PK_PASSWORD_MISMATCH: throw .wrongPassphrase(keyFile: path)
            default: throw .invalidContent(path: path, role: .privateKey, detail: mbedTLSMessage(result))
            }
        }
        let type = mbedtls_pk_get_type(pk)
        guard type == MBEDTLS_PK_RSA || type == MBEDTLS_PK_ECKEY else {
            free(pk)
            throw .invalidContent(path: path, role: .privateKey, detail: "the key is neither RSA nor EC")
        }
        return pk
    }

    /// The most a certificate, key or CA file may hold: the system's CA bundle is ~220 KB.
    static let maximumFileSize = 4 * 1024 * 1024

    /// The file's bytes followed by a NUL (what mbedTLS's PEM parsers want); only a regular
    /// file of at most `maximumFileSize` (`RegularFile`).
    private static func readFile(_ path: String, role: TLSFailure.FileRole) throws(TLSFailure) -> [UInt8] {
        var bytes: [UInt8]
        do throws(RegularFile.Failure) {
            bytes = try RegularFile.read(path, limit: maximumFileSize)
        } catch {
            switch error {
            case .missing: throw .fileMissing(path: path, role: role)
            case .notRegular(let kind):
                throw .fileUnreadable(path: path, role: role, reason: kind == "a directory" ? "it is a directory, not a file" : "it is \(kind), not a regular file")
            case .tooLarge(let size, let limit):
                throw .fileUnreadable(path: path, role: role, reason: "it is \(size) bytes; PEM certificates and keys are at most \(limit)")
            case .unreadable(let reason): throw .fileUnreadable(path: path, role: role, reason: reason)
            }
        }
        if bytes.isEmpty { throw .notPEM(path: path, role: role) }
        bytes.append(0)
        return bytes
    }

    /// The label of the first `-----BEGIN LABEL-----` line, if the text has one (at most 64
    /// characters, so a binary file is not quoted back).
    static func firstPEMLabel(_ bytes: [UInt8]) -> String? {
        let begin = Array("-----BEGIN ".utf8)
        var index = 0
        while index + begin.count <= bytes.count {
            if bytes[index..<index + begin.count].elementsEqual(begin) {
                let start = index + begin.count
                var end = start
                while end < bytes.count, end - start <= 64, bytes[end] != UInt8(ascii: "-"), bytes[end] >= 0x20, bytes[end] < 0x7F { end += 1 }
                guard end < bytes.count, bytes[end] == UInt8(ascii: "-"), end > start else { return nil }
                return String(decoding: bytes[start..<end], as: UTF8.self)
            }
            index += 1
        }
        return nil
    }

    private static func contains(_ bytes: [UInt8], _ needle: StaticString) -> Bool {
        let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard bytes.count >= pattern.count else { return false }
        var index = 0
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0] {
                var offset = 1
                while offset < pattern.count && bytes[index + offset] == pattern[offset] { offset += 1 }
                if offset == pattern.count { return true }
            }
            index += 1
        }
        return false
    }
}

/// Overwrites secret bytes before they are released.
func zeroize(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { mbedtls_platform_zeroize(base, $0.count) } }
}

/// `mbedtls_strerror`'s text for `code` (shared by the certificate tool and the stand-ins).
public func mbedTLSMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 200)
    mbedtls_strerror(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Reading fields of parsed certificates (shared with the stand-ins).
public enum CertificateInfo {
    static func count(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> Int {
        var count = 0
        var node: UnsafeMutablePointer<mbedtls_x509_crt>? = crt
        while let current = node, current.pointee.raw.len > 0 {
            count += 1
            node = current.pointee.next
        }
        return count
    }

    static func string(_ buffer: mbedtls_x509_buf) -> String {
        guard let base = buffer.p else { return "" }
        return String(decoding: UnsafeBufferPointer(start: base, count: buffer.len), as: UTF8.self)
    }

    /// The subject's CN, if it has one.
    public static func commonName(_ crt: UnsafePointer<mbedtls_x509_crt>) -> String? {
        // OID 2.5.4.3 (id-at-commonName). `subject` is the list's first element, stored inline.
        let cn: [UInt8] = [0x55, 0x04, 0x03]
        var found: String?
        var name: UnsafePointer<mbedtls_x509_name>? = crt.pointer(to: \.subject)
        while let current = name {
            let oid = current.pointee.oid
            if oid.len == cn.count, let p = oid.p, (0..<cn.count).allSatisfy({ p[$0] == cn[$0] }) {
                found = string(current.pointee.val)
            }
            name = UnsafePointer(current.pointee.next)
        }
        return found
    }

    static func subject(_ crt: UnsafePointer<mbedtls_x509_crt>) -> String { text(of: crt.pointer(to: \.subject)) }

    static func issuer(_ crt: UnsafePointer<mbedtls_x509_crt>) -> String { text(of: crt.pointer(to: \.issuer)) }

    /// A distinguished name as `CN=…, O=…`.
    private static func text(of name: UnsafePointer<mbedtls_x509_name>?) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        if mbedtls_x509_dn_gets(&buffer, buffer.count, name) < 0 { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func format(_ time: mbedtls_x509_time) -> String {
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(time.year)-\(two(time.mon))-\(two(time.day)) \(two(time.hour)):\(two(time.min)):\(two(time.sec)) UTC"
    }

    /// The DNS and IP subject alternative names, or `CN=…` when there are none.
    static func names(_ crt: UnsafePointer<mbedtls_x509_crt>) -> [String] {
        var names: [String] = []
        forEachAlternativeName(crt) { tag, bytes in
            if tag == dnsTag {
                names.append(String(decoding: bytes, as: UTF8.self))
            } else if tag == ipTag {
                names.append(formatIP(bytes))
            }
        }
        if names.isEmpty, let cn = commonName(crt) { names.append("CN=\(cn)") }
        return names
    }

    static let dnsTag = UInt8(MBEDTLS_ASN1_CONTEXT_SPECIFIC) | UInt8(MBEDTLS_X509_SAN_DNS_NAME)
    static let ipTag = UInt8(MBEDTLS_ASN1_CONTEXT_SPECIFIC) | UInt8(MBEDTLS_X509_SAN_IP_ADDRESS)

    /// Calls `body` with each subject alternative name's context tag and raw value. mbedTLS
    /// 2.28 keeps every entry of the extension in `subject_alt_names`, also those (like
    /// iPAddress) it does not interpret itself.
    static func forEachAlternativeName(_ crt: UnsafePointer<mbedtls_x509_crt>, _ body: (UInt8, UnsafeBufferPointer<UInt8>) -> Void) {
        var node: UnsafePointer<mbedtls_x509_sequence>? = crt.pointer(to: \.subject_alt_names)
        while let current = node {
            let buffer = current.pointee.buf
            if let p = buffer.p, buffer.len > 0 {
                body(UInt8(truncatingIfNeeded: buffer.tag), UnsafeBufferPointer(start: p, count: buffer.len))
            }
            node = UnsafePointer(current.pointee.next)
        }
    }

    static func formatIP(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return "IP?"
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, bytes.baseAddress, &text, socklen_t(text.count)) != nil else { return "IP?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
