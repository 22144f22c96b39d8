import DeviceCore

/// What IoT Hub sent that the device cannot use: a twin or method message that starts like one
/// but is malformed. The hub is the one at fault; the device drops the message and says why.
public enum IoTHubProtocolError: Error, Equatable, Sendable {
    /// A `$iothub/twin/…` or `$iothub/methods/…` topic malformed at `offset` (its status,
    /// method name or query).
    case malformedTopic(offset: Int)
    /// The topic lacks a key the message needs (`$rid` on a response or method request).
    case missingTopicKey(StaticString)
    /// A twin body is not valid JSON.
    case malformedJSON(JSONError)
    /// A twin body, or its `desired` or `reported` part, is JSON but not an object.
    case notAnObject
    /// A desired-properties patch or a full twin without the `$version` that orders it.
    case missingVersion
    /// A method call whose request id (this many bytes) is too long for the response topic
    /// buffer; it cannot be answered.
    case requestIDTooLong(Int)

    public static func == (lhs: IoTHubProtocolError, rhs: IoTHubProtocolError) -> Bool {
        switch (lhs, rhs) {
        case (.malformedTopic(let a), .malformedTopic(let b)): return a == b
        case (.missingTopicKey(let a), .missingTopicKey(let b)): return ByteView(a) == ByteView(b)
        case (.malformedJSON(let a), .malformedJSON(let b)): return a == b
        case (.notAnObject, .notAnObject), (.missingVersion, .missingVersion): return true
        case (.requestIDTooLong(let a), .requestIDTooLong(let b)): return a == b
        default: return false
        }
    }
}
