import CertificateTool
import Foundation
import Testing

@Suite("inspect: what a certificate file holds and whether a key matches")
struct InspectionTests {
    /// root-ca, device1 (RSA, by the root), intermediate-ca (EC), device2 (EC, chain), other.key.
    private func pki() throws -> Workspace {
        let workspace = try Workspace()
        let files = OutputFiles(directory: workspace.directory, force: false)
        let rootIssued = try CertificateRequest.rootCA().selfSigned(keyType: .rsa)
        let device1 = try CertificateAuthority.loaded(rootIssued, files: files, name: "root-ca")
            .issue(.device(registrationID: "device1"), keyType: .rsa)
        try files.write([
            .init(path: files.path("device1.key"), contents: try device1.key.pkcs8PEM(), isSecret: true),
            .init(path: files.path("device1.pem"), contents: device1.chainPEM, isSecret: false),
        ])
        let root = try CertificateAuthority(certificateFile: files.path("root-ca.pem"), keyFile: files.path("root-ca.key"))
        let intermediate = try CertificateAuthority.loaded(try root.issue(.intermediateCA(), keyType: .ec), files: files, name: "intermediate-ca")
        let device2 = try intermediate.issue(.device(registrationID: "device2"), keyType: .ec)
        try files.write([
            .init(path: files.path("device2.key"), contents: try device2.key.pkcs8PEM(), isSecret: true),
            .init(path: files.path("device2.pem"), contents: device2.chainPEM, isSecret: false),
            .init(path: files.path("other.key"), contents: try PrivateKey.generate(.ec).pkcs8PEM(), isSecret: true),
        ])
        return workspace
    }

    @Test("fields of a device certificate, as openssl reads them")
    func deviceFields() throws {
        let workspace = try pki()
        let inspection = try Inspection(certificateFile: workspace.path("device1.pem"), keyFile: workspace.path("device1.key"))
        #expect(inspection.certificates.count == 1)
        let certificate = try #require(inspection.certificates.first)
        #expect(certificate.subject == "CN=device1")
        #expect(certificate.issuer == "CN=Root CA for IoT")
        #expect("serial=" + certificate.serial + "\n" == (try workspace.opensslOK("x509", "-in", "device1.pem", "-noout", "-serial")))
        #expect(certificate.validity == .valid)
        #expect(certificate.key == "RSA 2048")
        #expect(!certificate.isCA)
        #expect(certificate.keyUsage == ["digitalSignature"])
        #expect(certificate.extendedKeyUsage == ["clientAuth"])
        #expect(certificate.alternativeNames.isEmpty)
        #expect(!certificate.isSelfSigned)
        #expect(certificate.signedByNext == nil)
        let fingerprint = try workspace.opensslOK("x509", "-in", "device1.pem", "-noout", "-fingerprint", "-sha256")
        #expect(fingerprint == "sha256 Fingerprint=\(certificate.fingerprint)\n")
        #expect(inspection.key == Inspection.KeyCheck(file: workspace.path("device1.key"), key: "RSA 2048", matches: true))
        #expect(inspection.allGood)

        // Validity as openssl prints it: "Nov 29 06:52:30 2026 GMT" ↔ "2026-11-29 06:52:30 UTC".
        let notAfter = try workspace.opensslOK("x509", "-in", "device1.pem", "-noout", "-enddate")
        let parser = DateFormatter()
        parser.locale = Locale(identifier: "en_US_POSIX")
        parser.timeZone = TimeZone(identifier: "UTC")
        parser.dateFormat = "'notAfter='MMM d HH:mm:ss yyyy 'GMT'\n"
        let printer = DateFormatter()
        printer.locale = Locale(identifier: "en_US_POSIX")
        printer.timeZone = TimeZone(identifier: "UTC")
        printer.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        let date = try #require(parser.date(from: notAfter.replacingOccurrences(of: "  ", with: " ")))
        #expect(certificate.notAfter == printer.string(from: date))

        let report = inspection.render()
        let lines = report.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == workspace.path("device1.pem") + ": 1 certificate")
        #expect(lines.contains("Subject:          CN=device1"))
        #expect(lines.contains("Issuer:           CN=Root CA for IoT"))
        #expect(lines.contains("Serial:           " + certificate.serial))
        #expect(lines.contains("Not before:       " + certificate.notBefore))
        #expect(lines.contains("Not after:        " + certificate.notAfter))
        #expect(lines.contains("Valid now:        yes"))
        #expect(lines.contains("Key:              RSA 2048"))
        #expect(lines.contains("CA:               no"))
        #expect(lines.contains("Key usage:        digitalSignature"))
        #expect(lines.contains("Ext. key usage:   clientAuth"))
        #expect(lines.contains("Alt. names:       (none)"))
        #expect(lines.contains("Key file:         \(workspace.path("device1.key")) (RSA 2048)"))
        #expect(lines.contains("Key matches:      yes (certificate 1, CN=device1)"))
    }

    @Test("a root, a chain file and a server certificate")
    func caChainAndServer() throws {
        let workspace = try pki()
        let root = try #require(try Inspection(certificateFile: workspace.path("root-ca.pem")).certificates.first)
        #expect(root.isCA && root.pathLength == nil && root.isSelfSigned)
        #expect(root.keyUsage == ["keyCertSign", "cRLSign"])
        #expect(try Inspection(certificateFile: workspace.path("root-ca.pem")).render().contains("Issuer:           CN=Root CA for IoT (self-signed)\n"))

        let chain = try Inspection(certificateFile: workspace.path("device2.pem"), keyFile: workspace.path("device2.key"))
        #expect(chain.certificates.map(\.subject) == ["CN=device2", "CN=Intermediate CA for IoT"])
        #expect(chain.certificates.map(\.signedByNext) == [true, nil])
        #expect(chain.certificates[1].pathLength == 0)
        #expect(chain.certificates.map(\.key) == ["EC P-256", "EC P-256"])
        #expect(chain.key?.matches == true)
        let report = chain.render()
        #expect(report.contains("device2.pem: 2 certificates\n"))
        #expect(report.contains("Certificate 2 of 2\nSubject:          CN=Intermediate CA for IoT\n"))
        #expect(report.contains("CA:               yes (pathlen 0)\n"))
        #expect(report.contains("Signed by next:   yes (certificate 2)\n"))

        // A chain in the wrong order (intermediate first) is flagged.
        let text = try workspace.read("device2.pem")
        let parts = text.components(separatedBy: "-----END CERTIFICATE-----\n").filter { !$0.isEmpty }
        try (parts[1] + "-----END CERTIFICATE-----\n" + parts[0] + "-----END CERTIFICATE-----\n")
            .write(toFile: workspace.path("reversed.pem"), atomically: false, encoding: .utf8)
        let reversed = try Inspection(certificateFile: workspace.path("reversed.pem"))
        #expect(reversed.certificates[0].signedByNext == false)
        #expect(!reversed.allGood)
        #expect(reversed.render().contains("Signed by next:   NO: certificate 2 did not sign it (wrong order, or a certificate of another chain)\n"))

        let files = OutputFiles(directory: workspace.directory, force: false)
        let ca = try CertificateAuthority.loaded(try CertificateRequest.serverCA().selfSigned(keyType: .ec), files: files, name: "server-ca")
        let server = try ca.issue(.server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "127.0.0.2"]), keyType: .ec)
        try files.write([.init(path: files.path("server.pem"), contents: server.chainPEM, isSecret: false)])
        let serverCertificate = try #require(try Inspection(certificateFile: workspace.path("server.pem")).certificates.first)
        #expect(serverCertificate.alternativeNames == ["DNS:localhost", "IP:127.0.0.1", "IP:127.0.0.2"])
        #expect(serverCertificate.extendedKeyUsage == ["serverAuth"])
        #expect(try Inspection(certificateFile: workspace.path("server.pem")).render().contains("Alt. names:       DNS:localhost, IP:127.0.0.1, IP:127.0.0.2\n"))
    }

    @Test("a key that does not match")
    func mismatch() throws {
        let workspace = try pki()
        let inspection = try Inspection(certificateFile: workspace.path("device1.pem"), keyFile: workspace.path("other.key"))
        #expect(inspection.key == Inspection.KeyCheck(file: workspace.path("other.key"), key: "EC P-256", matches: false))
        #expect(!inspection.allGood)
        #expect(inspection.render().contains("Key matches:      NO: this key does not belong to certificate 1 (CN=device1); use the key that was made with it\n"))
    }

    @Test("expired and not-yet-valid certificates")
    func validity() throws {
        let workspace = try pki()
        let root = try CertificateAuthority(certificateFile: workspace.path("root-ca.pem"), keyFile: workspace.path("root-ca.key"))
        let expired = try root.issue(CertificateRequest(profile: .device, commonName: "old", days: 1, notBefore: 1_577_836_800), keyType: .ec)
        let files = OutputFiles(directory: workspace.directory, force: false)
        try files.write([.init(path: files.path("old.pem"), contents: expired.chainPEM, isSecret: false)])
        let inspection = try Inspection(certificateFile: workspace.path("old.pem"))
        #expect(inspection.certificates[0].notBefore == "2020-01-01 00:00:00 UTC")
        #expect(inspection.certificates[0].notAfter == "2020-01-02 00:00:00 UTC")
        #expect(inspection.certificates[0].validity == .expired)
        #expect(inspection.render().contains("Valid now:        no, expired\n"))
        #expect(try workspace.opensslOK("x509", "-in", "old.pem", "-noout", "-startdate") == "notBefore=Jan  1 00:00:00 2020 GMT\n")
        // Judged at a given moment.
        #expect(try Inspection(certificateFile: workspace.path("old.pem"), now: 1_577_836_800 + 3600).certificates[0].validity == .valid)
        #expect(try Inspection(certificateFile: workspace.path("old.pem"), now: 1_577_836_800 - 1).certificates[0].validity == .notYetValid)
        #expect(Inspection.Validity.notYetValid.rawValue == "no, not valid yet")
    }

    @Test("clear errors for missing, unreadable, empty, DER and wrong-kind files")
    func errors() throws {
        let workspace = try pki()
        try workspace.opensslOK("x509", "-in", "device1.pem", "-outform", "DER", "-out", "device1.der")
        _ = FileManager.default.createFile(atPath: workspace.path("empty.pem"), contents: Data())
        try FileManager.default.createDirectory(atPath: workspace.path("folder.pem"), withIntermediateDirectories: false)

        func failure(_ file: String, key: String? = nil) -> CertificateToolError? {
            do {
                _ = try Inspection(certificateFile: file, keyFile: key)
                return nil
            } catch {
                return error
            }
        }
        #expect(failure("missing.pem") == .fileMissing(path: "missing.pem", role: .certificate))
        #expect(failure("missing.pem")?.description == "the certificate file \"missing.pem\" does not exist. Check the path (it is relative to the working directory unless it starts with /).")
        let der = workspace.path("device1.der")
        #expect(failure(der) == .notPEM(path: der, role: .certificate))
        #expect(failure(der)?.description == "the certificate file \"\(der)\" is not PEM (no -----BEGIN CERTIFICATE----- block). If it is DER, convert it with `openssl x509 -in \(der) -inform DER -out cert.pem`; otherwise check that this is the right file.")
        #expect(failure(workspace.path("empty.pem")) == .notPEM(path: workspace.path("empty.pem"), role: .certificate))
        #expect(failure(workspace.path("folder.pem")) == .fileUnreadable(path: workspace.path("folder.pem"), role: .certificate, reason: "Is a directory"))
        let key = workspace.path("device1.key")
        #expect(failure(key) == .wrongKindOfPEM(path: key, role: .certificate, found: "a private key"))
        #expect(failure(key)?.description == "the certificate file \"\(key)\" holds a private key, not a certificate. To check a key against a certificate: dps-device certs inspect CERT.pem --key \(key)")
        #expect(failure(workspace.path("device1.pem"), key: "nokey.pem") == .fileMissing(path: "nokey.pem", role: .privateKey))
        #expect(failure(workspace.path("device1.pem"), key: workspace.path("device1.pem")) == .wrongKindOfPEM(path: workspace.path("device1.pem"), role: .privateKey, found: "a certificate"))
        // A truncated certificate.
        let text = try workspace.read("device1.pem")
        try String(text.prefix(400)).appending("\n-----END CERTIFICATE-----\n").write(toFile: workspace.path("cut.pem"), atomically: false, encoding: .utf8)
        guard case .invalidContent(_, .certificate, _)? = failure(workspace.path("cut.pem")) else {
            Issue.record("a truncated certificate should be invalid content, got \(String(describing: failure(workspace.path("cut.pem"))))")
            return
        }
    }

    @Test("keys in other OpenSSL forms: traditional, and encrypted with a pass phrase")
    func otherKeyForms() throws {
        let workspace = try pki()
        try workspace.opensslOK("rsa", "-in", "device1.key", "-traditional", "-out", "device1.traditional.key")
        try workspace.opensslOK("pkey", "-in", "device1.key", "-aes256", "-passout", "pass:correct-horse", "-out", "device1.encrypted.key")
        #expect(try Inspection(certificateFile: workspace.path("device1.pem"), keyFile: workspace.path("device1.traditional.key")).key?.matches == true)
        #expect(try Inspection(certificateFile: workspace.path("device1.pem"), keyFile: workspace.path("device1.encrypted.key"), passphrase: "correct-horse").key?.matches == true)
        #expect(try Inspection(certificateFile: workspace.path("device2.pem"), keyFile: workspace.path("device1.encrypted.key"), passphrase: "correct-horse").key?.matches == false)
        #expect(throws: CertificateToolError.wrongPassphrase(keyFile: workspace.path("device1.encrypted.key"))) {
            try Inspection(certificateFile: workspace.path("device1.pem"), keyFile: workspace.path("device1.encrypted.key"), passphrase: "wrong")
        }
    }
}

extension CertificateAuthority {
    /// Writes `issued` as `name.key`/`name.pem` with `files` and loads it as a CA.
    static func loaded(_ issued: IssuedCertificate, files: OutputFiles, name: String) throws -> CertificateAuthority {
        try files.write([
            .init(path: files.path(name + ".key"), contents: try issued.key.pkcs8PEM(), isSecret: true),
            .init(path: files.path(name + ".pem"), contents: issued.chainPEM, isSecret: false),
        ])
        return try CertificateAuthority(certificateFile: files.path(name + ".pem"), keyFile: files.path(name + ".key"))
    }
}
