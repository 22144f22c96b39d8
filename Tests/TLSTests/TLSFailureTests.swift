import DeviceCore
import Foundation
@testable import LinuxBoard
import TestSupport
import Testing

/// Every way a TLS connection or identity can fail, each with its typed case, a message that
/// names what to fix, and its retriability.
@Suite("TLS failures")
struct TLSFailureTests {
    // MARK: The server's certificate

    @Test("A server whose chain does not lead to our CA file is not trusted")
    func untrustedServer() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.unrelatedRoot, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let failure = openFailure(TLSTransport(host: "localhost", port: broker.port, identity: identity))
        guard case .serverCertificateNotTrusted(let host, let caFile, let detail)? = failure else {
            Issue.record("expected serverCertificateNotTrusted, got \(String(describing: failure))")
            return
        }
        #expect(host == "localhost")
        #expect(caFile == pki.unrelatedRoot)
        #expect(detail.contains("not correctly signed by the trusted CA"), "\(detail)")
        #expect(failure!.description.contains(pki.unrelatedRoot))
        #expect(!TLSTransport.isRetriable(failure!))
    }

    @Test("A server certificate for other names: by host name and by IP address", arguments: ["localhost", "127.0.0.1"])
    func hostNameMismatch(_ host: String) throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.wrongNameServer, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let failure = openFailure(TLSTransport(host: host, port: broker.port, identity: identity))
        #expect(failure == .hostNameMismatch(host: host, certificateNames: ["wrong.example.invalid", "10.9.8.7"]))
        let text = failure?.description ?? ""
        #expect(text.contains("\"\(host)\"") && text.contains("wrong.example.invalid") && text.contains("10.9.8.7"), "\(text)")
        #expect(failure.map(TLSTransport.isRetriable) == false)
    }

    @Test("An expired server certificate names its dates and the device clock")
    func expiredServer() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.expiredServer, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let failure = openFailure(TLSTransport(host: "localhost", port: broker.port, identity: identity))
        guard case .serverCertificateExpired(let host, let subject, let notBefore, let notAfter, let deviceTime)? = failure else {
            Issue.record("expected serverCertificateExpired, got \(String(describing: failure))")
            return
        }
        #expect(host == "localhost")
        #expect(subject == "CN=localhost")
        #expect(notBefore == "2020-01-01 00:00:00 UTC")
        #expect(notAfter == "2021-01-01 00:00:00 UTC")
        #expect(deviceTime.hasSuffix(" UTC") && deviceTime > "2021")
        let text = failure!.description
        #expect(text.contains("expired") && text.contains("clock") && text.contains(notAfter), "\(text)")
        #expect(!TLSTransport.isRetriable(failure!))
    }

    @Test("A server certificate not valid yet says the device clock may be wrong")
    func notYetValidServer() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.futureServer, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let failure = openFailure(TLSTransport(host: "127.0.0.1", port: broker.port, identity: identity))
        guard case .serverCertificateNotYetValid(_, _, let notBefore, let notAfter, _)? = failure else {
            Issue.record("expected serverCertificateNotYetValid, got \(String(describing: failure))")
            return
        }
        #expect(notBefore == "2090-01-01 00:00:00 UTC")
        #expect(notAfter == "2091-01-01 00:00:00 UTC")
        #expect(failure!.description.contains("clock"))
        #expect(!TLSTransport.isRetriable(failure!))
    }

    // MARK: Our certificate

    @Test("The server rejects a device certificate from a CA it does not trust")
    func deviceCertificateRejected() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.unrelated.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let failure = openFailure(TLSTransport(host: "localhost", port: broker.port, identity: identity))
        guard case .certificateRejected(let host, let alert, let sent)? = failure else {
            Issue.record("expected certificateRejected, got \(String(describing: failure)); broker log:\n\(broker.log)")
            return
        }
        #expect(host == "localhost")
        #expect(sent)
        #expect(alert == 48 || alert == 42 || alert == 46, "alert \(alert)")  // OpenSSL says unknown_ca
        #expect(failure!.description.contains("rejected the device certificate"))
        #expect(!TLSTransport.isRetriable(failure!))
    }

    @Test("The server rejects a device that sends no certificate")
    func noDeviceCertificate() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        let failure = openFailure(TLSTransport(host: "localhost", port: broker.port, identity: identity))
        guard case .certificateRejected(_, _, let sent)? = failure else {
            Issue.record("expected certificateRejected, got \(String(describing: failure)); broker log:\n\(broker.log)")
            return
        }
        #expect(!sent)
        #expect(failure!.description.contains("sent none"))
    }

    // MARK: Identity files

    @Test("A key that is not the certificate's names both files")
    func keyMismatch() throws {
        let pki = try PKI.shared()
        let certificate = pki.path("device-rsa.pem"), key = pki.path("device-ec.key")
        #expect(throws: TLSFailure.keyMismatch(certificateFile: certificate, keyFile: key)) {
            try TLSIdentity(caFile: pki.root, certificateFile: certificate, keyFile: key, passphrase: nil)
        }
        let text = TLSFailure.keyMismatch(certificateFile: certificate, keyFile: key).description
        #expect(text.contains(certificate) && text.contains(key))
        #expect(!TLSTransport.isRetriable(.keyMismatch(certificateFile: certificate, keyFile: key)))
    }

    @Test("Missing, unreadable and non-PEM files name the file")
    func fileProblems() throws {
        let pki = try PKI.shared()
        let missing = pki.path("no-such-file.pem")
        func identityFailure(ca: String? = nil, certificate: String? = nil, key: String? = nil) -> TLSFailure? {
            do throws(TLSFailure) {
                _ = try TLSIdentity(caFile: ca ?? pki.root, certificateFile: certificate, keyFile: key, passphrase: nil)
                return nil
            } catch {
                return error
            }
        }
        let cert = pki.path("device-ec.pem"), key = pki.path("device-ec.key")
        #expect(identityFailure(ca: missing) == .fileMissing(path: missing, role: .trustAnchors))
        #expect(identityFailure(certificate: missing, key: key) == .fileMissing(path: missing, role: .certificate))
        #expect(identityFailure(certificate: cert, key: missing) == .fileMissing(path: missing, role: .privateKey))
        // A directory: open works, read does not.
        let directory = pki.directory
        #expect(identityFailure(ca: directory) == .fileUnreadable(path: directory, role: .trustAnchors, reason: "it is a directory, not a file"))
        #expect(identityFailure(certificate: pki.path("device-ec.der"), key: key) == .notPEM(path: pki.path("device-ec.der"), role: .certificate))
        #expect(identityFailure(certificate: cert, key: pki.path("device-ec.key.der")) == .notPEM(path: pki.path("device-ec.key.der"), role: .privateKey))
        #expect(identityFailure(ca: pki.path("ca.cnf")) == .notPEM(path: pki.path("ca.cnf"), role: .trustAnchors))
        // A key where the certificate belongs: PEM of another kind, named.
        #expect(identityFailure(certificate: key, key: key) == .wrongKindOfPEM(path: key, role: .certificate, holds: "PRIVATE KEY"))
        // A damaged certificate.
        let damaged = pki.path("damaged.pem")
        let text = try String(contentsOfFile: cert, encoding: .utf8)
        var lines = text.split(separator: "\n")
        lines.remove(at: 3)  // a line of the base64 body
        try lines.joined(separator: "\n").write(toFile: damaged, atomically: true, encoding: .utf8)
        guard case .invalidContent(let path, .certificate, let detail)? = identityFailure(certificate: damaged, key: key) else {
            Issue.record("expected invalidContent for a damaged certificate")
            return
        }
        #expect(path == damaged && !detail.isEmpty)
        // Half an identity.
        #expect(identityFailure(certificate: cert) == .incompleteIdentity(certificateFile: cert, keyFile: nil))
        #expect(identityFailure(key: key) == .incompleteIdentity(certificateFile: nil, keyFile: key))

        for failure in [TLSFailure.fileMissing(path: missing, role: .privateKey), .fileUnreadable(path: directory, role: .trustAnchors, reason: "it is a directory, not a file"),
                        .notPEM(path: pki.path("device-ec.der"), role: .certificate)] {
            #expect(failure.description.contains("\"\(failure.path)\""), "\(failure)")
            #expect(!TLSTransport.isRetriable(failure))
        }
    }

    @Test("Encrypted keys: a wrong pass phrase, and none", arguments: ["device-rsa.encrypted.key", "device-ec.encrypted.key", "device-rsa.legacy-encrypted.key"])
    func passphrases(_ keyName: String) throws {
        let pki = try PKI.shared()
        let key = pki.path(keyName)
        let certificate = pki.path(keyName.hasPrefix("device-rsa") ? "device-rsa.pem" : "device-ec.pem")
        #expect(throws: TLSFailure.wrongPassphrase(keyFile: key)) {
            try TLSIdentity(caFile: pki.root, certificateFile: certificate, keyFile: key, passphrase: "wrong-horse")
        }
        #expect(throws: TLSFailure.passphraseRequired(keyFile: key)) {
            try TLSIdentity(caFile: pki.root, certificateFile: certificate, keyFile: key, passphrase: nil)
        }
        #expect(TLSFailure.wrongPassphrase(keyFile: key).description.contains(key))
        #expect(!TLSTransport.isRetriable(.wrongPassphrase(keyFile: key)))
    }

    // MARK: Network

    @Test("Nothing listening: connection refused, host:port named, retriable")
    func connectionRefused() throws {
        let pki = try PKI.shared()
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        let port = try freeLoopbackPort()
        let failure = openFailure(TLSTransport(host: "127.0.0.1", port: port, identity: identity))
        #expect(failure == .connectionRefused(host: "127.0.0.1", port: port))
        #expect(failure?.description.contains("127.0.0.1:\(port)") == true)
        #expect(failure.map(TLSTransport.isRetriable) == true)
    }

    @Test("An unknown host: DNS failure, host named, retriable")
    func dnsFailure() throws {
        let pki = try PKI.shared()
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        let failure = openFailure(TLSTransport(host: "no-such-host.invalid", port: 8883, identity: identity))
        guard case .dnsFailure(let host, let message)? = failure else {
            Issue.record("expected dnsFailure, got \(String(describing: failure))")
            return
        }
        #expect(host == "no-such-host.invalid" && !message.isEmpty)
        #expect(failure!.description.contains("no-such-host.invalid"))
        #expect(TLSTransport.isRetriable(failure!))
    }

    @Test("A server that never answers the ClientHello: handshake timeout")
    func handshakeTimeout() throws {
        let pki = try PKI.shared()
        let listener = try RawListener(.silent)
        defer { listener.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        let transport = TLSTransport(host: "127.0.0.1", port: listener.port, identity: identity, connectTimeout: .milliseconds(400))
        let clock = MonotonicClock()
        let start = clock.now()
        let failure = openFailure(transport)
        let took = clock.now() - start
        #expect(failure == .timedOut(.handshake, host: "127.0.0.1", port: listener.port))
        #expect(took >= .milliseconds(350) && took < .seconds(5))
        #expect(failure?.description.contains("handshake") == true)
        #expect(failure.map(TLSTransport.isRetriable) == true)
        #expect(transport.fileDescriptor == -1)
    }

    @Test("A server that hangs up on the ClientHello: retriable twice, then the server's answer")
    func closedAtClientHello() throws {
        let pki = try PKI.shared()
        let listener = try RawListener(.acceptAndClose, connections: 3)
        defer { listener.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        let transport = TLSTransport(host: "127.0.0.1", port: listener.port, identity: identity)
        let failures = (1...3).map { _ in openFailure(transport) }
        #expect(failures == (1...3).map { .closedAtClientHello(host: "127.0.0.1", port: listener.port, attempts: $0) })
        #expect(failures.map { $0.map(TLSTransport.isRetriable) } == [true, true, false])
        #expect(failures[2]?.description.hasPrefix("127.0.0.1:\(listener.port) hung up on 3 handshakes in a row on the TLS ClientHello without answering: the port does not speak TLS") == true)
    }

    @Test("A server that answers in HTTP: not TLS, what it sent named, not retriable")
    func notTLS() throws {
        let pki = try PKI.shared()
        let listener = try RawListener(.sendGarbage)
        defer { listener.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        let failure = openFailure(TLSTransport(host: "127.0.0.1", port: listener.port, identity: identity))
        #expect(failure == .notTLS(host: "127.0.0.1", port: listener.port, received: Array("HTTP/".utf8)))
        #expect(failure?.description == "127.0.0.1:\(listener.port) does not speak TLS: it answered the ClientHello with the bytes 48 54 54 50 2f (HTTP: a web server). Check the port (MQTT over TLS is 8883).")
        #expect(failure.map(TLSTransport.isRetriable) == false)
    }

    @Test("What a server that is not TLS sent, in words", arguments: [
        ([UInt8](), "nothing"),
        ([0x20, 0x02, 0x00, 0x00], "the bytes 20 02 00 00 (an MQTT CONNACK: a plain MQTT port, without TLS)"),
        (Array("SSH-2.0-OpenSSH".utf8), "the bytes 53 53 48 2d 32 2e 30 2d … (SSH)"),
        (Array("hello\r\n".utf8), "the bytes 68 65 6c 6c 6f 0d 0a (text: \"hello\r\n\")"),
        ([0xff, 0x00, 0x01], "the bytes ff 00 01"),
    ])
    func guessProtocol(_ bytes: [UInt8], _ words: String) {
        #expect(TLSFailure.guessProtocol(bytes) == words)
    }

    @Test("A server that wants TLS 1.3 only: a protocol version failure, not retriable")
    func tls13OnlyServer() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey, tlsVersion: "tlsv1.3")
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let failure = openFailure(TLSTransport(host: "localhost", port: broker.port, identity: identity))
        #expect(failure == .protocolVersion(host: "localhost", serverVersion: nil), "broker log:\n\(broker.log)")
        #expect(failure?.description.contains("does not accept TLS 1.2 (alert 70, protocol_version)") == true)
        #expect(failure.map(TLSTransport.isRetriable) == false)
    }

    @Test("MQTTClient surfaces the transport's typed failure")
    func failureThroughClient() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.unrelatedRoot, certificateFile: nil, keyFile: nil, passphrase: nil)
        do {
            _ = try connectAndPublish(TLSTransport(host: "localhost", port: broker.port, identity: identity))
            Issue.record("connected with an untrusted server")
        } catch let error as MQTTClient<TLSTransport, MonotonicClock>.Failure {
            guard case .transport(.serverCertificateNotTrusted) = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }

    @Test("Retriability: network trouble yes, configuration problems no")
    func retriability() {
        let retriable: [TLSFailure] = [
            .connectionRefused(host: "h", port: 1), .dnsFailure(host: "h", message: "m"), .timedOut(.connect, host: "h", port: 1),
            .timedOut(.handshake, host: "h", port: 1), .closedByPeer(host: "h", port: 1), .io(.receive, errno: 104),
            .mbedTLS(code: -0x7200, message: "m", step: .receive), .alertReceived(host: "h", alert: 80, step: .receive),
        ]
        let final: [TLSFailure] = [
            .serverCertificateNotTrusted(host: "h", caFile: "c", detail: "d"), .hostNameMismatch(host: "h", certificateNames: []),
            .serverCertificateExpired(host: "h", subject: "s", notBefore: "a", notAfter: "b", deviceTime: "n"),
            .serverCertificateNotYetValid(host: "h", subject: "s", notBefore: "a", notAfter: "b", deviceTime: "n"),
            .serverCertificateInvalid(host: "h", detail: "d"), .certificateRejected(host: "h", alert: 48, sentCertificate: true),
            .keyMismatch(certificateFile: "c", keyFile: "k"), .fileMissing(path: "p", role: .certificate),
            .fileUnreadable(path: "p", role: .privateKey, reason: "r"), .notPEM(path: "p", role: .trustAnchors),
            .invalidContent(path: "p", role: .privateKey, detail: "d"), .wrongPassphrase(keyFile: "k"), .passphraseRequired(keyFile: "k"),
            .incompleteIdentity(certificateFile: "c", keyFile: nil), .alertReceived(host: "h", alert: 70, step: .handshake),
        ]
        for failure in retriable { #expect(TLSTransport.isRetriable(failure), "\(failure)") }
        for failure in final { #expect(!TLSTransport.isRetriable(failure), "\(failure)") }
        for failure in retriable + final { #expect(!failure.description.isEmpty) }
    }
}

extension TLSFailure {
    /// The file a file failure names.
    fileprivate var path: String {
        switch self {
        case .fileMissing(let path, _), .fileUnreadable(let path, _, _), .notPEM(let path, _), .invalidContent(let path, _, _): return path
        default: return ""
        }
    }
}
