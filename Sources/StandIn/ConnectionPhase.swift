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
    var deadline: DeviceInstant { since + limit }

    /// Why the connection must close at `now`, or `nil` while within its deadline.
    func expired(at now: DeviceInstant) -> String? {
        guard now >= deadline else { return nil }
        switch step {
        case .handshaking:
            return "handshake timeout (not finished \(limit.secondsText) after the TCP connection)"
        case .awaitingConnect:
            return "CONNECT timeout (no CONNECT \(limit.secondsText) after the TLS handshake)"
        case .connected(let keepAlive):
            let silence = timeouts.silenceName(keepAlive: keepAlive)
            return "\(silence.name) (nothing received for \(limit.secondsText); \(silence.why))"
        }
    }

    /// How long the current step may take.
    private var limit: DeviceDuration {
        switch step {
        case .handshaking: return timeouts.handshake
        case .awaitingConnect: return timeouts.connect
        case .connected(let keepAlive): return timeouts.silenceLimit(keepAlive: keepAlive)
        }
    }
}
