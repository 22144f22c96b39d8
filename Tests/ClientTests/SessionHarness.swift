import DeviceCore
import Testing

/// An event copied out of the receive buffer, so tests can compare it after the next call.
enum Seen: Equatable, CustomStringConvertible {
    case connected(sessionPresent: Bool)
    case subscribed(packetID: UInt16, codes: [UInt8])
    case unsubscribed(packetID: UInt16)
    case published(packetID: UInt16)
    case unknownAck(MQTTPacketType, packetID: UInt16)
    case message(topic: String, payload: String, qos: QoS, packetID: UInt16, dup: Bool, retain: Bool)

    init(_ event: MQTTSessionEvent) {
        switch event {
        case .connected(let present): self = .connected(sessionPresent: present)
        case .subscribed(let suback):
            self = .subscribed(packetID: suback.packetID, codes: (0..<suback.returnCodes.count).map { suback.returnCodes[$0] })
        case .unsubscribed(let id): self = .unsubscribed(packetID: id)
        case .published(let id): self = .published(packetID: id)
        case .unknownAcknowledgement(let type, let id): self = .unknownAck(type, packetID: id)
        case .message(let p):
            self = .message(
                topic: text(p.topic), payload: text(p.payload), qos: p.qos, packetID: p.packetID, dup: p.dup, retain: p.retain)
        }
    }

    var description: String {
        switch self {
        case .connected(let p): return "connected(sp=\(p))"
        case .subscribed(let id, let codes): return "subscribed(\(id), \(codes))"
        case .unsubscribed(let id): return "unsubscribed(\(id))"
        case .published(let id): return "published(\(id))"
        case .unknownAck(let t, let id): return "unknownAck(\(t), \(id))"
        case .message(let t, let p, let q, let id, let d, let r): return "message(\(t), \(p), q\(q.rawValue), id \(id), dup \(d), retain \(r))"
        }
    }
}

func text(_ view: ByteView) -> String { String(decoding: (0..<view.count).map { view[$0] }, as: UTF8.self) }

/// Bytes from hex, whitespace ignored.
func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace }.utf8)
    func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

/// Keeps string literals alive as `ByteView`s for the life of the process.
func view(_ s: StaticString) -> ByteView { ByteView(s) }

/// A session over heap memory the harness owns, driven with virtual time: bytes in, bytes out,
/// events, deadlines. No network, no sleeps.
final class SessionHarness {
    let receive: UnsafeMutableRawBufferPointer
    let transmit: UnsafeMutableRawBufferPointer
    let outbox: UnsafeMutableRawBufferPointer
    let inflight: UnsafeMutableBufferPointer<MQTTInflightEntry>
    let subscriptionStorage: UnsafeMutableBufferPointer<MQTTSubscription>
    var session: MQTTSession
    var now = DeviceInstant(milliseconds: 0)

    init(
        keepAlive: UInt16 = 60, cleanSession: Bool = true, window: Int = 4, outboxBytes: Int = 1024,
        receiveBytes: Int = 1024, transmitBytes: Int = 256, subscriptions: [MQTTSubscription] = [],
        acknowledgementTimeout: DeviceDuration? = .seconds(60), connect: MQTTConnect? = nil
    ) {
        receive = .allocate(byteCount: receiveBytes, alignment: 8)
        transmit = .allocate(byteCount: transmitBytes, alignment: 8)
        outbox = .allocate(byteCount: outboxBytes, alignment: 8)
        inflight = .allocate(capacity: window)
        inflight.initialize(repeating: MQTTInflightEntry())
        subscriptionStorage = .allocate(capacity: max(1, subscriptions.count))
        _ = subscriptionStorage.initialize(from: subscriptions)
        let list = subscriptions.isEmpty ? nil : MQTTTopicFilterList(UnsafeBufferPointer(rebasing: subscriptionStorage[0..<subscriptions.count]))
        let configuration = MQTTSessionConfiguration(
            connect: connect ?? MQTTConnect(clientID: view("dev1"), cleanSession: cleanSession, keepAlive: keepAlive),
            subscriptions: list, connackTimeout: .seconds(30), pingTimeout: .seconds(10),
            acknowledgementTimeout: acknowledgementTimeout)
        session = MQTTSession(
            configuration: configuration,
            memory: MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight))
    }

    deinit {
        receive.deallocate()
        transmit.deallocate()
        outbox.deallocate()
        inflight.deallocate()
        subscriptionStorage.deallocate()
    }

    func at(_ milliseconds: UInt32) { now = DeviceInstant(milliseconds: milliseconds) }

    /// Everything the session wants sent, as hex, marked sent at `now`.
    func sent() -> String {
        var out = [UInt8]()
        while true {
            let chunk = session.pendingOutput()
            if chunk.isEmpty { break }
            out += (0..<chunk.count).map { chunk[$0] }
            session.didSend(chunk.count, now: now)
        }
        return hex(out)
    }

    /// Feeds `hex` and drains events.
    func feed(_ hexString: String) throws(MQTTSessionError) -> [Seen] {
        let data = bytes(hexString)
        var offset = 0
        var seen = [Seen]()
        repeat {
            let taken = data[offset...].withUnsafeBytes { session.receive($0) }
            offset += taken
            seen += try events()
        } while offset < data.count
        return seen
    }

    /// Drains events at `now`.
    func events() throws(MQTTSessionError) -> [Seen] {
        var seen = [Seen]()
        while let event = try session.nextEvent(now: now) { seen.append(Seen(event)) }
        return seen
    }

    /// Opens a connection and answers CONNACK; returns what was sent after CONNACK.
    func connect(sessionPresent: Bool = false) throws(MQTTSessionError) -> [Seen] {
        try session.connectionOpened(now: now)
        _ = sent()
        return try feed(sessionPresent ? "20020100" : "20020000")
    }

    func publish(_ topic: StaticString, _ payload: StaticString, qos: QoS = .atLeastOnce) throws(MQTTSessionError) -> UInt16 {
        try session.publish(topic: view(topic), payload: view(payload), qos: qos)
    }
}
