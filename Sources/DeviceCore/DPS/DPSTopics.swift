/// The Device Provisioning Service's MQTT names: user name, topics, request bodies.
/// Facts from `azure-iot-mqtt.md` §1; everything is written as UTF-8 into caller buffers.
public enum DPSTopics {
    /// The API version DPS devices speak.
    public static let apiVersion: StaticString = "2019-03-31"
    /// The filter every DPS client subscribes to (QoS 1) before its first request.
    public static let responseFilter: StaticString = "$dps/registrations/res/#"
    static let responsePrefix: StaticString = "$dps/registrations/res/"

    /// `{idScope}/registrations/{registrationId}/api-version=2019-03-31[&ClientVersion={ua}]`,
    /// the user agent percent-encoded.
    public static func userName(idScope: ByteView, registrationID: ByteView, userAgent: ByteView?, into writer: inout TextWriter) {
        writer.append(idScope)
        writer.append("/registrations/")
        writer.append(registrationID)
        writer.append("/api-version=")
        writer.append(apiVersion)
        if let userAgent, !userAgent.isEmpty {
            writer.append("&ClientVersion=")
            PercentEncoding.encode(userAgent, into: &writer)
        }
    }

    /// `$dps/registrations/PUT/iotdps-register/?$rid={rid}`
    public static func registerTopic(requestID: UInt32, into writer: inout TextWriter) {
        writer.append("$dps/registrations/PUT/iotdps-register/?$rid=")
        writer.appendDecimal(Int64(widening: UInt(requestID)))
    }

    /// `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={operationId}`
    public static func pollTopic(requestID: UInt32, operationID: ByteView, into writer: inout TextWriter) {
        writer.append("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=")
        writer.appendDecimal(Int64(widening: UInt(requestID)))
        writer.append("&operationId=")
        PercentEncoding.encode(operationID, into: &writer)
    }

    /// `{"registrationId":"{id}"}` or, with a custom payload (raw JSON, passed through),
    /// `{"registrationId":"{id}","payload":{...}}`.
    public static func registerBody(registrationID: ByteView, payload: ByteView?, into json: inout JSONWriter) {
        json.beginObject()
        json.key("registrationId")
        json.string(registrationID)
        if let payload {
            json.key("payload")
            json.raw(payload)
        }
        json.endObject()
    }

    /// What a response topic says: `$dps/registrations/res/{status}/?$rid={rid}&retry-after={s}`,
    /// query keys in any order, either may be absent.
    public struct Response: Equatable, Sendable {
        public var status: UInt16
        public var requestID: UInt32?
        /// Seconds, as sent (not yet clamped).
        public var retryAfter: UInt32?
    }

    /// Parses a response topic; `nil` if the topic is not a DPS response at all, an error if it
    /// is one but malformed.
    public static func parseResponse(_ topic: ByteView) throws(DPSProtocolError) -> Response? {
        let prefix = ByteView(responsePrefix)
        guard topic.hasPrefix(prefix) else { return nil }
        let (parsed, errorOffset) = ResponseTopicTail.parse(topic, from: prefix.count)
        guard var tail = parsed else { throw .malformedResponseTopic(offset: errorOffset) }
        var response = Response(status: tail.status, requestID: nil, retryAfter: nil)
        do throws(TopicQuery.Malformed) {
            while let pair = try tail.query.next() {
                if pair.key == ByteView("$rid") {
                    response.requestID = UInt32(truncatingIfNeeded: try pair.decimal(maximum: UInt64(UInt32.max)))
                } else if pair.key == ByteView("retry-after") {
                    response.retryAfter = UInt32(truncatingIfNeeded: try pair.decimal(maximum: UInt64(UInt32.max)))
                }
            }
        } catch {
            throw .malformedResponseTopic(offset: error.offset)
        }
        return response
    }
}
