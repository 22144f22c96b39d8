#if canImport(Glibc)
import Glibc
#endif

/// Why a TLS identity could not be loaded or a TLS connection failed. Every case carries what
/// the user needs to fix it (the file, the host, the dates), and `description` says what to do.
public enum TLSFailure: Error, CustomStringConvertible, Equatable, Sendable {
    /// Which of the identity's files a file failure is about.
    public enum FileRole: String, Sendable, Equatable {
        case trustAnchors = "trusted CA certificates"
        case certificate = "device certificate"
        case privateKey = "private key"
    }

    /// Where in the life of a connection a failure happened.
    public enum Step: String, Sendable, Equatable {
        case setup, connect, handshake, send, receive, close
    }

    // MARK: Identity files

    /// The file does not exist.
    case fileMissing(path: String, role: FileRole)
    /// The file exists but cannot be read (permissions, a directory…); `reason` is `strerror`.
    case fileUnreadable(path: String, role: FileRole, reason: String)
    /// The file holds no PEM block of the expected kind (DER, or the wrong file).
    case notPEM(path: String, role: FileRole)
    /// The file is PEM of another kind: `holds` is its first block's label (`PRIVATE KEY`,
    /// `CERTIFICATE`, `CERTIFICATE REQUEST`…), e.g. `--cert` and `--key` swapped.
    case wrongKindOfPEM(path: String, role: FileRole, holds: String)
    /// The file is PEM but mbedTLS cannot use what is in it (corrupt, unsupported algorithm).
    case invalidContent(path: String, role: FileRole, detail: String)
    /// The private key is encrypted and no pass phrase was given.
    case passphraseRequired(keyFile: String)
    /// The pass phrase does not decrypt the private key.
    case wrongPassphrase(keyFile: String)
    /// The private key is not the one the (leaf) certificate was issued for.
    case keyMismatch(certificateFile: String, keyFile: String)
    /// A certificate without a key, or a key without a certificate.
    case incompleteIdentity(certificateFile: String?, keyFile: String?)

    // MARK: The server's certificate

    /// The server's chain does not lead to a CA in `caFile`. `detail` is mbedTLS's verify text.
    case serverCertificateNotTrusted(host: String, caFile: String, detail: String)
    /// The server's certificate is not for `host`; `certificateNames` are its DNS and IP
    /// subject alternative names (or its CN when it has none).
    case hostNameMismatch(host: String, certificateNames: [String])
    /// A certificate of the server's chain expired before the device's current time.
    case serverCertificateExpired(host: String, subject: String, notBefore: String, notAfter: String, deviceTime: String)
    /// A certificate of the server's chain is not valid yet at the device's current time.
    case serverCertificateNotYetValid(host: String, subject: String, notBefore: String, notAfter: String, deviceTime: String)
    /// The server's certificate is not for TLS servers: its key usage or extended key usage
    /// (no serverAuth) says so.
    case serverCertificateUsage(host: String, detail: String)
    /// The server's certificate fails another check (weak signature or key).
    case serverCertificateInvalid(host: String, detail: String)

    // MARK: Our certificate

    /// The server refused our certificate (or the lack of one) with a fatal alert.
    case certificateRejected(host: String, alert: UInt8, sentCertificate: Bool)
    /// The server refused our certificate, and by the device clock it has expired (its
    /// `notAfter` is past). Renewing the certificate, not retrying, fixes it.
    case deviceCertificateExpired(host: String, certificateFile: String, subject: String, notBefore: String, notAfter: String, deviceTime: String)
    /// The server refused our certificate, and by the device clock it is not valid yet.
    case deviceCertificateNotYetValid(host: String, certificateFile: String, subject: String, notBefore: String, notAfter: String, deviceTime: String)
    /// The server refused our certificate, which is not for TLS clients: its extended key
    /// usage lacks clientAuth, or its key usage lacks digitalSignature.
    case deviceCertificateUsage(host: String, certificateFile: String, subject: String)
    /// The server hung up (or reset) right after it received our certificate, without an
    /// alert, on `attempts` handshakes in a row: it does not accept this device. `issuer` is
    /// the CA it would have to trust. (Once may be a dropped connection; see `isRetriable`.)
    case closedAfterDeviceCertificate(host: String, certificateFile: String, subject: String, issuer: String, attempts: Int)

    // MARK: Network and protocol

    /// `getaddrinfo` could not resolve `host`.
    case dnsFailure(host: String, message: String)
    /// Nothing listens on `host:port`.
    case connectionRefused(host: String, port: UInt16)
    /// `step` did not finish within its timeout.
    case timedOut(Step, host: String, port: UInt16)
    /// The server closed the connection (or reset it).
    case closedByPeer(host: String, port: UInt16)
    /// The server hung up on the TLS ClientHello without answering: the port does not speak
    /// TLS (a plain MQTT port does this), or the server takes nothing this client offers.
    /// `attempts` counts the handshakes in a row that ended so.
    case closedAtClientHello(host: String, port: UInt16, attempts: Int)
    /// The server answered the ClientHello with bytes that are not TLS; `received` is their start.
    case notTLS(host: String, port: UInt16, received: [UInt8])
    /// The server does not speak TLS 1.2, the only version this client speaks: it offered an
    /// older one (`serverVersion`, e.g. "TLS 1.1"), or (nil) refused 1.2 with protocol_version.
    case protocolVersion(host: String, serverVersion: String?)
    /// The server sent a fatal alert that is not about our certificate.
    case alertReceived(host: String, alert: UInt8, step: Step)
    /// A system call failed.
    case io(Step, errno: Int32)
    /// `send` or `receive` without an open connection.
    case notConnected
    /// Any other mbedTLS error: `message` is `mbedtls_strerror`'s text for `code`.
    case mbedTLS(code: Int32, message: String, step: Step)

    public var description: String {
        switch self {
        case .fileMissing(let path, let role):
            return "the \(role.rawValue) file \"\(path)\" does not exist. Check the path (it is relative to the working directory unless it starts with /)."
        case .fileUnreadable(let path, let role, let reason):
            return "cannot read the \(role.rawValue) file \"\(path)\": \(reason). Check that it is a regular file and that this user may read it."
        case .notPEM(let path, let role):
            let block = role == .privateKey ? "-----BEGIN ... PRIVATE KEY-----" : "-----BEGIN CERTIFICATE-----"
            let convert = role == .privateKey
                ? "openssl pkey -in \(path) -inform DER -out key.pem"
                : "openssl x509 -in \(path) -inform DER -out cert.pem"
            return "the \(role.rawValue) file \"\(path)\" is not PEM (no \(block) block). If it is DER, convert it with `\(convert)`; otherwise check that this is the right file."
        case .wrongKindOfPEM(let path, let role, let holds):
            let hint: String
            switch role {
            case .certificate where holds.hasSuffix("PRIVATE KEY"): hint = "are --cert and --key swapped?"
            case .privateKey where holds == "CERTIFICATE": hint = "are --cert and --key swapped?"
            case .trustAnchors where holds.hasSuffix("PRIVATE KEY"): hint = "--ca takes the CA's certificate, never a key"
            default: hint = "check that this is the right file"
            }
            let wanted = role == .privateKey ? "a private key" : role == .certificate ? "a certificate" : "CA certificates"
            return "the \(role.rawValue) file \"\(path)\" holds a \(holds), not \(wanted): \(hint)"
        case .invalidContent(let path, let role, let detail):
            return "the \(role.rawValue) file \"\(path)\" is PEM but cannot be used: \(detail). Check that the file is complete and, for a key, that it is RSA or EC (P-256/P-384)."
        case .passphraseRequired(let keyFile):
            return "the private key \"\(keyFile)\" is encrypted: give its pass phrase, or store it unencrypted (`openssl pkey -in \(keyFile) -out plain.pem`) where the file system protects it."
        case .wrongPassphrase(let keyFile):
            return "the pass phrase does not decrypt the private key \"\(keyFile)\". Check the pass phrase (it is case-sensitive) and that this is the right key file."
        case .keyMismatch(let certificateFile, let keyFile):
            return "the private key \"\(keyFile)\" does not belong to the certificate \"\(certificateFile)\" (the first certificate in the file must be the device's own). Compare `openssl x509 -in \(certificateFile) -noout -pubkey` with `openssl pkey -in \(keyFile) -pubout`."
        case .incompleteIdentity(let certificateFile, let keyFile):
            if let certificateFile {
                return "a device certificate (\"\(certificateFile)\") was given without its private key: give both, or neither to connect without a client certificate."
            }
            return "a private key (\"\(keyFile ?? "")\") was given without its certificate: give both, or neither to connect without a client certificate."
        case .serverCertificateNotTrusted(let host, let caFile, let detail):
            return "the certificate of \(host) is not trusted: its chain does not lead to a CA in \"\(caFile)\" (\(detail)). Add the server's root CA to that file, or give the right CA file."
        case .hostNameMismatch(let host, let names):
            let list = names.isEmpty ? "no names" : names.joined(separator: ", ")
            return "the server's certificate is not for \"\(host)\": it names \(list). Connect with one of those names, or fix the server's certificate."
        case .serverCertificateExpired(let host, let subject, let notBefore, let notAfter, let deviceTime):
            return "the certificate \"\(subject)\" of \(host) expired: it is valid from \(notBefore) to \(notAfter), and the device clock says \(deviceTime). If the device clock is wrong, set it (NTP); otherwise the server must renew its certificate."
        case .serverCertificateNotYetValid(let host, let subject, let notBefore, let notAfter, let deviceTime):
            return "the certificate \"\(subject)\" of \(host) is not valid yet: it is valid from \(notBefore) to \(notAfter), and the device clock says \(deviceTime). The device clock is probably wrong (no real-time clock, NTP not synchronised yet): set it and try again."
        case .serverCertificateUsage(let host, let detail):
            return "the certificate of \(host) is not for TLS servers: \(detail). The server's certificate must be issued for server authentication (extendedKeyUsage serverAuth, keyUsage digitalSignature/keyEncipherment)."
        case .serverCertificateInvalid(let host, let detail):
            return "the certificate of \(host) is not acceptable: \(detail). The server's certificate must be fixed."
        case .certificateRejected(let host, let alert, let sentCertificate):
            let name = TLSFailure.alertName(alert)
            if !sentCertificate {
                return "\(host) requires a client certificate and this device sent none (alert \(alert), \(name)). Give the device certificate and key."
            }
            return "\(host) rejected the device certificate (alert \(alert), \(name)). Check that the certificate (with its intermediates, for a group enrollment) is registered with the service and signed by a CA it trusts, and that it has not expired."
        case .deviceCertificateExpired(let host, let file, let subject, let notBefore, let notAfter, let deviceTime):
            return "\(host) refused the device certificate \"\(subject)\" (\(file)) because it expired: it is valid from \(notBefore) to \(notAfter), and the device clock says \(deviceTime). Renew the device certificate (and its enrollment); if the device clock is wrong, set it (NTP)."
        case .deviceCertificateNotYetValid(let host, let file, let subject, let notBefore, let notAfter, let deviceTime):
            return "\(host) refused the device certificate \"\(subject)\" (\(file)) because it is not valid yet: it is valid from \(notBefore) to \(notAfter), and the device clock says \(deviceTime). The device clock is probably wrong (no real-time clock, NTP not synchronised yet): set it and try again."
        case .deviceCertificateUsage(let host, let file, let subject):
            return "\(host) refused the device certificate \"\(subject)\" (\(file)): it is not for TLS clients (its extendedKeyUsage lacks clientAuth, or its keyUsage lacks digitalSignature). Issue the device certificate with extendedKeyUsage = clientAuth and keyUsage = digitalSignature."
        case .closedAfterDeviceCertificate(let host, let file, let subject, let issuer, let attempts):
            return "\(host) hung up\(TLSFailure.inARow(attempts)) right after receiving the device certificate \"\(subject)\" (\(file)), without saying why: it does not accept this device. It must trust the CA that issued it, \"\(issuer)\": for DPS, upload and verify that CA in the enrollment group (put any intermediates in the --cert file after the device's own)."
        case .dnsFailure(let host, let message):
            return "cannot resolve host \"\(host)\": \(message). Check the host name and the DNS configuration (/etc/resolv.conf, /etc/hosts)."
        case .connectionRefused(let host, let port):
            return "\(host):\(port) refused the connection: nothing is listening on port \(port). Check the port number and that the server is running."
        case .timedOut(let step, let host, let port):
            switch step {
            case .connect:
                return "connecting to \(host):\(port) timed out. Check that the host is reachable (firewall, routing, VPN), or raise the connect timeout."
            case .handshake:
                return "the TLS handshake with \(host):\(port) timed out: the server accepted the connection but did not complete TLS. Check that the port speaks TLS (8883 for MQTT over TLS), or raise the timeout."
            default:
                return "\(step.rawValue) with \(host):\(port) timed out. Check the network, or raise the timeout."
            }
        case .closedByPeer(let host, let port):
            return "\(host):\(port) closed the connection. Its log says why: refused credentials, another client with the same client id, a protocol error, or keep-alive expiry."
        case .closedAtClientHello(let host, let port, let attempts):
            return "\(host):\(port) hung up\(TLSFailure.inARow(attempts)) on the TLS ClientHello without answering: the port does not speak TLS (a plain MQTT port, such as 1883, does this; MQTT over TLS is 8883), or the server accepts nothing this client offers (TLS 1.2 with ECDHE or RSA key exchange)."
        case .notTLS(let host, let port, let received):
            return "\(host):\(port) does not speak TLS: it answered the ClientHello with \(TLSFailure.guessProtocol(received)). Check the port (MQTT over TLS is 8883)."
        case .protocolVersion(let host, let serverVersion):
            if let serverVersion {
                return "\(host) speaks only \(serverVersion), which this client does not accept: it speaks TLS 1.2 only (IoT Hub and DPS require TLS 1.2). Enable TLS 1.2 on the server."
            }
            return "\(host) does not accept TLS 1.2 (alert 70, protocol_version), the only version this client speaks; it probably wants TLS 1.3 only. Enable TLS 1.2 on the server."
        case .alertReceived(let host, let alert, let step):
            return "\(host) ended the TLS connection during \(step.rawValue) with alert \(alert) (\(TLSFailure.alertName(alert))). This client speaks TLS 1.2 only; check that the server accepts TLS 1.2."
        case .io(let step, let code):
            return "\(step.rawValue) failed: \(String(cString: strerror(code))) (errno \(code)). Check the network and the process limits (open files)."
        case .notConnected:
            return "the TLS transport is not connected: call open() first."
        case .mbedTLS(let code, let message, let step):
            let hex = String(UInt32(bitPattern: code < 0 ? -code : code), radix: 16, uppercase: true)
            return "TLS \(step.rawValue) failed: \(message) (mbedTLS error -0x\(hex))."
        }
    }

    /// Whether trying again later can help: yes for network trouble, no for anything that needs
    /// a file, a certificate, a pass phrase or a name changed.
    public var isRetriable: Bool {
        switch self {
        case .fileMissing, .fileUnreadable, .notPEM, .wrongKindOfPEM, .invalidContent, .passphraseRequired, .wrongPassphrase,
             .keyMismatch, .incompleteIdentity, .serverCertificateNotTrusted, .hostNameMismatch,
             .serverCertificateExpired, .serverCertificateNotYetValid, .serverCertificateUsage, .serverCertificateInvalid, .certificateRejected,
             .deviceCertificateExpired, .deviceCertificateNotYetValid, .deviceCertificateUsage, .notTLS, .protocolVersion:
            return false
        case .closedAtClientHello(_, _, let attempts), .closedAfterDeviceCertificate(_, _, _, _, let attempts):
            // A dropped connection looks the same once; the same hang-up again and again is
            // the server's answer.
            return attempts < TLSFailure.hangUpsBeforeGivingUp
        case .alertReceived(_, let alert, _):
            // No common version or cipher suite: retrying the same offer cannot help.
            return !(alert == 40 || alert == 70 || alert == 71)
        case .dnsFailure, .connectionRefused, .timedOut, .closedByPeer, .io, .notConnected, .mbedTLS:
            return true
        }
    }

    /// Handshakes in a row that end in the same hang-up before it counts as the server's
    /// answer rather than a dropped connection.
    public static let hangUpsBeforeGivingUp = 3

    static func inARow(_ attempts: Int) -> String { attempts > 1 ? " on \(attempts) handshakes in a row" : "" }

    /// What a non-TLS answer looks like: an MQTT packet, HTTP, SSH, text, or just its bytes.
    static func guessProtocol(_ bytes: [UInt8]) -> String {
        let hex = bytes.prefix(8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        let shown = bytes.isEmpty ? "nothing" : "the bytes \(hex)\(bytes.count > 8 ? " …" : "")"
        func starts(_ text: String) -> Bool { bytes.starts(with: Array(text.utf8)) }
        if starts("HTTP/") { return "\(shown) (HTTP: a web server)" }
        if starts("SSH-") { return "\(shown) (SSH)" }
        if bytes.starts(with: [0x20, 0x02]) { return "\(shown) (an MQTT CONNACK: a plain MQTT port, without TLS)" }
        if !bytes.isEmpty && bytes.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || (32...126).contains($0) }) {
            return "\(shown) (text: \"\(String(decoding: bytes.prefix(40), as: UTF8.self))\")"
        }
        return shown
    }

    /// The TLS alert's name (RFC 5246 §7.2).
    public static func alertName(_ alert: UInt8) -> String {
        switch alert {
        case 0: return "close_notify"
        case 10: return "unexpected_message"
        case 20: return "bad_record_mac"
        case 22: return "record_overflow"
        case 40: return "handshake_failure"
        case 42: return "bad_certificate"
        case 43: return "unsupported_certificate"
        case 44: return "certificate_revoked"
        case 45: return "certificate_expired"
        case 46: return "certificate_unknown"
        case 47: return "illegal_parameter"
        case 48: return "unknown_ca"
        case 49: return "access_denied"
        case 50: return "decode_error"
        case 51: return "decrypt_error"
        case 70: return "protocol_version"
        case 71: return "insufficient_security"
        case 80: return "internal_error"
        case 86: return "inappropriate_fallback"
        case 90: return "user_canceled"
        case 100: return "no_renegotiation"
        case 110: return "unsupported_extension"
        case 112: return "unrecognized_name"
        case 116: return "certificate_required"
        default: return "unknown alert"
        }
    }
}
