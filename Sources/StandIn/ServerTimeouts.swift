import DeviceCore

/// How long a stand-in connection may take over each step before the server closes it, so that
/// clients that stall cannot hold a connection (and its file descriptor) for ever.
public struct ServerTimeouts: Sendable, Equatable, CustomStringConvertible {
    /// From the TCP connection to the end of the TLS handshake.
    public var handshake: DeviceDuration
    /// From the end of the TLS handshake to CONNECT (MQTT-3.1.4: a server should close a
    /// connection whose CONNECT does not come in reasonable time).
    public var connect: DeviceDuration
    /// The longest silence after CONNECT: with keep-alive 0 (no keep-alive timeout), and when
    /// 1.5 × the keep-alive is longer (as IoT Hub caps it at 1767 s).
    public var idle: DeviceDuration

    public init(handshake: DeviceDuration = .seconds(10), connect: DeviceDuration = .seconds(10), idle: DeviceDuration = .seconds(1767)) {
        self.handshake = handshake
        self.connect = connect
        self.idle = idle
    }

    /// For the log: `handshake 10 s, CONNECT 10 s, keep-alive 1.5 × (MQTT-3.1.2-24), idle at most 1767 s`.
    public var description: String {
        "handshake \(handshake.secondsText), CONNECT \(connect.secondsText), keep-alive 1.5 × (MQTT-3.1.2-24), idle at most \(idle.secondsText)"
    }

    /// The longest silence allowed after a CONNECT with `keepAlive` seconds: 1.5 × the
    /// keep-alive (MQTT-3.1.2-24), at most `idle`; `idle` for keep-alive 0.
    func silenceLimit(keepAlive: UInt16) -> DeviceDuration {
        let keepAliveLimit = DeviceDuration.milliseconds(Int32(keepAlive) * 1500)
        return keepAlive == 0 ? idle : min(idle, keepAliveLimit)
    }

    /// Which limit `silenceLimit` is, and why, for the log.
    func silenceName(keepAlive: UInt16) -> (name: String, why: String) {
        if keepAlive == 0 { return ("idle timeout", "keep-alive 0") }
        if idle < .milliseconds(Int32(keepAlive) * 1500) { return ("idle timeout", "less than 1.5 × keep-alive \(keepAlive) s") }
        return ("keep-alive timeout", "1.5 × keep-alive \(keepAlive) s")
    }
}

extension DeviceDuration {
    /// Seconds with as many decimals as needed: `10 s`, `1.5 s`, `0.25 s`.
    var secondsText: String {
        let whole = milliseconds / 1000
        var fraction = milliseconds % 1000
        guard fraction != 0 else { return "\(whole) s" }
        var digits = 3
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = String(fraction)
        return "\(whole).\(String(repeating: "0", count: digits - text.count))\(text) s"
    }
}
