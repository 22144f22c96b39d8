import DeviceAgent
import DeviceCore
import HostJSON

/// `--method NAME=COMMAND`: the user's command that answers a direct method. It runs with
/// `/bin/sh -c`, the request's payload on standard input, `METHOD_NAME` and `DEVICE_ID` in its
/// environment, for at most `HubFeaturePlan.methodTimeoutSeconds`.
struct MethodCommand {
    /// Room for the answer: IoT Hub's limit for a method's response payload.
    static let maximumResponseSize = 128 * 1024

    let command: String
    var timeoutMilliseconds = HubFeaturePlan.methodTimeoutSeconds * 1000

    /// The method's status and JSON payload: 200 and its standard output (`null` when empty)
    /// when it exits 0; 500 with `{"error": …}` (its standard error, or why it failed) when
    /// not; 504 when it runs past its time.
    func answer(method: String, deviceID: String, payload: [UInt8]) -> (status: Int, payload: String) {
        let run = ShellCommand(
            command, environment: [("METHOD_NAME", method), ("DEVICE_ID", deviceID)],
            timeoutMilliseconds: timeoutMilliseconds, outputLimit: Self.maximumResponseSize + 1
        ).run(input: payload)
        func failure(_ status: Int, _ words: String) -> (Int, String) {
            (status, JSONValue.object([JSONMember("error", .string(words))]).compactText)
        }
        switch run.ending {
        case .exited(0): break
        case .exited(let status): return failure(500, run.errorText.isEmpty ? "the command exited with status \(status)" : run.errorText)
        case .signaled(let signal): return failure(500, "the command was ended by signal \(signal)")
        case .timedOut: return failure(504, "the command ran past \(Describe.seconds(DeviceDuration(milliseconds: Int32(clamping: timeoutMilliseconds)))) and was killed")
        case .stopped: return failure(503, "the device is stopping")
        case .notStarted(let error): return failure(500, "the command could not start (errno \(error))")
        }
        guard !run.outputTruncated, run.standardOutput.count <= Self.maximumResponseSize else {
            return failure(500, "the command printed more than \(Self.maximumResponseSize) bytes")
        }
        guard let text = String(validating: run.standardOutput, as: UTF8.self) else { return failure(500, "the command printed bytes that are not UTF-8") }
        let trimmed = String(text.trimmingJSONWhitespace)
        if trimmed.isEmpty { return (200, "null") }
        do throws(JSONSyntaxError) { _ = try JSONParser.parse(trimmed) } catch {
            return failure(500, "the command did not print JSON: \(error.message) at byte \(error.offset)")
        }
        return (200, trimmed)
    }
}
