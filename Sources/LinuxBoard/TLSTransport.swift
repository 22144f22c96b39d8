#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS
import DeviceCore

/// `DeviceTransport` over TLS 1.2 with mbedTLS, for MQTT on port 8883 (DPS and IoT Hub).
///
/// `open()` connects over TCP (`TCPTransport`: `getaddrinfo`, IPv4 or IPv6, non-blocking
/// connect bounded by `connectTimeout`), then runs the handshake, bounded by
/// `handshakeTimeout`:
/// - TLS 1.2 only (minimum and maximum version), as Azure IoT requires;
/// - the server's chain must lead to a CA of `identity.caFile` (verification REQUIRED), and the
///   server certificate must be for `host`; SNI is `host` (but see IP literals below);
/// - the device's certificate chain and key, when the identity has them (mutual TLS);
/// - randomness from the OS (`mbedtls_entropy`, whose platform source is `getrandom(2)`) through
///   `ctr_drbg`.
///
/// The socket stays non-blocking and mbedTLS reads and writes it through our own callbacks
/// (`send(MSG_NOSIGNAL)`, so a closed peer is an error, never `SIGPIPE`); every wait is a
/// `poll(2)` bounded by the caller's timeout. `receive` returns 0 when nothing came in time and
/// throws `closedByPeer` on a closed connection; `close()` sends close_notify.
///
/// A class, since it owns mbedTLS contexts that must not be copied; they are set up once and
/// reused (`mbedtls_ssl_session_reset`) by every `open()`, so reconnecting allocates little.
public final class TLSTransport: DeviceTransport {
    public typealias Failure = TLSFailure

    public private(set) var host: String
    public private(set) var port: UInt16
    public let identity: TLSIdentity
    /// Longest time the TCP connection may take, over all of the host's addresses.
    public var connectTimeout: DeviceDuration
    /// Longest time the TLS handshake may take once TCP is connected.
    public var handshakeTimeout: DeviceDuration
    /// Longest time `close()` spends sending close_notify.
    public var closeNotifyTimeout: DeviceDuration = .milliseconds(500)

    /// Whether the handshake completed and the connection has not failed or closed since.
    public private(set) var isEstablished = false
    /// The socket, or -1 when closed (for `poll` with other files, or for a test to break it).
    public var fileDescriptor: Int32 { tcp.fileDescriptor }
    /// The negotiated protocol, e.g. `TLSv1.2`, while established.
    public var protocolVersion: String? { isEstablished ? String(cString: mbedtls_ssl_get_version(ssl)) : nil }
    /// The negotiated cipher suite, e.g. `TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384`, while established.
    public var cipherSuite: String? { isEstablished ? String(cString: mbedtls_ssl_get_ciphersuite(ssl)) : nil }

    private var tcp: TCPTransport
    private let ssl: UnsafeMutablePointer<mbedtls_ssl_context>
    private let config: UnsafeMutablePointer<mbedtls_ssl_config>
    private let entropy: UnsafeMutablePointer<mbedtls_entropy_context>
    private let random: UnsafeMutablePointer<mbedtls_ctr_drbg_context>
    private let socket: UnsafeMutablePointer<SocketState>
    private var prepared = false
    /// `host` as an IPv4 (4 bytes) or IPv6 (16 bytes) address when it is an IP literal.
    private var ipAddress: [UInt8]?
    /// What the verify callback saw of the server's chain during the last handshake.
    private var check = PeerCheck()
    /// The kind of hang-up the last handshakes ended in, and how many in a row.
    private enum HangUp { case atClientHello, afterDeviceCertificate }
    private var lastHangUp: HangUp?
    private var hangUps = 0

    public init(host: String, port: UInt16, identity: TLSIdentity, connectTimeout: DeviceDuration = .seconds(10)) {
        self.host = host
        self.port = port
        self.identity = identity
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = connectTimeout
        self.tcp = TCPTransport(host: host, port: port, connectTimeout: connectTimeout)
        ssl = .allocate(capacity: 1)
        mbedtls_ssl_init(ssl)
        config = .allocate(capacity: 1)
        mbedtls_ssl_config_init(config)
        entropy = .allocate(capacity: 1)
        mbedtls_entropy_init(entropy)
        random = .allocate(capacity: 1)
        mbedtls_ctr_drbg_init(random)
        socket = .allocate(capacity: 1)
        socket.initialize(to: SocketState())
        ipAddress = Self.ipLiteral(host)
    }

    deinit {
        close()
        mbedtls_ssl_free(ssl)
        mbedtls_ssl_config_free(config)
        mbedtls_ctr_drbg_free(random)
        mbedtls_entropy_free(entropy)
        ssl.deallocate()
        config.deallocate()
        random.deallocate()
        entropy.deallocate()
        socket.deinitialize(count: 1)
        socket.deallocate()
    }

    public static func isRetriable(_ failure: TLSFailure) -> Bool { failure.isRetriable }

    /// Points the next `open` at `host`:`port` (the view is copied); the server certificate
    /// is then checked against the new host.
    public func setEndpoint(host: ByteView, port: UInt16) {
        close()
        self.host = String(decoding: UnsafeRawBufferPointer(start: host.baseAddress, count: host.count), as: UTF8.self)
        self.port = port
        ipAddress = Self.ipLiteral(self.host)
        lastHangUp = nil
        hangUps = 0
    }

    // MARK: Open and close

    /// Connects (within `connectTimeout`) and completes the TLS handshake (within
    /// `handshakeTimeout`), all of it within `timeout`.
    public func open(timeout: DeviceDuration = .forever) throws(TLSFailure) {
        let clock = MonotonicClock()
        let openDeadline = clock.now() + timeout
        close()
        if !prepared {
            try prepare()
        } else {
            let result = mbedtls_ssl_session_reset(ssl)
            if result != 0 { throw .mbedTLS(code: result, message: mbedTLSMessage(result), step: .setup) }
        }
        check = PeerCheck()
        mbedtls_ssl_set_verify(ssl, { context, crt, depth, flags in
            guard let context, let crt, let flags else { return 0 }
            Unmanaged<TLSTransport>.fromOpaque(context).takeUnretainedValue().inspect(crt, depth: depth, flags: flags)
            return 0
        }, Unmanaged.passUnretained(self).toOpaque())

        // For a DNS name, mbedTLS sends it as SNI and checks it against the certificate's DNS
        // names (or its CN when it has none). An IP literal must not be sent as SNI (RFC 6066
        // §3), and mbedTLS 2.28's name check knows only CN and dNSName, never iPAddress; so for
        // an IP literal no host name is set and `inspect` checks the iPAddress names itself
        // (RFC 6125 §6.2: an IP address matches an iPAddress name only, never the CN).
        let nameResult = ipAddress == nil ? mbedtls_ssl_set_hostname(ssl, host) : mbedtls_ssl_set_hostname(ssl, nil)
        if nameResult != 0 { throw .mbedTLS(code: nameResult, message: mbedTLSMessage(nameResult), step: .setup) }

        tcp = TCPTransport(host: host, port: port, connectTimeout: connectTimeout)
        do throws(TCPTransport.Failure) { try tcp.open(timeout: timeout) } catch { throw translate(error) }
        socket.pointee = SocketState(fd: tcp.fileDescriptor)
        mbedtls_ssl_set_bio(ssl, socket, { context, buffer, length in
            SocketState.send(context, buffer, length)
        }, { context, buffer, length in
            SocketState.receive(context, buffer, length)
        }, nil)

        let deadline = min(clock.now() + handshakeTimeout, openDeadline)
        while true {
            let result = mbedtls_ssl_handshake(ssl)
            if result == 0 { break }
            if result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE {
                let remaining = deadline - clock.now()
                let ready: Bool
                do throws(TLSFailure) {
                    ready = remaining > .zero ? try wait(for: result == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, timeout: remaining, step: .handshake) : false
                } catch {
                    tcp.close()
                    throw error
                }
                if !ready {
                    tcp.close()
                    throw .timedOut(.handshake, host: host, port: port)
                }
                continue
            }
            let failure = countingHangUps(classify(result, step: .handshake))
            tcp.close()
            throw failure
        }
        lastHangUp = nil
        isEstablished = true
    }

    /// Sends close_notify (waiting at most `closeNotifyTimeout`) and closes the socket.
    public func close() {
        if isEstablished {
            isEstablished = false
            let clock = MonotonicClock()
            let deadline = clock.now() + closeNotifyTimeout
            while true {
                let result = mbedtls_ssl_close_notify(ssl)
                guard result == MBEDTLS_ERR_SSL_WANT_WRITE || result == MBEDTLS_ERR_SSL_WANT_READ else { break }
                let remaining = deadline - clock.now()
                guard remaining > .zero,
                      (try? wait(for: result == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, timeout: remaining, step: .close)) == true
                else { break }
            }
        }
        tcp.close()
        socket.pointee = SocketState()
    }

    /// The one-time setup: seed the random generator and configure the client.
    private func prepare() throws(TLSFailure) {
        func check(_ result: Int32) throws(TLSFailure) {
            if result != 0 { throw .mbedTLS(code: result, message: mbedTLSMessage(result), step: .setup) }
        }
        let personalization: StaticString = "swift-azure-iot-device TLSTransport"
        try check(mbedtls_ctr_drbg_seed(random, mbedtls_entropy_func, entropy, personalization.utf8Start, personalization.utf8CodeUnitCount))
        try check(mbedtls_ssl_config_defaults(config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT))
        // TLS 1.2 and nothing else (3.3 is TLS 1.2's wire version).
        mbedtls_ssl_conf_min_version(config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_max_version(config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_authmode(config, MBEDTLS_SSL_VERIFY_REQUIRED)
        mbedtls_ssl_conf_ca_chain(config, identity.trustAnchors, nil)
        if let chain = identity.chain, let key = identity.key {
            try check(mbedtls_ssl_conf_own_cert(config, chain, key))
        }
        mbedtls_ssl_conf_rng(config, mbedtls_ctr_drbg_random, random)
        mbedtls_ssl_conf_curves(config, TLSCurves.preferred)
        try check(mbedtls_ssl_setup(ssl, config))
        prepared = true
    }

    // MARK: Bytes

    /// Writes up to one TLS record of `bytes`. If the socket has no room within `timeout`,
    /// returns 0; mbedTLS may then hold part of a record, so the next call must pass the same
    /// bytes again (as `MQTTClient` does: it re-sends from its unsent offset).
    public func send(_ bytes: ByteView, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        guard isEstablished else { throw .notConnected }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        let clock = MonotonicClock()
        let deadline = clock.now() + timeout
        while true {
            let result = mbedtls_ssl_write(ssl, base.assumingMemoryBound(to: UInt8.self), bytes.count)
            if result >= 0 { return Int(result) }
            if result == MBEDTLS_ERR_SSL_WANT_WRITE || result == MBEDTLS_ERR_SSL_WANT_READ {
                let remaining = deadline - clock.now()
                if remaining <= .zero { return 0 }
                if try !wait(for: result == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, timeout: remaining, step: .send) { return 0 }
                continue
            }
            isEstablished = false
            throw classify(result, step: .send)
        }
    }

    /// Reads decrypted bytes, waiting at most `timeout` for them; 0 when none came in time.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        guard isEstablished else { throw .notConnected }
        let clock = MonotonicClock()
        let deadline = clock.now() + timeout
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            // Nothing can be taken: just wait, as the caller asked.
            if timeout > .zero { _ = try wait(for: POLLIN, timeout: timeout, step: .receive) }
            return 0
        }
        while true {
            let result = mbedtls_ssl_read(ssl, base.assumingMemoryBound(to: UInt8.self), buffer.count)
            if result > 0 { return Int(result) }
            if result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE {
                let remaining = deadline - clock.now()
                if remaining <= .zero { return 0 }
                if try !wait(for: result == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : POLLIN, timeout: remaining, step: .receive) { return 0 }
                continue
            }
            isEstablished = false
            if result == 0 { throw .closedByPeer(host: host, port: port) }
            throw classify(result, step: .receive)
        }
    }

    /// Waits with `poll(2)` until the socket is ready for `events` (or has an error or
    /// hang-up, which the next mbedTLS call reports); `false` when `timeout` passed first or
    /// SIGINT/SIGTERM asked to stop (`StopSignals`).
    private func wait(for events: Int32, timeout: DeviceDuration, step: TLSFailure.Step) throws(TLSFailure) -> Bool {
        let clock = MonotonicClock()
        let deadline = clock.now() + timeout
        var entry = pollfd(fd: tcp.fileDescriptor, events: Int16(events), revents: 0)
        while !StopSignals.isRequested {
            var remaining = (deadline - clock.now()).milliseconds
            if remaining < 0 { remaining = 0 }
            let result = poll(&entry, 1, Int32(clamping: remaining))
            if result > 0 { return true }
            if result == 0 { return false }
            if errno != EINTR { throw .io(step, errno: errno) }
        }
        return false
    }

    // MARK: Checking the server

    /// Called by mbedTLS for each certificate of the server's chain, from the top down to the
    /// server's own (depth 0), with the problems found so far in `flags`.
    private func inspect(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>, depth: Int32, flags: UnsafeMutablePointer<UInt32>) {
        if depth == 0 {
            check.serverNames = CertificateInfo.names(crt)
            if let ipAddress {
                var matched = false
                CertificateInfo.forEachAlternativeName(crt) { tag, bytes in
                    if tag == CertificateInfo.ipTag && bytes.elementsEqual(ipAddress) { matched = true }
                }
                if !matched { flags.pointee |= UInt32(MBEDTLS_X509_BADCERT_CN_MISMATCH) }
            }
        }
        let expired = flags.pointee & UInt32(MBEDTLS_X509_BADCERT_EXPIRED) != 0
        if expired || flags.pointee & UInt32(MBEDTLS_X509_BADCERT_FUTURE) != 0 {
            // The last one seen is the one nearest the server's own certificate.
            check.badValidity = PeerCheck.Validity(
                subject: CertificateInfo.subject(crt), notBefore: CertificateInfo.format(crt.pointee.valid_from),
                notAfter: CertificateInfo.format(crt.pointee.valid_to), expired: expired)
        }
        check.flags |= flags.pointee
    }

    /// The typed failure for an mbedTLS error `result` during `step`.
    private func classify(_ result: Int32, step: TLSFailure.Step) -> TLSFailure {
        switch result {
        case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
            var flags = check.flags
            if flags == 0 { flags = mbedtls_ssl_get_verify_result(ssl) }
            if flags & UInt32(MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0 {
                return .serverCertificateNotTrusted(host: host, caFile: identity.caFile, detail: Self.verifyText(flags))
            }
            if let validity = check.badValidity {
                let now = Self.deviceTime()
                return validity.expired
                    ? .serverCertificateExpired(host: host, subject: validity.subject, notBefore: validity.notBefore, notAfter: validity.notAfter, deviceTime: now)
                    : .serverCertificateNotYetValid(host: host, subject: validity.subject, notBefore: validity.notBefore, notAfter: validity.notAfter, deviceTime: now)
            }
            if flags & UInt32(MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0 {
                return .hostNameMismatch(host: host, certificateNames: check.serverNames)
            }
            if flags & UInt32(MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE) != 0 {
                return .serverCertificateUsage(host: host, detail: Self.verifyText(flags))
            }
            return .serverCertificateInvalid(host: host, detail: Self.verifyText(flags))
        case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
            let alert = UInt8(truncatingIfNeeded: cmbedtls_last_alert(ssl))
            // Alerts about certificates, after the server asked for ours: it refused what we
            // sent (or that we sent nothing).
            return alertFailure(alert, step: step)
        case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE
            where mbedtls_ssl_get_verify_result(ssl) & UInt32(MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE) != 0:
            // mbedTLS checks the server certificate's usage for the cipher suite before the chain,
            // and fails the Certificate message itself.
            return .serverCertificateUsage(host: host, detail: Self.verifyText(mbedtls_ssl_get_verify_result(ssl)))
        case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
            switch cmbedtls_peer_minor_version(ssl) {
            case 0: return .protocolVersion(host: host, serverVersion: "SSL 3.0")
            case 1: return .protocolVersion(host: host, serverVersion: "TLS 1.0")
            case 2: return .protocolVersion(host: host, serverVersion: "TLS 1.1")
            default: return .protocolVersion(host: host, serverVersion: nil)
            }
        case let code where step == .handshake && awaitingServerHello
            && (code == MBEDTLS_ERR_SSL_INVALID_RECORD || code == MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE || code == MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO):
            // The guard covers all three codes (a `case A, B, C where` guards only C).
            return .notTLS(host: host, port: port, received: receivedRecord())
        case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, MBEDTLS_ERR_SSL_CONN_EOF, MBEDTLS_ERR_NET_CONN_RESET:
            guard step == .handshake else { return .closedByPeer(host: host, port: port) }
            // A server that refuses our certificate sends its alert and closes at once, often
            // while we are still writing the rest of our flight: the write then fails with a
            // reset before mbedTLS has read the alert. The alert (plaintext: the server never
            // got our ChangeCipherSpec) is still in the socket; it says why.
            if let alert = pendingPlaintextAlert() {
                return alertFailure(alert, step: step)
            }
            // Hung up before a ServerHello: not a TLS port (what it sent, if anything, says
            // more), or a server that takes nothing we offer.
            if awaitingServerHello {
                let received = receivedRecord()
                return received.isEmpty ? .closedAtClientHello(host: host, port: port, attempts: 1) : .notTLS(host: host, port: port, received: received)
            }
            // Hung up without saying why after it asked for our certificate and got it: it does
            // not accept this device (out of its validity, not for TLS clients, or from a CA
            // it does not trust). Retrying cannot help.
            let sentCertificate = cmbedtls_handshake_state(ssl) > Int32(MBEDTLS_SSL_CLIENT_CERTIFICATE.rawValue)
            if cmbedtls_server_requested_certificate(ssl) != 0 && identity.hasCertificate && sentCertificate {
                if let refusal = deviceCertificateProblem() { return refusal }
                let leaf = identity.chain.map { UnsafePointer($0) }
                return .closedAfterDeviceCertificate(
                    host: host, certificateFile: identity.certificateFile ?? "",
                    subject: leaf.map(CertificateInfo.subject) ?? "?", issuer: leaf.map(CertificateInfo.issuer) ?? "?", attempts: 1)
            }
            return .closedByPeer(host: host, port: port)
        case MBEDTLS_ERR_NET_SEND_FAILED, MBEDTLS_ERR_NET_RECV_FAILED:
            return .io(step, errno: socket.pointee.lastErrno)
        default:
            return .mbedTLS(code: result, message: mbedTLSMessage(result), step: step)
        }
    }

    /// The failure for a fatal `alert` from the server.
    private func alertFailure(_ alert: UInt8, step: TLSFailure.Step) -> TLSFailure {
        // Alerts about certificates, after the server asked for ours: it refused what we sent
        // (or that we sent nothing; OpenSSL then says handshake_failure).
        let aboutCertificates: Set<UInt8> = [40, 42, 43, 44, 45, 46, 48, 49, 51, 116]
        if step == .handshake && cmbedtls_server_requested_certificate(ssl) != 0 && aboutCertificates.contains(alert) {
            // Say so when the device's own certificate is out of its validity (e.g. it expired
            // while the device ran): the server's alert alone (45, certificate_expired, or a
            // generic one) does not tell which certificate, nor that renewing it is the fix.
            if identity.hasCertificate, let refusal = deviceCertificateProblem() { return refusal }
            return .certificateRejected(host: host, alert: alert, sentCertificate: identity.hasCertificate)
        }
        if alert == 70 { return .protocolVersion(host: host, serverVersion: nil) }
        return .alertReceived(host: host, alert: alert, step: step)
    }

    /// `failure`, with the hang-ups of the same kind counted across handshakes in a row.
    private func countingHangUps(_ failure: TLSFailure) -> TLSFailure {
        let kind: HangUp?
        switch failure {
        case .closedAtClientHello: kind = .atClientHello
        case .closedAfterDeviceCertificate: kind = .afterDeviceCertificate
        default: kind = nil
        }
        hangUps = kind != nil && kind == lastHangUp ? hangUps + 1 : 1
        lastHangUp = kind
        switch failure {
        case .closedAtClientHello(let host, let port, _):
            return .closedAtClientHello(host: host, port: port, attempts: hangUps)
        case .closedAfterDeviceCertificate(let host, let file, let subject, let issuer, _):
            return .closedAfterDeviceCertificate(host: host, certificateFile: file, subject: subject, issuer: issuer, attempts: hangUps)
        default:
            return failure
        }
    }

    /// Whether the handshake failed before the server's hello was read: the server has said
    /// nothing in TLS yet.
    private var awaitingServerHello: Bool {
        cmbedtls_handshake_state(ssl) <= Int32(MBEDTLS_SSL_SERVER_HELLO.rawValue)
    }

    /// The start of the record the server was sending (what a non-TLS server said).
    private func receivedRecord() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = cmbedtls_received_record(ssl, &bytes, bytes.count)
        return Array(bytes.prefix(count))
    }

    /// Why a server would refuse the device's certificate that the device can see itself: out of
    /// its validity by the wall clock, or not for TLS clients. `nil` when it looks fine.
    private func deviceCertificateProblem() -> TLSFailure? {
        if let invalid = deviceCertificateOutOfValidity() { return invalid }
        guard let leaf = identity.chain else { return nil }
        // id-kp-clientAuth, 1.3.6.1.5.5.7.3.2.
        let clientAuth: [CChar] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]
        let extendedUsage = clientAuth.withUnsafeBufferPointer { mbedtls_x509_crt_check_extended_key_usage(leaf, $0.baseAddress, $0.count) }
        let usage = mbedtls_x509_crt_check_key_usage(leaf, UInt32(MBEDTLS_X509_KU_DIGITAL_SIGNATURE))
        guard extendedUsage != 0 || usage != 0 else { return nil }
        return .deviceCertificateUsage(host: host, certificateFile: identity.certificateFile ?? "", subject: CertificateInfo.subject(leaf))
    }

    /// `deviceCertificateExpired` / `deviceCertificateNotYetValid` when the device's leaf
    /// certificate is out of its validity by the wall clock, else nil.
    private func deviceCertificateOutOfValidity() -> TLSFailure? {
        guard let leaf = identity.chain else { return nil }
        let expired = mbedtls_x509_time_is_past(&leaf.pointee.valid_to) != 0
        guard expired || mbedtls_x509_time_is_future(&leaf.pointee.valid_from) != 0 else { return nil }
        let file = identity.certificateFile ?? ""
        let subject = CertificateInfo.subject(leaf)
        let notBefore = CertificateInfo.format(leaf.pointee.valid_from)
        let notAfter = CertificateInfo.format(leaf.pointee.valid_to)
        let now = Self.deviceTime()
        return expired
            ? .deviceCertificateExpired(host: host, certificateFile: file, subject: subject, notBefore: notBefore, notAfter: notAfter, deviceTime: now)
            : .deviceCertificateNotYetValid(host: host, certificateFile: file, subject: subject, notBefore: notBefore, notAfter: notAfter, deviceTime: now)
    }

    /// The description of a plaintext fatal alert record waiting unread in the socket.
    private func pendingPlaintextAlert() -> UInt8? {
        let fd = tcp.fileDescriptor
        guard fd >= 0 else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while bytes.count < 8192 {
            let count = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        // Records: type (21 = alert), version (3.x), length; an alert is level (2 = fatal), description.
        var offset = 0
        while offset + 5 <= bytes.count {
            let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            if bytes[offset] == 21 && bytes[offset + 1] == 3 && length == 2 && offset + 7 <= bytes.count && bytes[offset + 5] == 2 {
                return bytes[offset + 6]
            }
            offset += 5 + length
        }
        return nil
    }

    private func translate(_ failure: TCPTransport.Failure) -> TLSFailure {
        switch failure {
        case .dnsFailure(let host, let message): return .dnsFailure(host: host, message: message)
        case .connectionRefused(let host, let port): return .connectionRefused(host: host, port: port)
        case .timedOut: return .timedOut(.connect, host: host, port: port)
        case .closedByPeer: return .closedByPeer(host: host, port: port)
        case .io(_, let code): return .io(.connect, errno: code)
        }
    }

    /// mbedTLS's text for verification `flags`, one clause per problem.
    private static func verifyText(_ flags: UInt32) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        _ = mbedtls_x509_crt_verify_info(&buffer, buffer.count, "", flags)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "\n").map(String.init).joined(separator: "; ")
    }

    /// The wall clock, as the certificate checks saw it.
    private static func deviceTime() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }

    private static func ipLiteral(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

/// What the verify callback learnt about the server's chain.
private struct PeerCheck {
    struct Validity {
        var subject: String
        var notBefore: String
        var notAfter: String
        var expired: Bool
    }

    var flags: UInt32 = 0
    var serverNames: [String] = []
    var badValidity: Validity?
}

/// The socket as mbedTLS's I/O callbacks see it.
private struct SocketState {
    var fd: Int32 = -1
    /// `errno` of the last failed call, for the error message.
    var lastErrno: Int32 = 0

    static func send(_ context: UnsafeMutableRawPointer?, _ buffer: UnsafePointer<UInt8>?, _ length: Int) -> Int32 {
        let state = context!.assumingMemoryBound(to: SocketState.self)
        while true {
            let sent = Glibc.send(state.pointee.fd, buffer, length, Int32(MSG_NOSIGNAL))
            if sent >= 0 { return Int32(clamping: sent) }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return MBEDTLS_ERR_SSL_WANT_WRITE
            case EPIPE, ECONNRESET:
                state.pointee.lastErrno = code
                return MBEDTLS_ERR_NET_CONN_RESET
            default:
                state.pointee.lastErrno = code
                return MBEDTLS_ERR_NET_SEND_FAILED
            }
        }
    }

    static func receive(_ context: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int) -> Int32 {
        let state = context!.assumingMemoryBound(to: SocketState.self)
        while true {
            // 0 at end of stream: mbedTLS reports it as MBEDTLS_ERR_SSL_CONN_EOF.
            let received = recv(state.pointee.fd, buffer, length, 0)
            if received >= 0 { return Int32(clamping: received) }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return MBEDTLS_ERR_SSL_WANT_READ
            case ECONNRESET, EPIPE:
                state.pointee.lastErrno = code
                return MBEDTLS_ERR_NET_CONN_RESET
            default:
                state.pointee.lastErrno = code
                return MBEDTLS_ERR_NET_RECV_FAILED
            }
        }
    }
}
