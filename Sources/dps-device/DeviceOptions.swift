import ArgumentParser
import DeviceCore
#if canImport(Glibc)
import Glibc
#endif
import LinuxBoard

/// What `provision` and `run` need to reach DPS: flags, each with the environment variable
/// Azure's SDK samples use as a fallback, so that nothing has to be edited in source.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "DPS ID scope (env PROVISIONING_IDSCOPE).")
    var idScope: String?

    @OptionGroup var identity: IdentityOptions

    @Option(name: .long, help: "Registration id; must equal the certificate's CN (env PROVISIONING_REGISTRATION_ID; default: the CN).")
    var registrationId: String?

    @Option(name: [.customLong("provisioning-host"), .customLong("dps-host")],
            help: "DPS host[:port] (env PROVISIONING_HOST; default global.azure-devices-provisioning.net:8883).")
    var provisioningHost: String?

    @Option(name: .long, help: "Custom allocation payload sent with the registration, as JSON.")
    var payload: String?

    @Option(name: .long, help: "Seconds the registration (and, for run, the sending) may take.")
    var timeout: Int = 180

    @Option(name: .long, help: "MQTT keep-alive, seconds (1-1177; IoT Hub ignores more).")
    var keepAlive: UInt16 = 60

    @Option(name: .long, help: "text: one line of words per event; json: one JSON object per line (step, time, fields), for scripts and log collectors.")
    var logFormat: LogFormat?

    @Flag(name: .long, help: "The same as --log-format json.")
    var json = false

    @Option(name: .long, help: "File that keeps the DPS assignment across starts; the next start connects straight to the saved hub (env DPS_DEVICE_STATE).")
    var state: String?

    @Flag(name: .long, help: "Print every MQTT packet, decoded, in both directions.")
    var verbose = false

    static let defaultDPSHost = "global.azure-devices-provisioning.net"
    static let userAgent = "swift-azure-iot-device/0.1"

    /// A value from the flag, else the environment variable, else `nil`.
    static func resolve(_ flag: String?, _ variable: String) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let value = getenv(variable).map({ String(cString: $0) }), !value.isEmpty { return value }
        return nil
    }

    /// `host`, `host:port` or `[v6]:port`.
    static func endpoint(_ text: String) -> (host: String, port: UInt16)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, 8883) }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), port > 0 else { return nil }
            return (host, port)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 1 { return text.isEmpty ? nil : (text, 8883) }
        guard parts.count == 2, !parts[0].isEmpty, let port = UInt16(parts[1]), port > 0 else { return nil }
        return (String(parts[0]), port)
    }

    /// The settings, checked: every missing or malformed one is named with how to give it.
    func resolved() throws -> ResolvedDeviceOptions {
        var problems = [String]()
        let scope = Self.resolve(idScope, "PROVISIONING_IDSCOPE")
        if scope == nil { problems.append("the ID scope is missing: pass --id-scope or set PROVISIONING_IDSCOPE (it is on the DPS instance's overview page)") }
        problems += identity.missing()
        let certificate = identity.certificateFile
        let privateKey = identity.keyFile
        let hostText = Self.resolve(provisioningHost, "PROVISIONING_HOST") ?? Self.defaultDPSHost
        let host = Self.endpoint(hostText)
        if host == nil { problems.append("--provisioning-host \"\(hostText)\" is not HOST or HOST:PORT with a port from 1 to 65535") }
        if let payload, let error = JSONCheck.problem(in: payload) { problems.append("--payload is not valid JSON: \(error)") }
        if timeout <= 0 { problems.append("--timeout must be a positive number of seconds, got \(timeout)") }
        if keepAlive == 0 || keepAlive > 1177 { problems.append("--keep-alive must be 1 to 1177 seconds (IoT Hub waits at most 1767 s), got \(keepAlive)") }
        if json && logFormat == .text { problems.append("--json and --log-format text contradict each other: pass one") }
        if state == "" { problems.append("--state is empty: pass the state file's path, or leave the option out") }
        guard problems.isEmpty, let scope, let certificate, let privateKey, let host else {
            throw ValidationError(problems.joined(separator: "\n"))
        }
        return ResolvedDeviceOptions(
            idScope: scope, certificateFile: certificate, keyFile: privateKey,
            passphrase: identity.passphrase,
            registrationID: Self.resolve(registrationId, "PROVISIONING_REGISTRATION_ID"),
            dpsHost: host.host, dpsPort: host.port,
            caFile: identity.ca, payload: payload, timeoutSeconds: timeout, keepAlive: keepAlive,
            logFormat: json ? .json : (logFormat ?? .text), verbose: verbose,
            statePath: Self.resolve(state, "DPS_DEVICE_STATE"))
    }
}

/// The device's identity as a TLS client: certificate, key, its pass phrase, and the CAs it
/// trusts for servers. Shared by `provision`, `run` and `modem`.
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
        var problems = [String]()
        if certificateFile == nil { problems.append("the device certificate is missing: pass --cert FILE or set X509_CERT_FILE") }
        if keyFile == nil { problems.append("the device key is missing: pass --key FILE or set X509_KEY_FILE") }
        return problems
    }
}

struct ResolvedDeviceOptions {
    var idScope: String
    var certificateFile: String
    var keyFile: String
    var passphrase: String?
    var registrationID: String?
    var dpsHost: String
    var dpsPort: UInt16
    var caFile: String?
    var payload: String?
    var timeoutSeconds: Int
    var keepAlive: UInt16
    var logFormat: LogFormat
    var verbose: Bool
    /// Where the assignment is kept (`--state`), if anywhere.
    var statePath: String?

    /// DPS as `host:port`, the form the state file records.
    var provisioningEndpoint: String { "\(dpsHost):\(dpsPort)" }
}

/// JSON checks at the edge, with the core's reader, so a bad `--payload` or `--body` is
/// refused before anything is sent.
enum JSONCheck {
    static func problem(in text: String) -> String? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw -> String? in
            var reader = JSONReader(ByteView(UnsafeRawBufferPointer(raw)))
            do throws(JSONError) {
                while try reader.next() != nil {}
                return nil
            } catch {
                return "\(String(describing: error.summary)) at byte \(error.offset)"
            }
        }
    }
}
