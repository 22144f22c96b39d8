import ArgumentParser
import DeviceCommandLine

/// `dps-device modem`'s device identity: the certificate, key and pass phrase it holds for the
/// firmware, and the CAs it trusts, with the same options and environment variables as
/// `provision` and `run` (whose own parser is in DeviceCommandLine).
struct IdentityOptions: ParsableArguments {
    @Option(name: .long, help: "Device certificate PEM: the leaf, plus any intermediates (env X509_CERT_FILE).")
    var cert: String?

    @Option(name: .long, help: "Device private key PEM, RSA or EC, any OpenSSL form (env X509_KEY_FILE).")
    var key: String?

    @Option(name: .long, help: "Pass phrase of an encrypted key (env X509_PASS_PHRASE).")
    var keyPassphrase: String?

    @Option(name: [.customLong("ca"), .customLong("ca-file")],
            help: "Trust anchors PEM for the servers (DPS, IoT Hub) (default: the system bundle).")
    var ca: String?

    var certificateFile: String? { DeviceOptions.resolve(cert, "X509_CERT_FILE") }
    var keyFile: String? { DeviceOptions.resolve(key, "X509_KEY_FILE") }
    var passphrase: String? { DeviceOptions.resolve(keyPassphrase, "X509_PASS_PHRASE") }

    /// What is missing, each with how to give it.
    func missing() -> [String] {
        var problems = DeviceOptions.environmentProblems()
        if certificateFile == nil { problems.append("the device certificate is missing: pass --cert FILE or set X509_CERT_FILE") }
        if keyFile == nil { problems.append("the device key is missing: pass --key FILE or set X509_KEY_FILE") }
        return problems
    }
}
