import DeviceCore
import Glibc
import LinuxBoard
import TestSupport
import Testing

/// Tests against a real mosquitto on loopback (plain TCP), one broker per test, started and
/// stopped by the test. Serialized: each test is timing-sensitive and the machine is small.
@Suite("Integration: MQTTClient over TCP against mosquitto", .serialized)
struct BrokerTests {
    static let total = 1_000
    static let window = 16

    /// (a) 1 000 QoS 1 messages through one session that is subscribed to its own topic.
    @Test func thousandQoS1MessagesComeBackInOrder() throws {
        let broker = try Mosquitto.start()
        defer { broker.stop() }
        let c = TestClient(port: broker.port, clientID: "it-roundtrip", subscribeTo: "it/roundtrip", window: Self.window)
        let topic = PinnedBytes("it/roundtrip")
        let payload = CounterPayload()

        #expect(try c.connect() == [.connected(sessionPresent: false)])
        let subscribed = try c.poll(upTo: 5) { $0.contains { if case .subscribed = $0 { true } else { false } } }
        #expect(subscribed == [.subscribed(packetID: 1, codes: [1])], "\(broker.log())")

        var numberOfID = [UInt16: Int]()
        var acknowledged = [Bool](repeating: false, count: Self.total + 1)
        var acknowledgedCount = 0
        var received = [String]()
        var backPressureWaits = 0
        var next = 1
        let start = c.clock.now()
        let deadline = start + DeviceDuration.seconds(20)
        while acknowledgedCount < Self.total || received.count < Self.total {
            guard c.clock.now() < deadline else {
                Issue.record("timed out: published \(next - 1), acknowledged \(acknowledgedCount), received \(received.count)\n\(broker.log())")
                break
            }
            if next <= Self.total {
                do throws(MQTTSessionError) {
                    let id = try c.client.session.publish(topic: topic.view, payload: payload.view(next))
                    numberOfID[id] = next
                    next += 1
                    continue
                } catch .backPressure(let reason) {
                    // Poll below until a PUBACK frees a slot. (A nested pattern with
                    // `Self.window` in this typed catch sends Swift 6.3.1's SILGen into a loop.)
                    #expect(reason == .windowFull(capacity: Self.window))
                    backPressureWaits += 1
                }
            }
            for event in try c.poll(milliseconds: 100) {
                switch event {
                case .published(let id):
                    guard let number = numberOfID.removeValue(forKey: id) else {
                        Issue.record("PUBACK for id \(id) that has no publish outstanding")
                        continue
                    }
                    #expect(!acknowledged[number])
                    acknowledged[number] = true
                    acknowledgedCount += 1
                case .message(let topic, let text, let qos, _, let dup):
                    let expected: Bool = topic == "it/roundtrip" && qos == .atLeastOnce && !dup
                    #expect(expected, "\(event)")
                    received.append(text)
                default:
                    Issue.record("unexpected event \(event)")
                }
            }
        }
        let elapsed = c.clock.now() - start
        c.client.disconnect()

        #expect(acknowledgedCount == Self.total, "every PUBACK seen")
        #expect(numberOfID.isEmpty, "no publish left unacknowledged")
        #expect(received == (1...Self.total).map(CounterPayload.text), "all messages back, in order, payloads exact")
        #expect(backPressureWaits > 0, "the window of \(Self.window) was reached")
        #expect(c.traffic.sentPublishes.filter(\.dup).isEmpty, "no resend on a healthy connection")
        let rate = Double(Self.total) * 1000 / Double(max(1, elapsed.milliseconds))
        print("(a) \(Self.total) QoS 1 publishes + PUBACKs + deliveries in \(elapsed.milliseconds) ms: \(Int(rate)) messages/s (debug build; not a benchmark)")
    }

    /// (b) The connection dies after ~500 messages with publishes in flight; the client
    /// reconnects to its persistent session and resends, and a second client subscribed to the
    /// topic gets every message at least once.
    @Test func connectionLossMidStreamLosesNoMessage() throws {
        let broker = try Mosquitto.start()
        defer { broker.stop() }
        let subscriber = TestClient(port: broker.port, clientID: "it-resume-sub", subscribeTo: "it/resume")
        let publisher = TestClient(port: broker.port, clientID: "it-resume-pub", cleanSession: false, window: Self.window)
        let topic = PinnedBytes("it/resume")
        let payload = CounterPayload()

        #expect(try subscriber.connect() == [.connected(sessionPresent: false)])
        let subscribed = try subscriber.poll(upTo: 5) { !$0.isEmpty }
        #expect(subscribed == [.subscribed(packetID: 1, codes: [1])])
        #expect(try publisher.connect() == [.connected(sessionPresent: false)])

        var copies = [Int](repeating: 0, count: Self.total + 1)  // per message, at the subscriber
        var dupCopies = [Int](repeating: 0, count: Self.total + 1)
        var numberOfID = [UInt16: Int]()
        var acknowledgedCount = 0
        var next = 1
        var killed = false
        var inFlightWhenKilled = 0
        var reconnects = [Event]()
        let clock = publisher.clock
        let deadline = clock.now() + DeviceDuration.seconds(20)

        func drainSubscriber(milliseconds: Int32) throws {
            for event in try subscriber.poll(milliseconds: milliseconds) {
                guard case .message(_, let text, _, _, let dup) = event, let number = CounterPayload.number(text),
                    (1...Self.total).contains(number)
                else {
                    Issue.record("subscriber: unexpected \(event)")
                    continue
                }
                copies[number] += 1
                if dup { dupCopies[number] += 1 }
            }
        }

        while acknowledgedCount < Self.total || copies.dropFirst().contains(0) {
            guard clock.now() < deadline else {
                Issue.record("timed out: published \(next - 1), acknowledged \(acknowledgedCount), missing \(copies.dropFirst().filter { $0 == 0 }.count)\n\(broker.log())")
                break
            }
            var blocked = next > Self.total
            if next <= Self.total {
                do throws(MQTTSessionError) {
                    numberOfID[try publisher.client.session.publish(topic: topic.view, payload: payload.view(next))] = next
                    next += 1
                } catch .backPressure {
                    blocked = true
                }
            }
            if !killed && next > Self.total / 2 {
                // Everything queued goes out, then the socket dies under the client before any
                // PUBACK for it is read.
                try publisher.client.flush()
                inFlightWhenKilled = publisher.client.session.unacknowledgedCount
                #expect(shutdown(publisher.fileDescriptor, Int32(SHUT_RDWR)) == 0)
                killed = true
            }
            if blocked || killed && publisher.client.session.state != .connected {
                do {
                    for event in try publisher.poll(milliseconds: 2) {
                        guard case .published(let id) = event, numberOfID.removeValue(forKey: id) != nil else {
                            Issue.record("publisher: unexpected \(event)")
                            continue
                        }
                        acknowledgedCount += 1
                    }
                } catch {
                    // The killed connection: the client closed it and marked the session disconnected.
                    guard case .transport(.closedByPeer) = error else { throw error }
                    #expect(reconnects.isEmpty, "only one connection loss")
                    #expect(publisher.client.session.state == .disconnected)
                    reconnects += try publisher.connect()
                }
            }
            try drainSubscriber(milliseconds: blocked ? 2 : 0)
        }
        // Late duplicates, if any.
        try drainSubscriber(milliseconds: 300)
        publisher.client.disconnect()
        subscriber.client.disconnect()

        #expect(killed)
        #expect(reconnects == [.connected(sessionPresent: true)], "resumed the persistent session")
        #expect(acknowledgedCount == Self.total, "every publish acknowledged once")
        #expect(numberOfID.isEmpty)
        let missing = (1...Self.total).filter { copies[$0] == 0 }
        #expect(missing.isEmpty, "lost messages: \(missing)")

        // On the wire, per message: every send after the first (on a later connection) carries DUP.
        var sends = [Int: [TrafficLog.Publish]]()
        for publish in publisher.traffic.sentPublishes {
            sends[CounterPayload.number(publish.payload) ?? 0, default: []].append(publish)
        }
        #expect(publisher.traffic.connections == 2)
        var resent = [Int]()
        for number in 1...Self.total {
            let list = sends[number] ?? []
            guard let first = list.first else {
                Issue.record("message \(number) never sent whole")
                continue
            }
            #expect(!first.dup, "first send of \(number) without DUP")
            for later in list.dropFirst() {
                let sameIDWithDupLater: Bool = later.dup && later.connection > first.connection && later.packetID == first.packetID
                #expect(sameIDWithDupLater, "resend of \(number) carries DUP and the same packet id on the new connection")
            }
            if list.count > 1 { resent.append(number) }
        }
        #expect(!resent.isEmpty, "the killed connection had publishes in flight (\(inFlightWhenKilled)) that were resent")
        #expect(resent.count <= inFlightWhenKilled)

        // Every extra copy at the subscriber is explained: the publisher resent it with DUP, or
        // the broker redelivered it (DUP set on the copy).
        let duplicated = (1...Self.total).filter { copies[$0] > 1 }
        let unexplained = duplicated.filter { !resent.contains($0) && dupCopies[$0] == 0 }
        #expect(unexplained.isEmpty, "duplicates not resent with DUP nor redelivered: \(unexplained)")
        let duplicateCount = duplicated.reduce(0) { $0 + copies[$1] - 1 }
        print("(b) in flight when killed: \(inFlightWhenKilled); resent with DUP: \(resent.count) (\(resent.first ?? 0)…\(resent.last ?? 0)); duplicates at the subscriber: \(duplicateCount); lost: \(missing.count)")
    }

    /// (c) A broker that refuses anonymous clients: CONNACK 5, not retriable.
    @Test func refusedConnectionIsNotRetriable() throws {
        let broker = try Mosquitto.start(["allow_anonymous false"])
        defer { broker.stop() }
        let c = TestClient(port: broker.port, clientID: "it-refused")
        do {
            let events = try c.connect()
            Issue.record("connected although anonymous clients are refused: \(events)\n\(broker.log())")
        } catch {
            guard case .session(let sessionError) = error else {
                Issue.record("expected a CONNACK refusal, got \(error)\n\(broker.log())")
                return
            }
            #expect(sessionError == .connectionRefused(.notAuthorized))
            #expect(!sessionError.isRetriable)
        }
        #expect(c.client.session.state == .disconnected)
        #expect(c.fileDescriptor == -1, "the client closed the socket")
        #expect(c.traffic.received.map(\.bytes) == [[0x20, 0x02, 0x00, 0x05]], "the broker's CONNACK, return code 5")
    }

    /// (d) Keep-alive of 1 s: PINGREQ after each idle second, PINGRESP back, no error.
    @Test func keepAlivePingsWhileIdle() throws {
        let broker = try Mosquitto.start()
        defer { broker.stop() }
        let c = TestClient(port: broker.port, clientID: "it-keepalive", keepAlive: 1, pingTimeout: .milliseconds(800))
        #expect(try c.connect() == [.connected(sessionPresent: false)])
        let end = c.clock.now() + DeviceDuration.milliseconds(3_500)
        var events = [Event]()
        while c.clock.now() < end {
            events += try c.poll(milliseconds: 100)
        }
        #expect(events.isEmpty)
        #expect(c.client.session.state == .connected)
        #expect(c.traffic.pingRequests >= 3, "a PINGREQ per idle second (\(c.traffic.pingRequests))")
        #expect(c.traffic.pingResponses >= c.traffic.pingRequests - 1, "PINGRESPs: \(c.traffic.pingResponses)")
        c.client.disconnect()
        #expect(c.traffic.sent.last?.bytes == [0xE0, 0x00], "DISCONNECT")
    }
}

@Suite("Integration: TCPTransport errors")
struct TransportErrorTests {
    @Test func nothingListeningIsConnectionRefused() throws {
        let port = try freeLoopbackPort()
        var transport = TCPTransport(host: "127.0.0.1", port: port, connectTimeout: .seconds(2))
        #expect(throws: TCPTransport.Failure.connectionRefused(host: "127.0.0.1", port: port)) { try transport.open() }
        #expect(transport.fileDescriptor == -1)
        let text = TCPTransport.Failure.connectionRefused(host: "127.0.0.1", port: port).description
        #expect(text.contains("127.0.0.1:\(port)"))
        #expect(text.contains("nothing is listening"))
    }

    @Test func receiveAfterThePeerClosesIsClosedByPeer() throws {
        let broker = try Mosquitto.start()
        defer { broker.stop() }
        var transport = TCPTransport(host: "localhost", port: broker.port)
        try transport.open()
        defer { transport.close() }
        // Nothing to read yet: 0 after the timeout, not an error.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { buffer.deallocate() }
        let clock = MonotonicClock()
        let before = clock.now()
        #expect(try transport.receive(into: buffer, timeout: .milliseconds(100)) == 0)
        #expect(clock.now() - before >= DeviceDuration.milliseconds(90))
        // A PINGREQ before CONNECT is a protocol error: mosquitto closes the connection.
        let bytes: [UInt8] = [0xC0, 0x00]
        let sent = try bytes.withUnsafeBytes { try transport.send(ByteView($0), timeout: .seconds(1)) }
        #expect(sent == 2)
        #expect(throws: TCPTransport.Failure.closedByPeer) {
            while try transport.receive(into: buffer, timeout: .seconds(2)) == 0 {}
        }
    }

    @Test func clockIsMonotonicAndSleeps() {
        let clock = MonotonicClock()
        let start = clock.now()
        clock.sleep(until: start + DeviceDuration.milliseconds(50))
        let slept = clock.now() - start
        #expect(slept >= DeviceDuration.milliseconds(50))
        #expect(slept < DeviceDuration.milliseconds(1_000))
        clock.sleep(until: start)  // in the past: returns at once
    }
}
