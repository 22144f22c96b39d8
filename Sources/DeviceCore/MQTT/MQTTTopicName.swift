/// A topic name checked once against MQTT 3.1.1 (non-empty, at most 65,535 bytes of UTF-8
/// without U+0000, no wildcard), so that publishing to it again and again skips the check:
/// `MQTTPublish.encode(topic:payload:qos:packetID:retain:dup:into:)` and
/// `MQTTSession.publish(topic:payload:qos:retain:)` take one. The bytes it views must outlive it
/// and must not change.
public struct MQTTTopicName: Equatable {
    /// The topic's bytes, as validated.
    public let bytes: ByteView

    /// Checks `bytes` as a topic name; throws `.invalid(rule)` for the first rule it breaks,
    /// as encoding a PUBLISH with that topic would.
    public init(validating bytes: ByteView) throws(MQTTEncodeError) {
        try Self.check(bytes)
        self.bytes = bytes
    }

    /// The checks of `init(validating:)`, inlined there and where a topic is checked for each
    /// packet (`MQTTPublish.encode(into:)`).
    @inline(__always)
    static func check(_ bytes: ByteView) throws(MQTTEncodeError) {
        if bytes.count > 65_535 { throw .invalid(.stringTooLong(length: bytes.count)) }
        if let failure = MQTTValidation.checkTopicName(bytes) { throw .invalid(failure.rule) }
    }
}
