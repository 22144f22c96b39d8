#if canImport(Glibc)
import Glibc
#endif
import HostJSON
import LinuxBoard

/// Every device's twin, kept in a JSON file so that twins survive restarts of the hub stand-in
/// (as they do in IoT Hub). Written whole after every change, through a temporary file and
/// `rename(2)`, so that a crash leaves the old file or the new one, never half of one.
final class TwinStore {
    let path: String?
    private(set) var twins: [String: TwinRecord] = [:]

    /// The store in `path` (created on the first change when missing), or in memory for `nil`.
    init(path: String?) throws(StandInError) {
        self.path = path
        guard let path else { return }
        let bytes: [UInt8]
        do throws(RegularFile.Failure) { bytes = try RegularFile.read(path, limit: 64 << 20) } catch {
            if error == .missing { return }
            throw StandInError("the twin store \"\(path)\" cannot be read: \(error.description)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StandInError("the twin store \"\(path)\" is not UTF-8 text: delete it to start with empty twins")
        }
        let value: JSONValue
        do throws(JSONSyntaxError) { value = try JSONParser.parse(text) } catch {
            throw StandInError("the twin store \"\(path)\" is not valid JSON (\(error.message) at byte \(error.offset)): delete it to start with empty twins")
        }
        guard case .object(let devices)? = value["devices"] else {
            throw StandInError("the twin store \"\(path)\" has no \"devices\" object: delete it to start with empty twins")
        }
        for device in devices {
            guard let twin = Self.twin(from: device.value) else {
                throw StandInError("the twin store \"\(path)\": the twin of \"\(device.key)\" is malformed: delete the file to start with empty twins")
            }
            twins[device.key] = twin
        }
    }

    subscript(deviceID: String) -> TwinRecord? { twins[deviceID] }

    /// Changes (or creates) the twin of `deviceID` and saves the store.
    func update(_ deviceID: String, now: String, _ change: (inout TwinRecord) -> Void) throws(StandInError) -> TwinRecord {
        var twin = twins[deviceID] ?? TwinRecord(createdAt: now)
        change(&twin)
        twins[deviceID] = twin
        try save()
        return twin
    }

    /// The twin of `deviceID`, created (and saved) when the device is new.
    func twin(_ deviceID: String, now: String) throws(StandInError) -> TwinRecord {
        if let twin = twins[deviceID] { return twin }
        return try update(deviceID, now: now) { _ in }
    }

    private func save() throws(StandInError) {
        guard let path else { return }
        let devices = twins.keys.sorted().map { JSONMember($0, Self.stored(twins[$0]!)) }
        let text = JSONValue.object([JSONMember("devices", .object(devices))]).compactText + "\n"
        let temporary = path + ".tmp"
        let written: Bool = text.utf8CString.withUnsafeBufferPointer { chars in
            guard let file = fopen(temporary, "w") else { return false }
            let count = chars.count - 1
            let ok = fwrite(chars.baseAddress, 1, count, file) == count
            return fclose(file) == 0 && ok
        }
        guard written, rename(temporary, path) == 0 else {
            throw StandInError("cannot write the twin store \"\(path)\": \(String(cString: strerror(errno)))")
        }
    }

    // MARK: The file's shape

    private static func stored(_ twin: TwinRecord) -> JSONValue {
        .object([
            JSONMember("version", .int(twin.version)),
            JSONMember("desired", stored(twin.desired)),
            JSONMember("reported", stored(twin.reported)),
        ])
    }

    private static func stored(_ side: TwinRecord.Properties) -> JSONValue {
        .object([
            JSONMember("version", .int(side.version)),
            JSONMember("lastUpdated", .string(side.lastUpdated)),
            JSONMember("properties", .object(side.members)),
            JSONMember("updated", .object(side.updated.keys.sorted().map { key in
                JSONMember(key, .object([JSONMember("time", .string(side.updated[key]!.time)), JSONMember("version", .int(side.updated[key]!.version))]))
            })),
        ])
    }

    private static func twin(from value: JSONValue) -> TwinRecord? {
        guard let version = value["version"]?.intValue, let desired = value["desired"].flatMap(side), let reported = value["reported"].flatMap(side) else { return nil }
        var twin = TwinRecord(createdAt: desired.lastUpdated)
        twin.version = version
        twin.desired = desired
        twin.reported = reported
        return twin
    }

    private static func side(from value: JSONValue) -> TwinRecord.Properties? {
        guard let version = value["version"]?.intValue, case .string(let lastUpdated)? = value["lastUpdated"],
              case .object(let members)? = value["properties"], case .object(let updated)? = value["updated"] else { return nil }
        var side = TwinRecord.Properties(members: members, version: version, lastUpdated: lastUpdated)
        for entry in updated {
            guard case .string(let time)? = entry.value["time"], let at = entry.value["version"]?.intValue else { return nil }
            side.updated[entry.key] = (time, at)
        }
        return side
    }
}
