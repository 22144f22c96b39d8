import DeviceCore
import HostJSON

/// One device's twin as the hub stand-in keeps it: desired and reported properties with their
/// versions and last-updated times, changed by JSON merge patches (RFC 7396) as IoT Hub does.
struct TwinRecord {
    /// One side of the twin (desired or reported).
    struct Properties {
        var members: [JSONMember] = []
        var version = 1
        var lastUpdated: String
        /// Per top-level property: when it was last set and, for desired, at which version.
        var updated: [String: (time: String, version: Int)] = [:]

        /// Merges `patch` (an object's members): `null` removes a property, objects merge,
        /// anything else replaces.
        mutating func apply(_ patch: [JSONMember], at time: String) {
            version += 1
            lastUpdated = time
            for member in patch {
                members = TwinRecord.merge(member, into: members)
                if case .null = member.value { updated[member.key] = nil } else { updated[member.key] = (time, version) }
            }
        }

        /// The properties as a device's GET receives them: members, then `$version`. IoT Hub
        /// sends a device no `$metadata` (`{"desired":{"$version":1},"reported":{"$version":1}}`
        /// for a new twin); only the service's view of the twin has it.
        var deviceView: JSONValue {
            .object(members + [JSONMember("$version", .int(version))])
        }

        /// The properties as the service sees them: members, then `$metadata` (with
        /// `$lastUpdatedVersion` on the desired side), then `$version`.
        func view(withVersions: Bool) -> JSONValue {
            var metadata = [JSONMember("$lastUpdated", .string(lastUpdated))]
            if withVersions { metadata.append(JSONMember("$lastUpdatedVersion", .int(version))) }
            for member in members {
                guard let stamp = updated[member.key] else { continue }
                var entry = [JSONMember("$lastUpdated", .string(stamp.time))]
                if withVersions { entry.append(JSONMember("$lastUpdatedVersion", .int(stamp.version))) }
                metadata.append(JSONMember(member.key, .object(entry)))
            }
            return .object(members + [JSONMember("$metadata", .object(metadata)), JSONMember("$version", .int(version))])
        }
    }

    var desired: Properties
    var reported: Properties
    /// Changes of either side, for the service view's `version` and `etag`.
    var version = 1

    init(createdAt time: String) {
        desired = Properties(lastUpdated: time)
        reported = Properties(lastUpdated: time)
    }

    /// What a device's GET returns: `{"desired":{…,"$version":n},"reported":{…,"$version":m}}`,
    /// without `$metadata`, as IoT Hub answers `$iothub/twin/GET/`.
    var deviceView: JSONValue {
        .object([JSONMember("desired", desired.deviceView), JSONMember("reported", reported.deviceView)])
    }

    /// What `az iot hub device-twin show` prints for the device.
    func serviceView(deviceID: String, connected: Bool, lastActivity: String?, modelID: String?, c2dQueued: Int) -> JSONValue {
        .object([
            JSONMember("deviceId", .string(deviceID)),
            JSONMember("etag", .string(Self.etag(version))),
            JSONMember("deviceEtag", .string(Self.etag(reported.version))),
            JSONMember("status", .string("enabled")),
            JSONMember("statusUpdateTime", .string("0001-01-01T00:00:00Z")),
            JSONMember("connectionState", .string(connected ? "Connected" : "Disconnected")),
            JSONMember("lastActivityTime", .string(lastActivity ?? "0001-01-01T00:00:00Z")),
            JSONMember("cloudToDeviceMessageCount", .int(c2dQueued)),
            JSONMember("authenticationType", .string("certificateAuthority")),
            JSONMember("x509Thumbprint", .object([JSONMember("primaryThumbprint", .null), JSONMember("secondaryThumbprint", .null)])),
            JSONMember("modelId", .string(modelID ?? "")),
            JSONMember("version", .int(version)),
            JSONMember("properties", .object([
                JSONMember("desired", desired.view(withVersions: true)),
                JSONMember("reported", reported.view(withVersions: false)),
            ])),
            JSONMember("capabilities", .object([JSONMember("iotEdge", .bool(false))])),
        ])
    }

    /// Why `patch` cannot be applied to a twin, or `nil`: it must be an object whose names
    /// do not start with `$` (IoT Hub's own), nested at most 10 levels (IoT Hub's limit).
    static func problem(with patch: JSONValue) -> String? {
        guard case .object(let members) = patch else { return "the patch is \(patch.kindName), not a JSON object" }
        if let reserved = members.first(where: { $0.key.hasPrefix("$") }) {
            return "property names starting with $ are IoT Hub's (\"\(reserved.key)\")"
        }
        if depth(patch) > 10 { return "the patch nests deeper than 10 levels" }
        return nil
    }

    static func depth(_ value: JSONValue) -> Int {
        guard case .object(let members) = value else { return 0 }
        return 1 + (members.map { depth($0.value) }.max() ?? 0)
    }

    static func merge(_ member: JSONMember, into members: [JSONMember]) -> [JSONMember] {
        var result = members
        let index = result.firstIndex { $0.key == member.key }
        switch (member.value, index) {
        case (.null, let index?): result.remove(at: index)
        case (.null, nil): break
        case (.object(let patch), let index?):
            if case .object(let existing) = result[index].value {
                result[index].value = .object(patch.reduce(existing) { merge($1, into: $0) })
            } else {
                result[index].value = .object(patch.reduce([]) { merge($1, into: $0) })
            }
        case (.object(let patch), nil): result.append(JSONMember(member.key, .object(patch.reduce([]) { merge($1, into: $0) })))
        case (_, let index?): result[index].value = member.value
        case (_, nil): result.append(member)
        }
        return result
    }

    static func etag(_ version: Int) -> String {
        // IoT Hub's etags are base64 of a counter; the stand-in's are the same shape.
        var bytes = [UInt8](repeating: 0, count: 8)
        var value = UInt64(version)
        for i in (0..<8).reversed() {
            bytes[i] = UInt8(value & 0xFF)
            value >>= 8
        }
        return base64(bytes)
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(byteCount: Base64.encodedCount(raw.count), alignment: 1) { buffer in
                var writer = TextWriter(into: buffer)
                Base64.encode(ByteView(raw), into: &writer)
                return writer.written.text
            }
        }
    }
}
