#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS
import LinuxBoard

/// A parsed chain of X.509 certificates (mbedTLS), owned.
public final class X509Chain: @unchecked Sendable {
    let crt: UnsafeMutablePointer<mbedtls_x509_crt>
    public let path: String

    /// Parses every certificate in the PEM file `path`.
    public init(file path: String) throws(StandInError) {
        self.path = path
        crt = .allocate(capacity: 1)
        mbedtls_x509_crt_init(crt)
        let result = mbedtls_x509_crt_parse_file(crt, path)
        if result != 0 {
            mbedtls_x509_crt_free(crt)
            crt.deallocate()
            throw StandInError("cannot load the certificate file \"\(path)\": \(X509.message(result)) (it must be PEM, -----BEGIN CERTIFICATE-----)")
        }
    }

    /// Parses several PEM files into one chain (the trust list for client certificates).
    public init(files: [String]) throws(StandInError) {
        path = files.joined(separator: ", ")
        crt = .allocate(capacity: 1)
        mbedtls_x509_crt_init(crt)
        for file in files {
            let result = mbedtls_x509_crt_parse_file(crt, file)
            if result != 0 {
                mbedtls_x509_crt_free(crt)
                crt.deallocate()
                throw StandInError("cannot load the CA certificate \"\(file)\": \(X509.message(result))")
            }
        }
    }

    deinit {
        mbedtls_x509_crt_free(crt)
        crt.deallocate()
    }

    /// The first certificate's subject CN.
    public var commonName: String? { X509.commonName(crt) }
    public var subject: String { X509.subject(crt) }

    /// Whether the chain starting at this chain's first certificate leads to a CA in `anchors`;
    /// the mbedTLS verify flags (0 when it does, and is valid now).
    public func verify(against anchors: X509Chain) -> UInt32 {
        X509.verify(UnsafePointer(crt), against: anchors)
    }
}

/// A private key (RSA or EC), owned.
final class PrivateKey {
    let pk: UnsafeMutablePointer<mbedtls_pk_context>

    init(file path: String) throws(StandInError) {
        pk = .allocate(capacity: 1)
        mbedtls_pk_init(pk)
        let result = mbedtls_pk_parse_keyfile(pk, path, nil)
        if result != 0 {
            mbedtls_pk_free(pk)
            pk.deallocate()
            throw StandInError("cannot load the private key \"\(path)\": \(X509.message(result)) (it must be an unencrypted PEM key)")
        }
    }

    deinit {
        mbedtls_pk_free(pk)
        pk.deallocate()
    }
}

enum X509 {
    static func message(_ code: Int32) -> String { mbedTLSMessage(code) }

    static func commonName(_ crt: UnsafePointer<mbedtls_x509_crt>) -> String? { CertificateInfo.commonName(crt) }

    static func subject(_ crt: UnsafePointer<mbedtls_x509_crt>) -> String {
        dn(crt.pointer(to: \.subject))
    }

    static func issuer(_ crt: UnsafePointer<mbedtls_x509_crt>) -> String {
        dn(crt.pointer(to: \.issuer))
    }

    private static func dn(_ name: UnsafePointer<mbedtls_x509_name>?) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        if mbedtls_x509_dn_gets(&buffer, buffer.count, name) < 0 { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func verify(_ crt: UnsafePointer<mbedtls_x509_crt>, against anchors: X509Chain) -> UInt32 {
        var flags: UInt32 = 0
        _ = mbedtls_x509_crt_verify(UnsafeMutablePointer(mutating: crt), anchors.crt, nil, nil, &flags, nil, nil)
        return flags
    }

    /// mbedTLS's words for verify flags, on one line.
    static func verifyText(_ flags: UInt32) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        let n = mbedtls_x509_crt_verify_info(&buffer, buffer.count, "", flags)
        if n <= 0 { return "flags 0x\(String(flags, radix: 16))" }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "\n").joined(separator: "; ")
    }
}

/// mbedTLS's words for certificate verify flags, for the command line.
public enum StandInCertificateText {
    public static func verify(_ flags: UInt32) -> String { X509.verifyText(flags) }
}
