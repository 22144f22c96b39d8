#if canImport(Glibc)
import Glibc
#endif
import CertificateTool
import Foundation
import LinuxBoard
import Testing

/// Writes `issued` as `name.key` (0600) and `name.pem` in `workspace`.
private func write(_ issued: IssuedCertificate, _ name: String, in workspace: Workspace, force: Bool = false) throws {
    try OutputFiles(directory: workspace.directory, force: force).write([
        .init(path: workspace.path(name + ".key"), contents: try issued.key.pkcs8PEM(), isSecret: true),
        .init(path: workspace.path(name + ".pem"), contents: issued.chainPEM, isSecret: false),
    ])
}

/// A root CA written as `name.key`/`name.pem`, loaded back as a signer.
private func makeRoot(in workspace: Workspace, keyType: KeyType = .rsa, name: String = "root-ca", request: CertificateRequest = .rootCA()) throws -> CertificateAuthority {
    try write(try request.selfSigned(keyType: keyType), name, in: workspace)
    return try CertificateAuthority(certificateFile: workspace.path(name + ".pem"), keyFile: workspace.path(name + ".key"))
}

/// The certificates in a PEM file.
private func certificateCount(_ text: String) -> Int {
    text.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1
}

@Suite("Certificates made by the tool, checked with the openssl command line")
struct CertificateFilesTests {
    @Test("root CA: self-signed, CA:TRUE, keyCertSign + cRLSign, key identifiers, RSA 2048, SHA-256", arguments: [KeyType.rsa, .ec])
    func rootCA(keyType: KeyType) throws {
        let workspace = try Workspace()
        let root = try makeRoot(in: workspace, keyType: keyType)
        #expect(root.subject == "CN=Root CA for IoT")
        #expect(root.isRoot)

        let text = try workspace.opensslOK("x509", "-in", "root-ca.pem", "-noout", "-text")
        #expect(text.contains("Version: 3 (0x2)"))
        #expect(text.contains("Subject: CN = Root CA for IoT"))
        #expect(text.contains("Issuer: CN = Root CA for IoT"))
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE\n"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n"))
        #expect(text.contains("X509v3 Subject Key Identifier"))
        #expect(text.contains("X509v3 Authority Key Identifier"))
        if keyType == .rsa {
            #expect(text.contains("Signature Algorithm: sha256WithRSAEncryption"))
            #expect(text.contains("Public-Key: (2048 bit)"))
        } else {
            #expect(text.contains("Signature Algorithm: ecdsa-with-SHA256"))
            #expect(text.contains("NIST CURVE: P-256"))
        }
        // Subject and authority key identifiers are the same for a self-signed root.
        let ski = try workspace.opensslOK("x509", "-in", "root-ca.pem", "-noout", "-ext", "subjectKeyIdentifier")
        let aki = try workspace.opensslOK("x509", "-in", "root-ca.pem", "-noout", "-ext", "authorityKeyIdentifier")
        #expect(ski.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) == aki.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces))
        #expect(try workspace.opensslOK("verify", "-CAfile", "root-ca.pem", "root-ca.pem").contains("root-ca.pem: OK"))
        // The key: PKCS#8, valid, mode 0600, and the certificate's.
        #expect(try workspace.read("root-ca.key").hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(try workspace.opensslOK("pkey", "-in", "root-ca.key", "-check", "-noout").contains("Key is valid"))
        #expect(try workspace.mode("root-ca.key") == 0o600)
        #expect(try workspace.opensslOK("x509", "-in", "root-ca.pem", "-noout", "-pubkey")
                == workspace.opensslOK("pkey", "-in", "root-ca.key", "-pubout"))
    }

    @Test("device: CN = registration id, CA:FALSE, digitalSignature, clientAuth, verifies against the root, TLSIdentity loads it",
          arguments: [(KeyType.rsa, KeyType.rsa), (.ec, .ec), (.rsa, .ec), (.ec, .rsa)])
    func device(caKey: KeyType, deviceKey: KeyType) throws {
        let workspace = try Workspace()
        let root = try makeRoot(in: workspace, keyType: caKey)
        let issued = try root.issue(.device(registrationID: "device1"), keyType: deviceKey)
        #expect(issued.chainSubjects.isEmpty)
        #expect(issued.certificatePEM == issued.chainPEM)
        try write(issued, "device1", in: workspace)

        let text = try workspace.opensslOK("x509", "-in", "device1.pem", "-noout", "-text")
        #expect(text.contains("Subject: CN = device1\n"))
        #expect(text.contains("Issuer: CN = Root CA for IoT\n"))
        #expect(text.contains("X509v3 Basic Constraints: \n                CA:FALSE\n"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"))
        #expect(text.contains("X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n"))
        #expect(text.contains(caKey == .rsa ? "sha256WithRSAEncryption" : "ecdsa-with-SHA256"))
        #expect(text.contains(deviceKey == .rsa ? "Public-Key: (2048 bit)" : "NIST CURVE: P-256"))
        #expect(try workspace.opensslOK("verify", "-purpose", "sslclient", "-CAfile", "root-ca.pem", "device1.pem") == "device1.pem: OK\n")
        #expect(try workspace.opensslOK("pkey", "-in", "device1.key", "-check", "-noout").contains("Key is valid"))
        #expect(try workspace.opensslOK("x509", "-in", "device1.pem", "-noout", "-pubkey")
                == workspace.opensslOK("pkey", "-in", "device1.key", "-pubout"))
        // The serial openssl reads is the one the tool reported.
        #expect(try workspace.opensslOK("x509", "-in", "device1.pem", "-noout", "-serial") == "serial=\(issued.serial)\n")
        #expect(try workspace.mode("device1.key") == 0o600)

        let identity = try TLSIdentity(caFile: workspace.path("root-ca.pem"), certificateFile: workspace.path("device1.pem"), keyFile: workspace.path("device1.key"))
        #expect(identity.subjectCommonName == "device1")
        #expect(identity.chainLength == 1)
        #expect(identity.notAfter == issued.notAfter)
    }

    @Test("intermediate CA (pathlen 0) and a device under it: the device file holds leaf + intermediate and verifies to the root")
    func intermediateChain() throws {
        let workspace = try Workspace()
        let root = try makeRoot(in: workspace)
        let intermediate = try root.issue(.intermediateCA(), keyType: .ec)
        try write(intermediate, "intermediate-ca", in: workspace)
        let text = try workspace.opensslOK("x509", "-in", "intermediate-ca.pem", "-noout", "-text")
        #expect(text.contains("Subject: CN = Intermediate CA for IoT\n"))
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0\n"))
        #expect(text.contains("Certificate Sign, CRL Sign"))
        // The intermediate's authority key id is the root's subject key id.
        let rootSKI = try workspace.opensslOK("x509", "-in", "root-ca.pem", "-noout", "-ext", "subjectKeyIdentifier").split(separator: "\n").last!
        let intermediateAKI = try workspace.opensslOK("x509", "-in", "intermediate-ca.pem", "-noout", "-ext", "authorityKeyIdentifier").split(separator: "\n").last!
        #expect(rootSKI.trimmingCharacters(in: .whitespaces) == intermediateAKI.trimmingCharacters(in: .whitespaces))

        let ca = try CertificateAuthority(certificateFile: workspace.path("intermediate-ca.pem"), keyFile: workspace.path("intermediate-ca.key"))
        #expect(!ca.isRoot)
        let device = try ca.issue(.device(registrationID: "device2"), keyType: .rsa)
        #expect(device.chainSubjects == ["CN=Intermediate CA for IoT"])
        try write(device, "device2", in: workspace)
        #expect(certificateCount(try workspace.read("device2.pem")) == 2)
        // Leaf first: openssl reads the first certificate of the file.
        #expect(try workspace.opensslOK("x509", "-in", "device2.pem", "-noout", "-subject") == "subject=CN = device2\n")
        #expect(try workspace.opensslOK("verify", "-CAfile", "root-ca.pem", "-untrusted", "device2.pem", "device2.pem") == "device2.pem: OK\n")
        // Without the intermediate the leaf does not verify: the chain in the file is what makes it work.
        #expect(try workspace.openssl("verify", "-CAfile", "root-ca.pem", "device2.pem").status != 0)

        let identity = try TLSIdentity(caFile: workspace.path("root-ca.pem"), certificateFile: workspace.path("device2.pem"), keyFile: workspace.path("device2.key"))
        #expect(identity.chainLength == 2)
        #expect(identity.subjectCommonName == "device2")

        // pathlen 0: the intermediate may not make another CA.
        #expect(throws: CertificateToolError.pathLengthExceeded(path: workspace.path("intermediate-ca.pem"), subject: "CN=Intermediate CA for IoT")) {
            try ca.issue(.intermediateCA(commonName: "Too deep"))
        }
    }

    @Test("verification certificate: CN = the code, signed by the root")
    func verification() throws {
        let workspace = try Workspace()
        let root = try makeRoot(in: workspace)
        let issued = try root.issue(.verification(code: "0A1B2C3D4E5F6A7B8C9D"))
        try OutputFiles(directory: workspace.directory, force: false).write([
            .init(path: workspace.path("verification-cert.pem"), contents: issued.certificatePEM, isSecret: false),
        ])
        #expect(try workspace.opensslOK("x509", "-in", "verification-cert.pem", "-noout", "-subject") == "subject=CN = 0A1B2C3D4E5F6A7B8C9D\n")
        #expect(try workspace.opensslOK("x509", "-in", "verification-cert.pem", "-noout", "-issuer") == "issuer=CN = Root CA for IoT\n")
        #expect(try workspace.opensslOK("verify", "-CAfile", "root-ca.pem", "verification-cert.pem") == "verification-cert.pem: OK\n")
        #expect(try workspace.opensslOK("x509", "-in", "verification-cert.pem", "-noout", "-ext", "basicConstraints").contains("CA:FALSE"))
    }

    @Test("server CA and server certificate: IP and DNS SANs, serverAuth, checkip/checkhost", arguments: [KeyType.rsa, .ec])
    func server(keyType: KeyType) throws {
        let workspace = try Workspace()
        let ca = try makeRoot(in: workspace, keyType: keyType, name: "server-ca", request: .serverCA())
        #expect(ca.subject == "CN=Server CA for local stand-ins")
        let issued = try ca.issue(.server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "127.0.0.2", "::1"]), keyType: keyType)
        try write(issued, "server", in: workspace)
        let text = try workspace.opensslOK("x509", "-in", "server.pem", "-noout", "-text")
        #expect(text.contains("Subject: CN = localhost\n"))
        #expect(text.contains("X509v3 Subject Alternative Name: \n                DNS:localhost, IP Address:127.0.0.1, IP Address:127.0.0.2, IP Address:0:0:0:0:0:0:0:1\n"))
        #expect(text.contains("X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n"))
        #expect(text.contains(keyType == .rsa
            ? "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment\n"
            : "X509v3 Key Usage: critical\n                Digital Signature\n"))
        #expect(try workspace.opensslOK("x509", "-in", "server.pem", "-noout", "-checkip", "127.0.0.1") == "IP 127.0.0.1 does match certificate\n")
        #expect(try workspace.opensslOK("x509", "-in", "server.pem", "-noout", "-checkip", "127.0.0.2") == "IP 127.0.0.2 does match certificate\n")
        #expect(try workspace.opensslOK("x509", "-in", "server.pem", "-noout", "-checkhost", "localhost") == "Hostname localhost does match certificate\n")
        #expect(try workspace.opensslOK("x509", "-in", "server.pem", "-noout", "-checkip", "10.1.2.3") == "IP 10.1.2.3 does NOT match certificate\n")
        #expect(try workspace.opensslOK("verify", "-purpose", "sslserver", "-CAfile", "server-ca.pem", "server.pem") == "server.pem: OK\n")
        // A server certificate is not a client certificate.
        #expect(try workspace.openssl("verify", "-purpose", "sslclient", "-CAfile", "server-ca.pem", "server.pem").status != 0)
        _ = try TLSIdentity(caFile: workspace.path("server-ca.pem"), certificateFile: workspace.path("server.pem"), keyFile: workspace.path("server.key"))
    }

    @Test("a CA made by openssl with a multi-attribute subject: the issuer is copied exactly, the AKI is the CA's SKI")
    func opensslCA() throws {
        let workspace = try Workspace()
        try workspace.opensslOK("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256", "-days", "30",
                                "-subj", "/C=JP/O=Contoso IoT/CN=Legacy Root", "-addext", "basicConstraints=critical,CA:TRUE",
                                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
                                "-keyout", "legacy.key", "-out", "legacy.pem")
        let ca = try CertificateAuthority(certificateFile: workspace.path("legacy.pem"), keyFile: workspace.path("legacy.key"))
        #expect(ca.subject == "C=JP, O=Contoso IoT, CN=Legacy Root")
        let issued = try ca.issue(.device(registrationID: "sensor-7"), keyType: .ec)
        #expect(issued.issuer == "C=JP, O=Contoso IoT, CN=Legacy Root")
        // The CA lives 30 days; the device certificate 365: the tool says so.
        #expect(issued.notes.contains { $0.contains("after its CA expires") })
        try write(issued, "sensor-7", in: workspace)
        #expect(try workspace.opensslOK("verify", "-CAfile", "legacy.pem", "sensor-7.pem") == "sensor-7.pem: OK\n")
        #expect(try workspace.opensslOK("x509", "-in", "sensor-7.pem", "-noout", "-issuer") == "issuer=C = JP, O = Contoso IoT, CN = Legacy Root\n")
    }

    @Test("the walkthrough's own root (X.509 v1, made by `openssl x509 -req -signkey`) can sign devices, with a note")
    func walkthroughRoot() throws {
        let workspace = try Workspace()
        try workspace.opensslOK("genrsa", "-out", "root-ca.key", "2048")
        try workspace.opensslOK("req", "-new", "-sha256", "-key", "root-ca.key", "-out", "root-ca.csr", "-subj", "/CN=Root CA for IoT")
        try workspace.opensslOK("x509", "-req", "-sha256", "-days", "3650", "-in", "root-ca.csr", "-signkey", "root-ca.key", "-out", "root-ca.pem")
        let ca = try CertificateAuthority(certificateFile: workspace.path("root-ca.pem"), keyFile: workspace.path("root-ca.key"))
        #expect(ca.isVersion1Root)
        let issued = try ca.issue(.device(registrationID: "device1"))
        #expect(issued.notes.contains { $0.contains("X.509 v1") })
        try write(issued, "device1", in: workspace)
        #expect(try workspace.opensslOK("verify", "-CAfile", "root-ca.pem", "device1.pem") == "device1.pem: OK\n")
        #expect(throws: CertificateToolError.notACertificateAuthority(path: workspace.path("root-ca.pem"), subject: "CN=Root CA for IoT")) {
            try ca.issue(.intermediateCA())
        }
    }

    @Test("signing refuses a non-CA certificate and a key that is not the CA's")
    func signerChecks() throws {
        let workspace = try Workspace()
        let root = try makeRoot(in: workspace)
        try write(try root.issue(.device(registrationID: "device1")), "device1", in: workspace)
        #expect(throws: CertificateToolError.notACertificateAuthority(path: workspace.path("device1.pem"), subject: "CN=device1")) {
            try CertificateAuthority(certificateFile: workspace.path("device1.pem"), keyFile: workspace.path("device1.key"))
        }
        #expect(throws: CertificateToolError.keyMismatch(certificateFile: workspace.path("root-ca.pem"), keyFile: workspace.path("device1.key"))) {
            try CertificateAuthority(certificateFile: workspace.path("root-ca.pem"), keyFile: workspace.path("device1.key"))
        }
        #expect(throws: CertificateToolError.wrongKindOfPEM(path: workspace.path("root-ca.pem"), role: .caKey, found: "a certificate")) {
            try CertificateAuthority(certificateFile: workspace.path("root-ca.pem"), keyFile: workspace.path("root-ca.pem"))
        }
    }

    @Test("names and days are checked before anything is made")
    func validation() throws {
        #expect(throws: CertificateToolError.invalidName(kind: "IP address", value: "127.0.0.300", reason: "it is not an IPv4 or IPv6 address")) {
            try CertificateRequest.server(dnsNames: [], ipAddresses: ["127.0.0.300"]).validate()
        }
        #expect(throws: CertificateToolError.invalidName(kind: "registration id (device CN)", value: "", reason: "it is empty")) {
            try CertificateRequest.device(registrationID: "").validate()
        }
        #expect(throws: CertificateToolError.invalidDays(0)) { try CertificateRequest.rootCA(days: 0).validate() }
        #expect(throws: CertificateToolError.self) { try CertificateRequest.device(registrationID: "device 1").validate() }
        #expect(throws: CertificateToolError.self) { try CertificateRequest.device(registrationID: String(repeating: "a", count: 65)).validate() }
        #expect(throws: CertificateToolError.self) { try CertificateRequest.server(dnsNames: ["bad_host!"], ipAddresses: []).validate() }
        try CertificateRequest.device(registrationID: "my-device.01:a_b-").validate()
    }

    @Test("serials are random, positive and 16 bytes")
    func serials() throws {
        let workspace = try Workspace()
        let root = try makeRoot(in: workspace, keyType: .ec)
        var seen = Set<String>()
        for index in 0..<8 {
            let issued = try root.issue(.device(registrationID: "d\(index)"), keyType: .ec)
            #expect(issued.serial.count == 32)
            #expect(Int(issued.serial.prefix(1), radix: 16)! & 0x8 == 0)
            seen.insert(issued.serial)
        }
        #expect(seen.count == 8)
    }
}

@Suite("Writing files: key mode 0600, no overwriting without force")
struct OutputFilesTests {
    @Test("keys are created 0600 and certificates 0644 (less the umask); a refused write changes nothing")
    func modesAndRefusal() throws {
        let workspace = try Workspace()
        let issued = try CertificateRequest.rootCA().selfSigned(keyType: .ec)
        try write(issued, "root-ca", in: workspace)
        #expect(try workspace.mode("root-ca.key") == 0o600)
        let umask = { let old = Glibc.umask(0); Glibc.umask(old); return Int(old) }()
        #expect(try workspace.mode("root-ca.pem") == 0o644 & ~umask)
        let before = try workspace.read("root-ca.pem")

        let again = try CertificateRequest.rootCA().selfSigned(keyType: .ec)
        #expect(throws: CertificateToolError.wouldOverwrite(paths: [workspace.path("root-ca.key"), workspace.path("root-ca.pem")])) {
            try write(again, "root-ca", in: workspace)
        }
        #expect(try workspace.read("root-ca.pem") == before)
        let error = CertificateToolError.wouldOverwrite(paths: ["out/root-ca.key", "out/root-ca.pem"])
        #expect(error.description == "refusing to overwrite \"out/root-ca.key\", \"out/root-ca.pem\": pass --force to replace them, or choose another --out-dir.")

        // Only one of the two exists: still refused, and the other is not created.
        try FileManager.default.removeItem(atPath: workspace.path("root-ca.key"))
        #expect(throws: CertificateToolError.wouldOverwrite(paths: [workspace.path("root-ca.pem")])) {
            try write(again, "root-ca", in: workspace)
        }
        #expect(!workspace.exists("root-ca.key"))
    }

    @Test("--force replaces the files, and a key that was world-readable is recreated 0600")
    func force() throws {
        let workspace = try Workspace()
        _ = FileManager.default.createFile(atPath: workspace.path("device1.key"), contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        _ = FileManager.default.createFile(atPath: workspace.path("device1.pem"), contents: Data("old".utf8))
        let root = try CertificateRequest.rootCA().selfSigned(keyType: .ec)
        try write(root, "device1", in: workspace, force: true)
        #expect(try workspace.mode("device1.key") == 0o600)
        #expect(try workspace.read("device1.key").hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try workspace.read("device1.pem") == root.chainPEM)
    }

    @Test("the output directory is created, with its parents")
    func makesDirectory() throws {
        let workspace = try Workspace()
        let files = OutputFiles(directory: workspace.path("a/b/pki"), force: false)
        try files.write([.init(path: files.path("x.key"), contents: "secret\n", isSecret: true)])
        #expect(try workspace.mode("a/b/pki/x.key") == 0o600)
    }
}
