import ArgumentParser
import CertificateTool
import DeviceCommandLine

/// `dps-device certs …`: make and inspect the walkthrough's certificates (and the local
/// stand-ins' server certificates) with mbedTLS. The work is in the CertificateTool module;
/// this file only maps flags to it and prints what it did. See docs/certificates.md.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Make and inspect device, CA and server certificates.",
        discussion: "Keys are RSA 2048 (default) or EC P-256, written as PKCS#8 PEM with mode 0600; certificates are PEM, SHA-256. Existing files are never overwritten without --force.",
        subcommands: [RootCA.self, Device.self, Intermediate.self, Verification.self, ServerCA.self, Server.self, Inspect.self])
}

extension KeyType: ExpressibleByArgument {}

/// Where the files go.
struct CertsOutputOptions: ParsableArguments {
    @Option(name: .long, help: "Directory for the files (created if missing).")
    var outDir: String = "."

    @Flag(name: .long, help: "Replace files that already exist.")
    var force = false

    var files: OutputFiles { OutputFiles(directory: outDir, force: force) }
}

/// The CA that signs.
struct CertsSignerOptions: ParsableArguments {
    @Option(name: .customLong("ca"), help: "The signing CA's certificate PEM (its intermediates may follow it).")
    var caCertificate: String

    @Option(name: .customLong("ca-key"), help: "The signing CA's private key PEM.")
    var caKey: String

    @Option(name: .long, help: "Pass phrase of an encrypted CA key.")
    var caKeyPassphrase: String?

    func load() throws(CertificateToolError) -> CertificateAuthority {
        try CertificateAuthority(certificateFile: caCertificate, keyFile: caKey, passphrase: caKeyPassphrase)
    }
}

/// Runs `body`; a `CertificateToolError` becomes `error: …` on standard error and exit status 1.
private func reportingCertificateErrors(_ body: () throws(CertificateToolError) -> Void) throws {
    do {
        try body()
    } catch {
        Output.error(error.description)
        throw ExitCode(1)
    }
}

/// Writes `name.key` and `name.pem` and says what they are.
private func writeKeyAndCertificate(_ issued: IssuedCertificate, name: String, output: CertsOutputOptions, what: String, writeKey: Bool = true) throws(CertificateToolError) {
    let files = output.files
    let keyPath = files.path(name + ".key")
    let certificatePath = files.path(name + ".pem")
    var items = [OutputFiles.Item(path: certificatePath, contents: issued.chainPEM, isSecret: false)]
    if writeKey {
        items.insert(OutputFiles.Item(path: keyPath, contents: try issued.key.pkcs8PEM(), isSecret: true), at: 0)
    }
    try files.write(items)
    if writeKey {
        Output.line("Wrote \(keyPath): \(issued.key.summary) private key, PKCS#8 PEM (BEGIN PRIVATE KEY), mode 0600")
    }
    Output.line("Wrote \(certificatePath): \(what) \(issued.subject)")
    Output.line("  Issuer:     \(issued.issuer)")
    Output.line("  Serial:     \(issued.serial)")
    Output.line("  Valid:      \(issued.notBefore) to \(issued.notAfter)")
    if !issued.chainSubjects.isEmpty {
        Output.line("  Chain:      the file holds \(issued.subject), then \(issued.chainSubjects.joined(separator: ", then ")): the chain a device presents for a group enrollment on an intermediate CA")
    }
    for note in issued.notes { Output.line("  Note:       \(note)") }
}

extension CertsCommand {
    struct RootCA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "root-ca",
            abstract: "Make a self-signed root CA (root-ca.key, root-ca.pem): the one you upload to DPS.")

        @Option(name: .customLong("cn"), help: "The CA's common name.")
        var commonName = "Root CA for IoT"

        @Option(name: .long, help: "Days of validity.")
        var days = 3650

        @Option(name: .long, help: "Key type: rsa (2048) or ec (P-256).")
        var keyType: KeyType = .rsa

        @Option(name: .long, help: "Base name of the files.")
        var name = "root-ca"

        @OptionGroup var output: CertsOutputOptions

        func run() throws {
            try reportingCertificateErrors { () throws(CertificateToolError) in
                let files = output.files
                try files.checkFree([files.path(name + ".key"), files.path(name + ".pem")])
                let issued = try CertificateRequest.rootCA(commonName: commonName, days: days).selfSigned(keyType: keyType)
                try writeKeyAndCertificate(issued, name: name, output: output, what: "self-signed root CA")
                Output.line("Next: upload \(files.path(name + ".pem")) to DPS (Certificates > Add), generate its verification code, then run")
                Output.line("  dps-device certs verification --ca \(files.path(name + ".pem")) --ca-key \(files.path(name + ".key")) --code <code>")
            }
        }
    }

    struct Device: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device",
            abstract: "Make a device key and certificate (CN = registration id) signed by a CA.",
            discussion: "Writes <cn>.key and <cn>.pem. If --ca is an intermediate, <cn>.pem holds the chain: the device certificate, then the intermediate(s).")

        @OptionGroup var signer: CertsSignerOptions

        @Option(name: .customLong("cn"), help: "The registration id, which becomes the certificate's CN.")
        var commonName: String

        @Option(name: .long, help: "Days of validity.")
        var days = 365

        @Option(name: .long, help: "Key type: rsa (2048) or ec (P-256).")
        var keyType: KeyType = .rsa

        @OptionGroup var output: CertsOutputOptions

        func run() throws {
            try reportingCertificateErrors { () throws(CertificateToolError) in
                let files = output.files
                try CertificateRequest.device(registrationID: commonName, days: days).validate()
                try files.checkFree([files.path(commonName + ".key"), files.path(commonName + ".pem")])
                let ca = try signer.load()
                let issued = try ca.issue(.device(registrationID: commonName, days: days), keyType: keyType)
                try writeKeyAndCertificate(issued, name: commonName, output: output, what: "device certificate")
                Output.line("Registration id: \(commonName) (DPS requires it to equal the CN)")
            }
        }
    }

    struct Intermediate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "intermediate",
            abstract: "Make an intermediate CA (pathlen 0) signed by a root CA.")

        @OptionGroup var signer: CertsSignerOptions

        @Option(name: .customLong("cn"), help: "The intermediate CA's common name.")
        var commonName = "Intermediate CA for IoT"

        @Option(name: .long, help: "Days of validity.")
        var days = 1825

        @Option(name: .long, help: "Key type: rsa (2048) or ec (P-256).")
        var keyType: KeyType = .rsa

        @Option(name: .long, help: "Base name of the files.")
        var name = "intermediate-ca"

        @OptionGroup var output: CertsOutputOptions

        func run() throws {
            try reportingCertificateErrors { () throws(CertificateToolError) in
                let files = output.files
                try files.checkFree([files.path(name + ".key"), files.path(name + ".pem")])
                let ca = try signer.load()
                let issued = try ca.issue(.intermediateCA(commonName: commonName, days: days), keyType: keyType)
                try writeKeyAndCertificate(issued, name: name, output: output, what: "intermediate CA")
                Output.line("Sign devices with it: dps-device certs device --ca \(files.path(name + ".pem")) --ca-key \(files.path(name + ".key")) --cn <registration id>")
            }
        }
    }

    struct Verification: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verification",
            abstract: "Make the proof-of-possession certificate (CN = verification code) for a CA uploaded to DPS.",
            discussion: "Writes verification-cert.pem, signed by --ca. Its key is thrown away unless --write-key is given.")

        @OptionGroup var signer: CertsSignerOptions

        @Option(name: .long, help: "The verification code DPS shows for the CA.")
        var code: String

        @Option(name: .long, help: "Days of validity.")
        var days = 30

        @Option(name: .long, help: "Key type: rsa (2048) or ec (P-256).")
        var keyType: KeyType = .rsa

        @Flag(name: .long, help: "Also write the certificate's key (verification-cert.key); it is not needed for the proof.")
        var writeKey = false

        @Option(name: .long, help: "Base name of the files.")
        var name = "verification-cert"

        @OptionGroup var output: CertsOutputOptions

        func run() throws {
            try reportingCertificateErrors { () throws(CertificateToolError) in
                let files = output.files
                try CertificateRequest.verification(code: code, days: days).validate()
                try files.checkFree([files.path(name + ".pem")] + (writeKey ? [files.path(name + ".key")] : []))
                let ca = try signer.load()
                let issued = try ca.issue(.verification(code: code, days: days), keyType: keyType)
                try writeKeyAndCertificate(issued, name: name, output: output, what: "verification certificate", writeKey: writeKey)
                if !writeKey { Output.line("  Key:        thrown away (pass --write-key to keep it)") }
                Output.line("Next: upload \(files.path(name + ".pem")) on the CA's page in DPS; the CA becomes \"Verified\".")
            }
        }
    }

    struct ServerCA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server-ca",
            abstract: "Make a self-signed CA for the local stand-ins' server certificates (server-ca.key, server-ca.pem).")

        @Option(name: .customLong("cn"), help: "The CA's common name.")
        var commonName = "Server CA for local stand-ins"

        @Option(name: .long, help: "Days of validity.")
        var days = 3650

        @Option(name: .long, help: "Key type: rsa (2048) or ec (P-256).")
        var keyType: KeyType = .rsa

        @Option(name: .long, help: "Base name of the files.")
        var name = "server-ca"

        @OptionGroup var output: CertsOutputOptions

        func run() throws {
            try reportingCertificateErrors { () throws(CertificateToolError) in
                let files = output.files
                try files.checkFree([files.path(name + ".key"), files.path(name + ".pem")])
                let issued = try CertificateRequest.serverCA(commonName: commonName, days: days).selfSigned(keyType: keyType)
                try writeKeyAndCertificate(issued, name: name, output: output, what: "self-signed server CA")
                Output.line("Devices trust the stand-ins with: --ca \(files.path(name + ".pem"))")
            }
        }
    }

    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server",
            abstract: "Make a TLS server certificate with IP and DNS names, signed by a server CA.",
            discussion: "Without --ip and --dns the names are the stand-ins': DNS:localhost, IP:127.0.0.1 (DPS) and IP:127.0.0.2 (IoT Hub).")

        @OptionGroup var signer: CertsSignerOptions

        @Option(name: .long, help: "An IP address the server answers on (repeatable).")
        var ip: [String] = []

        @Option(name: .long, help: "A DNS name of the server (repeatable).")
        var dns: [String] = []

        @Option(name: .customLong("cn"), help: "The common name (default: the first DNS name, else the first IP).")
        var commonName: String?

        @Option(name: .long, help: "Days of validity.")
        var days = 825

        @Option(name: .long, help: "Key type: rsa (2048) or ec (P-256).")
        var keyType: KeyType = .rsa

        @Option(name: .long, help: "Base name of the files.")
        var name = "server"

        @OptionGroup var output: CertsOutputOptions

        func run() throws {
            let defaults = ip.isEmpty && dns.isEmpty
            let dnsNames = defaults ? ["localhost"] : dns
            let addresses = defaults ? ["127.0.0.1", "127.0.0.2"] : ip
            try reportingCertificateErrors { () throws(CertificateToolError) in
                let files = output.files
                let request = CertificateRequest.server(commonName: commonName, dnsNames: dnsNames, ipAddresses: addresses, days: days)
                try request.validate()
                try files.checkFree([files.path(name + ".key"), files.path(name + ".pem")])
                let ca = try signer.load()
                let issued = try ca.issue(request, keyType: keyType)
                try writeKeyAndCertificate(issued, name: name, output: output, what: "server certificate")
                Output.line("  Names:      " + (dnsNames.map { "DNS:" + $0 } + addresses.map { "IP:" + $0 }).joined(separator: ", "))
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show what a certificate file holds and whether a key matches it.",
            discussion: "Exit status: 0 when every check passes, 2 when the key does not match, a certificate is not valid now, or a chain is out of order; 1 when a file cannot be read.")

        @Argument(help: "A PEM file with one or more certificates.")
        var file: String

        @Option(name: .long, help: "A private key PEM to check against the first certificate.")
        var key: String?

        @Option(name: .long, help: "Pass phrase of an encrypted key.")
        var passphrase: String?

        func run() throws {
            var inspection: Inspection?
            try reportingCertificateErrors { () throws(CertificateToolError) in
                inspection = try Inspection(certificateFile: file, keyFile: key, passphrase: passphrase)
            }
            guard let inspection else { return }
            Output.raw(inspection.render())
            if !inspection.allGood { throw ExitCode(2) }
        }
    }
}
