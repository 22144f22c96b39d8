#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS
import LinuxBoard

/// What `dps-device certs inspect` finds in a PEM file: each certificate's fields and, given a
/// key file, whether that key belongs to the first certificate. `render()` prints it the way the
/// command does; the fields are there for tests and other tools.
public struct Inspection: Sendable, Equatable {
    /// Whether a certificate is valid at the time of the inspection.
    public enum Validity: String, Sendable, Equatable {
        case valid = "yes"
        case expired = "no, expired"
        case notYetValid = "no, not valid yet"
    }

    /// One certificate of the file.
    public struct Certificate: Sendable, Equatable {
        public var subject: String
        public var issuer: String
        /// Upper-case hex, as `openssl x509 -serial` prints it.
        public var serial: String
        public var notBefore: String
        public var notAfter: String
        public var validity: Validity
        /// `RSA 2048`, `EC P-256`…
        public var key: String
        public var isCA: Bool
        /// basicConstraints pathlen, when the CA has one.
        public var pathLength: Int?
        public var keyUsage: [String]
        public var extendedKeyUsage: [String]
        /// `DNS:localhost`, `IP:127.0.0.1`…
        public var alternativeNames: [String]
        /// Subject equals issuer and its own key verifies its signature.
        public var isSelfSigned: Bool
        /// For all but the last certificate of a file: whether the next one signed it.
        public var signedByNext: Bool?
        /// SHA-256 of the DER, `AA:BB:…`.
        public var fingerprint: String
    }

    /// The key given with `--key` and how it relates to the first certificate.
    public struct KeyCheck: Sendable, Equatable {
        public var file: String
        /// `RSA 2048`, `EC P-256`… (`encrypted` when only the pass-phrase path could read it).
        public var key: String
        public var matches: Bool

        public init(file: String, key: String, matches: Bool) {
            self.file = file
            self.key = key
            self.matches = matches
        }
    }

    public var file: String
    public var certificates: [Certificate]
    public var key: KeyCheck?

    /// Reads `certificateFile` (one or more certificates) and, when given, `keyFile`.
    /// `now` (seconds since 1970) is the time validity is judged at, by default the clock's.
    public init(certificateFile: String, keyFile: String? = nil, passphrase: String? = nil, now: Int64? = nil) throws(CertificateToolError) {
        let chain = try CertificateChain(path: certificateFile, role: .certificate)
        let list = chain.certificates
        let moment = UTC.ordinal(now ?? UTC.now())
        file = certificateFile
        certificates = list.enumerated().map { index, crt in
            let validity: Validity
            if moment < UTC.ordinal(crt.pointee.valid_from) {
                validity = .notYetValid
            } else if moment > UTC.ordinal(crt.pointee.valid_to) {
                validity = .expired
            } else {
                validity = .valid
            }
            let selfIssued = CertificateFields.isSelfIssued(crt)
            return Certificate(
                subject: CertificateFields.subject(crt), issuer: CertificateFields.issuer(crt),
                serial: CertificateFields.serial(crt),
                notBefore: UTC.display(crt.pointee.valid_from), notAfter: UTC.display(crt.pointee.valid_to),
                validity: validity, key: KeyDescription.of(crt.pointer(to: \.pk)!),
                isCA: CertificateFields.isCA(crt), pathLength: CertificateFields.pathLength(crt),
                keyUsage: CertificateFields.keyUsage(crt), extendedKeyUsage: CertificateFields.extendedKeyUsage(crt),
                alternativeNames: CertificateFields.alternativeNames(crt),
                isSelfSigned: selfIssued && CertificateFields.isSigned(crt, by: crt),
                signedByNext: index + 1 < list.count ? CertificateFields.isSigned(crt, by: list[index + 1]) : nil,
                fingerprint: CertificateFields.fingerprint(crt))
        }
        guard let keyFile else {
            key = nil
            return
        }
        do throws(CertificateToolError) {
            let privateKey = try PrivateKey.load(keyFile, role: .privateKey, passphrase: passphrase)
            key = KeyCheck(file: keyFile, key: privateKey.summary, matches: privateKey.matches(chain.head))
        } catch .invalidContent(let path, let role, let detail) where detail.contains("PBES2") && passphrase != nil {
            // OpenSSL 3's encrypted PKCS#8: TLSIdentity can decrypt it and check the pair.
            do {
                _ = try TLSIdentity(caFile: certificateFile, certificateFile: certificateFile, keyFile: keyFile, passphrase: passphrase)
                key = KeyCheck(file: keyFile, key: "encrypted PKCS#8", matches: true)
            } catch .keyMismatch {
                key = KeyCheck(file: keyFile, key: "encrypted PKCS#8", matches: false)
            } catch .wrongPassphrase {
                throw .wrongPassphrase(keyFile: keyFile)
            } catch {
                throw .invalidContent(path: path, role: role, detail: detail)
            }
        }
    }

    /// Whether every check passed: the key (if given) matches, every certificate is valid now,
    /// and each certificate of a chain file is signed by the next one.
    public var allGood: Bool {
        (key?.matches ?? true) && certificates.allSatisfy { $0.validity == .valid && $0.signedByNext != false }
    }

    /// The report, one `Label: value` per line, a blank line between certificates.
    public func render() -> String {
        var lines: [String] = []
        let count = certificates.count
        lines.append("\(file): \(count) certificate\(count == 1 ? "" : "s")")
        for (index, certificate) in certificates.enumerated() {
            lines.append("")
            if count > 1 { lines.append("Certificate \(index + 1) of \(count)") }
            func field(_ label: String, _ value: String) {
                lines.append((label + ":").padding(18) + value)
            }
            field("Subject", certificate.subject)
            field("Issuer", certificate.issuer + (certificate.isSelfSigned ? " (self-signed)" : ""))
            field("Serial", certificate.serial)
            field("Not before", certificate.notBefore)
            field("Not after", certificate.notAfter)
            field("Valid now", certificate.validity.rawValue)
            field("Key", certificate.key)
            if certificate.isCA {
                field("CA", certificate.pathLength.map { "yes (pathlen \($0))" } ?? "yes")
            } else {
                field("CA", "no")
            }
            field("Key usage", certificate.keyUsage.isEmpty ? "(none)" : certificate.keyUsage.joined(separator: ", "))
            field("Ext. key usage", certificate.extendedKeyUsage.isEmpty ? "(none)" : certificate.extendedKeyUsage.joined(separator: ", "))
            field("Alt. names", certificate.alternativeNames.isEmpty ? "(none)" : certificate.alternativeNames.joined(separator: ", "))
            if let signedByNext = certificate.signedByNext {
                field("Signed by next", signedByNext
                      ? "yes (certificate \(index + 2))"
                      : "NO: certificate \(index + 2) did not sign it (wrong order, or a certificate of another chain)")
            }
            field("SHA-256", certificate.fingerprint)
        }
        if let key {
            lines.append("")
            lines.append("Key file:".padding(18) + key.file + " (" + key.key + ")")
            if key.matches {
                lines.append("Key matches:".padding(18) + "yes (certificate 1, \(certificates.first?.subject ?? ""))")
            } else {
                lines.append("Key matches:".padding(18) + "NO: this key does not belong to certificate 1 (\(certificates.first?.subject ?? "")); use the key that was made with it")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
