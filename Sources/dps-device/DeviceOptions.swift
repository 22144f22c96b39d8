import ArgumentParser
import DeviceCore
import Foundation
import LinuxBoard

/// What `provision` and `run` need to reach DPS: flags, each with an environment variable
/// fallback so that nothing has to be edited in source or typed on every run.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "DPS ID scope (env DPS_ID_SCOPE).")
    var idScope: String?

    @Option(name: .long, help: "Device certificate PEM: the leaf, plus any intermediates (env DPS_CERT).")
    var cert: String?

    @Option(name: .long, help: "Device private key PEM, RSA or EC, any OpenSSL form (env DPS_KEY).")
    var key: String?

    @Option(name: .long, help: "Pass phrase of an encrypted key (env DPS_KEY_PASSPHRASE).")
    var keyPassphrase: String?

    @Option(name: .long, help: "Registration id; must equal the certificate's CN (env DPS_REGISTRATION_ID; default: the CN).")
    var registrationId: String?

    @Option(name: .long, help: "DPS host (env DPS_HOST).")
    var dpsHost: String?

    @Option(name: .long, help: "DPS port.")
    var dpsPort: UInt16 = 8883

    @Option(name: .long, help: "Trust anchors PEM for the servers (env DPS_CA_FILE; default: the system bundle).")
    var caFile: String?

    @Option(name: .long, help: "Custom allocation payload sent with the registration, as JSON.")
    var payload: String?

    @Option(name: .long, help: "Seconds the whole registration may take.")
    var timeout: Int = 180

    @Option(name: .long, help: "MQTT keep-alive, seconds.")
    var keepAlive: UInt16 = 60

    static let defaultDPSHost = "global.azure-devices-provisioning.net"
    static let userAgent = "swift-azure-iot-device/0.1"

    /// A value from the flag, else the environment variable, else `nil`.
    static func resolve(_ flag: String?, _ variable: String) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
        return nil
    }

    /// The settings, checked: every missing or malformed one is named with how to give it.
    func resolved() throws -> ResolvedDeviceOptions {
        var problems = [String]()
        let scope = Self.resolve(idScope, "DPS_ID_SCOPE")
        if scope == nil { problems.append("the ID scope is missing: pass --id-scope or set DPS_ID_SCOPE (it is on the DPS instance's overview page)") }
        let certificate = Self.resolve(cert, "DPS_CERT")
        if certificate == nil { problems.append("the device certificate is missing: pass --cert FILE or set DPS_CERT") }
        let privateKey = Self.resolve(key, "DPS_KEY")
        if privateKey == nil { problems.append("the device key is missing: pass --key FILE or set DPS_KEY") }
        if let payload {
            if let error = JSONCheck.problem(in: payload) { problems.append("--payload is not valid JSON: \(error)") }
        }
        if timeout <= 0 { problems.append("--timeout must be a positive number of seconds, got \(timeout)") }
        guard problems.isEmpty, let scope, let certificate, let privateKey else {
            throw ValidationError(problems.joined(separator: "\n"))
        }
        return ResolvedDeviceOptions(
            idScope: scope, certificateFile: certificate, keyFile: privateKey,
            passphrase: Self.resolve(keyPassphrase, "DPS_KEY_PASSPHRASE"),
            registrationID: Self.resolve(registrationId, "DPS_REGISTRATION_ID"),
            dpsHost: Self.resolve(dpsHost, "DPS_HOST") ?? Self.defaultDPSHost, dpsPort: dpsPort,
            caFile: Self.resolve(caFile, "DPS_CA_FILE"), payload: payload, timeoutSeconds: timeout, keepAlive: keepAlive)
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
