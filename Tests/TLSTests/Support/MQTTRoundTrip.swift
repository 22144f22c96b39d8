import DeviceCore
import LinuxBoard
import TestSupport

/// What one MQTT exchange over a transport showed.
struct RoundTrip: Equatable {
    var connected = false
    var publishedPacketID: UInt16 = 0
    var acknowledged = false
}

/// Connects with `MQTTClient` over `transport` (CONNECT/CONNACK), publishes one QoS 1
/// telemetry message, waits for its PUBACK, and disconnects.
func connectAndPublish(_ transport: TLSTransport, clientID: StaticString = "device1") throws -> RoundTrip {
    let buffers = SessionBuffers(receive: 2048, transmit: 512, outbox: 1024, window: 4)
    defer { withExtendedLifetime(buffers) {} }  // the session uses its memory to the end
    let configuration = MQTTSessionConfiguration(
        connect: MQTTConnect(clientID: ByteView(clientID), cleanSession: true, keepAlive: 30),
        connackTimeout: .seconds(10), acknowledgementTimeout: .seconds(10))
    let clock = MonotonicClock()
    var client = MQTTClient(session: MQTTSession(configuration: configuration, memory: buffers.memory), transport: transport, clock: clock)
    client.ioTimeout = .milliseconds(500)
    var trip = RoundTrip()
    try client.connect()
    trip.connected = true
    let id = try client.session.publish(
        topic: ByteView("devices/device1/messages/events/"), payload: ByteView("{\"temperature\":21.5}"), qos: .atLeastOnce)
    trip.publishedPacketID = id
    let deadline = clock.now() + .seconds(10)
    while !trip.acknowledged && clock.now() < deadline {
        try client.poll(until: clock.now() + .seconds(1)) { event in
            if case .published(let packetID) = event, packetID == id { trip.acknowledged = true }
        }
    }
    client.disconnect()
    return trip
}

/// The failure of `transport.open()`, or `nil` when it connected (then it is closed again).
func openFailure(_ transport: TLSTransport) -> TLSFailure? {
    do throws(TLSFailure) {
        try transport.open()
        transport.close()
        return nil
    } catch {
        return error
    }
}
