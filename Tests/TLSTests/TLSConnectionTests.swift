import DeviceCore
import Foundation
import LinuxBoard
import TestSupport
import Testing

/// MQTT over `TLSTransport` to a real mosquitto that requires client certificates.
@Suite("TLS connections to mosquitto")
struct TLSConnectionTests {
    struct Credentials: CustomTestStringConvertible, Sendable {
        var certificate: String
        var key: String
        var passphrase: String?
        var testDescription: String { "\(certificate) + \(key)" + (passphrase == nil ? "" : " (pass phrase)") }
    }

    static let credentials: [Credentials] = [
        Credentials(certificate: "device-rsa.pem", key: "device-rsa.key"),  // PKCS#8
        Credentials(certificate: "device-rsa.pem", key: "device-rsa.traditional.key"),  // BEGIN RSA PRIVATE KEY
        Credentials(certificate: "device-rsa.pem", key: "device-rsa.encrypted.key", passphrase: PKI.passphrase),  // BEGIN ENCRYPTED PRIVATE KEY
        Credentials(certificate: "device-rsa.pem", key: "device-rsa.legacy-encrypted.key", passphrase: PKI.passphrase),  // Proc-Type: 4,ENCRYPTED
        Credentials(certificate: "device-ec.pem", key: "device-ec.key"),  // PKCS#8
        Credentials(certificate: "device-ec.pem", key: "device-ec.traditional.key"),  // BEGIN EC PRIVATE KEY
        Credentials(certificate: "device-ec.pem", key: "device-ec.encrypted.key", passphrase: PKI.passphrase),  // BEGIN ENCRYPTED PRIVATE KEY
        Credentials(certificate: "device-ec.chain.pem", key: "device-ec.key"),  // leaf by the intermediate + intermediate
    ]

    @Test("CONNECT/CONNACK and a QoS 1 PUBLISH/PUBACK with each key form and type", arguments: credentials)
    func publishWithEachKeyForm(_ credentials: Credentials) throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(
            caFile: pki.root, certificateFile: pki.path(credentials.certificate), keyFile: pki.path(credentials.key),
            passphrase: credentials.passphrase)
        #expect(identity.subjectCommonName == "device1")
        let transport = TLSTransport(host: "localhost", port: broker.port, identity: identity)
        let trip = try connectAndPublish(transport)
        #expect(trip == RoundTrip(connected: true, publishedPacketID: trip.publishedPacketID, acknowledged: true), "broker log:\n\(broker.log)")
        #expect(trip.publishedPacketID != 0)
        // mosquitto took the certificate's CN as the user name.
        #expect(broker.log.contains("u'device1'"), "broker log:\n\(broker.log)")
    }

    @Test("Connecting by host name and by IP address", arguments: ["localhost", "127.0.0.1"])
    func connectByNameAndAddress(_ host: String) throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let transport = TLSTransport(host: host, port: broker.port, identity: identity)
        try transport.open()
        #expect(transport.isEstablished)
        #expect(transport.protocolVersion == "TLSv1.2")
        #expect(transport.cipherSuite != nil)
        transport.close()
        #expect(!transport.isEstablished)
        #expect(transport.fileDescriptor == -1)
        let trip = try connectAndPublish(transport)
        #expect(trip.connected && trip.acknowledged, "broker log:\n\(broker.log)")
    }

    @Test("A closed transport opens again (the mbedTLS contexts are reused)")
    func reopen() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-rsa.pem"), keyFile: pki.path("device-rsa.key"), passphrase: nil)
        let transport = TLSTransport(host: "localhost", port: broker.port, identity: identity)
        for _ in 0..<3 {
            let trip = try connectAndPublish(transport)
            #expect(trip.connected && trip.acknowledged, "broker log:\n\(broker.log)")
        }
        // After a failed attempt too.
        let other = TLSTransport(host: "localhost", port: try freeLoopbackPort(), identity: identity)
        #expect(openFailure(other) != nil)
    }

    @Test("receive returns 0 when nothing comes in time; send/receive need an open connection")
    func receiveTimeout() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let transport = TLSTransport(host: "127.0.0.1", port: broker.port, identity: identity)
        try transport.open()
        defer { transport.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { buffer.deallocate() }
        let clock = MonotonicClock()
        let start = clock.now()
        // The broker says nothing until it gets CONNECT.
        #expect(try transport.receive(into: buffer, timeout: .milliseconds(300)) == 0)
        let waited = clock.now() - start
        #expect(waited >= .milliseconds(250) && waited < .seconds(3))
        #expect(try transport.receive(into: buffer, timeout: .zero) == 0)
        transport.close()
        #expect(throws: TLSFailure.notConnected) { try transport.receive(into: buffer, timeout: .zero) }
        #expect(throws: TLSFailure.notConnected) { try transport.send(ByteView("x"), timeout: .zero) }
    }

    @Test("The peer's close is an error, not 0")
    func peerCloseIsAnError() throws {
        let pki = try PKI.shared()
        let broker = try TLSBroker(pki: pki, certificate: pki.server, key: pki.serverKey)
        defer { broker.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        let transport = TLSTransport(host: "localhost", port: broker.port, identity: identity)
        try transport.open()
        defer { transport.close() }
        // Not MQTT: mosquitto drops the connection.
        let garbage: StaticString = "\u{00}\u{00}\u{00}\u{00}"
        _ = try transport.send(ByteView(garbage), timeout: .seconds(1))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { buffer.deallocate() }
        let clock = MonotonicClock()
        let deadline = clock.now() + .seconds(5)
        var failure: TLSFailure?
        while failure == nil && clock.now() < deadline {
            do throws(TLSFailure) { _ = try transport.receive(into: buffer, timeout: .milliseconds(200)) } catch { failure = error }
        }
        #expect(failure == .closedByPeer(host: "localhost", port: broker.port))
        #expect(failure.map(TLSTransport.isRetriable) == true)
        #expect(!transport.isEstablished)
    }

    @Test("SNI carries the host name, never an IP address; the ClientHello offers TLS 1.2 only", arguments: ["localhost", "127.0.0.1"])
    func serverNameIndication(_ host: String) throws {
        let pki = try PKI.shared()
        let listener = try RawListener(.captureClientHello)
        defer { listener.stop() }
        let identity = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        let transport = TLSTransport(host: host, port: listener.port, identity: identity)
        transport.handshakeTimeout = .seconds(3)
        _ = openFailure(transport)
        let hello = try #require(ClientHello(record: listener.clientHello()))
        #expect(hello.clientVersion == 0x0303)  // TLS 1.2
        #expect(!hello.extensionTypes.contains(43))  // no supported_versions: nothing above 1.2
        #expect(hello.serverName == (host == "localhost" ? "localhost" : nil))
    }

    @Test("The identity exposes the leaf's CN, subject, validity and chain")
    func identityDetails() throws {
        let pki = try PKI.shared()
        let chained = try TLSIdentity(caFile: pki.root, certificateFile: pki.path("device-ec.chain.pem"), keyFile: pki.path("device-ec.key"), passphrase: nil)
        #expect(chained.subjectCommonName == "device1")
        #expect(chained.subject == "CN=device1")
        #expect(chained.chainLength == 2)
        #expect(chained.trustAnchorCount == 1)
        #expect(chained.hasCertificate)
        let dates = try Tools.run(Tools.find("openssl")!, ["x509", "-in", pki.path("device-ec.chain.pem"), "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601"], in: pki.directory)
        // e.g. "notBefore=2025-06-01 10:00:00Z"
        let isoDates = dates.output.split(separator: "\n").map { $0.split(separator: "=", maxSplits: 1).last.map { String($0.dropLast()) + " UTC" } ?? "" }
        #expect(isoDates == [chained.notBefore ?? "", chained.notAfter ?? ""], "openssl said \(dates.output)")

        let serverOnly = try TLSIdentity(caFile: pki.root, certificateFile: nil, keyFile: nil, passphrase: nil)
        #expect(!serverOnly.hasCertificate)
        #expect(serverOnly.subjectCommonName == nil)
        #expect(serverOnly.chainLength == 0)
    }

    @Test("The system CA bundle loads by default")
    func systemTrustAnchors() throws {
        try #require(FileManager.default.fileExists(atPath: TLSIdentity.defaultCAFile), "no \(TLSIdentity.defaultCAFile) (ca-certificates not installed)")
        let identity = try TLSIdentity(caFile: nil, certificateFile: nil, keyFile: nil, passphrase: nil)
        #expect(identity.caFile == TLSIdentity.defaultCAFile)
        #expect(identity.trustAnchorCount > 50)
    }
}
