import HostJSON

/// `--model-id`: an IoT Plug and Play model id (DTMI), checked at the edge, and the DPS
/// payload that carries it.
enum ModelID {
    /// DTMI's limit for a model id.
    static let maximumLength = 2048

    /// What is wrong with `text` as a DTMI (`dtmi:segment[:segment…];version`), or `nil`.
    /// Segments are letters, digits and `_`, start with a letter and do not end with `_`; the
    /// version is 1 to 9 digits without a leading zero.
    static func problem(_ text: String) -> String? {
        guard text.utf8.count <= maximumLength else { return "is longer than \(maximumLength) characters" }
        guard text.hasPrefix("dtmi:") else { return "is not a DTMI: it must start with dtmi:, e.g. dtmi:com:example:Thermostat;1" }
        let parts = text.dropFirst(5).split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return "has no version: end it with ;1 (or the model's version)" }
        let version = parts[1]
        guard (1...9).contains(version.count), version.allSatisfy(\.isASCIIDigit), version.first != "0" else {
            return "has the version \"\(version)\": it must be 1 to 9 digits without a leading zero"
        }
        for segment in parts[0].split(separator: ":", omittingEmptySubsequences: false) {
            guard let first = segment.first, first.isASCIILetter, segment.last != "_",
                  segment.allSatisfy({ $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }) else {
                return "has the path segment \"\(segment)\": segments are letters, digits and _, start with a letter and do not end with _"
            }
        }
        return nil
    }

    /// Whether `json` (already checked to be JSON) is an object.
    static func isObject(_ json: String) -> Bool {
        if case .object? = try? JSONParser.parse(json) { return true }
        return false
    }

    /// What DPS gets as `payload`: `--payload` as given, or with a model id
    /// `{"modelId":"…",…its members}` (DPS refuses a model id outside `payload`, 400012).
    static func registrationPayload(modelID: String?, payload: String?) -> String? {
        guard let modelID, !modelID.isEmpty else { return payload }
        var members = [JSONMember("modelId", .string(modelID))]
        if let payload, case .object(let given)? = try? JSONParser.parse(payload) {
            members += given  // a modelId among them is refused up front
        }
        return JSONValue.object(members).compactText
    }
}

extension Character {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
