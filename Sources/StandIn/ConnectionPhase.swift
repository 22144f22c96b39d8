import DeviceCore

/// Where a stand-in connection is in its life: the TLS handshake, then waiting for CONNECT, then
/// connected. It knows the MQTT rules on the order of packets (MQTT-3.1.0-1: CONNECT first;
/// MQTT-3.1.0-2: only once) and the deadline of each step (`ServerTimeouts`).
struct ConnectionPhase {
    enum Step: Equatable {
        case handshaking
        case awaitingConnect
        case connected(keepAlive: UInt16)
    }

    let timeouts: ServerTimeouts
    private(set) var step = Step.handshaking
    /// When the step began, or when the last packet came once connected.
    private var since: DeviceInstant

    init(timeouts: ServerTimeouts, acceptedAt now: DeviceInstant) {
        self.timeouts = timeouts
        since = now
    }

    mutating func handshakeFinished(at now: DeviceInstant) {
        step = .awaitingConnect
        since = now
    }

    /// Takes note of a packet from the client; returns the protocol violation it is, if any,
    /// in words for the log (the connection must then be closed without an answer). A CONNECT
    /// in its place starts the connected step, bounded by its keep-alive.
    mutating func received(_ packet: MQTTPacket, at now: DeviceInstant) -> String? {
        switch (step, packet) {
        case (.handshaking, _):
            return "protocol violation: MQTT before the end of the TLS handshake"
        case (.awaitingConnect, .connect(let connect)):
            step = .connected(keepAlive: connect.keepAlive)
        case (.awaitingConnect, _):
            return "protocol violation: \(packet.type.name) before CONNECT (MQTT-3.1.0-1)"
        case (.connected, .connect):
            return "protocol violation: a second CONNECT (MQTT-3.1.0-2)"
        case (.connected, _):
            break
        }
        since = now
        return nil
    }

    /// When the current step times out.
    var deadline: DeviceInstant { since + limit.duration }

    /// Why the connection must close at `now`, or `nil` while within its deadline.
    func expired(at now: DeviceInstant) -> String? {
        guard now >= deadline else { return nil }
        return limit.reason
    }

    private var limit: (duration: DeviceDuration, reason: String) {
        switch step {
        case .handshaking:
            return (timeouts.handshake, "handshake timeout (not finished \(timeouts.handshake.secondsText) after the TCP connection)")
        case .awaitingConnect:
            return (timeouts.connect, "CONNECT timeout (no CONNECT \(timeouts.connect.secondsText) after the TLS handshake)")
        case .connected(let keepAlive):
            let silence = timeouts.silenceLimit(keepAlive: keepAlive)
            return (silence.limit, "\(silence.name) (nothing received for \(silence.limit.secondsText); \(silence.why))")
        }
    }
}
