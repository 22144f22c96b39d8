// Target `session`: an MQTTSession with small buffers, connected (CONNECT sent, CONNACK
// 20020000 received), then fed the input as inbound bytes in chunks while it is drained of
// events and output, and asked to publish now and then. Errors are fine (the session is
// reconnected); traps, ASan reports, malformed output and a stuck session are findings.
//
// Input: bytes 0-3 size the buffers and window, byte 4 seeds the driver's choices; the rest is
// what the "server" sends.

private let clientID: StaticString = "fuzz-device"
private let topicA: StaticString = "devices/fuzz-device/messages/events/"
private let topicB: StaticString = "$dps/registrations/PUT/iotdps-register/?$rid=1"
private let filterA: StaticString = "devices/fuzz-device/messages/devicebound/#"
private let filterB: StaticString = "$dps/registrations/res/#"

nonisolated(unsafe) private let subscriptionList: UnsafeMutableBufferPointer<MQTTSubscription> = {
    let list = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: 2)
    list[0] = MQTTSubscription(filter: ByteView(filterA), qos: .atLeastOnce)
    list[1] = MQTTSubscription(filter: ByteView(filterB), qos: .atMostOnce)
    return list
}()

/// Checks what the session sends: a stream of well-formed client packets.
private struct OutputChecker {
    let storage = FuzzBuffer(count: 4096)
    var reader: MQTTFrameReader
    init() { reader = MQTTFrameReader(storage: storage.raw) }

    mutating func newConnection() { reader.reset() }

    mutating func sent(_ bytes: ByteView) {
        var offset = 0
        while offset < bytes.count {
            let taken = reader.append(bytes.slice(from: offset, count: bytes.count - offset).buffer)
            offset += taken
            while true {
                let frame: MQTTFrame?
                do throws(MQTTDecodeError) { frame = try reader.nextFrame() } catch {
                    finding("session sent a malformed stream: \(error)")
                }
                guard let frame else { break }
                do throws(MQTTDecodeError) {
                    let packet = try frame.decode()
                    switch packet {
                    case .connect, .publish, .puback, .subscribe, .unsubscribe, .pingreq, .disconnect: break
                    default: finding("session sent a \(packet.type)")
                    }
                    if case .publish(let p) = packet { fuzzCheck(p.qos != .exactlyOnce, "session sent QoS 2") }
                } catch {
                    finding("session sent a malformed \(frame.header.type): \(error) [\(hexString(frame.bytes))]")
                }
            }
            if taken == 0 && offset < bytes.count { finding("output checker full") }
        }
    }
}

func fuzzSession(_ data: ByteView) {
    var input = FuzzInput(data)
    let receiveSize = 8 + Int(input.byte()) * 2        // 8...518
    let transmitSize = 16 + Int(input.byte() & 0x7F)   // 16...143
    let outboxSize = 32 + Int(input.byte()) * 2        // 32...542
    let window = 1 + Int(input.byte() & 0x03)          // 1...4
    var rng = SplitMix64(seed: UInt64(input.byte()))
    let stream = FuzzBuffer(copying: input.rest)

    let receive = FuzzBuffer(count: receiveSize)
    let transmit = FuzzBuffer(count: transmitSize)
    let outbox = FuzzBuffer(count: outboxSize)
    let inflight = UnsafeMutableBufferPointer<MQTTInflightEntry>.allocate(capacity: window)
    inflight.initialize(repeating: MQTTInflightEntry())
    defer { inflight.deallocate() }

    let subscribe = rng.next() & 1 == 0
    let configuration = MQTTSessionConfiguration(
        connect: MQTTConnect(clientID: ByteView(clientID), keepAlive: UInt16(rng.next() % 4) * 5),
        subscriptions: subscribe ? MQTTTopicFilterList(UnsafeBufferPointer(subscriptionList)) : nil,
        connackTimeout: .seconds(30), pingTimeout: .seconds(10),
        acknowledgementTimeout: rng.next() & 1 == 0 ? .seconds(20) : nil)
    var session = MQTTSession(
        configuration: configuration,
        memory: MQTTSessionMemory(receive: receive.raw, transmit: transmit.raw, outbox: outbox.raw, inflight: inflight))
    var checker = OutputChecker()
    var now = DeviceInstant(milliseconds: 1_000)

    func sendOutput(partial: Bool) {
        var rounds = 0
        while rounds < 64 {
            rounds += 1
            let out = session.pendingOutput()
            if out.isEmpty { return }
            var count = out.count
            if partial { count = Int(rng.next() % UInt64(out.count)) + 1 }
            checker.sent(out.slice(from: 0, count: count))
            session.didSend(count, now: now)
        }
    }

    /// Takes every event out; `false` when the session threw (and is now disconnected).
    func drainEvents() -> Bool {
        var events = 0
        while events < 10_000 {
            events += 1
            do throws(MQTTSessionError) {
                guard let event = try session.nextEvent(now: now) else {
                    if session.needsOutputSent { sendOutput(partial: false) ; continue }
                    return true
                }
                switch event {
                case .message(let p): _ = touchBytes(p.topic) &+ touchBytes(p.payload)
                case .subscribed(let s): _ = touchBytes(s.returnCodes)
                default: break
                }
                if rng.next() % 8 == 0 { maybeRequest() }
            } catch {
                fuzzCheck(session.state == .disconnected, "session threw \(error) but is \(session.state)")
                return false
            }
        }
        finding("more than 10000 events without new input")
    }

    func maybeRequest() {
        let roll = rng.next()
        let payloadLength = Int(roll >> 8 % 200)
        let payload = stream.view.slice(from: 0, count: min(payloadLength % 200, stream.raw.count))
        do throws(MQTTSessionError) {
            switch roll % 6 {
            case 0, 1: try session.publish(topic: ByteView(topicA), payload: payload, qos: .atLeastOnce)
            case 2: try session.publish(topic: ByteView(topicB), payload: payload, qos: .atMostOnce)
            case 3: try session.subscribe(MQTTTopicFilterList(UnsafeBufferPointer(subscriptionList)))
            case 4: try session.unsubscribe(MQTTTopicFilterList(UnsafeBufferPointer(rebasing: subscriptionList[0..<1])))
            default: _ = session.nextDeadline
            }
        } catch {
            // Refusals are fine; they must not break the session.
            switch error {
            case .notConnected, .backPressure, .bufferTooSmall, .tooManyPendingRequests: break
            case .encoding(let e):
                if case .invalid(.invalidQoS) = e { break }
                finding("publish/subscribe refused: \(error)")
            default: finding("publish/subscribe refused: \(error)")
            }
        }
    }

    /// CONNECT out, CONNACK in; `false` if the session could not even connect.
    func connect() -> Bool {
        checker.newConnection()
        do throws(MQTTSessionError) { try session.connectionOpened(now: now) } catch {
            return false  // a CONNECT that does not fit the transmit buffer: nothing to fuzz
        }
        sendOutput(partial: false)
        let connack: [UInt8] = [0x20, 0x02, 0x00, 0x00]
        let taken = connack.withUnsafeBytes { session.receive($0) }
        fuzzCheck(taken == 4, "CONNACK did not fit an empty receive buffer")
        guard drainEvents() else { return false }
        fuzzCheck(session.state == .connected, "not connected after CONNACK")
        sendOutput(partial: false)
        return true
    }

    guard connect() else { return }
    var fed = 0
    var reconnects = 0
    var stalls = 0
    while fed < stream.raw.count {
        let roll = rng.next()
        now = now + .milliseconds(Int32(roll % 4 == 0 ? (roll >> 4) % 30_000 : (roll >> 4) % 50))
        var chunk = Int((roll >> 20) % 48) + 1
        chunk = min(chunk, stream.raw.count - fed)
        let offered = stream.view.slice(from: fed, count: chunk)
        let taken: Int
        if roll & 0x100 != 0 {
            taken = session.receive(offered.buffer)
        } else {
            let space = session.receiveSpace()
            taken = min(space.count, chunk)
            if taken > 0 { offered.slice(from: 0, count: taken).copyBytes(to: space.baseAddress!) }
            session.didReceive(taken)
        }
        fed += taken
        if roll & 0x200 != 0 { maybeRequest() }
        let alive = drainEvents()
        sendOutput(partial: roll & 0x400 != 0)
        if !alive {
            reconnects += 1
            if reconnects > 64 { return }
            guard connect() else { return }
            stalls = 0
            continue
        }
        if taken == 0 {
            stalls += 1
            if stalls > 8 { finding("session stuck: receive takes nothing, no event, no error (receive \(receiveSize))") }
        } else {
            stalls = 0
        }
    }
    // Let the timers run out: every path must end in an error or quiet, never a trap.
    var rounds = 0
    while rounds < 8 && session.state != .disconnected {
        rounds += 1
        now = now + .seconds(15)
        _ = drainEvents()
        sendOutput(partial: false)
    }
}
