import DeviceCore
import DeviceCoreWords
import HostJSON

/// What `provision` and `run` need to reach DPS: options, each with the environment variable
/// Azure's SDK samples use as a fallback, so that nothing has to be edited in source.
public struct DeviceOptions {
    static let specs: [OptionSpec] = [
        OptionSpec("--id-scope", value: "id-scope", help: "DPS ID scope (env PROVISIONING_IDSCOPE)."),
        OptionSpec("--cert", value: "cert", help: "Device certificate PEM: the leaf, plus any intermediates (env X509_CERT_FILE)."),
        OptionSpec("--key", value: "key", help: "Device private key PEM, RSA or EC, any OpenSSL form (env X509_KEY_FILE)."),
        OptionSpec("--key-passphrase", value: "key-passphrase", help: "Pass phrase of an encrypted key (env X509_PASS_PHRASE)."),
        OptionSpec("--ca", "--ca-file", value: "ca", help: "Trust anchors PEM for the servers (DPS, IoT Hub) (default: the system bundle)."),
        OptionSpec("--registration-id", value: "registration-id", help: "Registration id; must equal the certificate's CN (env PROVISIONING_REGISTRATION_ID; default: the CN)."),
        OptionSpec("--provisioning-host", "--dps-host", value: "provisioning-host", help: "DPS host[:port] (env PROVISIONING_HOST; default global.azure-devices-provisioning.net:8883)."),
        OptionSpec("--payload", value: "payload", help: "Custom allocation payload sent with the registration, as JSON."),
        OptionSpec("--model-id", value: "dtmi", help: "IoT Plug and Play model id (dtmi:com:example:Thermostat;1), sent to DPS (in the payload, as modelId) and to IoT Hub."),
        OptionSpec("--timeout", value: "timeout", help: "Seconds the registration (and, for run, the sending) may take (1-86400; default 180)."),
        OptionSpec("--keep-alive", value: "keep-alive", help: "MQTT keep-alive, seconds (1-1177; IoT Hub ignores more; default 60)."),
        OptionSpec("--log-format", value: "log-format", help: "text (default): one line of words per event; json: one JSON object per line (step, time, fields), for scripts and log collectors."),
        OptionSpec("--json", help: "The same as --log-format json."),
        OptionSpec("--state", value: "state", help: "File that keeps the DPS assignment across starts; the next start connects straight to the saved hub (env DPS_DEVICE_STATE)."),
        OptionSpec("--verbose", help: "Print every MQTT packet, decoded, in both directions."),
    ]

    var idScope: String?
    var cert: String?
    var key: String?
    var keyPassphrase: String?
    var ca: String?
    var registrationId: String?
    var provisioningHost: String?
    var payload: String?
    var modelID: String?
    var timeout: Int
    var keepAlive: Int
    var logFormat: LogFormat?
    var json: Bool
    var state: String?
    var verbose: Bool

    init(_ parsed: ParsedOptions) throws(UsageError) {
        idScope = parsed.string("--id-scope")
        cert = parsed.string("--cert")
        key = parsed.string("--key")
        keyPassphrase = parsed.string("--key-passphrase")
        ca = parsed.string("--ca")
        registrationId = parsed.string("--registration-id")
        provisioningHost = parsed.string("--provisioning-host")
        payload = parsed.string("--payload")
        modelID = parsed.string("--model-id")
        timeout = try parsed.value("--timeout", default: 180, expected: "a whole number of seconds") { Int($0) }
        keepAlive = try parsed.value("--keep-alive", default: 60, expected: "a whole number of seconds") { Int($0) }
        logFormat = try parsed.value("--log-format", default: nil, expected: "text or json") { LogFormat(rawValue: $0) }
        json = parsed.flag("--json")
        state = parsed.string("--state")
        verbose = parsed.flag("--verbose")
    }

    static let defaultDPSHost = "global.azure-devices-provisioning.net"
    /// The version here is the one `make dist` puts in the tarball's name.
    static let userAgent = "swift-azure-iot-device/0.1"

    /// A value from the option, else the process's environment variable, else `nil`. (An
    /// empty option is refused by `resolved()` before this is asked, as is a variable that is
    /// not UTF-8; an empty variable counts as unset.)
    public static func resolve(_ flag: String?, _ variable: String) -> String? {
        resolve(flag, variable, in: .process)
    }

    /// A value from the option, else `environment`'s variable (unless empty), else `nil`.
    static func resolve(_ flag: String?, _ variable: String, in environment: Environment) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let value = environment[variable], !value.isEmpty { return value }
        return nil
    }

    /// Where a value came from, to name it in a refusal: the option when it was given, else the
    /// variable standing in for it.
    static func source(_ flag: String?, _ option: String, _ variable: String) -> String {
        (flag ?? "").isEmpty ? variable : option
    }

    /// The environment variables the device options fall back to.
    public static let environmentVariables = [
        "PROVISIONING_IDSCOPE", "X509_CERT_FILE", "X509_KEY_FILE", "X509_PASS_PHRASE", "PROVISIONING_HOST",
        "PROVISIONING_REGISTRATION_ID", "DPS_DEVICE_STATE",
    ]

    /// One line for each of those variables that is set but not UTF-8.
    public static func environmentProblems() -> [String] {
        environmentProblems(in: .process)
    }

    static func environmentProblems(in environment: Environment) -> [String] {
        environmentVariables.compactMap { environment.problem($0) }
    }

    /// What is wrong with an ID scope (DPS shows it as `0ne` and 8 hex digits), or `nil`.
    static func idScopeProblem(_ scope: String) -> String? {
        let allowed = scope.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
        guard allowed && scope.utf8.count <= 64 else {
            let shown = scope.count > 40 ? "\(scope.prefix(40))…" : scope
            return "the ID scope \"\(shown)\" is not one: it is letters and digits (DPS shows it as 0ne followed by 8 hex digits, e.g. 0ne00012345), at most 64; copy it from the DPS instance's overview page"
        }
        return nil
    }

    /// What is wrong with a registration id by DPS's rules (up to 128 of letters, digits and
    /// `- . _ :`, ending in a letter, digit or `-`), or `nil`.
    static func registrationIDProblem(_ id: String) -> String? {
        let bytes = Array(id.utf8)
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
        }
        if bytes.count > 128 { return "the registration id is \(bytes.count) characters; DPS allows at most 128" }
        var offset = 0
        for scalar in id.unicodeScalars {
            let byte = UInt8(truncatingIfNeeded: scalar.value)
            if !scalar.isASCII || !(isAlphanumeric(byte) || Array("-._:".utf8).contains(byte)) {
                return "the registration id \"\(id)\" has \"\(scalar)\" at offset \(offset); DPS allows letters, digits and - . _ : only"
            }
            offset += UTF8.width(scalar)
        }
        if let last = bytes.last, !isAlphanumeric(last) && last != UInt8(ascii: "-") {
            return "the registration id \"\(id)\" ends in \"\(String(decoding: [last], as: UTF8.self))\"; DPS requires it to end in a letter, a digit or -"
        }
        return nil
    }

    /// What is wrong with a host name or IP literal (RFC 1123: at most 253 characters, labels of
    /// 1 to 63 letters, digits and -, not starting or ending in -; IPv6 inside [ ]), or `nil`.
    static func hostProblem(_ host: String) -> String? {
        if host.contains(":") { return nil }  // an IPv6 literal; getaddrinfo judges it
        let bytes = Array(host.utf8)
        if bytes.count > 253 { return "the host name is \(bytes.count) characters; DNS allows at most 253" }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            let text = String(decoding: label, as: UTF8.self)
            if label.isEmpty { return "the host name \"\(host)\" has an empty label (two dots, or a dot at an end)" }
            if label.count > 63 { return "the host name has a label of \(label.count) characters (\"\(text.prefix(16))…\"); DNS allows at most 63" }
            let valid = label.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "-") }
            if !valid || label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                return "the host name \"\(host)\" has the label \"\(text)\": a label is letters, digits and - (not at its ends)"
            }
        }
        return nil
    }

    /// `host`, `host:port` or `[v6]:port`; the host is never empty.
    static func endpoint(_ text: String) -> (host: String, port: UInt16)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            guard !host.isEmpty else { return nil }
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
    func resolved(environment: Environment) throws(UsageError) -> ResolvedDeviceOptions {
        var problems = [String]()
        // An explicitly empty value is a mistake to name, never a quiet fall-back to the
        // environment or to Azure's global endpoint.
        let given: [(String, String?)] = [
            ("--id-scope", idScope), ("--cert", cert), ("--key", key), ("--key-passphrase", keyPassphrase), ("--ca", ca),
            ("--registration-id", registrationId), ("--provisioning-host", provisioningHost), ("--payload", payload),
            ("--model-id", modelID),
        ]
        for (name, value) in given where value == "" {
            problems.append("\(name) is empty: give a value, or leave the option out")
        }
        problems += Self.environmentProblems(in: environment)
        let scope = Self.resolve(idScope, "PROVISIONING_IDSCOPE", in: environment)
        if scope == nil && idScope == nil { problems.append("the ID scope is missing: pass --id-scope or set PROVISIONING_IDSCOPE (it is on the DPS instance's overview page)") }
        let certificate = Self.resolve(cert, "X509_CERT_FILE", in: environment)
        let privateKey = Self.resolve(key, "X509_KEY_FILE", in: environment)
        if certificate == nil && cert == nil { problems.append("the device certificate is missing: pass --cert FILE or set X509_CERT_FILE") }
        if privateKey == nil && key == nil { problems.append("the device key is missing: pass --key FILE or set X509_KEY_FILE") }
        let hostText = Self.resolve(provisioningHost, "PROVISIONING_HOST", in: environment) ?? Self.defaultDPSHost
        let host = Self.endpoint(hostText)
        let hostSource = Self.source(provisioningHost, "--provisioning-host", "PROVISIONING_HOST")
        if host == nil { problems.append("\(hostSource) \"\(hostText)\" is not HOST or HOST:PORT with a port from 1 to 65535") }
        if let host, let problem = Self.hostProblem(host.host) { problems.append("\(hostSource): \(problem)") }
        if let scope, let problem = Self.idScopeProblem(scope) {
            problems.append("\(Self.source(idScope, "--id-scope", "PROVISIONING_IDSCOPE")): \(problem)")
        }
        if let id = Self.resolve(registrationId, "PROVISIONING_REGISTRATION_ID", in: environment), let problem = Self.registrationIDProblem(id) {
            problems.append("\(Self.source(registrationId, "--registration-id", "PROVISIONING_REGISTRATION_ID")): \(problem)")
        }
        if let payload, let error = JSONCheck.problem(in: payload) { problems.append("--payload is not valid JSON: \(error)") }
        if let modelID, !modelID.isEmpty, let problem = ModelID.problem(modelID) { problems.append("--model-id \"\(modelID)\" \(problem)") }
        if modelID != nil, let payload, (try? JSONParser.parse(payload))?["modelId"] != nil {
            problems.append("--payload has a modelId and --model-id gives one too: give the model id once, with --model-id")
        }
        if modelID != nil, let payload, JSONCheck.problem(in: payload) == nil, !ModelID.isObject(payload) {
            problems.append("--payload must be a JSON object with --model-id: the model id joins its members (\"payload\": {\"modelId\": …, …})")
        }
        if !(1...86_400).contains(timeout) { problems.append("--timeout must be 1 to 86400 seconds, got \(timeout)") }
        if !(1...1177).contains(keepAlive) { problems.append("--keep-alive must be 1 to 1177 seconds (IoT Hub waits at most 1767 s), got \(keepAlive)") }
        if json && logFormat == .text { problems.append("--json and --log-format text contradict each other: pass one") }
        if state == "" { problems.append("--state is empty: pass the state file's path, or leave the option out") }
        guard problems.isEmpty, let scope, let certificate, let privateKey, let host else {
            throw UsageError(problems.joined(separator: "\n"))
        }
        return ResolvedDeviceOptions(
            idScope: scope, certificateFile: certificate, keyFile: privateKey,
            passphrase: Self.resolve(keyPassphrase, "X509_PASS_PHRASE", in: environment),
            registrationID: Self.resolve(registrationId, "PROVISIONING_REGISTRATION_ID", in: environment),
            dpsHost: host.host, dpsPort: host.port,
            caFile: ca, payload: ModelID.registrationPayload(modelID: modelID, payload: payload), modelID: modelID, timeoutSeconds: timeout, keepAlive: UInt16(keepAlive),
            logFormat: json ? .json : (logFormat ?? .text), verbose: verbose,
            statePath: Self.resolve(state, "DPS_DEVICE_STATE", in: environment))
    }
}

struct ResolvedDeviceOptions: Equatable {
    var idScope: String
    var certificateFile: String
    var keyFile: String
    var passphrase: String?
    var registrationID: String?
    var dpsHost: String
    var dpsPort: UInt16
    var caFile: String?
    /// The DPS payload as sent: `--payload`, with `modelId` first when there is a model id.
    var payload: String?
    var modelID: String?
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
public enum JSONCheck {
    /// What is wrong with `text` as JSON, or `nil`.
    public static func problem(in text: String) -> String? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw -> String? in
            var reader = JSONReader(ByteView(UnsafeRawBufferPointer(raw)))
            do throws(JSONError) {
                while try reader.next() != nil {}
                return nil
            } catch {
                return "\(error.summary) at byte \(error.offset)"
            }
        }
    }
}
