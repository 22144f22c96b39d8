import HostJSON

/// What `run` serves on its hub connection besides telemetry: `--report`, `--method`,
/// `--on-desired` (docs/twin-and-methods.md).
struct HubFeaturePlan: Equatable {
    /// IoT Hub's limit for a twin's reported properties.
    static let maximumReportSize = 32 * 1024
    /// How long a `--method` command may run (IoT Hub's default time for a call) before it is
    /// killed and the answer is 504.
    static let methodTimeoutSeconds: Int64 = 30

    /// Reported patches to send after connecting, in order.
    var reports: [String]
    /// Method name to shell command.
    var methods: [String: String]
    /// The command that takes desired properties.
    var onDesired: String?

    /// `NAME=COMMAND` split at the first `=` (no `=`: all name, empty command).
    static func split(_ spec: String) -> (String, String) {
        guard let equals = spec.firstIndex(of: "=") else { return (spec, "") }
        return (String(spec[..<equals]), String(spec[spec.index(after: equals)...]))
    }

    /// What is wrong with a `--method` value, or `nil`.
    static func methodProblem(name: String, command: String, spec: String) -> String? {
        guard spec.contains("=") else { return "\"\(spec)\" is not NAME=COMMAND" }
        guard !name.isEmpty, !name.contains(where: { "/+#? ".contains($0) }) else {
            return "\"\(spec)\": the method name must be non-empty, without / + # ? or spaces"
        }
        guard !command.isEmpty else { return "\(name)= has no command: pass NAME=COMMAND" }
        return nil
    }

    /// What is wrong with a `--report` value, or `nil`.
    static func reportProblem(_ json: String) -> String? {
        let value: JSONValue
        do throws(JSONSyntaxError) { value = try JSONParser.parse(json) } catch {
            return "is not valid JSON: \(error.message) at byte \(error.offset)"
        }
        guard case .object(let members) = value else { return "must be a JSON object of reported properties, e.g. '{\"firmware\": \"1.2\"}'; got \(value.kindName)" }
        if let reserved = members.first(where: { $0.key.hasPrefix("$") }) {
            return "has \"\(reserved.key)\": names starting with $ are IoT Hub's own"
        }
        if json.utf8.count > maximumReportSize { return "is \(json.utf8.count) bytes; IoT Hub keeps at most \(maximumReportSize) of reported properties" }
        return nil
    }
}
