#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS

/// What to put in a new certificate: its role (which decides the extensions), the subject's
/// common name, how long it is valid and, for servers, its names.
///
/// | Profile          | basicConstraints   | keyUsage                          | extendedKeyUsage | SAN       |
/// |------------------|--------------------|-----------------------------------|------------------|-----------|
/// | `rootCA`/`serverCA` | CA:TRUE (critical) | keyCertSign, cRLSign (critical) | –                | –         |
/// | `intermediateCA` | CA:TRUE, pathlen 0 | keyCertSign, cRLSign              | –                | –         |
/// | `device`         | CA:FALSE           | digitalSignature                  | clientAuth       | –         |
/// | `verification`   | CA:FALSE           | digitalSignature                  | –                | –         |
/// | `server`         | CA:FALSE           | digitalSignature (+keyEncipherment for RSA) | serverAuth | DNS, IP |
///
/// Every certificate also gets a subjectKeyIdentifier and an authorityKeyIdentifier, a random
/// positive 127-bit serial from the OS's entropy, and a SHA-256 signature (RSA PKCS#1 v1.5 or
/// ECDSA, after the issuer's key). Validity starts 5 minutes in the past, so that a device whose
/// clock is a little behind still accepts a certificate made just now.
public struct CertificateRequest: Sendable, Equatable {
    /// What the certificate is for.
    public enum Profile: String, Sendable, Equatable {
        case rootCA, intermediateCA, device, verification, serverCA, server

        /// Whether the certificate is a CA.
        public var isCA: Bool { self == .rootCA || self == .intermediateCA || self == .serverCA }
    }

    public var profile: Profile
    /// The subject's common name (the only attribute of the subject).
    public var commonName: String
    /// Days of validity from now.
    public var days: Int
    /// DNS subject alternative names (server certificates).
    public var dnsNames: [String]
    /// IP subject alternative names, IPv4 or IPv6 text (server certificates).
    public var ipAddresses: [String]
    /// The start of validity, seconds since 1970; `nil` for now minus `backdateSeconds`.
    /// For tests (e.g. an expired certificate); the command line always uses now.
    public var notBefore: Int64?

    /// How far before now validity starts when `notBefore` is `nil`.
    public static let backdateSeconds: Int64 = 300

    public init(profile: Profile, commonName: String, days: Int, dnsNames: [String] = [], ipAddresses: [String] = [], notBefore: Int64? = nil) {
        self.profile = profile
        self.commonName = commonName
        self.days = days
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.notBefore = notBefore
    }

    /// The walkthrough's root: `CN=Root CA for IoT`, 10 years.
    public static func rootCA(commonName: String = "Root CA for IoT", days: Int = 3650) -> CertificateRequest {
        CertificateRequest(profile: .rootCA, commonName: commonName, days: days)
    }

    /// An intermediate CA that may sign device certificates only (pathlen 0).
    public static func intermediateCA(commonName: String = "Intermediate CA for IoT", days: Int = 1825) -> CertificateRequest {
        CertificateRequest(profile: .intermediateCA, commonName: commonName, days: days)
    }

    /// A device certificate: `CN=<registration id>`, client authentication, 1 year.
    public static func device(registrationID: String, days: Int = 365) -> CertificateRequest {
        CertificateRequest(profile: .device, commonName: registrationID, days: days)
    }

    /// The proof-of-possession certificate for a verification code: `CN=<code>`.
    public static func verification(code: String, days: Int = 30) -> CertificateRequest {
        CertificateRequest(profile: .verification, commonName: code, days: days)
    }

    /// A CA for the local stand-ins' server certificates.
    public static func serverCA(commonName: String = "Server CA for local stand-ins", days: Int = 3650) -> CertificateRequest {
        CertificateRequest(profile: .serverCA, commonName: commonName, days: days)
    }

    /// A TLS server certificate for `dnsNames` and `ipAddresses`; the CN defaults to the first name.
    public static func server(commonName: String? = nil, dnsNames: [String], ipAddresses: [String], days: Int = 825) -> CertificateRequest {
        CertificateRequest(profile: .server, commonName: commonName ?? dnsNames.first ?? ipAddresses.first ?? "localhost",
                           days: days, dnsNames: dnsNames, ipAddresses: ipAddresses)
    }

    /// Checks the names and days; throws what is wrong.
    public func validate() throws(CertificateToolError) {
        guard (1...36500).contains(days) else { throw .invalidDays(days) }
        let kind: String
        switch profile {
        case .device: kind = "registration id (device CN)"
        case .verification: kind = "verification code"
        default: kind = "common name"
        }
        if commonName.isEmpty { throw .invalidName(kind: kind, value: commonName, reason: "it is empty") }
        if commonName.unicodeScalars.count > 64 {
            throw .invalidName(kind: kind, value: commonName, reason: "a certificate's CN holds at most 64 characters (it has \(commonName.unicodeScalars.count))")
        }
        if commonName.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw .invalidName(kind: kind, value: commonName, reason: "it contains control characters")
        }
        switch profile {
        case .device:
            // DPS: alphanumerics and - . _ : ; the registration id must equal the CN.
            let allowed = commonName.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._:".unicodeScalars.contains($0)) }
            if !allowed {
                throw .invalidName(kind: kind, value: commonName, reason: "DPS registration ids may hold only letters, digits and - . _ : (the device's registration id must equal this CN)")
            }
            if let last = commonName.unicodeScalars.last, ".:_".unicodeScalars.contains(last) {
                throw .invalidName(kind: kind, value: commonName, reason: "DPS registration ids must end with a letter, a digit or -")
            }
        case .verification:
            if !commonName.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }) {
                throw .invalidName(kind: kind, value: commonName, reason: "a verification code is letters and digits (copy it from the DPS certificate's page)")
            }
        case .server:
            if dnsNames.isEmpty && ipAddresses.isEmpty {
                throw .invalidName(kind: "server name list", value: "", reason: "a server certificate needs at least one --dns or --ip")
            }
            for name in dnsNames { try Self.checkDNS(name) }
            for address in ipAddresses { _ = try Self.ipBytes(address) }
        default:
            break
        }
    }

    static func checkDNS(_ name: String) throws(CertificateToolError) {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let ok = !name.isEmpty && name.utf8.count <= 253 && labels.enumerated().allSatisfy { index, label in
            if label == "*" && index == 0 && labels.count > 2 { return true }
            return !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
        }
        if !ok { throw .invalidName(kind: "DNS name", value: name, reason: "it is not a host name (letters, digits and -, in labels separated by dots)") }
    }

    /// An IP address's bytes (4 or 16).
    static func ipBytes(_ text: String) throws(CertificateToolError) -> [UInt8] {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        throw .invalidName(kind: "IP address", value: text, reason: "it is not an IPv4 or IPv6 address")
    }

    /// Makes a key of `keyType` and a certificate signed by itself (a root CA).
    public func selfSigned(keyType: KeyType = .rsa) throws(CertificateToolError) -> IssuedCertificate {
        try validate()
        let key = try PrivateKey.generate(keyType)
        return try CertificateWriter.write(self, subjectKey: key, issuerKey: key, issuer: nil, extraChain: [])
    }
}

/// A new certificate and its private key, ready to be written.
public struct IssuedCertificate {
    /// The certificate's private key.
    public let key: PrivateKey
    /// The new certificate alone, PEM.
    public let certificatePEM: String
    /// What to write into the certificate file: the new certificate, then the issuing CA's
    /// intermediates when the issuer is not a root (`chainSubjects` names them).
    public let chainPEM: String
    /// The subjects of the intermediates appended in `chainPEM` (empty for a root's certificates).
    public let chainSubjects: [String]
    public let subject: String
    public let issuer: String
    /// Upper-case hex, as `openssl x509 -serial` prints it.
    public let serial: String
    public let notBefore: String
    public let notAfter: String
    /// Things the user should know (e.g. the certificate outlives its CA).
    public internal(set) var notes: [String]
}

/// A CA loaded from its certificate and key files, to sign certificates with.
public final class CertificateAuthority {
    let chain: CertificateChain
    let key: PrivateKey
    public let certificateFile: String
    public let keyFile: String

    /// Loads the CA. `certificateFile` holds the CA certificate first; any certificates after
    /// it (the CA's own intermediates) are appended to issued chains. Checks that the first is a
    /// CA and that the key belongs to it.
    public init(certificateFile: String, keyFile: String, passphrase: String? = nil) throws(CertificateToolError) {
        let chain = try CertificateChain(path: certificateFile, role: .caCertificate)
        let key = try PrivateKey.load(keyFile, role: .caKey, passphrase: passphrase)
        let first = chain.head
        // An X.509 v1 self-signed certificate (what the walkthrough's `openssl x509 -req -signkey`
        // makes) has no extensions at all; OpenSSL and mbedTLS accept it as a trusted root.
        let isV1Root = first.pointee.version < 3 && CertificateFields.isSelfIssued(first)
        if !CertificateFields.isCA(first) && !isV1Root {
            throw .notACertificateAuthority(path: certificateFile, subject: CertificateFields.subject(first))
        }
        if !key.matches(first) {
            throw .keyMismatch(certificateFile: certificateFile, keyFile: keyFile)
        }
        self.chain = chain
        self.key = key
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.isVersion1Root = isV1Root
    }

    /// Whether the CA is an X.509 v1 self-signed root (no extensions), like the walkthrough's.
    public let isVersion1Root: Bool

    /// The CA's subject, e.g. `CN=Root CA for IoT`.
    public var subject: String { CertificateFields.subject(chain.head) }

    /// Whether the CA is a root (self-issued), not an intermediate.
    public var isRoot: Bool { CertificateFields.isSelfIssued(chain.head) }

    /// The CA's key, e.g. `RSA 2048`.
    public var keySummary: String { key.summary }

    /// Makes a key of `keyType` (or uses `key`) and a certificate for `request` signed by this CA.
    /// When this CA is an intermediate, `chainPEM` holds the new certificate followed by this CA's
    /// certificate (and the intermediates after it in its file, never a self-signed root).
    public func issue(_ request: CertificateRequest, keyType: KeyType = .rsa, key: PrivateKey? = nil) throws(CertificateToolError) -> IssuedCertificate {
        try request.validate()
        if request.profile.isCA && isVersion1Root {
            throw .notACertificateAuthority(path: certificateFile, subject: subject)
        }
        if request.profile.isCA, let pathLength = CertificateFields.pathLength(chain.head), pathLength == 0 {
            throw .pathLengthExceeded(path: certificateFile, subject: subject)
        }
        let subjectKey: PrivateKey
        if let key { subjectKey = key } else { subjectKey = try PrivateKey.generate(keyType) }
        var extra: [UnsafeMutablePointer<mbedtls_x509_crt>] = []
        if !isRoot {
            extra = chain.certificates.filter { !CertificateFields.isSelfIssued($0) }
        }
        var issued = try CertificateWriter.write(request, subjectKey: subjectKey, issuerKey: self.key, issuer: chain.head, extraChain: extra)
        if isVersion1Root {
            issued.notes.append("the CA \(certificateFile) is an X.509 v1 certificate without extensions (as `openssl x509 -req -signkey` makes): OpenSSL, mbedTLS and DPS accept it as a root, but `dps-device certs root-ca` makes a v3 CA with basicConstraints and key identifiers")
        }
        return issued
    }
}

/// Builds and signs certificates with `mbedtls_x509write_crt_*`.
enum CertificateWriter {
    static func write(_ request: CertificateRequest, subjectKey: PrivateKey, issuerKey: PrivateKey,
                      issuer: UnsafeMutablePointer<mbedtls_x509_crt>?, extraChain: [UnsafeMutablePointer<mbedtls_x509_crt>]) throws(CertificateToolError) -> IssuedCertificate {
        var ctx = mbedtls_x509write_cert()
        mbedtls_x509write_crt_init(&ctx)
        defer { mbedtls_x509write_crt_free(&ctx) }
        mbedtls_x509write_crt_set_version(&ctx, MBEDTLS_X509_CRT_VERSION_3)
        mbedtls_x509write_crt_set_md_alg(&ctx, MBEDTLS_MD_SHA256)
        mbedtls_x509write_crt_set_subject_key(&ctx, subjectKey.context)
        mbedtls_x509write_crt_set_issuer_key(&ctx, issuerKey.context)

        // Serial: 16 random bytes, top bit clear (positive) and second-highest set (full length).
        var serialBytes = [UInt8](repeating: 0, count: 16)
        guard serialBytes.withUnsafeMutableBytes({ SystemEntropyBridge.fill($0) }) else {
            throw .mbedTLS(operation: "drawing a random serial number", code: MBEDTLS_ERR_ENTROPY_SOURCE_FAILED, message: "the system has no entropy source (getrandom, /dev/urandom)")
        }
        serialBytes[0] = (serialBytes[0] & 0x7F) | 0x40
        var serial = mbedtls_mpi()
        mbedtls_mpi_init(&serial)
        defer { mbedtls_mpi_free(&serial) }
        var result = mbedtls_mpi_read_binary(&serial, serialBytes, serialBytes.count)
        if result == 0 { result = mbedtls_x509write_crt_set_serial(&ctx, &serial) }
        if result != 0 { throw .failed("setting the serial number", result) }

        // Validity.
        let start = request.notBefore ?? (UTC.now() - CertificateRequest.backdateSeconds)
        let end = start + (request.notBefore == nil ? CertificateRequest.backdateSeconds : 0) + Int64(request.days) * 86_400
        result = mbedtls_x509write_crt_set_validity(&ctx, UTC.compact(start), UTC.compact(end))
        if result != 0 { throw .failed("setting the validity", result) }

        // Names: the subject is CN only (UTF8String); the issuer is the CA's subject copied
        // attribute by attribute with its string types, so that chains match byte for byte.
        ctx.subject = NameList.make([(DER.commonName, Int32(MBEDTLS_ASN1_UTF8_STRING), Array(request.commonName.utf8))])
        if let issuer {
            ctx.issuer = NameList.copy(issuer.pointer(to: \.subject)!)
        } else {
            ctx.issuer = NameList.make([(DER.commonName, Int32(MBEDTLS_ASN1_UTF8_STRING), Array(request.commonName.utf8))])
        }
        if ctx.subject == nil || ctx.issuer == nil { throw .failed("setting the names", MBEDTLS_ERR_X509_ALLOC_FAILED) }

        // Extensions.
        let isRSA = mbedtls_pk_get_type(subjectKey.context) == MBEDTLS_PK_RSA
        var keyUsage: Int32
        switch request.profile {
        case .rootCA, .serverCA:
            result = mbedtls_x509write_crt_set_basic_constraints(&ctx, 1, -1)
            keyUsage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
        case .intermediateCA:
            result = mbedtls_x509write_crt_set_basic_constraints(&ctx, 1, 0)
            keyUsage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
        case .device, .verification:
            result = mbedtls_x509write_crt_set_basic_constraints(&ctx, 0, 0)
            keyUsage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE
        case .server:
            result = mbedtls_x509write_crt_set_basic_constraints(&ctx, 0, 0)
            keyUsage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE | (isRSA ? MBEDTLS_X509_KU_KEY_ENCIPHERMENT : 0)
        }
        if result != 0 { throw .failed("setting basicConstraints", result) }
        result = mbedtls_x509write_crt_set_key_usage(&ctx, UInt32(keyUsage))
        if result != 0 { throw .failed("setting keyUsage", result) }
        result = mbedtls_x509write_crt_set_subject_key_identifier(&ctx)
        if result != 0 { throw .failed("setting subjectKeyIdentifier", result) }
        if let issuer, let keyID = CertificateFields.subjectKeyIdentifier(issuer) {
            // Copy the CA's own key id, however it was computed, so that OpenSSL's AKID/SKID match holds.
            try setExtension(&ctx, DER.authorityKeyIdentifier, critical: false, value: DER.tlv(DER.sequence, DER.tlv(0x80, keyID)))
        } else {
            result = mbedtls_x509write_crt_set_authority_key_identifier(&ctx)
            if result != 0 { throw .failed("setting authorityKeyIdentifier", result) }
        }
        switch request.profile {
        case .device:
            try setExtension(&ctx, DER.extendedKeyUsage, critical: false, value: DER.tlv(DER.sequence, DER.tlv(DER.oid, DER.clientAuth)))
        case .server:
            try setExtension(&ctx, DER.extendedKeyUsage, critical: false, value: DER.tlv(DER.sequence, DER.tlv(DER.oid, DER.serverAuth)))
            var names: [UInt8] = []
            for name in request.dnsNames { names += DER.tlv(0x82, Array(name.utf8)) }
            for address in request.ipAddresses { names += DER.tlv(0x87, try CertificateRequest.ipBytes(address)) }
            try setExtension(&ctx, DER.subjectAltName, critical: false, value: DER.tlv(DER.sequence, names))
        default:
            break
        }

        // Sign.
        var der = [UInt8](repeating: 0, count: 8192)
        let length = der.withUnsafeMutableBufferPointer { mbedtls_x509write_crt_der(&ctx, $0.baseAddress, $0.count, osRandom, nil) }
        if length < 0 { throw .failed("signing the certificate", length) }
        der = Array(der[(der.count - Int(length))...])

        // Read it back: what was written must parse, and gives the fields to report.
        let parsed = try CertificateChain(der: der, path: "(new certificate)")
        let certificatePEM = try PEMFile.encode(der, label: "CERTIFICATE")
        var chainPEM = certificatePEM
        for crt in extraChain { chainPEM += try PEMFile.encode(CertificateFields.der(crt), label: "CERTIFICATE") }
        var notes: [String] = []
        if let issuer, UTC.ordinal(parsed.head.pointee.valid_to) > UTC.ordinal(issuer.pointee.valid_to) {
            notes.append("the certificate is valid until \(UTC.display(parsed.head.pointee.valid_to)), after its CA expires (\(UTC.display(issuer.pointee.valid_to))); it will stop verifying then")
        }
        return IssuedCertificate(
            key: subjectKey, certificatePEM: certificatePEM, chainPEM: chainPEM,
            chainSubjects: extraChain.map { CertificateFields.subject($0) },
            subject: CertificateFields.subject(parsed.head), issuer: CertificateFields.issuer(parsed.head),
            serial: CertificateFields.serial(parsed.head),
            notBefore: UTC.display(parsed.head.pointee.valid_from), notAfter: UTC.display(parsed.head.pointee.valid_to),
            notes: notes)
    }

    private static func setExtension(_ ctx: inout mbedtls_x509write_cert, _ oid: [UInt8], critical: Bool, value: [UInt8]) throws(CertificateToolError) {
        let result = oid.withUnsafeBufferPointer { oidBytes in
            oidBytes.withMemoryRebound(to: CChar.self) { oidChars in
                mbedtls_x509write_crt_set_extension(&ctx, oidChars.baseAddress, oidChars.count, critical ? 1 : 0, value, value.count)
            }
        }
        if result != 0 { throw .failed("adding an extension", result) }
    }
}

/// Distinguished names as the `mbedtls_asn1_named_data` lists the writer takes (and frees with
/// `mbedtls_free`, which is `free` in Debian's build). The writer emits the list from its last
/// element to its first, so the list holds the attributes in reverse order.
enum NameList {
    static func make(_ attributes: [(oid: [UInt8], tag: Int32, value: [UInt8])]) -> UnsafeMutablePointer<mbedtls_asn1_named_data>? {
        var head: UnsafeMutablePointer<mbedtls_asn1_named_data>?
        for attribute in attributes {
            guard let raw = calloc(1, MemoryLayout<mbedtls_asn1_named_data>.stride) else {
                mbedtls_asn1_free_named_data_list(&head)
                return nil
            }
            guard let oid = malloc(max(1, attribute.oid.count)), let value = malloc(max(1, attribute.value.count)) else {
                free(raw)
                mbedtls_asn1_free_named_data_list(&head)
                return nil
            }
            let node = raw.bindMemory(to: mbedtls_asn1_named_data.self, capacity: 1)
            attribute.oid.withUnsafeBytes { oid.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            if !attribute.value.isEmpty { attribute.value.withUnsafeBytes { value.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            node.pointee.oid = mbedtls_asn1_buf(tag: MBEDTLS_ASN1_OID, len: attribute.oid.count, p: oid.assumingMemoryBound(to: UInt8.self))
            node.pointee.val = mbedtls_asn1_buf(tag: attribute.tag, len: attribute.value.count, p: value.assumingMemoryBound(to: UInt8.self))
            node.pointee.next = head
            head = node
        }
        return head
    }

    /// A copy of a parsed name (in certificate order) for the writer.
    static func copy(_ name: UnsafePointer<mbedtls_x509_name>) -> UnsafeMutablePointer<mbedtls_asn1_named_data>? {
        var attributes: [(oid: [UInt8], tag: Int32, value: [UInt8])] = []
        var node: UnsafePointer<mbedtls_x509_name>? = name
        while let current = node {
            if current.pointee.oid.len > 0 {
                attributes.append((current.pointee.oid.bytes, current.pointee.val.tag, current.pointee.val.bytes))
            }
            node = UnsafePointer(current.pointee.next)
        }
        return make(attributes)
    }
}
