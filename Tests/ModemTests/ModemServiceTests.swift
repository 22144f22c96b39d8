import DeviceCore
import Foundation
import LinuxBoard
import TestSupport
import Testing

/// The modem's answer to `request` (a complete frame's bytes), through `respond(to:)`.
func answer(_ service: inout ModemService, _ request: [UInt8]) -> [UInt8] {
    let harness = ReaderHarness(capacity: request.count + 8)
    #expect(harness.feed(request) == request.count)
    do throws(ModemFrameError) {
        guard let frame = try harness.reader.nextFrame() else {
            Issue.record("the request is not a complete frame")
            return []
        }
        return service.respond(to: frame)
    } catch {
        Issue.record("the request is damaged: \(error)")
        return []
    }
}

/// The ERROR frame the modem should send: code, flags, message.
func errorFrame(_ sequence: UInt8, _ code: ModemErrorCode, retriable: Bool, _ message: String) -> [UInt8] {
    frameBytes(.error, sequence, [code.rawValue, retriable ? 1 : 0] + utf8(message))
}

/// requests, connections, bytesSent, bytesReceived, damagedFrames.
func totals(_ s: ModemService.Statistics) -> [Int] { [s.requests, s.connections, s.bytesSent, s.bytesReceived, s.damagedFrames] }

func modemIdentity(_ pki: PKI.EC, caFile: String? = nil) throws -> TLSIdentity {
    try TLSIdentity(caFile: caFile ?? pki.root, certificateFile: pki.device, keyFile: pki.deviceKey)
}

@Suite("ModemService.respond(to:)")
struct ModemServiceTests {
    @Test("HELLO is answered with version, the modem's limit and the certificate's CN")
    func helloReply() throws {
        var service = ModemService(identity: try modemIdentity(try PKI.shared().ec))
        let reply = answer(&service, frameBytes(.hello, 1, [1, 0x04, 0x00]))
        #expect(reply == [0xA5, 0x81, 0x01, 0x00, 0x0A, 0x01, 0x08, 0x00,
                          0x64, 0x65, 0x76, 0x69, 0x63, 0x65, 0x31, 0x80, 0x64])
        #expect(service.statistics.requests == 1)

        var small = ModemService(identity: try modemIdentity(try PKI.shared().ec), maximumPayload: 64)
        #expect(answer(&small, frameBytes(.hello, 0xFE, [1, 0x00, 0x40])) == frameBytes(.helloReply, 0xFE, [1, 0x00, 0x40] + utf8("device1")))
    }

    @Test("Unknown kinds, response kinds and short or invalid fields → ERROR malformedRequest, not retriable")
    func malformedRequests() throws {
        var service = ModemService(identity: try modemIdentity(try PKI.shared().ec))
        let cases: [([UInt8], String)] = [
            (frameBytes(0x07, 3), "unknown request kind 0x7"),
            (frameBytes(0x42, 4, [1, 2]), "unknown request kind 0x42"),
            (frameBytes(0x81, 5, [1, 0x04, 0x00]), "0x81 is a response, not a request"),
            (frameBytes(0x86, 6), "0x86 is a response, not a request"),
            (frameBytes(0xFF, 7, [1, 0]), "0xff is a response, not a request"),
            (frameBytes(.hello, 8, [1]), "request too short: 1 bytes"),
            (frameBytes(.hello, 9), "request too short: 0 bytes"),
            (frameBytes(.open, 10, [0x22, 0xB3, 0x01]), "request too short: 3 bytes"),
            (frameBytes(.open, 11, [0x22, 0xB3, 0x01, 0, 0, 0x03, 0xE8]), "OPEN without a valid UTF-8 host name"),
            (frameBytes(.open, 12, [0x22, 0xB3, 0x01, 0, 0, 0x03, 0xE8, 0xC3, 0x28]), "OPEN without a valid UTF-8 host name"),
            (frameBytes(.send, 13, [0, 0]), "request too short: 2 bytes"),
            (frameBytes(.receive, 14, [0, 0x10, 0, 0]), "request too short: 4 bytes"),
        ]
        for (request, message) in cases {
            let sequence = request[2]
            #expect(answer(&service, request) == errorFrame(sequence, .malformedRequest, retriable: false, message), "\(message)")
        }
        #expect(service.statistics.requests == cases.count)
        #expect(service.statistics.connections == 0)
    }

    @Test("HELLO with another protocol version → ERROR unsupportedVersion")
    func unsupportedVersion() throws {
        var service = ModemService(identity: try modemIdentity(try PKI.shared().ec))
        #expect(answer(&service, frameBytes(.hello, 1, [2, 0x04, 0x00]))
            == errorFrame(1, .unsupportedVersion, retriable: false, "the firmware speaks protocol version 2; this modem speaks 1"))
    }

    @Test("SEND and RECV without OPEN → ERROR notOpen, retriable; CLOSE without OPEN is fine")
    func notOpen() throws {
        var service = ModemService(identity: try modemIdentity(try PKI.shared().ec))
        #expect(answer(&service, frameBytes(.send, 1, [0, 0, 0x03, 0xE8] + utf8("abc")))
            == errorFrame(1, .notOpen, retriable: true, "SEND without an open connection: OPEN first"))
        #expect(answer(&service, frameBytes(.receive, 2, [0, 0x10, 0, 0, 0x03, 0xE8]))
            == errorFrame(2, .notOpen, retriable: true, "RECV without an open connection: OPEN first"))
        #expect(answer(&service, frameBytes(.close, 3)) == frameBytes(.closed, 3))
        #expect(totals(service.statistics) == [3, 0, 0, 0, 0])
    }

    @Test("No frame to the firmware exceeds the limit it gave in HELLO (ERROR messages and the identity are cut)")
    func repliesRespectDeviceLimit() throws {
        var service = ModemService(identity: try modemIdentity(try PKI.shared().ec))
        #expect(answer(&service, frameBytes(.hello, 1, [1, 0x00, 0x20])) == frameBytes(.helloReply, 1, [1, 0x08, 0x00] + utf8("device1")))
        let reply = answer(&service, frameBytes(.send, 2, [0, 0, 0, 1, 0x61]))
        #expect(reply == errorFrame(2, .notOpen, retriable: true, "SEND without an open connectio"))
        #expect(reply.count == 32 + ModemFrame.overhead)

        #expect(answer(&service, frameBytes(.hello, 3, [1, 0x00, 0x05])) == frameBytes(.helloReply, 3, [1, 0x08, 0x00] + utf8("de")))
        #expect(answer(&service, frameBytes(0x70, 4)) == errorFrame(4, .malformedRequest, retriable: false, "unk"))
    }

    @Test("OPEN to a closed local port → ERROR connectFailed, retriable (TCP and TLS)")
    func openClosedPort() throws {
        var service = ModemService(identity: try modemIdentity(try PKI.shared().ec))
        let port = try freeLoopbackPort()
        let open = be16(Int(port)) + [0x00] + be32(2000) + utf8("127.0.0.1")
        #expect(answer(&service, frameBytes(.open, 1, open)) == errorFrame(1, .connectFailed, retriable: true,
            "127.0.0.1:\(port) refused the connection: nothing is listening on port \(port). Check the port number and that the server is running and listening on that address."))
        #expect(TCPTransport.Failure.connectionRefused(host: "127.0.0.1", port: port).description.hasPrefix("127.0.0.1:\(port) refused the connection"))

        let openTLS = be16(Int(port)) + [0x01] + be32(2000) + utf8("127.0.0.1")
        #expect(answer(&service, frameBytes(.open, 2, openTLS)) == errorFrame(2, .connectFailed, retriable: true,
            TLSFailure.connectionRefused(host: "127.0.0.1", port: port).description))
        #expect(service.statistics.connections == 0)
        // A failed OPEN leaves no connection behind.
        #expect(answer(&service, frameBytes(.receive, 3, [0, 0x10, 0, 0, 0, 0]))
            == errorFrame(3, .notOpen, retriable: true, "RECV without an open connection: OPEN first"))
    }

    @Test("OPEN in TLS to a server whose certificate is not trusted → ERROR tlsFailed, not retriable")
    func openUntrustedServer() throws {
        let pki = try PKI.shared().ec
        let broker = try TLSBroker(pki: pki)
        defer { broker.stop() }
        var service = ModemService(identity: try modemIdentity(pki, caFile: pki.unrelatedRoot))
        let reply = answer(&service, frameBytes(.open, 9, be16(Int(broker.port)) + [0x01] + be32(5000) + utf8("127.0.0.1")))
        let frame = try #require(parseFrame(reply))
        #expect(frame.kind == 0xFF)
        #expect(frame.sequence == 9)
        #expect(Array(frame.payload.prefix(2)) == [ModemErrorCode.tlsFailed.rawValue, 0x00])
        let message = String(decoding: frame.payload.dropFirst(2), as: UTF8.self)
        #expect(message.hasPrefix("the certificate of 127.0.0.1 is not trusted: its chain does not lead to a CA in \"\(pki.unrelatedRoot)\""), "\(message)")
        #expect(service.statistics.connections == 0)
        #expect(answer(&service, frameBytes(.send, 10, [0, 0, 0, 0, 1]))
            == errorFrame(10, .notOpen, retriable: true, "SEND without an open connection: OPEN first"))
    }

    @Test("OPEN in TLS to a trusted broker, SEND an MQTT CONNECT, RECV its CONNACK, CLOSE")
    func openSendReceiveClose() throws {
        let pki = try PKI.shared().ec
        let broker = try TLSBroker(pki: pki)
        defer { broker.stop() }
        var service = ModemService(identity: try modemIdentity(pki))
        #expect(answer(&service, frameBytes(.open, 1, be16(Int(broker.port)) + [0x01] + be32(5000) + utf8("127.0.0.1")))
            == frameBytes(.opened, 1))
        let connect: [UInt8] = [0x10, 0x12, 0x00, 0x04] + utf8("MQTT") + [0x04, 0x02, 0x00, 0x3C, 0x00, 0x06] + utf8("direct")
        #expect(answer(&service, frameBytes(.send, 2, be32(2000) + connect)) == frameBytes(.sent, 2, be16(connect.count)))
        #expect(answer(&service, frameBytes(.receive, 3, [0x00, 0x40] + be32(5000))) == frameBytes(.received, 3, [0x20, 0x02, 0x00, 0x00]))
        // Nothing more comes: an empty RECEIVED after the timeout.
        #expect(answer(&service, frameBytes(.receive, 4, [0x00, 0x40] + be32(50))) == frameBytes(.received, 4))
        #expect(answer(&service, frameBytes(.close, 5)) == frameBytes(.closed, 5))
        #expect(totals(service.statistics) == [5, 1, connect.count, 4, 0])
    }

    @Test("TIME answers the wall clock in ms since 1970, u64 big-endian")
    func time() throws {
        var service = ModemService(identity: try modemIdentity(try PKI.shared().ec))
        let before = UInt64(Date().timeIntervalSince1970 * 1000) - 1
        let frame = try #require(parseFrame(answer(&service, frameBytes(.time, 0x33))))
        let after = UInt64(Date().timeIntervalSince1970 * 1000) + 1
        #expect(frame.kind == 0x86)
        #expect(frame.sequence == 0x33)
        #expect(frame.payload.count == 8)
        let value = frame.payload.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(value >= before && value <= after)
    }
}

/// A `ModemLink` whose other end is a `ModemService` in the same thread: each request frame
/// is answered at once through `respond(to:)`.
final class InProcessModem: @unchecked Sendable {
    var service: ModemService
    let harness = ReaderHarness(capacity: 4096)
    var pending: [UInt8] = []
    let clock: VirtualClock

    init(service: ModemService, clock: VirtualClock) {
        self.service = service
        self.clock = clock
    }
}

struct InProcessLink: ModemLink {
    let modem: InProcessModem

    mutating func write(_ bytes: ByteView) {
        modem.harness.feed(Array(bytes.buffer))
        while true {
            do throws(ModemFrameError) {
                guard let frame = try modem.harness.reader.nextFrame() else { return }
                modem.pending += modem.service.respond(to: frame)
            } catch {
                Issue.record("the device wrote a damaged frame: \(error)")
            }
        }
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: DeviceInstant) -> Int {
        guard !modem.pending.isEmpty else {
            modem.clock.sleep(until: deadline)
            return 0
        }
        let count = min(buffer.count, modem.pending.count)
        for i in 0..<count { buffer[i] = modem.pending[i] }
        modem.pending.removeFirst(count)
        return count
    }
}

@Suite("ModemChannel ↔ ModemService in one thread")
struct ChannelServiceTests {
    @Test("A device with a 40-byte frame limit gets the modem's errors cut to fit, not dropped as too large")
    func smallDeviceGetsErrors() throws {
        let clock = VirtualClock()
        let modem = InProcessModem(service: ModemService(identity: try modemIdentity(try PKI.shared().ec)), clock: clock)
        let frameBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 40 + ModemFrame.overhead, alignment: 8)
        let identityBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer {
            frameBuffer.deallocate()
            identityBuffer.deallocate()
        }
        var channel = ModemChannel(link: InProcessLink(modem: modem), clock: clock, frameBuffer: frameBuffer)
        let identity = try channel.hello(identityBuffer: identityBuffer)
        #expect(String(decoding: identity.buffer, as: UTF8.self) == "device1")
        #expect(channel.modemMaximumPayload == 2048)

        let port = try freeLoopbackPort()
        let outcome = failure { () throws(ModemFailure) in
            try channel.open(host: ByteView("127.0.0.1"), port: port, tls: false, timeout: .seconds(2))
        }
        let full = "127.0.0.1:\(port) refused the connection: nothing is listening on port \(port)."
        #expect(outcome == .modem(.connectFailed, retriable: true))
        #expect(lastErrorMessage(channel) == String(full.prefix(38)))
        #expect(channel.damagedFrames == 0)
        #expect(clock.now().milliseconds == 1_000)  // answered at once, no timeout

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
        defer { buffer.deallocate() }
        #expect(failure { () throws(ModemFailure) in try channel.receive(into: buffer, timeout: .milliseconds(10)) }
            == .modem(.notOpen, retriable: true))
        #expect(lastErrorMessage(channel) == "RECV without an open connection: OPEN ")
        #expect(modem.service.statistics.requests == 3)
    }
}
