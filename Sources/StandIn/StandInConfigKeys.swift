import HostJSON

/// The keys of the stand-in's configuration file, for naming one it does not know (a misspelt
/// fault would otherwise be ignored without a word: JSON decoding skips unknown keys).
enum StandInConfigKeys {
    /// The known keys of each object, by its path (`groups[]` for every group).
    static let known: [String: [String]] = [
        "": ["idScope", "retryAfterSeconds", "assignAtOnce", "groups", "faults"],
        "groups[]": ["name", "caFile", "enabled", "verified", "iotHub", "verificationCode"],
        "faults": ["throttle", "fail", "drop", "refuseConnect", "delayMilliseconds"],
        "faults.throttle": ["times", "retryAfter"],
        "faults.fail": ["times"],
        "faults.drop": ["afterPackets", "times"],
        "faults.refuseConnect": ["code", "times"],
    ]

    /// One line for each unknown key in the JSON text `bytes`: where it is and what is known there.
    static func unknown(in bytes: some Collection<UInt8>) -> [String] {
        guard let root = try? JSONParser.parse(String(decoding: bytes, as: UTF8.self)) else { return [] }
        var problems: [String] = []
        check(root, path: "", into: &problems)
        return problems
    }

    private static func check(_ value: JSONValue, path: String, into problems: inout [String]) {
        switch value {
        case .object(let members):
            guard let keys = known[path] else { return }
            for member in members {
                let memberPath = path.isEmpty ? member.key : "\(path).\(member.key)"
                guard keys.contains(member.key) else {
                    problems.append("unknown key \"\(memberPath)\" (known here: \(keys.joined(separator: ", ")))")
                    continue
                }
                check(member.value, path: memberPath, into: &problems)
            }
        case .array(let elements):
            for element in elements { check(element, path: path + "[]", into: &problems) }
        default:
            return
        }
    }
}
