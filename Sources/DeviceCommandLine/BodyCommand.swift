import DeviceAgent
import DeviceCore
import HostJSON

/// `--body-command`: the user's command whose standard output, one JSON object, is the next
/// message's body. It runs with `/bin/sh -c`, with `MESSAGE_INDEX`, `MESSAGE_COUNT` (empty for
/// an open-ended run) and `DEVICE_ID` in its environment, for at most `timeoutSeconds`.
struct BodyCommand {
    static let timeoutSeconds: Int64 = 10

    let command: String

    /// Runs the command for message `index` and copies its output into `buffer`; the error
    /// says why this message has no body.
    func body(index: Int, count: Int?, deviceID: String, into buffer: UnsafeMutableRawBufferPointer) -> Result<ByteView, BodyCommandError> {
        let limit = IoTHubTopics.maximumMessageSize
        let run = ShellCommand(
            command,
            environment: [("MESSAGE_INDEX", String(index)), ("MESSAGE_COUNT", count.map(String.init) ?? ""), ("DEVICE_ID", deviceID)],
            timeoutMilliseconds: Self.timeoutSeconds * 1000, outputLimit: limit + 1
        ).run()
        if let failure = run.failure(timeoutSeconds: Self.timeoutSeconds) { return .failure(BodyCommandError(failure)) }
        if run.outputTruncated || run.standardOutput.count > limit {
            return .failure(BodyCommandError("printed more than \(limit) bytes; IoT Hub accepts at most \(limit)"))
        }
        guard let text = String(validating: run.standardOutput, as: UTF8.self) else {
            return .failure(BodyCommandError("printed bytes that are not UTF-8"))
        }
        let value: JSONValue
        do throws(JSONSyntaxError) { value = try JSONParser.parse(text) } catch {
            return .failure(BodyCommandError(text.allSatisfy(\.isWhitespace)
                ? "printed nothing: it must print one JSON object"
                : "did not print JSON: \(error.message) at byte \(error.offset)"))
        }
        guard case .object = value else {
            return .failure(BodyCommandError("printed \(value.kindName), not a JSON object"))
        }
        // The bytes as printed, less the whitespace around them (a trailing newline).
        let bytes = Array(text.trimmingJSONWhitespace.utf8)
        guard bytes.count <= buffer.count else {
            return .failure(BodyCommandError("printed \(bytes.count) bytes; the body buffer holds \(buffer.count)"))
        }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return .success(ByteView(baseAddress: buffer.baseAddress, count: bytes.count))
    }
}

/// Why `--body-command` gave no body; the words follow "--body-command".
struct BodyCommandError: Error {
    let summary: String
    init(_ summary: String) { self.summary = summary }
}
