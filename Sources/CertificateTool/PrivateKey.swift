#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS

/// A private key (RSA or EC) held in an mbedTLS context, freed with the object.
public final class PrivateKey {
    let context: UnsafeMutablePointer<mbedtls_pk_context>

    private init() {
        context = .allocate(capacity: 1)
        mbedtls_pk_init(context)
    }

    deinit {
        mbedtls_pk_free(context)
        context.deallocate()
    }

    /// A new key of `type` from the operating system's entropy (`getrandom(2)`).
    public static func generate(_ type: KeyType) throws(CertificateToolError) -> PrivateKey {
        let key = PrivateKey()
        switch type {
        case .rsa:
            var result = mbedtls_pk_setup(key.context, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA))
            if result == 0 {
                result = mbedtls_rsa_gen_key(mbedtls_pk_rsa(key.context.pointee), osRandom, nil, 2048, 65537)
            }
            if result != 0 { throw .failed("generating an RSA 2048 key", result) }
        case .ec:
            var result = mbedtls_pk_setup(key.context, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))
            if result == 0 {
                result = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.context.pointee), osRandom, nil)
            }
            if result != 0 { throw .failed("generating an EC P-256 key", result) }
        }
        return key
    }

    /// Loads a private key from a PEM file: PKCS#8 (`BEGIN PRIVATE KEY`) or traditional
    /// (`BEGIN RSA PRIVATE KEY`, `BEGIN EC PRIVATE KEY`, also encrypted with `passphrase`).
    /// mbedTLS 2.28 cannot decrypt OpenSSL 3's encrypted PKCS#8 (PBES2); such a key must be
    /// decrypted first (the error says how).
    public static func load(_ path: String, role: CertificateToolError.FileRole = .privateKey, passphrase: String? = nil) throws(CertificateToolError) -> PrivateKey {
        var text = try PEMFile.read(path, role: role)
        defer { wipe(&text) }
        guard PEMFile.contains(text, "-----BEGIN "), PEMFile.contains(text, "PRIVATE KEY-----") else {
            if let found = PEMFile.kind(text) { throw .wrongKindOfPEM(path: path, role: role, found: found) }
            throw .notPEM(path: path, role: role)
        }
        let key = PrivateKey()
        var password = Array((passphrase ?? "").utf8)
        defer { wipe(&password) }
        let result = text.withUnsafeBufferPointer { pem in
            password.withUnsafeBufferPointer { pass in
                mbedtls_pk_parse_key(key.context, pem.baseAddress, pem.count, pass.isEmpty ? nil : pass.baseAddress, pass.count)
            }
        }
        switch result {
        case 0:
            break
        case MBEDTLS_ERR_PK_PASSWORD_REQUIRED:
            throw .passphraseRequired(keyFile: path)
        case MBEDTLS_ERR_PK_PASSWORD_MISMATCH:
            throw .wrongPassphrase(keyFile: path)
        default:
            if PEMFile.contains(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                throw .invalidContent(path: path, role: role, detail: "it is encrypted PKCS#8 (OpenSSL 3's PBES2), which this tool cannot decrypt; decrypt it first with `openssl pkey -in \(path) -out plain.key` and keep that file mode 0600")
            }
            throw .invalidContent(path: path, role: role, detail: mbedTLSText(result))
        }
        let type = mbedtls_pk_get_type(key.context)
        guard type == MBEDTLS_PK_RSA || type == MBEDTLS_PK_ECKEY else {
            throw .invalidContent(path: path, role: role, detail: "the key is neither RSA nor EC")
        }
        return key
    }

    /// `RSA 2048`, `EC P-256`, `EC P-384`…
    public var summary: String { KeyDescription.of(context) }

    /// Whether this private key belongs to the public key of `certificate`.
    func matches(_ certificate: UnsafeMutablePointer<mbedtls_x509_crt>) -> Bool {
        mbedtls_pk_check_pair(&certificate.pointee.pk, context) == 0
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form
    /// `openssl genpkey` (and OpenSSL 3's `genrsa`) writes. mbedTLS 2.28 itself writes only the
    /// traditional forms (PKCS#1 `RSA PRIVATE KEY`, SEC 1 `EC PRIVATE KEY`); this wraps them in
    /// a PrivateKeyInfo (RFC 5208), leaving the EC curve in the algorithm identifier as OpenSSL
    /// does. Protect the result: it is the secret.
    public func pkcs8PEM() throws(CertificateToolError) -> String {
        var buffer = [UInt8](repeating: 0, count: 8192)
        defer { wipe(&buffer) }
        // mbedtls_pk_write_key_der writes at the end of the buffer and returns the length.
        let length = buffer.withUnsafeMutableBufferPointer { mbedtls_pk_write_key_der(context, $0.baseAddress, $0.count) }
        if length < 0 { throw .failed("encoding the private key", length) }
        var traditional = Array(buffer[(buffer.count - Int(length))...])
        defer { wipe(&traditional) }
        var algorithm: [UInt8]
        var inner: [UInt8]
        if mbedtls_pk_get_type(context) == MBEDTLS_PK_RSA {
            algorithm = DER.tlv(DER.sequence, DER.tlv(DER.oid, DER.rsaEncryption) + [DER.null, 0])
            inner = traditional
        } else {
            // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey }
            guard let outer = DER.elements(traditional[...]), outer.count == 1, let fields = DER.elements(outer[0].content) else {
                throw .mbedTLS(operation: "encoding the private key", code: 0, message: "unexpected SEC 1 encoding")
            }
            var parameters: [UInt8] = DER.tlv(DER.oid, DER.prime256v1)
            var kept: [UInt8] = []
            for field in fields {
                if field.tag == 0xA0 {
                    parameters = Array(field.content)
                } else {
                    kept += DER.tlv(field.tag, Array(field.content))
                }
            }
            algorithm = DER.tlv(DER.sequence, DER.tlv(DER.oid, DER.ecPublicKey) + parameters)
            inner = DER.tlv(DER.sequence, kept)
            wipe(&kept)
        }
        var info = DER.tlv(DER.sequence, DER.tlv(DER.integer, [0]) + algorithm + DER.tlv(DER.octetString, inner))
        wipe(&inner)
        defer { wipe(&info) }
        return try PEMFile.encode(info, label: "PRIVATE KEY")
    }
}

/// Names of keys for messages.
enum KeyDescription {
    static func of(_ pk: UnsafePointer<mbedtls_pk_context>) -> String {
        let bits = mbedtls_pk_get_bitlen(pk)
        switch mbedtls_pk_get_type(pk) {
        case MBEDTLS_PK_RSA:
            return "RSA \(bits)"
        case MBEDTLS_PK_ECKEY, MBEDTLS_PK_ECKEY_DH, MBEDTLS_PK_ECDSA:
            guard let ec = mbedtls_pk_ec(pk.pointee) else { return "EC \(bits)" }
            switch ec.pointee.grp.id {
            case MBEDTLS_ECP_DP_SECP256R1: return "EC P-256"
            case MBEDTLS_ECP_DP_SECP384R1: return "EC P-384"
            case MBEDTLS_ECP_DP_SECP521R1: return "EC P-521"
            default:
                if let info = mbedtls_ecp_curve_info_from_grp_id(ec.pointee.grp.id), let name = info.pointee.name {
                    return "EC \(String(cString: name))"
                }
                return "EC \(bits)"
            }
        default:
            return "\(String(cString: mbedtls_pk_get_name(pk))) \(bits)"
        }
    }
}

/// Reading and writing PEM files.
enum PEMFile {
    /// The file's bytes followed by a NUL (what mbedTLS's PEM parsers want).
    static func read(_ path: String, role: CertificateToolError.FileRole) throws(CertificateToolError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { throw .fileMissing(path: path, role: role) }
            throw .fileUnreadable(path: path, role: role, reason: CertificateToolError.errnoText(code))
        }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        defer { wipe(&chunk) }
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                wipe(&bytes)
                throw .fileUnreadable(path: path, role: role, reason: CertificateToolError.errnoText(code))
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
        if bytes.isEmpty { throw .notPEM(path: path, role: role) }
        bytes.append(0)
        return bytes
    }

    /// What kind of PEM block the text holds, in words, if it holds one.
    static func kind(_ text: [UInt8]) -> String? {
        if contains(text, "PRIVATE KEY-----") { return "a private key" }
        if contains(text, "-----BEGIN CERTIFICATE REQUEST-----") || contains(text, "-----BEGIN NEW CERTIFICATE REQUEST-----") { return "a certificate request (CSR)" }
        if contains(text, "-----BEGIN CERTIFICATE-----") { return "a certificate" }
        if contains(text, "-----BEGIN PUBLIC KEY-----") { return "a public key" }
        return nil
    }

    static func contains(_ bytes: [UInt8], _ needle: String) -> Bool {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, bytes.count >= pattern.count else { return false }
        var index = 0
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0] && Array(bytes[index..<index + pattern.count]) == pattern { return true }
            index += 1
        }
        return false
    }

    /// DER bytes as a PEM block with `label`, lines of 64 characters.
    static func encode(_ der: [UInt8], label: String) throws(CertificateToolError) -> String {
        var buffer = [UInt8](repeating: 0, count: der.count * 2 + 256)
        defer { wipe(&buffer) }
        var written = 0
        let header = "-----BEGIN \(label)-----\n"
        let footer = "-----END \(label)-----\n"
        let result = der.withUnsafeBufferPointer { input in
            buffer.withUnsafeMutableBufferPointer { output in
                mbedtls_pem_write_buffer(header, footer, input.baseAddress, input.count, output.baseAddress, output.count, &written)
            }
        }
        if result != 0 { throw .failed("encoding PEM", result) }
        // `written` counts the terminating NUL.
        return String(decoding: buffer.prefix(max(0, written - 1)), as: UTF8.self)
    }
}
