// Target `options`: `provision` and `run`'s configuration (CommandConfiguration: the option
// parser, DeviceOptions.resolved, RunOptions.validate), everything before files and network.
// Its own binary, build/fuzz/fuzz-options: DeviceCore and the pure parsing files of
// Sources/DeviceCommandLine compiled with this directory and Fuzz/Support.swift.
//
// Input: fields separated by NUL or newline, each read as UTF-8 the way argv is (invalid bytes
// repaired). The first field is the command when it is `provision` or `run`; otherwise the
// command is `run` and the field is its first argument. A field `$NAME=value` sets the
// environment variable NAME; every other field is the next argument. Each input is read twice:
// with only its own variables, and over `requiredSettings`.

/// The variables the options fall back to, with the options they stand in for.
let environmentFallbacks: [(variable: String, option: String)] = [
    ("PROVISIONING_IDSCOPE", "--id-scope"), ("X509_CERT_FILE", "--cert"), ("X509_KEY_FILE", "--key"),
    ("X509_PASS_PHRASE", "--key-passphrase"), ("PROVISIONING_REGISTRATION_ID", "--registration-id"),
    ("PROVISIONING_HOST", "--provisioning-host"), ("DPS_DEVICE_STATE", "--state"),
]

/// The three settings every configuration needs, from the environment: the input is read
/// with them too, so that it need not give them to reach the checks of the others.
let requiredSettings = ["PROVISIONING_IDSCOPE": "0ne00000FUZZ", "X509_CERT_FILE": "device1.pem", "X509_KEY_FILE": "device1.key"]

func fuzzOptions(_ data: ByteView) {
    check(OptionsInput(data))
    check(OptionsInput(data, environment: requiredSettings))
}

private func check(_ input: OptionsInput) {
    let first = read(input)
    let second = read(input)
    fuzzCheck(first == second, "the same input read twice differs: \(first) then \(second)")
    switch first {
    case .success(let configuration): checkAccepted(configuration, input)
    case .failure(let error): checkRefusal(error, input)
    }
}

private func read(_ input: OptionsInput) -> Result<CommandConfiguration, UsageError> {
    Result { () throws(UsageError) in
        try CommandConfiguration(input.command, arguments: input.arguments[...], environment: Environment(input.environment))
    }
}

/// The input as a command line and an environment.
struct OptionsInput {
    var command = DeviceCommand.run
    var arguments: [String] = []
    var environment: [String: String] = [:]

    /// The input's command line, and its variables over `environment`.
    init(_ data: ByteView, environment base: [String: String] = [:]) {
        environment = base
        var fields: [String] = []
        var start = 0
        var index = 0
        while index <= data.count {
            if index == data.count || data[index] == 0 || data[index] == UInt8(ascii: "\n") {
                fields.append(String(decoding: UnsafeRawBufferPointer(rebasing: data.buffer[start..<index]), as: UTF8.self))
                start = index + 1
            }
            index += 1
        }
        if let name = fields.first, let known = DeviceCommand(rawValue: name) {
            command = known
            fields.removeFirst()
        }
        for field in fields {
            if field.hasPrefix("$"), let equals = field.firstIndex(of: "=") {
                environment[String(field[field.index(after: field.startIndex)..<equals])] = String(field[field.index(after: equals)...])
            } else {
                arguments.append(field)
            }
        }
    }

    /// Whether some argument spells one of `names` (alone or as `--name=…`).
    func mentions(_ names: [String]) -> Bool {
        arguments.contains { argument in names.contains { argument == $0 || argument.hasPrefix($0 + "=") } }
    }
}

/// Every line of the message is words that name the option at fault: one of the command's
/// option spellings (or the variable standing in for it), or the argument it could not place,
/// quoted.
private func checkRefusal(_ error: UsageError, _ input: OptionsInput) {
    fuzzCheck(!error.message.isEmpty, "an empty usage error")
    let spellings = input.command.help.specs.flatMap(\.names)
    for line in error.message.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        let text = String(decoding: line, as: UTF8.self)
        fuzzCheck(!text.isEmpty, "an empty line in the usage error \(String(reflecting: error.message))")
        let namesOption = spellings.contains { text.contains($0) } || environmentFallbacks.contains { text.contains($0.variable) }
        let quotesArgument = input.arguments.contains { argument in
            let name = argument.firstIndex(of: "=").map { String(argument[..<$0]) } ?? argument
            return text.contains("'\(argument)'") || text.contains("'\(name)'")
        }
        fuzzCheck(namesOption || quotesArgument, "the refusal \(String(reflecting: text)) names no option")
        // A value that only a variable gave is blamed on the variable, never on the option the
        // user did not type. (The quoted value alone does not say whose it is: another option or
        // variable may hold the same text.)
        for (variable, option) in environmentFallbacks {
            let spellings = input.command.help.specs.first { $0.primaryName == option }!.names
            guard !input.mentions(spellings), let value = input.environment[variable], !value.isEmpty,
                  text.contains("\"\(value)\""), !isKnown("variable-blamed-on-option") else { continue }
            let blamesOption = spellings.contains { spells(text, $0) }
            fuzzCheck(!blamesOption || text.contains(variable), "the refusal \(String(reflecting: text)) of \(variable)'s value names \(option)")
        }
    }
}

/// Whether `text` holds `spelling` as a whole option name (`--key`, not inside `--key-passphrase`).
private func spells(_ text: String, _ spelling: String) -> Bool {
    let bytes = Array(text.utf8), name = Array(spelling.utf8)
    func isNamePart(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) }
    guard bytes.count >= name.count else { return false }
    for start in 0...(bytes.count - name.count) where bytes[start..<(start + name.count)].elementsEqual(name) {
        let before = start == 0 || !isNamePart(bytes[start - 1])
        let after = start + name.count == bytes.count || !isNamePart(bytes[start + name.count])
        if before && after { return true }
    }
    return false
}

/// Accepted values are within the ranges docs/dps-device.md gives, and a variable stands in
/// for its option when the option is not given.
private func checkAccepted(_ configuration: CommandConfiguration, _ input: OptionsInput) {
    let options: ResolvedDeviceOptions
    switch configuration {
    case .help:
        fuzzCheck(input.arguments.contains("-h") || input.arguments.contains("--help"), "help without -h or --help")
        return
    case .provision(let resolved):
        fuzzCheck(input.command == .provision, "run read as provision")
        options = resolved
    case .run(let resolved, let run):
        fuzzCheck(input.command == .run, "provision read as run")
        options = resolved
        checkRun(run, timeoutSeconds: resolved.timeoutSeconds)
    }
    fuzzCheck(!options.idScope.isEmpty && !options.certificateFile.isEmpty && !options.keyFile.isEmpty, "an empty required setting: \(options)")
    for (name, value) in [("passphrase", options.passphrase), ("registration id", options.registrationID), ("state", options.statePath),
                          ("ca", options.caFile), ("payload", options.payload)] {
        fuzzCheck(value != "", "an empty \(name) accepted")
    }
    fuzzCheck(!options.dpsHost.isEmpty || isKnown("empty-host"), "an empty DPS host accepted (port \(options.dpsPort))")
    fuzzCheck(options.dpsPort >= 1, "DPS port 0 accepted")
    fuzzCheck((1...86_400).contains(options.timeoutSeconds), "--timeout \(options.timeoutSeconds) accepted")
    fuzzCheck((1...1177).contains(options.keepAlive), "--keep-alive \(options.keepAlive) accepted")
    if let payload = options.payload { fuzzCheck(JSONCheck.problem(in: payload) == nil, "--payload that is not JSON accepted") }

    let values: [String: String?] = [
        "--id-scope": options.idScope, "--cert": options.certificateFile, "--key": options.keyFile,
        "--key-passphrase": options.passphrase, "--registration-id": options.registrationID, "--state": options.statePath,
    ]
    for (variable, option) in environmentFallbacks {
        let spellings = input.command.help.specs.first { $0.primaryName == option }!.names
        guard !input.mentions(spellings), let value = input.environment[variable], !value.isEmpty else { continue }
        if option == "--provisioning-host" {
            fuzzCheck(DeviceOptions.endpoint(value).map { "\($0.host):\($0.port)" } == options.provisioningEndpoint,
                      "\(variable)=\(value) gave the endpoint \(options.provisioningEndpoint)")
        } else {
            let accepted: String? = values[option] ?? nil
            fuzzCheck(accepted == value, "\(variable)=\(value) did not stand in for \(option): \(accepted ?? "nil")")
        }
    }
}

private func checkRun(_ run: RunOptions, timeoutSeconds: Int) {
    if case .count(let count) = run.messages { fuzzCheck((0...1_000_000_000).contains(count), "--messages \(count) accepted") }
    fuzzCheck(run.interval.isFinite && (0...86_400).contains(run.interval), "--interval \(run.interval) accepted")
    if case .count(let seconds) = run.duration { fuzzCheck((0...315_360_000).contains(seconds), "--duration \(seconds) accepted") }
    fuzzCheck(run.hubPort >= 1, "--hub-port 0 accepted")
    fuzzCheck(run.body == nil || run.bodyCommand == nil, "--body and --body-command both accepted")
    fuzzCheck(run.bodyCommand != "", "an empty --body-command accepted")
    if let body = run.body {
        fuzzCheck(JSONCheck.problem(in: body) == nil, "--body that is not JSON accepted")
        fuzzCheck(body.utf8.count <= IoTHubTopics.maximumMessageSize, "--body of \(body.utf8.count) bytes accepted")
    }
    let plan = run.plan
    fuzzCheck(plan.interval.milliseconds >= 0, "a negative interval in the plan")
    if let deadline = plan.deadline(timeoutSeconds: timeoutSeconds) {
        fuzzCheck(Int64(deadline.milliseconds) >= Int64(timeoutSeconds) * 1000, "the deadline \(deadline.milliseconds) ms is shorter than --timeout")
    }
}
