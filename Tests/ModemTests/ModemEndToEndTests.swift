import DeviceCore
import Foundation
import Glibc
import LinuxBoard
import TestSupport
import Testing

/// The firmware's `ModemLink` over one end of a socketpair (the UART, on the host).
struct SocketLink: ModemLink {
    let fd: Int32
    let clock = MonotonicClock()

    mutating func write(_ bytes: ByteView) {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return  // the line is gone; the request will time out
            }
            offset += n
        }
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: DeviceInstant) -> Int {
        let wait = max(deadline.milliseconds - clock.now().milliseconds, 0)
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(min(wait, 60_000))) == 1 else { return 0 }
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        return max(n, 0)
    }
}

/// `ModemService.serve` on the modem end of a socketpair, in a thread of its own.
final class ServiceThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var _result: Result<ModemService.Statistics, SerialPort.Failure>?
    private var _log: [String] = []

    init(identity: TLSIdentity, fd: Int32, maximumPayload: Int = 2048, shouldStop: @escaping @Sendable () -> Bool = { false }) {
        Thread { [self] in
            var port = SerialPort(fileDescriptor: fd)
            var service = ModemService(identity: identity, maximumPayload: maximumPayload) { line in
                self.lock.lock()
                self._log.append(line)
                self.lock.unlock()
            }
            let result: Result<ModemService.Statistics, SerialPort.Failure>
            do throws(SerialPort.Failure) {
                try service.serve(on: &port, shouldStop: shouldStop)
                result = .success(service.statistics)
            } catch {
                result = .failure(error)
            }
            port.close()
            self.lock.lock()
            self._result = result
            self.lock.unlock()
            self.done.signal()
        }.start()
    }

    /// How serve() ended, or nil if it is still running after `seconds`.
    func wait(seconds: Double) -> Result<ModemService.Statistics, SerialPort.Failure>? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        done.signal()
        lock.lock()
        defer { lock.unlock() }
        return _result
    }

    var log: [String] {
        lock.lock()
        defer { lock.unlock() }
        return _log
    }
}

/// A plain MQTT client's memory, straight to the broker over TLS (the subscriber).
final class DirectClient {
    let buffers = SessionBuffers(receive: 4096, transmit: 1024, outbox: 1024, window: 4)
    let subscriptions = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: 1)

    deinit { subscriptions.deallocate() }
}

@Suite("Modem end to end: ModemTransport ↔ serve() on a socketpair ↔ mosquitto over TLS")
struct ModemEndToEndTests {
    @Test("An MQTTClient publishes 20 QoS 1 messages through the modem; a subscriber sees them all; closing the line ends serve()")
    func publishThroughModem() throws {
        let pki = try PKI.shared().ec
        let broker = try TLSBroker(pki: pki)
        defer { broker.stop() }
        let clock = MonotonicClock()
        let topic: StaticString = "devices/device1/messages/events/"

        // The subscriber, straight to mosquitto with its own certificate.
        let direct = DirectClient()
        direct.subscriptions.initialize(repeating: MQTTSubscription(filter: ByteView("devices/device1/messages/events/#"), qos: .atLeastOnce))
        let subscriberIdentity = try TLSIdentity(caFile: pki.root, certificateFile: pki.subscriber, keyFile: pki.subscriberKey)
        var subscriber = MQTTClient(
            session: MQTTSession(
                configuration: MQTTSessionConfiguration(
                    connect: MQTTConnect(clientID: ByteView("subscriber"), cleanSession: true, keepAlive: 60),
                    subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(direct.subscriptions)),
                    connackTimeout: .seconds(10)),
                memory: direct.buffers.memory),
            transport: TLSTransport(host: "127.0.0.1", port: broker.port, identity: subscriberIdentity),
            clock: clock)
        subscriber.ioTimeout = .milliseconds(200)
        var subscribed = false
        try subscriber.connect()
        let subscribeDeadline = clock.now() + .seconds(10)
        while !subscribed && clock.now() < subscribeDeadline {
            try subscriber.poll(until: clock.now() + .milliseconds(200)) { event in if case .subscribed = event { subscribed = true } }
        }
        try #require(subscribed, "no SUBACK; broker log:\n\(broker.log)")

        // The modem on one end of the line, the firmware's stack on the other.
        let line = try serialLinePair()
        var deviceOpen = true
        defer { if deviceOpen { close(line.device) } }
        let modem = ServiceThread(identity: try modemIdentity(pki), fd: line.modem)

        let frameBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024 + ModemFrame.overhead, alignment: 8)
        let identityBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        let buffers = SessionBuffers(receive: 2048, transmit: 512, outbox: 4096, window: 20)
        defer {
            frameBuffer.deallocate()
            identityBuffer.deallocate()
            withExtendedLifetime(buffers) {}
            withExtendedLifetime(direct) {}
        }
        var channel = ModemChannel(link: SocketLink(fd: line.device), clock: clock, frameBuffer: frameBuffer)
        let identity = try channel.hello(identityBuffer: identityBuffer)
        #expect(String(decoding: identity.buffer, as: UTF8.self) == "device1")
        #expect(channel.modemMaximumPayload == 2048)
        let modemTime = try channel.time()
        #expect(abs(modemTime - Int64(Date().timeIntervalSince1970 * 1000)) < 5_000)

        var transport = ModemTransport(channel: channel, host: ByteView("127.0.0.1"), port: broker.port, tls: true)
        transport.openTimeout = .seconds(10)
        var device = MQTTClient(
            session: MQTTSession(
                configuration: MQTTSessionConfiguration(
                    connect: MQTTConnect(clientID: ByteView("device1"), cleanSession: true, keepAlive: 60),
                    connackTimeout: .seconds(10), acknowledgementTimeout: .seconds(10)),
                memory: buffers.memory),
            transport: transport, clock: clock)
        device.ioTimeout = .milliseconds(100)
        #expect(try device.connect() == false, "a clean session: no session present")

        let payloads = (1...20).map { "{\"n\":\($0)}" }
        var packetIDs: [UInt16] = []
        for payload in payloads {
            let id = try payload.utf8CString.withUnsafeBytes { raw in
                try device.session.publish(topic: ByteView(topic), payload: ByteView(UnsafeRawBufferPointer(rebasing: raw.dropLast())), qos: .atLeastOnce)
            }
            packetIDs.append(id)
        }
        #expect(packetIDs == Array(1...20))
        var acknowledged: [UInt16] = []
        let deadline = clock.now() + .seconds(20)
        while acknowledged.count < 20 && clock.now() < deadline {
            try device.poll(until: clock.now() + .milliseconds(200)) { event in
                if case .published(let id) = event { acknowledged.append(id) }
            }
        }
        #expect(acknowledged.sorted() == packetIDs, "broker log:\n\(broker.log)")

        var received: [String] = []
        let receiveDeadline = clock.now() + .seconds(10)
        while received.count < 20 && clock.now() < receiveDeadline {
            try subscriber.poll(until: clock.now() + .milliseconds(200)) { event in
                if case .message(let message) = event {
                    #expect(String(decoding: message.topic.buffer, as: UTF8.self) == "\(topic)")
                    received.append(String(decoding: message.payload.buffer, as: UTF8.self))
                }
            }
        }
        #expect(received == payloads)
        subscriber.disconnect()

        device.disconnect()  // DISCONNECT, then CLOSE through the modem
        #expect(device.transport.channel.damagedFrames == 0)
        #expect(device.transport.channel.skippedBytes == 0)
        #expect(modem.wait(seconds: 0.3) == nil, "serve() must run until the line closes")

        close(line.device)
        deviceOpen = false
        let ended = try #require(modem.wait(seconds: 5), "serve() did not return after the line closed")
        let statistics = try ended.get()
        #expect(statistics.connections == 1)
        #expect(statistics.damagedFrames == 0)
        #expect(statistics.bytesSent > 20 * 40)
        #expect(statistics.bytesReceived >= 4 + 20 * 4)
        #expect(modem.log.contains { $0.hasPrefix("modem: OPEN 127.0.0.1:\(broker.port) in TLS: connected") }, "\(modem.log)")
        #expect(modem.log.contains("modem: CLOSE"), "\(modem.log)")
    }

    @Test("serve() answers a request and returns when the firmware closes the line right after it")
    func lineClosedAfterRequest() throws {
        let pki = try PKI.shared().ec
        let line = try serialLinePair()
        // HELLO, then the line closes before the answer is read: serve() must neither die of
        // SIGPIPE nor throw.
        let hello = frameBytes(.hello, 1, [1, 0x04, 0x00])
        #expect(hello.withUnsafeBytes { write(line.device, $0.baseAddress, $0.count) } == hello.count)
        close(line.device)
        let modem = ServiceThread(identity: try modemIdentity(pki), fd: line.modem)
        let ended = try #require(modem.wait(seconds: 5), "serve() did not return after the line closed")
        let statistics = try ended.get()
        #expect(statistics.requests == 1)
    }

    @Test("serve() skips noise and damaged frames on the line, counting them, and answers the next request")
    func serveSkipsDamage() throws {
        let pki = try PKI.shared().ec
        let line = try serialLinePair()
        defer { close(line.device) }
        let modem = ServiceThread(identity: try modemIdentity(pki), fd: line.modem)
        var damaged = frameBytes(.time, 1)
        damaged[damaged.count - 1] ^= 0x01
        let bytes = [0x00, 0x42] + damaged + frameBytes(.close, 2)
        #expect(bytes.withUnsafeBytes { write(line.device, $0.baseAddress, $0.count) } == bytes.count)
        var reply = [UInt8](repeating: 0, count: 64)
        var entry = pollfd(fd: line.device, events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 5000) == 1)
        let n = reply.withUnsafeMutableBytes { read(line.device, $0.baseAddress, $0.count) }
        #expect(Array(reply[0..<max(n, 0)]) == frameBytes(.closed, 2))
        shutdown(line.device, Int32(SHUT_WR))
        let statistics = try #require(modem.wait(seconds: 5)).get()
        #expect(statistics.damagedFrames == 1)
        #expect(statistics.requests == 1)
    }

    @Test("serve() returns within its 200 ms poll once shouldStop says so, and closes the line's connection")
    func serveStopsOnRequest() throws {
        let pki = try PKI.shared().ec
        let broker = try TLSBroker(pki: pki)
        defer { broker.stop() }
        let line = try serialLinePair()
        defer { close(line.device) }
        let stop = StopFlag()
        let modem = ServiceThread(identity: try modemIdentity(pki), fd: line.modem, shouldStop: { stop.isSet })
        let frameBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 + ModemFrame.overhead, alignment: 8)
        defer { frameBuffer.deallocate() }
        var channel = ModemChannel(link: SocketLink(fd: line.device), clock: MonotonicClock(), frameBuffer: frameBuffer)
        try channel.open(host: ByteView("127.0.0.1"), port: broker.port, tls: true, timeout: .seconds(5))
        #expect(modem.wait(seconds: 0.3) == nil)

        let clock = MonotonicClock()
        let asked = clock.now()
        stop.set()
        let statistics = try #require(modem.wait(seconds: 5)).get()
        #expect(clock.now() - asked < .milliseconds(1_000))
        #expect(statistics.connections == 1)
        #expect(statistics.requests == 2)  // the HELLO that open() sends first, and the OPEN
        // The modem's end is closed: the device reads end of file.
        var byte: UInt8 = 0
        var entry = pollfd(fd: line.device, events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 2000) == 1)
        #expect(recv(line.device, &byte, 1, 0) == 0)
        // And the broker saw the TLS connection go.
        let deadline = Date().addingTimeInterval(5)
        while !broker.log.contains(" disconnected") && !broker.log.contains("closed its connection") && Date() < deadline { usleep(20_000) }
        #expect(broker.log.contains(" disconnected") || broker.log.contains("closed its connection"), "\(broker.log)")
    }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}
