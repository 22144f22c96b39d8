import DeviceCore

/// A direct-method call from IoT Hub. Views point into the receive buffer: valid until the
/// next session event, so answer (or copy what you need) before asking for the next one.
public struct DirectMethodRequest: Equatable {
    /// The method's name as IoT Hub sent it; for Plug and Play `component*command`.
    public var name: ByteView
    /// The request id, echoed unchanged in the response topic.
    public var requestID: ByteView
    /// The request's JSON payload (`null` when the caller gave none).
    public var payload: ByteView

    /// For IoT Plug and Play: the component of a `component*command` name, `nil` for a
    /// command of the default component.
    public var component: ByteView? { split().component }

    /// For IoT Plug and Play: the command, the part of the name after `*` (the whole name
    /// without one).
    public var command: ByteView { split().command }

    private func split() -> (component: ByteView?, command: ByteView) {
        var i = 0
        while i < name.count {
            if name[i] == UInt8(ascii: "*") {
                return (name.slice(from: 0, count: i), name.slice(from: i + 1, count: name.count - i - 1))
            }
            i += 1
        }
        return (nil, name)
    }
}

/// Direct methods' MQTT names: the subscription, the reading of a request's topic and the
/// response topic. Facts from `azure-iot-mqtt.md` §2.
public enum DirectMethods {
    /// Method calls arrive here.
    public static let requestFilter: StaticString = "$iothub/methods/POST/#"
    static let requestPrefix: StaticString = "$iothub/methods/POST/"

    /// Reads a method call, `$iothub/methods/POST/{name}/?$rid={rid}`: `nil` if `topic` is not
    /// one, an error if it is one but has no name, no query or no `$rid`.
    public static func parseRequest(topic: ByteView, payload: ByteView) throws(IoTHubProtocolError) -> DirectMethodRequest? {
        let prefix = ByteView(requestPrefix)
        guard topic.hasPrefix(prefix) else { return nil }
        var end = prefix.count
        while end < topic.count && topic[end] != UInt8(ascii: "/") { end += 1 }
        guard end > prefix.count else { throw .malformedTopic(offset: end) }
        guard end + 1 < topic.count, topic[end + 1] == UInt8(ascii: "?") else { throw .malformedTopic(offset: end + 1 < topic.count ? end + 1 : topic.count) }
        var query = TopicQuery(topic, from: end + 2)
        var requestID: ByteView?
        do throws(TopicQuery.Malformed) {
            while let pair = try query.next() {
                if pair.key == ByteView("$rid") {
                    guard !pair.value.isEmpty else { throw TopicQuery.Malformed(offset: pair.offset) }
                    requestID = pair.value
                }
            }
        } catch {
            throw .malformedTopic(offset: error.offset)
        }
        guard let requestID else { throw .missingTopicKey("$rid") }
        return DirectMethodRequest(name: topic.slice(from: prefix.count, count: end - prefix.count), requestID: requestID, payload: payload)
    }

    /// `$iothub/methods/res/{status}/?$rid={rid}`; the payload is the response's JSON (IoT Hub
    /// hands `status` and the payload to the caller as they are).
    public static func responseTopic(status: Int, requestID: ByteView, into writer: inout TextWriter) {
        writer.append("$iothub/methods/res/")
        writer.appendDecimal(status)
        writer.append("/?$rid=")
        writer.append(requestID)
    }
}
