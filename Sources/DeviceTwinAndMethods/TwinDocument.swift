import DeviceCore

/// A device twin as IoT Hub returns it for a GET:
/// `{"desired":{…,"$version":n},"reported":{…,"$version":m}}`. Views point into the body.
public struct TwinDocument: Equatable {
    /// The desired properties, as sent (`$version` and `$metadata` included).
    public var desired: ByteView
    /// The desired properties' version; patches up to it are already in `desired`.
    public var desiredVersion: Int64
    /// The reported properties, as sent; empty when the body has none.
    public var reported: ByteView
    /// The reported properties' version, if the body has them.
    public var reportedVersion: Int64?

    /// Reads a GET response's body. Members other than `desired` and `reported` are skipped.
    public static func parse(_ body: ByteView) throws(IoTHubProtocolError) -> TwinDocument {
        var desired: ByteView?
        var reported = ByteView()
        var isObject = false
        do throws(JSONError) {
            var reader = JSONReader(body)
            isObject = try reader.next() == .beginObject
            while isObject, let token = try reader.next() {
                guard case .key(let name) = token else { continue }  // the closing brace; `nil` follows
                if name.equals("desired") {
                    desired = try reader.captureValue()
                } else if name.equals("reported") {
                    reported = try reader.captureValue()
                } else {
                    try reader.skipValue()
                }
            }
        } catch {
            throw .malformedJSON(error)
        }
        guard isObject else { throw .notAnObject }
        guard let desired else { throw .missingVersion }
        guard let desiredVersion = try version(of: desired) else { throw .missingVersion }
        let reportedVersion = reported.isEmpty ? nil : try version(of: reported)
        return TwinDocument(desired: desired, desiredVersion: desiredVersion, reported: reported, reportedVersion: reportedVersion)
    }

    /// The integer `$version` at the top level of `object` (a desired patch, or a part of a
    /// twin), `nil` when it has none.
    public static func version(of object: ByteView) throws(IoTHubProtocolError) -> Int64? {
        var reader = JSONReader(object)
        var isObject = false
        var version: Int64?
        var versionIsInteger = true
        do throws(JSONError) {
            isObject = try reader.next() == .beginObject
            while isObject, versionIsInteger, let token = try reader.next() {
                guard case .key(let name) = token else { continue }
                guard name.equals("$version") else { try reader.skipValue(); continue }
                if case .number(let number)? = try reader.next(), let value = number.int64() { version = value } else { versionIsInteger = false }
            }
        } catch {
            throw .malformedJSON(error)
        }
        guard isObject else { throw .notAnObject }
        guard versionIsInteger else { throw .missingVersion }
        return version
    }
}
