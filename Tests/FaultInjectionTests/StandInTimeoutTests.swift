import DeviceCore
import LinuxBoard
@testable import StandIn
import Testing

// The DPS stand-in's deadlines (`ServerTimeouts`): the TLS handshake, CONNECT, and the silence
// after CONNECT (1.5 × keep-alive, at most the idle limit). Short timeouts, so that the tests
// are quick; the waits for the close are generous upper bounds that only prove there is no hang.

@Suite("DPS stand-in: timeouts", .serialized)
struct StandInTimeoutTests {
    static let short = ServerTimeouts(handshake: .milliseconds(300), connect: .milliseconds(300), idle: .milliseconds(300))

    @Test func silentTCPClientIsClosedAtTheHandshakeTimeout() throws {
        let standIn = try DPSStandIn(pki: try TestPKI.get(), timeouts: Self.short)
        defer { standIn.stop() }
        var client = try tcpClient(port: standIn.port)
        defer { client.close() }
        #expect(readUntilClosed(&client) == ServerEnding(bytes: [], failure: .closedByPeer))
        #expect(standIn.line(containing: "TLS handshake failed") == "127.0.0.1#1 TLS handshake failed: handshake timeout (not finished 0.3 s after the TCP connection)")
    }

    @Test func clientStalledMidHandshakeIsClosedAtTheHandshakeTimeout() throws {
        let standIn = try DPSStandIn(pki: try TestPKI.get(), timeouts: Self.short)
        defer { standIn.stop() }
        var client = try tcpClient(port: standIn.port)
        defer { client.close() }
        // A handshake record header announcing 512 bytes, then the first 4 of a ClientHello.
        try sendAll([0x16, 0x03, 0x03, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC], on: &client)
        #expect(readUntilClosed(&client) == ServerEnding(bytes: [], failure: .closedByPeer))
        #expect(standIn.line(containing: "TLS handshake failed") == "127.0.0.1#1 TLS handshake failed: handshake timeout (not finished 0.3 s after the TCP connection)")
    }

    @Test func noConnectAfterTheHandshakeIsClosedAtTheConnectTimeout() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, timeouts: Self.short)
        defer { standIn.stop() }
        var client = try tlsClient(port: standIn.port, pki: pki)
        defer { client.close() }
        #expect(readUntilClosed(&client) == ServerEnding(bytes: [], failure: .closedByPeer(host: "127.0.0.1", port: standIn.port)))
        #expect(standIn.line(containing: "connection closed") == "127.0.0.1#1 - connection closed: CONNECT timeout (no CONNECT 0.3 s after the TLS handshake)")
    }

    /// Keep-alive 1 s: nothing after the CONNACK, closed 1.5 s later (MQTT-3.1.2-24).
    @Test func silenceAfterConnectIsClosedAtOneAndAHalfKeepAlives() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, timeouts: ServerTimeouts(handshake: .seconds(10), connect: .seconds(10), idle: .seconds(60)))
        defer { standIn.stop() }
        var client = try tlsClient(port: standIn.port, pki: pki, id: "keepalive-1")
        defer { client.close() }
        try sendAll(RawMQTT.connect("keepalive-1", keepAlive: 1), on: &client)
        #expect(readUntilClosed(&client) == ServerEnding(bytes: RawMQTT.connackAccepted, failure: .closedByPeer(host: "127.0.0.1", port: standIn.port)))
        #expect(standIn.line(containing: "connection closed") == "127.0.0.1#1 keepalive-1 connection closed: keep-alive timeout (nothing received for 1.5 s; 1.5 × keep-alive 1 s)")
    }

    /// Keep-alive 0 turns the keep-alive timeout off (MQTT-3.1.2-23); the idle limit still holds.
    @Test func keepAliveZeroIsBoundedByTheIdleLimit() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, timeouts: Self.short)
        defer { standIn.stop() }
        var client = try tlsClient(port: standIn.port, pki: pki, id: "keepalive-0")
        defer { client.close() }
        try sendAll(RawMQTT.connect("keepalive-0", keepAlive: 0), on: &client)
        #expect(readUntilClosed(&client) == ServerEnding(bytes: RawMQTT.connackAccepted, failure: .closedByPeer(host: "127.0.0.1", port: standIn.port)))
        #expect(standIn.line(containing: "connection closed") == "127.0.0.1#1 keepalive-0 connection closed: idle timeout (nothing received for 0.3 s; keep-alive 0)")
    }

    /// Every packet restarts the count: five PINGREQs 0.2 s apart keep a connection with a
    /// 0.6 s idle limit open for a second, then it closes 0.6 s after the last.
    @Test func everyPacketRestartsTheIdleCount() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, timeouts: ServerTimeouts(handshake: .seconds(10), connect: .seconds(10), idle: .milliseconds(600)))
        defer { standIn.stop() }
        var client = try tlsClient(port: standIn.port, pki: pki, id: "pinger")
        defer { client.close() }
        try sendAll(RawMQTT.connect("pinger", keepAlive: 60), on: &client)
        let clock = MonotonicClock()
        for _ in 0..<5 {
            clock.sleep(until: clock.now() + .milliseconds(200))
            try sendAll(RawMQTT.pingreq, on: &client)
        }
        let expected = RawMQTT.connackAccepted + Array([[UInt8]](repeating: RawMQTT.pingresp, count: 5).joined())
        #expect(readUntilClosed(&client) == ServerEnding(bytes: expected, failure: .closedByPeer(host: "127.0.0.1", port: standIn.port)))
        #expect(standIn.line(containing: "connection closed") == "127.0.0.1#1 pinger connection closed: idle timeout (nothing received for 0.6 s; less than 1.5 × keep-alive 60 s)")
    }

    // MARK: The rules alone

    @Test func silenceLimits() {
        let timeouts = ServerTimeouts(handshake: .seconds(10), connect: .seconds(10), idle: .seconds(1767))
        #expect(timeouts.silenceLimit(keepAlive: 60) == .seconds(90))
        #expect(timeouts.silenceName(keepAlive: 60) == ("keep-alive timeout", "1.5 × keep-alive 60 s"))
        #expect(timeouts.silenceLimit(keepAlive: 1177) == .milliseconds(1_765_500))
        #expect(timeouts.silenceLimit(keepAlive: 1178) == .seconds(1767))
        #expect(timeouts.silenceName(keepAlive: 1178) == ("keep-alive timeout", "1.5 × keep-alive 1178 s"))
        #expect(timeouts.silenceLimit(keepAlive: 1179) == .seconds(1767))
        #expect(timeouts.silenceName(keepAlive: 1179) == ("idle timeout", "less than 1.5 × keep-alive 1179 s"))
        #expect(timeouts.silenceLimit(keepAlive: 65535) == .seconds(1767))
        #expect(timeouts.silenceLimit(keepAlive: 0) == .seconds(1767))
        #expect(timeouts.silenceName(keepAlive: 0) == ("idle timeout", "keep-alive 0"))
    }

    @Test func phaseDeadlines() {
        let start = DeviceInstant(milliseconds: 1000)
        var phase = ConnectionPhase(timeouts: ServerTimeouts(), acceptedAt: start)
        #expect(phase.deadline == DeviceInstant(milliseconds: 11_000))
        #expect(phase.expired(at: DeviceInstant(milliseconds: 10_999)) == nil)
        #expect(phase.expired(at: DeviceInstant(milliseconds: 11_000)) == "handshake timeout (not finished 10 s after the TCP connection)")
        phase.handshakeFinished(at: DeviceInstant(milliseconds: 2000))
        #expect(phase.deadline == DeviceInstant(milliseconds: 12_000))
        let connect = MQTTConnect(clientID: ByteView(baseAddress: nil, count: 0), cleanSession: true, keepAlive: 4)
        #expect(phase.received(.connect(connect), at: DeviceInstant(milliseconds: 3000)) == nil)
        #expect(phase.step == .connected(keepAlive: 4))
        #expect(phase.deadline == DeviceInstant(milliseconds: 9000))
        #expect(phase.received(.pingreq, at: DeviceInstant(milliseconds: 8000)) == nil)
        #expect(phase.deadline == DeviceInstant(milliseconds: 14_000))
        #expect(phase.expired(at: DeviceInstant(milliseconds: 14_000)) == "keep-alive timeout (nothing received for 6 s; 1.5 × keep-alive 4 s)")
    }

    @Test func secondsText() {
        #expect(DeviceDuration.seconds(10).secondsText == "10 s")
        #expect(DeviceDuration.milliseconds(300).secondsText == "0.3 s")
        #expect(DeviceDuration.milliseconds(1500).secondsText == "1.5 s")
        #expect(DeviceDuration.milliseconds(250).secondsText == "0.25 s")
        #expect(DeviceDuration.milliseconds(5).secondsText == "0.005 s")
        #expect(DeviceDuration.milliseconds(1_765_500).secondsText == "1765.5 s")
        #expect(DeviceDuration.zero.secondsText == "0 s")
    }
}
