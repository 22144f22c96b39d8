import DeviceCore

/// The device twin's MQTT names: what the device subscribes to and publishes on, and the
/// reading of the topics IoT Hub answers on. Facts from `azure-iot-mqtt.md` §2.
public enum TwinTopics {
    /// Answers to GET and PATCH requests arrive here.
    public static let responseFilter: StaticString = "$iothub/twin/res/#"
    /// Desired-property patches arrive here.
    public static let desiredPatchFilter: StaticString = "$iothub/twin/PATCH/properties/desired/#"
    static let responsePrefix: StaticString = "$iothub/twin/res/"
    static let desiredPatchPrefix: StaticString = "$iothub/twin/PATCH/properties/desired/"

    /// `$iothub/twin/GET/?$rid={rid}`; publish it with an empty payload.
    public static func getTopic(requestID: UInt32, into writer: inout TextWriter) {
        writer.append("$iothub/twin/GET/?$rid=")
        writer.appendDecimal(Int64(widening: UInt(requestID)))
    }

    /// `$iothub/twin/PATCH/properties/reported/?$rid={rid}`; the payload is the patch.
    public static func reportedPatchTopic(requestID: UInt32, into writer: inout TextWriter) {
        writer.append("$iothub/twin/PATCH/properties/reported/?$rid=")
        writer.appendDecimal(Int64(widening: UInt(requestID)))
    }

    /// What a response topic says: `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`.
    public struct Response: Equatable, Sendable {
        public var status: UInt16
        public var requestID: UInt32
        /// The reported properties' new version (on 204), if given.
        public var version: Int64?
        /// Seconds to wait before asking again (on 429), if given.
        public var retryAfter: UInt32?
    }

    /// Parses a twin response topic: `nil` if `topic` is not one, an error if it is one but
    /// malformed or without `$rid`.
    public static func parseResponse(_ topic: ByteView) throws(IoTHubProtocolError) -> Response? {
        let prefix = ByteView(responsePrefix)
        guard topic.hasPrefix(prefix) else { return nil }
        let (parsed, errorOffset) = ResponseTopicTail.parse(topic, from: prefix.count)
        guard var tail = parsed else { throw .malformedTopic(offset: errorOffset) }
        var requestID: UInt32?
        var response = Response(status: tail.status, requestID: 0, version: nil, retryAfter: nil)
        do throws(TopicQuery.Malformed) {
            while let pair = try tail.query.next() {
                if pair.key == ByteView("$rid") {
                    requestID = UInt32(truncatingIfNeeded: try pair.decimal(maximum: DecimalText.maximum32))
                } else if pair.key == ByteView("$version") {
                    response.version = Int64(bitPattern: try pair.decimal(maximum: DecimalText.maximumInt64))
                } else if pair.key == ByteView("retry-after") {
                    response.retryAfter = UInt32(truncatingIfNeeded: try pair.decimal(maximum: DecimalText.maximum32))
                }
            }
        } catch {
            throw .malformedTopic(offset: error.offset)
        }
        guard let requestID else { throw .missingTopicKey("$rid") }
        response.requestID = requestID
        return response
    }

    /// Parses a desired-patch topic, `$iothub/twin/PATCH/properties/desired/?$version={v}`:
    /// `nil` if `topic` is not one; otherwise the version the topic gives, `.some(nil)` when it
    /// gives none (the body's `$version` then orders the patch).
    public static func parseDesiredPatch(_ topic: ByteView) throws(IoTHubProtocolError) -> Int64?? {
        let prefix = ByteView(desiredPatchPrefix)
        guard topic.hasPrefix(prefix) else { return nil }
        if prefix.count == topic.count { return .some(nil) }
        guard topic[prefix.count] == UInt8(ascii: "?") else { throw .malformedTopic(offset: prefix.count) }
        var query = TopicQuery(topic, from: prefix.count + 1)
        var version: Int64?
        do throws(TopicQuery.Malformed) {
            while let pair = try query.next() {
                if pair.key == ByteView("$version") { version = Int64(bitPattern: try pair.decimal(maximum: DecimalText.maximumInt64)) }
            }
        } catch {
            throw .malformedTopic(offset: error.offset)
        }
        return .some(version)
    }
}
