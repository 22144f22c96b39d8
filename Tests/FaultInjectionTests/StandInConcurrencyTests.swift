import DeviceCore
import LinuxBoard
import StandIn
import Testing

// The DPS stand-in serves every connection from one poll(2) loop over non-blocking sockets:
// clients that stall (silent, halfway through the handshake, after it) hold up nobody.

@Suite("DPS stand-in: stalled clients hold up nobody", .serialized)
struct StandInConcurrencyTests {
    /// Twenty silent TCP clients, one stalled in its ClientHello and one that finished the
    /// handshake and sends nothing, all connected first; then a device registers, on its first
    /// attempt, long before any of them times out (30 s); they are all still open after it.
    @Test func stalledClientsDoNotHoldUpARegistration() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, timeouts: ServerTimeouts(handshake: .seconds(30), connect: .seconds(30), idle: .seconds(60)))
        defer { standIn.stop() }
        var silent = try (0..<20).map { _ in try tcpClient(port: standIn.port) }
        var stalled = try tcpClient(port: standIn.port)
        try sendAll([0x16, 0x03, 0x03, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC], on: &stalled)
        let quiet = try tlsClient(port: standIn.port, pki: pki, id: "quiet")
        defer {
            for index in silent.indices { silent[index].close() }
            stalled.close()
            quiet.close()
        }

        let id = "beside-stalled"
        let clock = MonotonicClock()
        let started = clock.now()
        let run = try DPSFaultScenarioTests.provision(port: standIn.port, identity: try pki.identity(id), id: id)
        let elapsed = (clock.now() - started).milliseconds
        #expect(run.result.value == assignedOutcome(id), "\(run.result)")
        #expect(run.recorder.attempts == 1 && run.recorder.failures.isEmpty, "\(run.recorder.failureNames)")
        #expect(standIn.requests.map(\.description) == ["REGISTER $rid=1 -> 202", "POLL $rid=2 -> 200"])
        #expect(elapsed < 10_000, "registered after \(elapsed) ms")

        // Nobody was closed to make way: the stalled clients are still connected.
        #expect(readUntilClosed(&silent[0], limit: .milliseconds(50)) == ServerEnding(bytes: [], failure: nil))
        #expect(readUntilClosed(&stalled, limit: .milliseconds(50)) == ServerEnding(bytes: [], failure: nil))
        var quietClient = quiet
        #expect(readUntilClosed(&quietClient, limit: .milliseconds(50)) == ServerEnding(bytes: [], failure: nil))
        let closedOthers = standIn.lines.map(\.text).filter { ($0.contains("handshake failed") || $0.contains("connection closed")) && !$0.contains(id) }
        #expect(closedOthers == [], "\(standIn.log)")
        print("[standin] registered beside 22 stalled clients in \(elapsed) ms")
    }
}
