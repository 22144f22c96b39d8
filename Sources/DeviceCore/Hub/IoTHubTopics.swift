/// Who the device is on IoT Hub and how it introduces itself.
public struct IoTHubConfiguration {
    /// The hub's host name, e.g. `contoso.azure-devices.net` (DPS's `assignedHub`).
    public var hostName: ByteView
    public var deviceID: ByteView
    /// For a module identity; `nil` for the device itself.
    public var moduleID: ByteView?
    /// IoT Plug and Play model id (`dtmi:…`), sent as `&model-id=`; `nil` leaves it out.
    public var modelID: ByteView?
    /// Sent as `&DeviceClientType=` (percent-encoded); `nil` leaves it out.
    public var clientType: ByteView?

    public init(hostName: ByteView, deviceID: ByteView, moduleID: ByteView? = nil, modelID: ByteView? = nil, clientType: ByteView? = nil) {
        self.hostName = hostName
        self.deviceID = deviceID
        self.moduleID = moduleID
        self.modelID = modelID
        self.clientType = clientType
    }
}

/// IoT Hub's MQTT names: client id, user name, telemetry and cloud-to-device topics.
/// Facts from `azure-iot-mqtt.md` §2.
public enum IoTHubTopics {
    public static let apiVersion: StaticString = "2021-04-12"
    /// IoT Hub's limit for one device-to-cloud message.
    public static let maximumMessageSize = 262_144

    /// `{deviceId}` or `{deviceId}/{moduleId}`.
    public static func clientID(_ configuration: IoTHubConfiguration, into writer: inout TextWriter) {
        writer.append(configuration.deviceID)
        if let module = configuration.moduleID {
            writer.append("/")
            writer.append(module)
        }
    }

    /// `{hub}/{deviceId}[/{moduleId}]/?api-version=2021-04-12[&DeviceClientType=…][&model-id=…]`.
    public static func userName(_ configuration: IoTHubConfiguration, into writer: inout TextWriter) {
        writer.append(configuration.hostName)
        writer.append("/")
        clientID(configuration, into: &writer)
        writer.append("/?api-version=")
        writer.append(apiVersion)
        if let clientType = configuration.clientType {
            writer.append("&DeviceClientType=")
            PercentEncoding.encode(clientType, into: &writer)
        }
        if let model = configuration.modelID {
            writer.append("&model-id=")
            PercentEncoding.encode(model, into: &writer)
        }
    }

    /// `devices/{deviceId}[/modules/{moduleId}]/messages/events/` followed by the property bag.
    public static func telemetryTopic(
        _ configuration: IoTHubConfiguration, properties: TelemetryProperties = TelemetryProperties(), into writer: inout TextWriter
    ) {
        writer.append("devices/")
        writer.append(configuration.deviceID)
        if let module = configuration.moduleID {
            writer.append("/modules/")
            writer.append(module)
        }
        writer.append("/messages/events/")
        properties.write(into: &writer)
    }

    /// `devices/{deviceId}/messages/devicebound/#`, the cloud-to-device subscription.
    public static func cloudToDeviceFilter(deviceID: ByteView, into writer: inout TextWriter) {
        writer.append("devices/")
        writer.append(deviceID)
        writer.append("/messages/devicebound/#")
    }

    /// The still-encoded property bag of a cloud-to-device message's topic
    /// (`devices/{deviceId}/messages/devicebound/{bag}`), or `nil` if the topic is not one.
    public static func cloudToDeviceProperties(topic: ByteView, deviceID: ByteView) -> ByteView? {
        var rest = topic
        guard rest.removePrefix(ByteView("devices/")), rest.removePrefix(deviceID),
            rest.removePrefix(ByteView("/messages/devicebound/"))
        else { return nil }
        return rest
    }
}

/// The system and application properties of a telemetry message, written as the topic's
/// URL-encoded property bag. System property keys are written as IoT Hub documents them
/// (`$.ct`); values and application keys are percent-encoded.
public struct TelemetryProperties {
    /// `$.ct`, e.g. `application/json`.
    public var contentType: ByteView?
    /// `$.ce`, e.g. `utf-8`.
    public var contentEncoding: ByteView?
    /// `$.mid`
    public var messageID: ByteView?
    /// `$.cid`
    public var correlationID: ByteView?
    /// `$.ctime`, an ISO 8601 time.
    public var creationTime: ByteView?
    /// Application properties, in order; must outlive the call that writes them.
    public var application: UnsafeBufferPointer<(key: ByteView, value: ByteView)>?

    public init(
        contentType: ByteView? = nil, contentEncoding: ByteView? = nil, messageID: ByteView? = nil,
        correlationID: ByteView? = nil, creationTime: ByteView? = nil,
        application: UnsafeBufferPointer<(key: ByteView, value: ByteView)>? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.messageID = messageID
        self.correlationID = correlationID
        self.creationTime = creationTime
        self.application = application
    }

    /// The properties IoT Hub routing needs to read a JSON body.
    public static var json: TelemetryProperties {
        TelemetryProperties(contentType: ByteView("application/json"), contentEncoding: ByteView("utf-8"))
    }

    func write(into writer: inout TextWriter) {
        var separator = false
        Self.property(ByteView("$.ct"), contentType, &separator, &writer)
        Self.property(ByteView("$.ce"), contentEncoding, &separator, &writer)
        Self.property(ByteView("$.mid"), messageID, &separator, &writer)
        Self.property(ByteView("$.cid"), correlationID, &separator, &writer)
        Self.property(ByteView("$.ctime"), creationTime, &separator, &writer)
        guard let application else { return }
        var i = 0
        while i < application.count {
            Self.property(application[i].key, application[i].value, &separator, &writer, encodingKey: true)
            i += 1
        }
    }

    /// `key=value` after a `&` unless it is the first, the value percent-encoded, and the key
    /// too when `encodingKey` (an application property's; a system key is written as IoT Hub
    /// documents it); nothing when `value` is `nil`. Out of line: one copy for every property.
    @inline(never)
    private static func property(
        _ key: ByteView, _ value: ByteView?, _ separator: inout Bool, _ writer: inout TextWriter, encodingKey: Bool = false
    ) {
        guard let value else { return }
        if separator { writer.append(UInt8(ascii: "&")) }
        separator = true
        if encodingKey { PercentEncoding.encode(key, into: &writer) } else { writer.append(key) }
        writer.append(UInt8(ascii: "="))
        PercentEncoding.encode(value, into: &writer)
    }
}
