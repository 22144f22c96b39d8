import DeviceCore
import LinuxBoard
import TestSupport

/// A payload buffer rewritten in place as "msg-0001", "msg-0002"… without allocating.
final class CounterPayload {
    static let prefix: [UInt8] = Array("msg-".utf8)
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 1)

    init() { storage.copyBytes(from: Self.prefix) }
    deinit { storage.deallocate() }

    /// The payload for message `number` (1…9999).
    func view(_ number: Int) -> ByteView {
        var value = number
        var index = 7
        while index >= 4 {
            storage[index] = UInt8(truncatingIfNeeded: 48 + value % 10)
            value /= 10
            index -= 1
        }
        return ByteView(UnsafeRawBufferPointer(storage))
    }

    static func text(_ number: Int) -> String {
        let digits = String(number)
        return "msg-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The number in "msg-0042", or nil.
    static func number(_ text: String) -> Int? {
        guard text.hasPrefix("msg-") else { return nil }
        return Int(text.dropFirst(4))
    }
}

/// An event copied out of the receive buffer.
enum Event: Equatable, CustomStringConvertible {
    case connected(sessionPresent: Bool)
    case subscribed(packetID: UInt16, codes: [UInt8])
    case unsubscribed(packetID: UInt16)
    case published(packetID: UInt16)
    case unknownAck(MQTTPacketType, packetID: UInt16)
    case message(topic: String, payload: String, qos: QoS, packetID: UInt16, dup: Bool)

    init(_ event: MQTTSessionEvent) {
        switch event {
        case .connected(let present): self = .connected(sessionPresent: present)
        case .subscribed(let suback):
            self = .subscribed(packetID: suback.packetID, codes: (0..<suback.returnCodes.count).map { suback.returnCodes[$0] })
        case .unsubscribed(let id): self = .unsubscribed(packetID: id)
        case .published(let id): self = .published(packetID: id)
        case .unknownAcknowledgement(let type, let id): self = .unknownAck(type, packetID: id)
        case .message(let p):
            self = .message(topic: string(p.topic), payload: string(p.payload), qos: p.qos, packetID: p.packetID, dup: p.dup)
        }
    }

    var description: String {
        switch self {
        case .connected(let p): return "connected(sp=\(p))"
        case .subscribed(let id, let codes): return "subscribed(\(id), \(codes))"
        case .unsubscribed(let id): return "unsubscribed(\(id))"
        case .published(let id): return "published(\(id))"
        case .unknownAck(let t, let id): return "unknownAck(\(t), \(id))"
        case .message(let t, let p, let q, let id, let d): return "message(\(t), \(p), q\(q.rawValue), id \(id), dup \(d))"
        }
    }
}

func string(_ view: ByteView) -> String { String(decoding: (0..<view.count).map { view[$0] }, as: UTF8.self) }

/// What went over one transport, decoded into MQTT frames per direction.
final class TrafficLog {
    struct Frame {
        /// 1 for the first connection, 2 after the first reconnect…
        var connection: Int
        var bytes: [UInt8]
        var type: UInt8 { bytes[0] >> 4 }
        var flags: UInt8 { bytes[0] & 0x0F }
    }

    /// A PUBLISH as sent or received.
    struct Publish {
        var connection: Int
        var dup: Bool
        var qos: UInt8
        var packetID: UInt16
        var topic: String
        var payload: String
    }

    private(set) var connections = 0
    private(set) var sent = [Frame]()
    private(set) var received = [Frame]()
    private var sendBuffer = [UInt8]()
    private var receiveBuffer = [UInt8]()

    func connectionOpened() {
        connections += 1
        // A frame cut off by the old connection never went whole: drop it.
        sendBuffer.removeAll()
        receiveBuffer.removeAll()
    }

    func didSend(_ bytes: UnsafeRawBufferPointer) { Self.scan(bytes, into: &sendBuffer, frames: &sent, connection: connections) }
    func didReceive(_ bytes: UnsafeRawBufferPointer) { Self.scan(bytes, into: &receiveBuffer, frames: &received, connection: connections) }

    private static func scan(_ bytes: UnsafeRawBufferPointer, into buffer: inout [UInt8], frames: inout [Frame], connection: Int) {
        buffer += bytes
        while let length = mqttPacketLength(buffer) {
            frames.append(Frame(connection: connection, bytes: Array(buffer[0..<length])))
            buffer.removeFirst(length)
        }
    }

    static func publish(_ frame: Frame) -> Publish? {
        guard frame.type == 3 else { return nil }
        var index = 1
        while frame.bytes[index] & 0x80 != 0 { index += 1 }
        index += 1
        let topicLength = Int(frame.bytes[index]) << 8 | Int(frame.bytes[index + 1])
        index += 2
        let topic = String(decoding: frame.bytes[index..<(index + topicLength)], as: UTF8.self)
        index += topicLength
        let qos = (frame.flags >> 1) & 3
        var packetID: UInt16 = 0
        if qos > 0 {
            packetID = UInt16(frame.bytes[index]) << 8 | UInt16(frame.bytes[index + 1])
            index += 2
        }
        return Publish(
            connection: frame.connection, dup: frame.flags & 0x08 != 0, qos: qos, packetID: packetID, topic: topic,
            payload: String(decoding: frame.bytes[index...], as: UTF8.self))
    }

    var sentPublishes: [Publish] { sent.compactMap(Self.publish) }
    /// PINGREQ frames sent.
    var pingRequests: Int { sent.filter { $0.bytes == [0xC0, 0x00] }.count }
    /// PINGRESP frames received.
    var pingResponses: Int { received.filter { $0.bytes == [0xD0, 0x00] }.count }
}

/// A transport that records what goes through it, so tests can check the bytes on the wire
/// (DUP flags, PINGREQ) of a real connection.
struct RecordingTransport<Base: DeviceTransport>: DeviceTransport {
    typealias Failure = Base.Failure
    var base: Base
    let log: TrafficLog

    mutating func open(timeout: DeviceDuration) throws(Failure) {
        try base.open(timeout: timeout)
        log.connectionOpened()
    }

    mutating func setEndpoint(host: ByteView, port: UInt16) { base.setEndpoint(host: host, port: port) }

    mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(Failure) -> Int {
        let count = try base.send(bytes, timeout: timeout)
        log.didSend(UnsafeRawBufferPointer(start: bytes.baseAddress, count: count))
        return count
    }

    mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(Failure) -> Int {
        let count = try base.receive(into: buffer, timeout: timeout)
        log.didReceive(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count))
        return count
    }

    mutating func close() { base.close() }
}

/// An `MQTTClient` over a recorded `TCPTransport` to the test broker, with the memory and
/// strings its session points into.
final class TestClient {
    typealias Client = MQTTClient<RecordingTransport<TCPTransport>, MonotonicClock>

    let buffers: SessionBuffers
    let clientID: PinnedBytes
    let filter: PinnedBytes?
    let subscriptions: UnsafeMutableBufferPointer<MQTTSubscription>
    let traffic = TrafficLog()
    let clock = MonotonicClock()
    var client: Client
    /// Events handed out by a poll that then failed; the next poll returns them first.
    private var undelivered = [Event]()

    init(
        port: UInt16, clientID id: String, cleanSession: Bool = true, keepAlive: UInt16 = 30,
        subscribeTo topicFilter: String? = nil, window: Int = 16, receive: Int = 4096, transmit: Int = 1024,
        pingTimeout: DeviceDuration = DeviceDuration.seconds(5), ioTimeout: DeviceDuration = DeviceDuration.milliseconds(200)
    ) {
        buffers = SessionBuffers(receive: receive, transmit: transmit, outbox: window * 64, window: window)
        clientID = PinnedBytes(id)
        filter = topicFilter.map(PinnedBytes.init)
        subscriptions = .allocate(capacity: 1)
        var list: MQTTTopicFilterList?
        if let filter {
            subscriptions.initialize(repeating: MQTTSubscription(filter: filter.view, qos: .atLeastOnce))
            list = MQTTTopicFilterList(UnsafeBufferPointer(subscriptions))
        }
        let configuration = MQTTSessionConfiguration(
            connect: MQTTConnect(clientID: clientID.view, cleanSession: cleanSession, keepAlive: keepAlive),
            subscriptions: list, connackTimeout: .seconds(5), pingTimeout: pingTimeout,
            acknowledgementTimeout: .seconds(10))
        let session = MQTTSession(configuration: configuration, memory: buffers.memory)
        client = Client(
            session: session,
            transport: RecordingTransport(base: TCPTransport(host: "127.0.0.1", port: port), log: traffic),
            clock: clock)
        client.ioTimeout = ioTimeout
    }

    deinit {
        client.transport.close()
        subscriptions.deallocate()
    }

    /// Connects and returns the events up to and including `.connected`.
    func connect() throws(Client.Failure) -> [Event] {
        [.connected(sessionPresent: try client.connect())]
    }

    /// One `poll`, waiting at most `milliseconds` for input. Events handed out before a poll
    /// fails (PUBACKs read just before the peer's close) are returned by the next poll, not lost.
    func poll(milliseconds: Int32) throws(Client.Failure) -> [Event] {
        try client.poll(until: clock.now() + DeviceDuration.milliseconds(milliseconds)) { undelivered.append(Event($0)) }
        defer { undelivered.removeAll() }
        return undelivered
    }

    /// Polls until `done` holds for the events so far, or `seconds` pass.
    func poll(upTo seconds: Int32, until done: ([Event]) -> Bool) throws(Client.Failure) -> [Event] {
        let deadline = clock.now() + DeviceDuration.seconds(seconds)
        var events = [Event]()
        while !done(events) && clock.now() < deadline {
            events += try poll(milliseconds: 100)
        }
        return events
    }

    /// The socket under the client (-1 when closed).
    var fileDescriptor: Int32 { client.transport.base.fileDescriptor }
}
