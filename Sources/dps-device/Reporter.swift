import HostJSON
import LinuxBoard

/// Where progress goes: plain lines for people, or one JSON object per line for scripts.
final class Reporter: @unchecked Sendable {
    let json: Bool

    init(json: Bool) { self.json = json }

    /// Reports one step: `text` for people, `{"step": name, …fields}` (keys sorted) in JSON mode.
    func step(_ name: String, _ fields: [String: JSONValue], _ text: String) {
        guard json else { return Output.line(text) }
        var object = fields
        object["step"] = .string(name)
        let members = object.keys.sorted().map { JSONMember($0, object[$0]!) }
        Output.line(JSONValue.object(members).compactText)
    }
}
