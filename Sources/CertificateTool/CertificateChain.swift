#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS

/// The certificates of one PEM file, parsed by mbedTLS (first one first), freed with the object.
final class CertificateChain {
    let head: UnsafeMutablePointer<mbedtls_x509_crt>
    let path: String

    /// Parses every certificate in `path`; all of them must parse.
    init(path: String, role: CertificateToolError.FileRole) throws(CertificateToolError) {
        var text = try PEMFile.read(path, role: role)
        defer { wipe(&text) }
        guard PEMFile.contains(text, "-----BEGIN CERTIFICATE-----") else {
            if let found = PEMFile.kind(text) { throw .wrongKindOfPEM(path: path, role: role, found: found) }
            throw .notPEM(path: path, role: role)
        }
        let crt = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
        mbedtls_x509_crt_init(crt)
        let result = text.withUnsafeBufferPointer { mbedtls_x509_crt_parse(crt, $0.baseAddress, $0.count) }
        if result != 0 || crt.pointee.raw.len == 0 {
            mbedtls_x509_crt_free(crt)
            crt.deallocate()
            let detail = result < 0 ? mbedTLSText(result) : "\(result) certificate(s) in it could not be parsed"
            throw .invalidContent(path: path, role: role, detail: detail)
        }
        self.head = crt
        self.path = path
    }

    /// One certificate from its DER encoding.
    init(der: [UInt8], path: String) throws(CertificateToolError) {
        let crt = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
        mbedtls_x509_crt_init(crt)
        let result = der.withUnsafeBufferPointer { mbedtls_x509_crt_parse_der(crt, $0.baseAddress, $0.count) }
        if result != 0 {
            mbedtls_x509_crt_free(crt)
            crt.deallocate()
            throw .failed("reading back the new certificate", result)
        }
        self.head = crt
        self.path = path
    }

    deinit {
        mbedtls_x509_crt_free(head)
        head.deallocate()
    }

    /// The certificates, first one first.
    var certificates: [UnsafeMutablePointer<mbedtls_x509_crt>] {
        var list: [UnsafeMutablePointer<mbedtls_x509_crt>] = []
        var node: UnsafeMutablePointer<mbedtls_x509_crt>? = head
        while let current = node, current.pointee.raw.len > 0 {
            list.append(current)
            node = current.pointee.next
        }
        return list
    }
}

/// Reading fields of a parsed certificate.
enum CertificateFields {
    static func subject(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> String {
        dn(crt.pointer(to: \.subject)!)
    }

    static func issuer(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> String {
        dn(crt.pointer(to: \.issuer)!)
    }

    private static func dn(_ name: UnsafePointer<mbedtls_x509_name>) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        let written = mbedtls_x509_dn_gets(&buffer, buffer.count, name)
        if written < 0 { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The serial number in upper-case hex without leading zero bytes, as `openssl x509 -serial` prints it.
    static func serial(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> String {
        var bytes = crt.pointee.serial.bytes
        while bytes.count > 1 && bytes[0] == 0 { bytes.removeFirst() }
        return hex(bytes)
    }

    static func hex(_ bytes: [UInt8], separator: String = "") -> String {
        let digits = Array("0123456789ABCDEF")
        return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 15)]]) }.joined(separator: separator)
    }

    static func isSelfIssued(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> Bool {
        crt.pointee.subject_raw.bytes == crt.pointee.issuer_raw.bytes
    }

    /// Whether `crt` has basicConstraints CA:TRUE.
    static func isCA(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> Bool {
        crt.pointee.ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS != 0 && crt.pointee.ca_istrue != 0
    }

    /// The basicConstraints path length (RFC 5280 meaning), `nil` when unlimited or not a CA.
    static func pathLength(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> Int? {
        guard isCA(crt), crt.pointee.max_pathlen > 0 else { return nil }
        return Int(crt.pointee.max_pathlen) - 1
    }

    /// Whether `issuer`'s key verifies the signature on `crt` (and the names chain).
    static func isSigned(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>, by issuer: UnsafeMutablePointer<mbedtls_x509_crt>) -> Bool {
        guard crt.pointee.issuer_raw.bytes == issuer.pointee.subject_raw.bytes,
              let info = mbedtls_md_info_from_type(crt.pointee.sig_md) else { return false }
        var hash = [UInt8](repeating: 0, count: Int(MBEDTLS_MD_MAX_SIZE))
        guard mbedtls_md(info, crt.pointee.tbs.p, crt.pointee.tbs.len, &hash) == 0 else { return false }
        let size = Int(mbedtls_md_get_size(info))
        return mbedtls_pk_verify_ext(
            crt.pointee.sig_pk, crt.pointee.sig_opts, &issuer.pointee.pk, crt.pointee.sig_md,
            hash, size, crt.pointee.sig.p, crt.pointee.sig.len) == 0
    }

    /// The value of the extension `oid` (its OCTET STRING's content), if present.
    static func extensionValue(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>, oid: [UInt8]) -> [UInt8]? {
        let raw = crt.pointee.v3_ext.bytes
        guard !raw.isEmpty, var elements = DER.elements(raw[...]), elements.count == 1 else { return nil }
        // v3_ext is `[3] { SEQUENCE OF Extension }` or the SEQUENCE itself.
        if elements[0].tag == 0xA3 {
            guard let inner = DER.elements(elements[0].content), inner.count == 1 else { return nil }
            elements = inner
        }
        guard elements[0].tag == DER.sequence, let extensions = DER.elements(elements[0].content) else { return nil }
        for item in extensions {
            guard let fields = DER.elements(item.content), fields.count >= 2, fields[0].tag == DER.oid else { continue }
            if Array(fields[0].content) == oid, let value = fields.last, value.tag == DER.octetString {
                return Array(value.content)
            }
        }
        return nil
    }

    /// The subjectKeyIdentifier's key id, if the certificate has one.
    static func subjectKeyIdentifier(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> [UInt8]? {
        guard let value = extensionValue(crt, oid: DER.subjectKeyIdentifier),
              let elements = DER.elements(value[...]), elements.count == 1, elements[0].tag == DER.octetString else { return nil }
        return Array(elements[0].content)
    }

    /// The authorityKeyIdentifier's key id, if present.
    static func authorityKeyIdentifier(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> [UInt8]? {
        guard let value = extensionValue(crt, oid: DER.authorityKeyIdentifier),
              let outer = DER.elements(value[...]), outer.count == 1, let fields = DER.elements(outer[0].content) else { return nil }
        return fields.first { $0.tag == 0x80 }.map { Array($0.content) }
    }

    /// Key usage names, in RFC 5280 order.
    static func keyUsage(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> [String] {
        guard crt.pointee.ext_types & MBEDTLS_X509_EXT_KEY_USAGE != 0 else { return [] }
        let bits = crt.pointee.key_usage
        let names: [(UInt32, String)] = [
            (UInt32(MBEDTLS_X509_KU_DIGITAL_SIGNATURE), "digitalSignature"),
            (UInt32(MBEDTLS_X509_KU_NON_REPUDIATION), "nonRepudiation"),
            (UInt32(MBEDTLS_X509_KU_KEY_ENCIPHERMENT), "keyEncipherment"),
            (UInt32(MBEDTLS_X509_KU_DATA_ENCIPHERMENT), "dataEncipherment"),
            (UInt32(MBEDTLS_X509_KU_KEY_AGREEMENT), "keyAgreement"),
            (UInt32(MBEDTLS_X509_KU_KEY_CERT_SIGN), "keyCertSign"),
            (UInt32(MBEDTLS_X509_KU_CRL_SIGN), "cRLSign"),
            (UInt32(MBEDTLS_X509_KU_ENCIPHER_ONLY), "encipherOnly"),
            (UInt32(MBEDTLS_X509_KU_DECIPHER_ONLY), "decipherOnly"),
        ]
        return names.filter { bits & $0.0 != 0 }.map(\.1)
    }

    /// Extended key usage names (`serverAuth`, `clientAuth`, … or the dotted OID).
    static func extendedKeyUsage(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> [String] {
        guard crt.pointee.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE != 0 else { return [] }
        let known: [[UInt8]: String] = [
            DER.serverAuth: "serverAuth", DER.clientAuth: "clientAuth",
            [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]: "codeSigning",
            [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04]: "emailProtection",
            [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08]: "timeStamping",
            [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09]: "OCSPSigning",
        ]
        var names: [String] = []
        var node: UnsafeMutablePointer<mbedtls_x509_sequence>? = crt.pointer(to: \.ext_key_usage)
        while let current = node {
            let oid = current.pointee.buf.bytes
            if !oid.isEmpty { names.append(known[oid] ?? dottedOID(current.pointer(to: \.buf)!)) }
            node = current.pointee.next
        }
        return names
    }

    private static func dottedOID(_ buffer: UnsafePointer<mbedtls_x509_buf>) -> String {
        var text = [CChar](repeating: 0, count: 128)
        let written = mbedtls_oid_get_numeric_string(&text, text.count, buffer)
        if written < 0 { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Subject alternative names as `DNS:name` and `IP:address` (others by their tag).
    static func alternativeNames(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> [String] {
        guard let value = extensionValue(crt, oid: DER.subjectAltName),
              let outer = DER.elements(value[...]), outer.count == 1, let names = DER.elements(outer[0].content) else { return [] }
        return names.map { name in
            switch name.tag {
            case 0x82: return "DNS:" + String(decoding: name.content, as: UTF8.self)
            case 0x87: return "IP:" + formatIP(Array(name.content))
            case 0x81: return "email:" + String(decoding: name.content, as: UTF8.self)
            case 0x86: return "URI:" + String(decoding: name.content, as: UTF8.self)
            default: return "other(tag 0x\(hex([name.tag])))"
            }
        }
    }

    static func formatIP(_ bytes: [UInt8]) -> String {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return "?"
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, bytes, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The certificate's DER encoding.
    static func der(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> [UInt8] { crt.pointee.raw.bytes }

    /// SHA-256 of the DER encoding, as `AA:BB:…` (what `openssl x509 -fingerprint -sha256` prints).
    static func fingerprint(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>) -> String {
        var hash = [UInt8](repeating: 0, count: 32)
        _ = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), crt.pointee.raw.p, crt.pointee.raw.len, &hash)
        return hex(hash, separator: ":")
    }
}
