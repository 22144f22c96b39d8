/// Why a telemetry message was not queued.
public enum IoTHubError: Error, Equatable {
    /// The body is larger than IoT Hub accepts (256 KB); nothing was sent.
    case messageTooLarge(size: Int, limit: Int)
    /// The topic buffer cannot hold the topic and its property bag.
    case topicBufferTooSmall(needed: Int, capacity: Int)
    /// The session refused the publish (back-pressure, not connected, …).
    case session(MQTTSessionError)
}

/// A cloud-to-device message: its payload and the still-encoded property bag of its topic.
/// Views point into the receive buffer: valid until the next session event.
public struct CloudToDeviceMessage {
    public var properties: ByteView
    public var payload: ByteView

    /// Reads the properties, percent-encoded; decode values with `PercentEncoding.decode`.
    public func propertyReader() -> PropertyBagReader { PropertyBagReader(properties) }
}

/// IoT Hub device-to-cloud and cloud-to-device messaging on top of an `MQTTSession`.
public struct IoTHubClient {
    public let configuration: IoTHubConfiguration
    private let topicBuffer: UnsafeMutableRawBufferPointer

    /// A client writing telemetry topics into `topicBuffer` (the topic is copied into the
    /// session's outbox, so the buffer is reused for every message).
    public init(configuration: IoTHubConfiguration, topicBuffer: UnsafeMutableRawBufferPointer) {
        self.configuration = configuration
        self.topicBuffer = topicBuffer
    }

    /// CONNECT for IoT Hub: client id and user name written into `buffer` (which must outlive
    /// the session), persistent session, no password (X.509; pass a SAS token for symmetric keys).
    public static func connectPacket(
        for configuration: IoTHubConfiguration, keepAlive: UInt16 = 240, password: ByteView? = nil,
        buffer: UnsafeMutableRawBufferPointer
    ) throws(TextOverflow) -> MQTTConnect {
        var clientWriter = TextWriter(into: buffer)
        IoTHubTopics.clientID(configuration, into: &clientWriter)
        let clientID = try clientWriter.finish()
        var userWriter = TextWriter(into: UnsafeMutableRawBufferPointer(rebasing: buffer[clientID.count...]))
        IoTHubTopics.userName(configuration, into: &userWriter)
        let userName = try userWriter.finish()
        return MQTTConnect(clientID: clientID, cleanSession: false, keepAlive: keepAlive, userName: userName, password: password)
    }

    /// Queues one telemetry message (QoS 1 unless told otherwise) and returns its packet id;
    /// the session's `.published` event for that id means IoT Hub has it.
    @discardableResult
    public func sendTelemetry(
        _ payload: ByteView, properties: TelemetryProperties = .json, qos: QoS = .atLeastOnce, session: inout MQTTSession
    ) throws(IoTHubError) -> UInt16 {
        if payload.count > IoTHubTopics.maximumMessageSize {
            throw .messageTooLarge(size: payload.count, limit: IoTHubTopics.maximumMessageSize)
        }
        var writer = TextWriter(into: topicBuffer)
        IoTHubTopics.telemetryTopic(configuration, properties: properties, into: &writer)
        let topic: ByteView
        do throws(TextOverflow) { topic = try writer.finish() } catch {
            throw .topicBufferTooSmall(needed: error.needed, capacity: topicBuffer.count)
        }
        do throws(MQTTSessionError) {
            return try session.publish(topic: topic, payload: payload, qos: qos)
        } catch {
            throw .session(error)
        }
    }

    /// The cloud-to-device message in an inbound PUBLISH, or `nil` if it is something else.
    public func cloudToDeviceMessage(in publish: MQTTPublish) -> CloudToDeviceMessage? {
        guard let bag = IoTHubTopics.cloudToDeviceProperties(topic: publish.topic, deviceID: configuration.deviceID) else { return nil }
        return CloudToDeviceMessage(properties: bag, payload: publish.payload)
    }
}
