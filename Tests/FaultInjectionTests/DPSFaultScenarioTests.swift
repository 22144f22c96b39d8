import DeviceCore
import Foundation
import LinuxBoard
import StandIn
import Testing

// Fault scenarios through DPS registration over real TLS (issue 8): the device runs
// `DeviceFlow.provision`, the code `dps-device provision` runs, with `TLSTransport` to the DPS
// stand-in (StandIn's DPSEmulator on its mbedTLS server, in-process), either through
// `FaultProxy` cutting at TLS record boundaries or against the stand-in's own failure injection.

func sessionError(_ failure: TLSFlowFailure) -> MQTTSessionError? {
    if case .session(let e) = failure { e } else { nil }
}

func transportError(_ failure: TLSFlowFailure) -> TLSFailure? {
    if case .transport(let e) = failure { e } else { nil }
}

extension Result {
    var value: Success? { try? get() }
}

/// Whether `failure` is how one dropped connection to 127.0.0.1:`port` shows: during the
/// handshake, the first hang-up of its kind (retriable); after it, closed by peer.
func isOneDroppedConnection(_ failure: TLSFailure?, port: UInt16) -> Bool {
    switch failure {
    case .closedByPeer(host: "127.0.0.1", port: port)?, .closedAtClientHello(host: "127.0.0.1", port: port, attempts: 1)?:
        return true
    case .closedAfterDeviceCertificate(host: "127.0.0.1", _, _, _, attempts: 1)?:
        return true
    default:
        return false
    }
}

func assignedOutcome(_ id: String) -> Provisioned { .assigned(hub: TestPKI.hub, deviceID: id, substatus: "initialAssignment") }

@Suite("Fault injection over TLS: DPS registration", .serialized)
struct DPSFaultScenarioTests {
    /// Provisions once through `port`; returns what came out, what the flow saw and how many times the device opened TLS.
    static func provision(
        port: UInt16, identity: TLSIdentity, id: String, flow: TLSFlow = tlsFlow(),
        configure: (DPSDevice) -> Void = { _ in }, overallTimeout: DeviceDuration = .seconds(20),
        backoff: ReconnectBackoff? = nil, maximumRetryAfter: DeviceDuration = .seconds(300)
    ) throws -> (result: Result<Provisioned, TLSFlowFailure>, recorder: TLSRecorder, opens: Int, device: DPSDevice) {
        let device: DPSDevice
        if let backoff {
            device = try DPSDevice(port: port, identity: identity, id: id, overallTimeout: overallTimeout, maximumRetryAfter: maximumRetryAfter, backoff: backoff)
        } else {
            device = try DPSDevice(port: port, identity: identity, id: id, overallTimeout: overallTimeout, maximumRetryAfter: maximumRetryAfter)
        }
        configure(device)
        var flow = flow
        let result: Result<Provisioned, TLSFlowFailure>
        do throws(TLSFlowFailure) {
            result = .success(try device.provision(&flow))
        } catch {
            result = .failure(error)
        }
        return (result, flow.observer, device.tap.opens, device)
    }

    // MARK: 1. Cuts at every TLS record boundary

    /// The proxy cuts the first connection after its k-th TLS record in one direction, k = 1, 2, …
    /// (handshake records included), one registration per cut point, until a registration runs
    /// with no cut left. Every run must end assigned to the stand-in's hub as the registration id;
    /// a cut before the device has DPS's final answer must show exactly one failed connection
    /// (`closedByPeer`) and a second attempt, a cut after it none.
    @Test func cutAtEveryTLSRecordBoundaryOfRegistration() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki)
        defer { standIn.stop() }
        let proxy = try FaultProxy(targetPort: standIn.port, framing: .tlsRecords)
        defer { proxy.stop() }
        let id = "dps-cut"
        let identity = try pki.identity(id)
        let started = FaultProxy.nowMilliseconds()

        // A clean run first: which records each direction carries, and where DPS's final answer is.
        let clean = try Self.provision(port: proxy.port, identity: identity, id: id)
        #expect(clean.result.value == (assignedOutcome(id)), "\(clean.result)")
        #expect(clean.recorder.attempts == 1 && clean.recorder.failures.isEmpty, "\(clean.recorder.failureNames)")
        #expect(standIn.requests == [.init(kind: "REGISTER", rid: 1, status: 202, at: 0), .init(kind: "POLL", rid: 2, status: 200, at: 0)], "\(standIn.requests)")
        let baseline = proxy.records.filter { $0.connection == 1 }
        let toBroker = baseline.filter { $0.direction == .toBroker }
        let toClient = baseline.filter { $0.direction == .toClient }
        let handshakeToBroker = toBroker.firstIndex { $0.type == 23 } ?? 0
        let handshakeToClient = toClient.firstIndex { $0.type == 23 } ?? 0
        // DPS's 200 with the registration state is by far the largest record the stand-in sends.
        let dataToClient = toClient.filter { $0.type == 23 }
        guard let final = dataToClient.max(by: { $0.bytes.count < $1.bytes.count }),
            let finalIndex = toClient.firstIndex(where: { $0.sequence == final.sequence })
        else {
            Issue.record("no application data in the clean run: \(baseline.map { ($0.direction, $0.type, $0.bytes.count) })")
            return
        }
        // A cut toward the device after record k loses the answer when k < finalIndex + 1; a cut
        // toward DPS after record k when the device had sent k records or more before it came.
        let lastToClientBeforeAnswer = finalIndex  // records forwarded before the answer's record
        let toBrokerBeforeAnswer = toBroker.filter { $0.sequence < final.sequence }.count
        #expect(handshakeToBroker >= 4 && handshakeToClient >= 3, "handshake records: \(handshakeToBroker) → DPS, \(handshakeToClient) → device")

        var runs = 0
        var retried = 0
        var table = [String]()
        for direction in [FaultProxy.Direction.toBroker, .toClient] {
            var k = 1
            while k <= 60 {
                let cutsBefore = proxy.cuts
                var plan = FaultProxy.ConnectionPlan()
                if direction == .toBroker { plan.toBroker.cutAfterPackets = k } else { plan.toClient.cutAfterPackets = k }
                proxy.plan([plan])
                let run = try Self.provision(port: proxy.port, identity: identity, id: id, flow: tlsFlow(seed: UInt64(k)))
                runs += 1
                let cut = proxy.cuts > cutsBefore
                let name = "\(direction) after record \(k)"
                #expect(run.result.value == (assignedOutcome(id)), "\(name): \(run.result); \(run.recorder.failureNames)")
                if !cut {
                    // The registration completed before record k: no cut point left this way.
                    #expect(run.recorder.failures.isEmpty && run.recorder.attempts == 1, "\(name): \(run.recorder.failureNames)")
                    table.append("\(direction): cut points 1…\(k - 1)")
                    break
                }
                let answerLost = direction == .toBroker ? k <= toBrokerBeforeAnswer : k <= lastToClientBeforeAnswer
                let expectedFailures = answerLost ? 1 : 0
                #expect(run.recorder.failures.count == expectedFailures, "\(name): \(run.recorder.failureNames)")
                #expect(run.recorder.attempts == expectedFailures + 1 && run.opens == expectedFailures + 1, "\(name): \(run.recorder.attempts) attempts")
                for failure in run.recorder.failures {
                    #expect(isOneDroppedConnection(transportError(failure.failure), port: proxy.port), "\(name): \(failure.failure)")
                }
                retried += run.recorder.failures.count
                k += 1
            }
            #expect(k > 10, "\(direction): only \(k - 1) cut points")
        }
        let elapsed = FaultProxy.nowMilliseconds() - started
        print("[faults] DPS over TLS, cut at every record boundary: \(runs) registrations (\(table.joined(separator: ", ")); handshake \(handshakeToBroker)/\(handshakeToClient) records; final answer = →device record \(finalIndex + 1), after \(toBrokerBeforeAnswer) →DPS records), \(retried) retried after closedByPeer, all assigned, \(elapsed) ms")
    }

    // MARK: 2. Throttling storms and 5xx

    /// 429 with `retry-after: 1` for the first two requests: the device waits the whole second
    /// each time (on the real clock), on the same connection, and ends assigned.
    @Test func throttlingHonoursRetryAfter() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, faults: .init(throttle: .init(times: 2, retryAfter: 1)))
        defer { standIn.stop() }
        let id = "dps-throttle"
        let run = try Self.provision(port: standIn.port, identity: try pki.identity(id), id: id)
        #expect(run.result.value == (assignedOutcome(id)), "\(run.result)")
        #expect(run.recorder.attempts == 1 && run.recorder.failures.isEmpty, "\(run.recorder.failureNames)")
        #expect(run.recorder.progress.map(\.status) == [429, 429, 202])
        #expect(run.recorder.progress.map { $0.nextRequestIn.milliseconds } == [1000, 1000, 50], "retry-after 1 s twice, then 202's retry-after 0 raised to the 50 ms floor")
        let requests = standIn.requests
        #expect(requests.map(\.description) == ["REGISTER $rid=1 -> 429", "REGISTER $rid=2 -> 429", "REGISTER $rid=3 -> 202", "POLL $rid=4 -> 200"])
        let gaps = zip(requests.dropFirst(), requests).map { $0.at - $1.at }
        if gaps.count == 3 {
            #expect(gaps[0] >= 1000 && gaps[0] < 1600, "\(gaps)")
            #expect(gaps[1] >= 1000 && gaps[1] < 1600, "\(gaps)")
            #expect(gaps[2] >= 50 && gaps[2] < 600, "\(gaps)")
        }
        print("[faults] DPS 429 ×2 with retry-after 1: requests \(gaps) ms apart at the stand-in, assigned")
    }

    /// A `retry-after` above the device's ceiling is clamped to it (here 200 ms, so that the
    /// test is short): the device asks again after exactly the ceiling.
    @Test func throttlingRetryAfterIsClamped() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, faults: .init(throttle: .init(times: 1, retryAfter: 1)))
        defer { standIn.stop() }
        let id = "dps-clamp"
        let run = try Self.provision(port: standIn.port, identity: try pki.identity(id), id: id, maximumRetryAfter: .milliseconds(200))
        #expect(run.result.value == (assignedOutcome(id)), "\(run.result)")
        #expect(run.recorder.progress.map { $0.nextRequestIn.milliseconds } == [200, 50])
        let requests = standIn.requests
        #expect(requests.map(\.description) == ["REGISTER $rid=1 -> 429", "REGISTER $rid=2 -> 202", "POLL $rid=3 -> 200"])
        if requests.count == 3 {
            let gap = requests[1].at - requests[0].at
            #expect(gap >= 200 && gap < 800, "\(gap) ms")
        }
    }

    /// Three 500s (no retry-after): the device waits its registration backoff between them,
    /// exactly the delays its seeded backoff gives, and ends assigned on the same connection.
    @Test func serverErrorsThenSuccess() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, faults: .init(fail: .init(times: 3)))
        defer { standIn.stop() }
        let id = "dps-5xx"
        let run = try Self.provision(port: standIn.port, identity: try pki.identity(id), id: id)
        #expect(run.result.value == (assignedOutcome(id)), "\(run.result)")
        #expect(run.recorder.attempts == 1 && run.recorder.failures.isEmpty, "\(run.recorder.failureNames)")
        var backoff = run.device.configuration.backoff
        var random = SplitMix64(seed: run.device.configuration.jitterSeed)
        let delays = (0..<3).map { _ in backoff.nextDelay(using: &random).milliseconds }
        #expect(run.recorder.progress.map(\.status) == [500, 500, 500, 202])
        #expect(run.recorder.progress.map { $0.nextRequestIn.milliseconds } == delays + [50])
        let requests = standIn.requests
        #expect(requests.map(\.description) == ["REGISTER $rid=1 -> 500", "REGISTER $rid=2 -> 500", "REGISTER $rid=3 -> 500", "REGISTER $rid=4 -> 202", "POLL $rid=5 -> 200"])
        let gaps = zip(requests.dropFirst(), requests).map { $0.at - $1.at }
        for (gap, delay) in zip(gaps, delays) { #expect(gap >= Int(delay), "gaps \(gaps), delays \(delays)") }
        print("[faults] DPS 500 ×3: backoff \(delays) ms, requests \(gaps) ms apart, assigned")
    }

    /// DPS answers 500 forever: the registration ends at its overall deadline (1.3 s here) with
    /// the typed `.timedOut`, after exactly 3 requests 500 ms apart, on one connection.
    @Test func permanentServerErrorsEndAtTheDeadline() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, faults: .init(fail: .init()))
        defer { standIn.stop() }
        let id = "dps-5xx-storm"
        let identity = try pki.identity(id)
        let started = FaultProxy.nowMilliseconds()
        let run = try Self.provision(port: standIn.port, identity: identity, id: id, overallTimeout: .milliseconds(1300), backoff: fixedBackoff(500))
        let elapsed = FaultProxy.nowMilliseconds() - started
        #expect(run.result.value == (.failed(.timedOut, errorCode: nil)), "\(run.result)")
        #expect(run.recorder.attempts == 1 && run.recorder.failures.isEmpty, "\(run.recorder.failureNames)")
        #expect(standIn.requests.map(\.description) == ["REGISTER $rid=1 -> 500", "REGISTER $rid=2 -> 500", "REGISTER $rid=3 -> 500"])
        #expect(run.recorder.progress.map { $0.nextRequestIn.milliseconds } == [500, 500, 500])
        #expect(elapsed >= 1300 && elapsed < 1900, "ended after \(elapsed) ms")
        print("[faults] DPS 500 forever: .timedOut after \(elapsed) ms (deadline 1.3 s), 3 requests")
    }

    /// Everything at once: CONNACK 3 twice, then the connection dropped right after the
    /// register (whose 429 never leaves the stand-in), then a 500, every answer held back 100 ms.
    @Test func mixedStormEndsAssigned() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki, faults: .init(
            throttle: .init(times: 1, retryAfter: 1), fail: .init(times: 1), drop: .init(afterPackets: 3, times: 1),
            refuseConnect: .init(code: 3, times: 2), delayMilliseconds: 100))
        defer { standIn.stop() }
        let id = "dps-storm"
        let run = try Self.provision(port: standIn.port, identity: try pki.identity(id), id: id, flow: tlsFlow(backoff: fixedBackoff(20)))
        #expect(run.result.value == (assignedOutcome(id)), "\(run.result)")
        let failures = run.recorder.failures.map(\.failure)
        #expect(failures.count == 3, "\(run.recorder.failureNames)")
        if failures.count == 3 {
            #expect(sessionError(failures[0]) == .connectionRefused(.serverUnavailable))
            #expect(sessionError(failures[1]) == .connectionRefused(.serverUnavailable))
            #expect(transportError(failures[2]) == .closedByPeer(host: "127.0.0.1", port: standIn.port))
        }
        #expect(run.recorder.attempts == 4 && run.opens == 4)
        #expect(standIn.connackCodes == [3, 3, 0, 0])
        #expect(standIn.requests.map(\.description) == ["REGISTER $rid=1 -> 429", "REGISTER $rid=2 -> 500", "REGISTER $rid=3 -> 202", "POLL $rid=4 -> 200"])
        #expect(run.recorder.progress.map(\.status) == [500, 202])
    }

    // MARK: 3. Refused CONNECT over TLS

    /// CONNACK 1, 2, 4 and 5 are final: one attempt, the typed refusal, no retry. CONNACK 3
    /// (server unavailable) is retried: twice refused, then assigned.
    @Test func refusedConnectCodesOverTLS() throws {
        let pki = try TestPKI.get()
        let id = "dps-refused"
        let identity = try pki.identity(id)
        for code in [1, 2, 4, 5] {
            let standIn = try DPSStandIn(pki: pki, faults: .init(refuseConnect: .init(code: code)))
            defer { standIn.stop() }
            let run = try Self.provision(port: standIn.port, identity: identity, id: id)
            let expected = MQTTConnectReturnCode(rawValue: UInt8(code))!
            switch run.result {
            case .failure(let failure):
                #expect(sessionError(failure) == .connectionRefused(expected), "CONNACK \(code): \(failure)")
                #expect(!TLSFlow.isRetriable(failure))
            case .success(let outcome):
                Issue.record("CONNACK \(code): expected a refusal, got \(outcome)")
            }
            #expect(run.recorder.attempts == 1 && run.opens == 1 && run.recorder.failures.isEmpty, "CONNACK \(code): \(run.recorder.failureNames)")
            #expect(standIn.connackCodes == [code])
        }
        do {
            let standIn = try DPSStandIn(pki: pki, faults: .init(refuseConnect: .init(code: 3, times: 2)))
            defer { standIn.stop() }
            let run = try Self.provision(port: standIn.port, identity: identity, id: id)
            #expect(run.result.value == (assignedOutcome(id)), "\(run.result)")
            #expect(run.recorder.failures.map { sessionError($0.failure) } == [.connectionRefused(.serverUnavailable), .connectionRefused(.serverUnavailable)])
            #expect(run.recorder.attempts == 3 && run.opens == 3)
            #expect(standIn.connackCodes == [3, 3, 0])
        }
    }

    /// CONNACK 3 forever: retried (300 ms apart) until the registration's deadline (500 ms)
    /// would pass, then the typed refusal is thrown: 2 attempts.
    @Test func serverUnavailableForeverEndsAtTheDeadline() throws {
        let pki = try TestPKI.get()
        let id = "dps-unavailable"
        let standIn = try DPSStandIn(pki: pki, faults: .init(refuseConnect: .init(code: 3)))
        defer { standIn.stop() }
        let identity = try pki.identity(id)
        let started = FaultProxy.nowMilliseconds()
        let run = try Self.provision(port: standIn.port, identity: identity, id: id, flow: tlsFlow(backoff: fixedBackoff(300)), overallTimeout: .milliseconds(500))
        let elapsed = FaultProxy.nowMilliseconds() - started
        switch run.result {
        case .failure(let failure): #expect(sessionError(failure) == .connectionRefused(.serverUnavailable), "\(failure)")
        case .success(let outcome): Issue.record("expected a refusal, got \(outcome)")
        }
        #expect(run.recorder.attempts == 2 && run.opens == 2)
        #expect(run.recorder.failures.map { sessionError($0.failure) } == [.connectionRefused(.serverUnavailable)])
        #expect(standIn.connackCodes == [3, 3])
        // Thrown once the next wait would pass the deadline: after the second refusal, before 500 ms + one attempt.
        #expect(elapsed >= 300 && elapsed < 800, "\(elapsed) ms")
        print("[faults] DPS CONNACK 3 forever: refusal thrown after \(elapsed) ms (deadline 500 ms, retry every 300 ms), 2 attempts")
    }
}
