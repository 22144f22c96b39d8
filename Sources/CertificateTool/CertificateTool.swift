// The certificate tool (`dps-device certs`): made with mbedTLS's certificate writing.
//
// The walkthrough in ../shared/seed/ makes its certificates with nine OpenSSL commands. This
// module makes the same files, and the ones the local stand-ins need, without OpenSSL:
//
// - `PrivateKey.generate(_:)` makes an RSA 2048 (default) or EC P-256 key from the OS's entropy
//   and writes it as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
// - `CertificateRequest` says what to make: `.rootCA`, `.intermediateCA`, `.device`,
//   `.verification` (proof of possession), `.serverCA` and `.server`, each with the extensions
//   its use needs.
// - `CertificateRequest.selfSigned(with:)` makes a root; `CertificateAuthority.issue(_:key:)`
//   signs a certificate with a CA loaded from its PEM files (and returns the chain to write
//   when that CA is an intermediate).
// - `OutputFiles` writes them: keys created with mode 0600, nothing overwritten without `force`.
// - `Inspection` reads a PEM file (and optionally a key) and says what is in it: subject,
//   issuer, serial, validity, key, CA or not, usages, names, and whether the key matches.
//
// Every failure is a `CertificateToolError`, whose description names the file and the fix.
#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS

/// The kind of key to generate.
public enum KeyType: String, CaseIterable, Sendable {
    /// RSA 2048 bits, public exponent 65537: the walkthrough's choice (`openssl genrsa 2048`).
    case rsa
    /// ECDSA on NIST P-256 (secp256r1, prime256v1).
    case ec

    /// How the key is named in messages: `RSA 2048` or `EC P-256`.
    public var displayName: String {
        switch self {
        case .rsa: return "RSA 2048"
        case .ec: return "EC P-256"
        }
    }
}

/// The random-number callback mbedTLS wants, drawing from `getrandom(2)` (the kernel's CSPRNG).
let osRandom: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int) -> Int32 = { _, output, length in
    guard let output else { return length == 0 ? 0 : -1 }
    return SystemEntropyBridge.fill(UnsafeMutableRawBufferPointer(start: output, count: length)) ? 0 : MBEDTLS_ERR_ENTROPY_SOURCE_FAILED
}
