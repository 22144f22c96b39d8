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
        // Every read is at an index just compared with `count`.
        let count = topic.count
        let statusEnd = prefix.count + 3
        var position = prefix.count
        var status: UInt32 = 0
        while position < count, let digit = decimalDigit(topic.byte(at: position)) {
            status = status &* 10 &+ digit
            position &+= 1
            if position > statusEnd { throw .malformedResponseTopic(offset: position) }
        }
        guard position == statusEnd else { throw .malformedResponseTopic(offset: position) }
        var response = Response(status: UInt16(truncatingIfNeeded: status), requestID: nil, retryAfter: nil)
        // Expect "/?" then the query; a bare "/" or nothing means no query.
        if position < count && topic.byte(at: position) == UInt8(ascii: "/") { position &+= 1 }
        if position == count { return response }
        guard topic.byte(at: position) == UInt8(ascii: "?") else { throw .malformedResponseTopic(offset: position) }
        position &+= 1
        // The query as `PropertyBagReader` reads it (empty pairs skipped, a pair without `=` has an
        // empty value, `%` must start two hex digits, no empty key), walked here in one loop with
        // one site for both numbers; anything malformed is reported at the query's start.
        var start = position
        while start < count {
            var end = start
            var equals = count  // none yet
            while end < count {
                let byte = topic.byte(at: end)
                if byte == UInt8(ascii: "&") { break }
                if byte == UInt8(ascii: "=") && equals == count { equals = end }
                if byte == UInt8(ascii: "%") {
                    guard end &+ 2 < count, hexValue(topic.byte(at: end &+ 1)) != nil, hexValue(topic.byte(at: end &+ 2)) != nil else {
                        throw .malformedResponseTopic(offset: position)
                    }
                    end &+= 2
                }
                end &+= 1
            }
            if equals == start { throw .malformedResponseTopic(offset: position) }
            let keyEnd = equals < end ? equals : end
            let key = topic.slice(from: start, count: keyEnd &- start)
            let isRequestID = key == ByteView("$rid")
            if isRequestID || key == ByteView("retry-after") {
                let value = equals < end ? topic.slice(from: equals &+ 1, count: end &- equals &- 1) : ByteView()
                guard let number = parseDecimal(value) else { throw .malformedResponseTopic(offset: position) }
                if isRequestID { response.requestID = number } else { response.retryAfter = number }
            }
            start = end &+ 1
        }
        return response
    }

    @inline(__always)
    static func decimalDigit(_ byte: UInt8) -> UInt32? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? UInt32(byte &- UInt8(ascii: "0")) : nil
    }

    /// A non-empty run of decimal digits that fits in 32 bits.
    static func parseDecimal(_ text: ByteView) -> UInt32? {
        guard !text.isEmpty else { return nil }
        var value: UInt32 = 0
        var i = 0
        while i < text.count {
            guard let digit = decimalDigit(text[i]) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = sum
            i += 1
        }
        return value
    }
}
