import Foundation
import Testing

/// `dps-device certs …` as a user runs it (the executable built next to the tests).
@Suite("dps-device certs on the command line")
struct CertsCommandLineTests {
    @Test("the walkthrough's files, the verification certificate, the stand-in's server certificate, inspect")
    func walkthrough() throws {
        let workspace = try Workspace()
        var result = try workspace.dpsDevice(["certs", "root-ca", "--out-dir", "pki"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("Wrote pki/root-ca.key: RSA 2048 private key, PKCS#8 PEM (BEGIN PRIVATE KEY), mode 0600\n"))
        #expect(result.output.contains("Wrote pki/root-ca.pem: self-signed root CA CN=Root CA for IoT\n"))
        #expect(try workspace.mode("pki/root-ca.key") == 0o600)

        result = try workspace.dpsDevice(["certs", "device", "--ca", "pki/root-ca.pem", "--ca-key", "pki/root-ca.key", "--cn", "device1", "--out-dir", "pki"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("Wrote pki/device1.pem: device certificate CN=device1\n"))
        #expect(try workspace.mode("pki/device1.key") == 0o600)
        #expect(try workspace.opensslOK("verify", "-CAfile", "pki/root-ca.pem", "pki/device1.pem") == "pki/device1.pem: OK\n")

        // The verification certificate's key is thrown away unless asked for.
        result = try workspace.dpsDevice(["certs", "verification", "--ca", "pki/root-ca.pem", "--ca-key", "pki/root-ca.key", "--code", "ABC123DEF", "--out-dir", "pki"])
        #expect(result.status == 0, "\(result.output)")
        #expect(workspace.exists("pki/verification-cert.pem") && !workspace.exists("pki/verification-cert.key"))
        #expect(try workspace.opensslOK("x509", "-in", "pki/verification-cert.pem", "-noout", "-subject") == "subject=CN = ABC123DEF\n")
        result = try workspace.dpsDevice(["certs", "verification", "--ca", "pki/root-ca.pem", "--ca-key", "pki/root-ca.key", "--code", "ABC123DEF", "--out-dir", "pki", "--write-key", "--force"])
        #expect(result.status == 0, "\(result.output)")
        #expect(try workspace.mode("pki/verification-cert.key") == 0o600)

        // Refusing to overwrite: exit 1, the message, the files unchanged.
        let before = try workspace.read("pki/device1.pem")
        result = try workspace.dpsDevice(["certs", "device", "--ca", "pki/root-ca.pem", "--ca-key", "pki/root-ca.key", "--cn", "device1", "--out-dir", "pki"])
        #expect(result.status == 1)
        #expect(result.output == "error: refusing to overwrite \"pki/device1.key\", \"pki/device1.pem\": pass --force to replace them, or choose another --out-dir.\n")
        #expect(try workspace.read("pki/device1.pem") == before)

        // An intermediate and a device under it: the chain is written and said.
        result = try workspace.dpsDevice(["certs", "intermediate", "--ca", "pki/root-ca.pem", "--ca-key", "pki/root-ca.key", "--out-dir", "pki", "--key-type", "ec"])
        #expect(result.status == 0, "\(result.output)")
        result = try workspace.dpsDevice(["certs", "device", "--ca", "pki/intermediate-ca.pem", "--ca-key", "pki/intermediate-ca.key", "--cn", "device2", "--key-type", "ec", "--out-dir", "pki"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("  Chain:      the file holds CN=device2, then CN=Intermediate CA for IoT"))
        #expect(try workspace.opensslOK("verify", "-CAfile", "pki/root-ca.pem", "-untrusted", "pki/device2.pem", "pki/device2.pem") == "pki/device2.pem: OK\n")

        // The stand-ins' server certificate, default names.
        result = try workspace.dpsDevice(["certs", "server-ca", "--out-dir", "pki"])
        #expect(result.status == 0, "\(result.output)")
        result = try workspace.dpsDevice(["certs", "server", "--ca", "pki/server-ca.pem", "--ca-key", "pki/server-ca.key", "--out-dir", "pki"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("  Names:      DNS:localhost, IP:127.0.0.1, IP:127.0.0.2\n"))
        #expect(try workspace.opensslOK("x509", "-in", "pki/server.pem", "-noout", "-checkip", "127.0.0.2") == "IP 127.0.0.2 does match certificate\n")

        // inspect: 0 when all is well, 2 when the key does not match, 1 when a file cannot be read.
        result = try workspace.dpsDevice(["certs", "inspect", "pki/device1.pem", "--key", "pki/device1.key"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("pki/device1.pem: 1 certificate\n\nSubject:          CN=device1\nIssuer:           CN=Root CA for IoT\n"))
        #expect(result.output.hasSuffix("Key file:         pki/device1.key (RSA 2048)\nKey matches:      yes (certificate 1, CN=device1)\n"))
        result = try workspace.dpsDevice(["certs", "inspect", "pki/device1.pem", "--key", "pki/device2.key"])
        #expect(result.status == 2)
        #expect(result.output.contains("Key matches:      NO: this key does not belong to certificate 1 (CN=device1); use the key that was made with it\n"))
        result = try workspace.dpsDevice(["certs", "inspect", "pki/nothing.pem"])
        #expect(result.status == 1)
        #expect(result.output == "error: the certificate file \"pki/nothing.pem\" does not exist. Check the path (it is relative to the working directory unless it starts with /).\n")

        // Usage errors are ArgumentParser's (a missing --cn).
        result = try workspace.dpsDevice(["certs", "device", "--ca", "pki/root-ca.pem", "--ca-key", "pki/root-ca.key"])
        #expect(result.status != 0 && result.output.contains("--cn"))
    }
}
