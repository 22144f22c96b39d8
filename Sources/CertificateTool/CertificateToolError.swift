#if canImport(Glibc)
import Glibc
#endif

/// Why the certificate tool could not make, write or read a file. Like `TLSFailure`, each case
/// carries the file and what is wrong, and `description` says what to do about it.
public enum CertificateToolError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Which file a failure is about.
    public enum FileRole: String, Sendable, Equatable {
        case certificate = "certificate"
        case caCertificate = "CA certificate"
        case caKey = "CA private key"
        case privateKey = "private key"
        case output = "output"
    }

    /// The file does not exist.
    case fileMissing(path: String, role: FileRole)
    /// The file exists but cannot be read; `reason` is `strerror`.
    case fileUnreadable(path: String, role: FileRole, reason: String)
    /// The file holds no PEM block of the expected kind (empty, DER, or another kind of file).
    case notPEM(path: String, role: FileRole)
    /// The file is PEM but holds another kind of block (`found`: "a private key", "a certificate", "a certificate request").
    case wrongKindOfPEM(path: String, role: FileRole, found: String)
    /// The file is PEM but mbedTLS cannot use what is in it.
    case invalidContent(path: String, role: FileRole, detail: String)
    /// The private key is encrypted and no pass phrase was given.
    case passphraseRequired(keyFile: String)
    /// The pass phrase does not decrypt the private key.
    case wrongPassphrase(keyFile: String)
    /// The key is not the one the certificate (the first one in the file) was issued for.
    case keyMismatch(certificateFile: String, keyFile: String)
    /// The certificate given as `--ca` cannot sign certificates (no basicConstraints CA:TRUE).
    case notACertificateAuthority(path: String, subject: String)
    /// The CA's path length constraint forbids issuing another CA below it.
    case pathLengthExceeded(path: String, subject: String)
    /// A name (CN, DNS name, IP address, verification code) cannot go into a certificate.
    case invalidName(kind: String, value: String, reason: String)
    /// `--days` out of range.
    case invalidDays(Int)
    /// Files that would be overwritten (without `force`).
    case wouldOverwrite(paths: [String])
    /// An output file or directory could not be created or written.
    case cannotWrite(path: String, reason: String)
    /// mbedTLS failed at `operation`.
    case mbedTLS(operation: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .fileMissing(let path, let role):
            return "the \(role.rawValue) file \"\(path)\" does not exist. Check the path (it is relative to the working directory unless it starts with /)."
        case .fileUnreadable(let path, let role, let reason):
            return "cannot read the \(role.rawValue) file \"\(path)\": \(reason). Check that it is a regular file and that this user may read it."
        case .notPEM(let path, let role):
            let isKey = role == .privateKey || role == .caKey
            let block = isKey ? "-----BEGIN ... PRIVATE KEY-----" : "-----BEGIN CERTIFICATE-----"
            let convert = isKey
                ? "openssl pkey -in \(path) -inform DER -out key.pem"
                : "openssl x509 -in \(path) -inform DER -out cert.pem"
            return "the \(role.rawValue) file \"\(path)\" is not PEM (no \(block) block). If it is DER, convert it with `\(convert)`; otherwise check that this is the right file."
        case .wrongKindOfPEM(let path, let role, let found):
            let hint = role == .certificate && found == "a private key"
                ? " To check a key against a certificate: dps-device certs inspect CERT.pem --key \(path)"
                : " Check that this is the right file."
            return "the \(role.rawValue) file \"\(path)\" holds \(found), not \(role == .privateKey || role == .caKey ? "a private key" : "a certificate").\(hint)"
        case .invalidContent(let path, let role, let detail):
            return "the \(role.rawValue) file \"\(path)\" is PEM but cannot be used: \(detail). Check that the file is complete and, for a key, that it is RSA or EC."
        case .passphraseRequired(let keyFile):
            return "the private key \"\(keyFile)\" is encrypted: give its pass phrase with --passphrase."
        case .wrongPassphrase(let keyFile):
            return "the pass phrase does not decrypt the private key \"\(keyFile)\". Check the pass phrase (it is case-sensitive) and that this is the right key file."
        case .keyMismatch(let certificateFile, let keyFile):
            return "the private key \"\(keyFile)\" does not belong to the certificate \"\(certificateFile)\" (the first certificate in the file). Give the key that was made with that certificate."
        case .notACertificateAuthority(let path, let subject):
            return "\"\(path)\" (\(subject)) is not a CA certificate (it has no basicConstraints CA:TRUE), so certificates it signs would not verify. Give a CA made by `dps-device certs root-ca` or `certs intermediate`."
        case .pathLengthExceeded(let path, let subject):
            return "\"\(path)\" (\(subject)) may not sign CA certificates (its basicConstraints pathlen is 0): sign the intermediate with the root CA instead."
        case .invalidName(let kind, let value, let reason):
            return "the \(kind) \"\(value)\" cannot be used: \(reason)."
        case .invalidDays(let days):
            return "--days must be between 1 and 36500, got \(days)."
        case .wouldOverwrite(let paths):
            let list = paths.map { "\"\($0)\"" }.joined(separator: ", ")
            return "refusing to overwrite \(list): pass --force to replace \(paths.count == 1 ? "it" : "them"), or choose another --out-dir."
        case .cannotWrite(let path, let reason):
            return "cannot write \"\(path)\": \(reason). Check that the directory exists and that this user may write to it."
        case .mbedTLS(let operation, let code, let message):
            let hex = String(UInt32(bitPattern: code < 0 ? -code : code), radix: 16, uppercase: true)
            return "\(operation) failed: \(message) (mbedTLS error -0x\(hex))."
        }
    }
}

extension CertificateToolError {
    static func failed(_ operation: String, _ code: Int32) -> CertificateToolError {
        .mbedTLS(operation: operation, code: code, message: mbedTLSText(code))
    }

    static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
