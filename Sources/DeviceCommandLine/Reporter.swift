import HostJSON
import LinuxBoard

/// Where progress goes: one line per event on standard output, as words or as JSON.
final class Reporter: @unchecked Sendable {
    let format: LogFormat

    init(format: LogFormat) { self.format = format }

    /// Reports one step: `text` for people, `{"step": name, "time": …, …fields}` (keys
    /// sorted) in JSON mode.
    func step(_ name: String, _ fields: [String: JSONValue], _ text: String) {
        guard format == .json else { return Output.line(text) }
        Output.line(Self.jsonLine(name, fields))
    }

    /// Something the user should fix that does not stop the run: `warning: text` on standard
    /// error, or a `"step":"warning"` line with `message` in JSON mode.
    func warning(_ text: String) {
        guard format == .json else { return Output.warning(text) }
        Output.line(Self.jsonLine("warning", ["message": .string(text)]))
    }

    static func jsonLine(_ name: String, _ fields: [String: JSONValue]) -> String {
        var object = fields
        object["step"] = .string(name)
        object["time"] = .string(WallClock.timestamp())
        let members = object.keys.sorted().map { JSONMember($0, object[$0]!) }
        return JSONValue.object(members).compactText
    }
}
