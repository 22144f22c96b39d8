/// What a device does on IoT Hub beyond telemetry (the twin, direct methods) while
/// `DeviceFlow.sendTelemetry` runs. The flow calls it at each step of the connection and
/// publishes what it asks for; it never touches the session. `NoHubFeatures` is for a device
/// that only sends telemetry, and links none of this (the time is passed as an autoclosure, so
/// that such a device does not even read its clock for it); `TwinAndMethods` in the module
/// DeviceTwinAndMethods is the twin and direct methods.
public protocol HubFeatures {
    /// CONNACK accepted (first connection and every reconnect).
    mutating func connected(now: @autoclosure () -> DeviceInstant)
    /// The connection dropped; nothing is published until `connected(now:)`.
    mutating func connectionLost()
    /// An inbound PUBLISH that is not a cloud-to-device message.
    mutating func received(_ publish: MQTTPublish, now: @autoclosure () -> DeviceInstant)
    /// The next message to publish at QoS 0, or `nil`; called until `nil` after every step.
    /// Its views must stay valid until the next call.
    mutating func nextPublish(now: @autoclosure () -> DeviceInstant) -> (topic: ByteView, payload: ByteView)?
    /// When `nextPublish(now:)` will have something, if it waits for a time.
    var nextDeadline: DeviceInstant? { get }
}

/// A device that only sends telemetry.
public struct NoHubFeatures: HubFeatures {
    public init() {}
    @inline(__always) public mutating func connected(now: @autoclosure () -> DeviceInstant) {}
    @inline(__always) public mutating func connectionLost() {}
    @inline(__always) public mutating func received(_ publish: MQTTPublish, now: @autoclosure () -> DeviceInstant) {}
    @inline(__always) public mutating func nextPublish(now: @autoclosure () -> DeviceInstant) -> (topic: ByteView, payload: ByteView)? { nil }
    @inline(__always) public var nextDeadline: DeviceInstant? { nil }
}
