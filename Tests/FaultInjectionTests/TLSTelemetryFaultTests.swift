import DeviceCore
import Foundation
import Glibc
import LinuxBoard
import Testing

// Telemetry over real TLS to mosquitto (TLS 1.2, client certificate required) through
// `FaultProxy` cutting at TLS record boundaries, and a device certificate that expires while
// the device runs. The DUP check uses what the device handed to TLS (`Tap`): the proxy sees only
// encrypted records.

/// Wall-clock seconds with a fraction.
func wallTime() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

@Suite("Fault injection over TLS: telemetry and certificates", .serialized)
struct TLSTelemetryFaultTests {
    // MARK: 4. A device certificate that expires mid-run

    /// The device certificate is valid for 2 more seconds. The device connects through the proxy
    /// and sends a message every 50 ms; once the certificate has expired the proxy cuts the
    /// connection. The reconnect must end the run at once with `deviceCertificateExpired` (final,
    /// naming the file and the dates), after exactly 2 attempts; every message IoT Hub
    /// acknowledged reached the subscriber, and no PUBLISH went twice without DUP.
    @Test func deviceCertificateExpiresMidRun() throws {
        let pki = try TestPKI.get()
        let broker = try TLSMosquitto(pki: pki)
        defer { broker.stop() }
        let proxy = try FaultProxy(targetPort: broker.tlsPort, framing: .tlsRecords)
        defer { proxy.stop() }
        let subscriber = try Subscriber(port: broker.port)
        let id = "expiring"
        let notAfter = wallSeconds() + 2
        let files = try pki.device(id, notBefore: notAfter - 86_400, days: 1)
        let identity = try TLSIdentity(caFile: pki.ca, certificateFile: files.certificate, keyFile: files.key, passphrase: nil)
        // Expired once the clock has passed notAfter's second; cut 300 ms into the next one.
        let cutIn = Double(notAfter + 1) + 0.3 - wallTime()
        DispatchQueue.global().asyncAfter(deadline: .now() + cutIn) { proxy.cutAll() }
        let device = try TLSHubDevice(port: proxy.port, identity: identity, id: id)
        var flow = tlsFlow()
        var thrown: TLSFlowFailure?
        let started = FaultProxy.nowMilliseconds()
        do throws(TLSFlowFailure) {
            try device.sendTelemetry(count: 400, interval: .milliseconds(50), flow: &flow, seconds: 30)
        } catch {
            thrown = error
        }
        let elapsed = FaultProxy.nowMilliseconds() - started
        let recorder = flow.observer
        guard let thrown, case .transport(let failure) = thrown,
            case .deviceCertificateExpired(let host, let file, let subject, let before, let after, _) = failure
        else {
            Issue.record("expected deviceCertificateExpired, got \(String(describing: thrown)); failures \(recorder.failureNames); broker log:\n\(broker.log())")
            return
        }
        #expect(host == "127.0.0.1" && file == files.certificate && subject == "CN=\(id)")
        #expect(before == identity.notBefore && after == identity.notAfter, "\(before) \(after)")
        #expect(!TLSFlow.isRetriable(thrown))
        let words = failure.description
        #expect(words.contains("expired") && words.contains(files.certificate) && words.contains(identity.notAfter ?? "?") && words.contains("Renew"), "\(words)")
        // One cut, one retry, one refusal: no loop.
        #expect(proxy.cuts == 1 && proxy.accepted == 2)
        #expect(recorder.attempts == 2 && device.tap.opens == 2 && recorder.connects == 1)
        #expect(recorder.failures.map { transportError($0.failure) } == [.closedByPeer(host: "127.0.0.1", port: proxy.port)], "\(recorder.failureNames)")
        if let cutAt = recorder.failures.first?.at { #expect(recorder.now - cutAt < 1_000, "ended \(recorder.now - cutAt) ms after the cut") }
        // Nothing acknowledged was lost; nothing was sent twice without DUP.
        #expect(recorder.acknowledged >= 20, "\(recorder.acknowledged) acknowledged before the certificate expired")
        try subscriber.drain(expected: recorder.acknowledged)
        let received = Set(subscriber.payloads(of: id))
        let lost = recorder.acknowledgedIndexes.map(payloadText).filter { !received.contains($0) }
        #expect(lost.isEmpty, "acknowledged but never delivered: \(lost)")
        #expect(duplicatesWithoutDUP(device.tap.publishes).isEmpty, "\(duplicatesWithoutDUP(device.tap.publishes))")
        print("[faults] device certificate expired mid-run: \(recorder.acknowledged) messages acknowledged, cut after expiry, reconnect refused: \"\(words)\", run ended after \(elapsed) ms, 2 attempts")
    }

    /// Regression for the above, without a proxy: a device certificate already expired, or not
    /// valid yet, fails the first connection to mosquitto with the specific final failure (not
    /// `certificateRejected` with a bare alert, nor a retry).
    @Test func expiredOrNotYetValidDeviceCertificateIsFinal() throws {
        let pki = try TestPKI.get()
        let broker = try TLSMosquitto(pki: pki)
        defer { broker.stop() }
        let now = wallSeconds()
        for (name, notBefore) in [("expired", now - 2 * 86_400), ("future", now + 86_400)] {
            let files = try pki.device("cert-\(name)", notBefore: notBefore, days: 1)
            let identity = try TLSIdentity(caFile: pki.ca, certificateFile: files.certificate, keyFile: files.key, passphrase: nil)
            let device = try TLSHubDevice(port: broker.tlsPort, identity: identity, id: "cert-\(name)")
            var flow = tlsFlow()
            var thrown: TLSFlowFailure?
            do throws(TLSFlowFailure) {
                try flow.connect(&device.client, deadline: device.client.clock.now() + .seconds(5))
            } catch {
                thrown = error
            }
            #expect(flow.observer.attempts == 1 && flow.observer.failures.isEmpty, "\(name): \(flow.observer.failureNames)")
            let failure = thrown.flatMap(transportError)
            switch (name, failure) {
            case ("expired", .deviceCertificateExpired(_, let file, _, _, let after, _)?):
                #expect(file == files.certificate && after == identity.notAfter)
                #expect(failure!.description.contains("because it expired"), "\(failure!)")
            case ("future", .deviceCertificateNotYetValid(_, let file, _, let before, _, _)?):
                #expect(file == files.certificate && before == identity.notBefore)
                #expect(failure!.description.contains("not valid yet"), "\(failure!)")
            default:
                Issue.record("\(name): got \(String(describing: thrown))")
            }
            #expect(failure.map { !$0.isRetriable } == true)
        }
        // A valid certificate that is not for TLS clients (the server's own, extendedKeyUsage
        // serverAuth): refused, and the device says why.
        let otherCA = try TLSIdentity(caFile: pki.ca, certificateFile: pki.serverCertificate, keyFile: pki.serverKey, passphrase: nil)
        let transport = TLSTransport(host: "127.0.0.1", port: broker.tlsPort, identity: otherCA, connectTimeout: .seconds(2))
        do throws(TLSFailure) {
            try transport.open()
            Issue.record("the server certificate was accepted as a client certificate")
        } catch {
            if case .deviceCertificateUsage(host: "127.0.0.1", certificateFile: pki.serverCertificate, _) = error {} else {
                Issue.record("a server certificate as the device's: \(error)")
            }
            #expect(!error.isRetriable)
        }
    }

    // MARK: Telemetry cut at every TLS record boundary

    /// Five QoS 1 messages over TLS; the proxy cuts the first connection after its k-th record
    /// in one direction, k = 1, 2, … until a run has no cut left. Every run must get all five
    /// acknowledged, the subscriber must see all of them, the device must have resent nothing
    /// without DUP, and a cut before the last PUBACK reached the device must cost exactly one
    /// `closedByPeer` and one reconnect.
    @Test func telemetryCutAtEveryTLSRecordBoundary() throws {
        let pki = try TestPKI.get()
        let broker = try TLSMosquitto(pki: pki)
        defer { broker.stop() }
        let proxy = try FaultProxy(targetPort: broker.tlsPort, framing: .tlsRecords)
        defer { proxy.stop() }
        let subscriber = try Subscriber(port: broker.port)
        let identity = try pki.identity("tls-telemetry")
        let count = 5
        let started = FaultProxy.nowMilliseconds()

        func run(_ name: String, _ plan: FaultProxy.ConnectionPlan?) throws -> (recorder: TLSRecorder, tap: Tap) {
            if let plan { proxy.plan([plan]) } else { proxy.plan([]) }
            let device = try TLSHubDevice(port: proxy.port, identity: identity, id: name)
            var flow = tlsFlow()
            do throws(TLSFlowFailure) {
                try device.sendTelemetry(count: count, flow: &flow)
            } catch {
                Issue.record("\(name): \(error); \(flow.observer.failureNames)")
            }
            #expect(flow.observer.acknowledged == count, "\(name)")
            return (flow.observer, device.tap)
        }

        let clean = try run("tls-clean", nil)
        #expect(clean.recorder.failures.isEmpty)
        let baseline = proxy.records.filter { $0.connection == 1 }
        let toBroker = baseline.filter { $0.direction == .toBroker }
        let toClient = baseline.filter { $0.direction == .toClient }
        guard let lastAck = toClient.last(where: { $0.type == 23 }), let lastAckIndex = toClient.firstIndex(where: { $0.sequence == lastAck.sequence }) else {
            Issue.record("no application data toward the device in the clean run")
            return
        }
        let toBrokerBeforeLastAck = toBroker.filter { $0.sequence < lastAck.sequence }.count

        var names = ["tls-clean"]
        var table = [String]()
        var reconnects = 0
        var taps = [clean.tap]
        for direction in [FaultProxy.Direction.toBroker, .toClient] {
            var k = 1
            while k <= 60 {
                let name = "tls-\(direction == .toBroker ? "b" : "c")\(k)"
                var plan = FaultProxy.ConnectionPlan()
                if direction == .toBroker { plan.toBroker.cutAfterPackets = k } else { plan.toClient.cutAfterPackets = k }
                let cutsBefore = proxy.cuts
                let result = try run(name, plan)
                names.append(name)
                taps.append(result.tap)
                if proxy.cuts == cutsBefore {
                    #expect(result.recorder.failures.isEmpty, "\(name): \(result.recorder.failureNames)")
                    table.append("\(direction): 1…\(k - 1)")
                    break
                }
                let lost = direction == .toBroker ? k <= toBrokerBeforeLastAck : k <= lastAckIndex
                #expect(result.recorder.failures.count == (lost ? 1 : 0), "\(name): \(result.recorder.failureNames)")
                #expect(result.recorder.attempts == result.recorder.failures.count + 1, "\(name)")
                for failure in result.recorder.failures {
                    #expect(isOneDroppedConnection(transportError(failure.failure), port: proxy.port), "\(name): \(failure.failure)")
                }
                reconnects += result.recorder.failures.count
                k += 1
            }
        }
        let elapsed = FaultProxy.nowMilliseconds() - started
        try subscriber.drain(expected: names.count * count)
        for name in names {
            #expect(Set(subscriber.payloads(of: name)) == Set((1...count).map(payloadText)), "\(name): \(subscriber.payloads(of: name))")
        }
        let sent = taps.flatMap(\.publishes)
        #expect(duplicatesWithoutDUP(sent).isEmpty, "\(duplicatesWithoutDUP(sent))")
        print("[faults] telemetry over TLS, cut at every record boundary: \(names.count) runs (\(table.joined(separator: ", "))), \(reconnects) reconnects, \(sent.filter(\.dup).count) PUBLISH resent with DUP, \(subscriber.messages.count - subscriber.distinct) duplicates at the subscriber, \(elapsed) ms")
    }
}
