/// Why a telemetry topic could not be made.
public enum IoTHubError: Error, Equatable {
    /// The body is larger than IoT Hub accepts (256 KB); nothing was sent.
    case messageTooLarge(size: Int, limit: Int)
    /// The topic buffer cannot hold the topic and its property bag.
    case bufferTooSmall(BufferTooSmall)
}

/// A cloud-to-device message: its payload and the still-encoded property bag of its topic.
/// Views point into the receive buffer: valid until the next session event.
public struct CloudToDeviceMessage {
    public var properties: ByteView
    public var payload: ByteView

    /// Reads the properties, percent-encoded; decode values with `PercentEncoding.decode`.
    public func propertyReader() -> PropertyBagReader { PropertyBagReader(properties) }
}

/// IoT Hub device-to-cloud and cloud-to-device messaging: the topics to publish on and the
/// reading of what arrives. It never touches the session; `DeviceFlow.sendTelemetry` publishes.
public struct IoTHubClient {
    public let configuration: IoTHubConfiguration
    private let topicBuffer: UnsafeMutableRawBufferPointer

    /// A client writing telemetry topics into `topicBuffer`, reused for every message.
    public init(configuration: IoTHubConfiguration, topicBuffer: UnsafeMutableRawBufferPointer) {
        self.configuration = configuration
        self.topicBuffer = topicBuffer
    }

    /// CONNECT for IoT Hub: client id and user name written one after the other into `buffer`
    /// (which must outlive the session), persistent session, no password (X.509; pass a SAS
    /// token for symmetric keys). `BufferTooSmall` gives the size of both together.
    public static func connectPacket(
        for configuration: IoTHubConfiguration, keepAlive: UInt16 = 240, password: ByteView? = nil,
        buffer: UnsafeMutableRawBufferPointer
    ) throws(BufferTooSmall) -> MQTTConnect {
        var writer = TextWriter(into: buffer)
        IoTHubTopics.clientID(configuration, into: &writer)
        let clientIDCount = writer.count
        IoTHubTopics.userName(configuration, into: &writer)
        let text = try writer.finish()
        return MQTTConnect(
            clientID: text.slice(from: 0, count: clientIDCount), cleanSession: false, keepAlive: keepAlive,
            userName: text.slice(from: clientIDCount, count: text.count - clientIDCount), password: password)
    }

    /// The topic to publish `payload` on as telemetry with `properties`, written into the topic
    /// buffer (valid until the next call; the session copies it when it queues the message).
    /// Publish at QoS 1: the session's `.published` event for its packet id means IoT Hub has it.
    public func telemetryTopic(for payload: ByteView, properties: TelemetryProperties = .json) throws(IoTHubError) -> ByteView {
        if payload.count > IoTHubTopics.maximumMessageSize {
            throw .messageTooLarge(size: payload.count, limit: IoTHubTopics.maximumMessageSize)
        }
        var writer = TextWriter(into: topicBuffer)
        IoTHubTopics.telemetryTopic(configuration, properties: properties, into: &writer)
        do throws(BufferTooSmall) { return try writer.finish() } catch {
            throw .bufferTooSmall(error)
        }
    }

    /// The cloud-to-device message in an inbound PUBLISH, or `nil` if it is something else.
    public func cloudToDeviceMessage(in publish: MQTTPublish) -> CloudToDeviceMessage? {
        guard let bag = IoTHubTopics.cloudToDeviceProperties(topic: publish.topic, deviceID: configuration.deviceID) else { return nil }
        return CloudToDeviceMessage(properties: bag, payload: publish.payload)
    }
}
