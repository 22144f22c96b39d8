import DeviceCore
import Testing

@Suite("ModemChannel against a scripted modem")
struct ModemChannelTests {
    /// A modem that answers every request kind the way a healthy one does.
    static func fullReply(_ request: SeenFrame) -> [UInt8] {
        switch request.kind {
        case 0x03: return frameBytes(.sent, request.sequence, be16(request.payload.count - 4))
        case 0x04: return frameBytes(.received, request.sequence, [0x10, 0x20])
        case 0x06: return frameBytes(.timeReply, request.sequence, [0, 0, 0x01, 0x98, 0x12, 0x34, 0x56, 0x78])
        default: return standardReply()(request)
        }
    }

    @Test("The exact bytes of each request, sequence numbers 1 to 6")
    func requestBytes() throws {
        try withChannel(payload: 256, respond: Self.fullReply) { channel, modem in
            try handshake(&channel)
            try channel.open(host: ByteView("127.0.0.1"), port: 8883, tls: true, timeout: .seconds(30))
            let sent = try sendBytes(&channel, utf8("abc"), timeout: .milliseconds(1000))
            #expect(sent == 3)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 1)
            defer { buffer.deallocate() }
            let received = try channel.receive(into: buffer, timeout: .milliseconds(500))
            #expect(received == 2)
            #expect(Array(buffer[0..<2]) == [0x10, 0x20])
            try channel.close()
            let millis = try channel.time()
            #expect(millis == 0x0198_1234_5678)

            #expect(modem.writtenFrames == [
                // HELLO: version 1, device accepts 256 (0x0100).
                [0xA5, 0x01, 0x01, 0x00, 0x03, 0x01, 0x01, 0x00, 0x93, 0xD2],
                // OPEN: port 8883 (0x22B3), TLS, 30,000 ms, "127.0.0.1".
                [0xA5, 0x02, 0x02, 0x00, 0x10, 0x22, 0xB3, 0x01, 0x00, 0x00, 0x75, 0x30,
                 0x31, 0x32, 0x37, 0x2E, 0x30, 0x2E, 0x30, 0x2E, 0x31, 0xD5, 0x8F],
                // SEND: 1,000 ms, "abc".
                [0xA5, 0x03, 0x03, 0x00, 0x07, 0x00, 0x00, 0x03, 0xE8, 0x61, 0x62, 0x63, 0xA8, 0x0F],
                // RECV: at most 100 (the buffer), 500 ms.
                [0xA5, 0x04, 0x04, 0x00, 0x06, 0x00, 0x64, 0x00, 0x00, 0x01, 0xF4, 0x7D, 0xB6],
                // CLOSE, TIME: empty.
                [0xA5, 0x05, 0x05, 0x00, 0x00, 0xD3, 0x75],
                [0xA5, 0x06, 0x06, 0x00, 0x00, 0x11, 0xF9],
            ])
            #expect(modem.written == modem.writtenFrames.flatMap { $0 })
            #expect(channel.damagedFrames == 0)
            #expect(channel.skippedBytes == 0)
        }
    }

    @Test("OPEN in plain TCP clears the TLS flag; a negative timeout is sent as 0, the longest as 2^31 - 1 ms")
    func openFlagsAndTimeoutClamping() throws {
        try withChannel(respond: standardReply()) { channel, modem in
            try handshake(&channel)
            try channel.open(host: ByteView("h"), port: 1883, tls: false, timeout: .milliseconds(-5))
            try channel.open(host: ByteView("h"), port: 1, tls: true, timeout: .maximum)
            #expect(Array(modem.requests.dropFirst()) == [
                SeenFrame(kind: 0x02, sequence: 2, payload: [0x07, 0x5B, 0x00, 0, 0, 0, 0, 0x68]),
                SeenFrame(kind: 0x02, sequence: 3, payload: [0x00, 0x01, 0x01, 0x7F, 0xFF, 0xFF, 0xFF, 0x68]),
            ])
        }
    }

    @Test("OPEN before HELLO exchanges HELLO first; SEND before HELLO keeps to the protocol's minimum limit")
    func requestsBeforeHello() throws {
        try withChannel(payload: 256, respond: Self.fullReply) { channel, modem in
            // Regression: SEND before HELLO computed a negative chunk size and trapped.
            let sent = try sendBytes(&channel, [UInt8](repeating: 0x41, count: 40), timeout: .milliseconds(10))
            #expect(sent == 12)
            #expect(modem.requests.map(\.payload.count) == [16])  // the 4-byte timeout + 12 bytes of data
            #expect(!channel.isReady)
            try channel.open(host: ByteView("h"), port: 8883, tls: true, timeout: .seconds(1))
            #expect(modem.requests.suffix(2).map(\.kind) == [0x01, 0x02])
            #expect(channel.isReady)
            #expect(channel.modemMaximumPayload == 1024)
        }
    }

    @Test("HELLO parses the modem's limit and identity")
    func helloParsesLimitAndIdentity() throws {
        try withChannel(respond: standardReply(limit: 0x0A00, identity: "device-42")) { channel, _ in
            #expect(!channel.isReady)
            let identity = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
            defer { identity.deallocate() }
            let id = try channel.hello(identityBuffer: identity)
            #expect(Array(id.buffer) == utf8("device-42"))
            #expect(id.baseAddress == UnsafeRawPointer(identity.baseAddress))
            #expect(channel.modemMaximumPayload == 2560)
            #expect(channel.isReady)
        }
    }

    @Test("HELLO cuts the identity to the caller's buffer; an empty identity is empty")
    func helloTruncatesIdentity() throws {
        try withChannel(respond: standardReply(identity: "device1")) { channel, _ in
            let identity = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
            defer { identity.deallocate() }
            identity.initializeMemory(as: UInt8.self, repeating: 0xEE)
            let id = try channel.hello(identityBuffer: identity)
            #expect(Array(id.buffer) == utf8("devi"))
            #expect(Array(identity) == utf8("devi"))
        }
        try withChannel(respond: standardReply(identity: "")) { channel, _ in
            let identity = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
            defer { identity.deallocate() }
            let identityCount = try channel.hello(identityBuffer: identity).count
            #expect(identityCount == 0)
            #expect(channel.modemMaximumPayload == 1024)
        }
    }

    @Test("HELLO from a modem of another version → incompatibleModem; a short or tiny-limit reply → unexpectedResponse")
    func helloRejects() {
        withChannel(respond: { frameBytes(.helloReply, $0.sequence, [2, 0x04, 0x00] + utf8("device1")) }) { channel, _ in
            let identity = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
            defer { identity.deallocate() }
            #expect(failure { () throws(ModemFailure) in try channel.hello(identityBuffer: identity) } == .incompatibleModem(version: 2))
            #expect(!channel.isReady)
            #expect(channel.modemMaximumPayload == 0)
        }
        withChannel(respond: { frameBytes(.helloReply, $0.sequence, [1, 0x04]) }) { channel, _ in
            let identity = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
            defer { identity.deallocate() }
            #expect(failure { () throws(ModemFailure) in try channel.hello(identityBuffer: identity) } == .unexpectedResponse(request: .hello, kind: 0x81))
        }
        withChannel(respond: { frameBytes(.helloReply, $0.sequence, [1, 0x00, 0x0F]) }) { channel, _ in
            let identity = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
            defer { identity.deallocate() }
            #expect(failure { () throws(ModemFailure) in try channel.hello(identityBuffer: identity) } == .unexpectedResponse(request: .hello, kind: 0x81))
            #expect(!channel.isReady)
        }
    }

    @Test("An ERROR frame becomes ModemFailure.modem with code and retriable flag; the channel keeps its message")
    func errorFrame() {
        let message = "127.0.0.1:1 refused the connection"
        withChannel(respond: { frameBytes(.error, $0.sequence, [3, 1] + utf8(message)) }) { channel, _ in
            #expect(lastErrorMessage(channel) == "")
            let outcome = failure { () throws(ModemFailure) in
                try channel.open(host: ByteView("127.0.0.1"), port: 1, tls: false, timeout: .seconds(1))
            }
            #expect(outcome == .modem(.connectFailed, retriable: true))
            #expect(lastErrorMessage(channel) == message)
        }
        withChannel(respond: { frameBytes(.error, $0.sequence, [4, 0] + utf8("untrusted")) }) { channel, _ in
            do throws(ModemFailure) {
                try channel.open(host: ByteView("h"), port: 1, tls: true, timeout: .seconds(1))
                Issue.record("open succeeded")
            } catch {
                #expect(Outcome(error) == .modem(.tlsFailed, retriable: false))
                #expect(lastErrorMessage(channel) == "untrusted")
                #expect(!error.isRetriable)
                #expect(!ModemTransport<ScriptedLink, VirtualClock>.isRetriable(error))
            }
        }
    }

    @Test("ModemTransport.close keeps the message of the failure that ended the connection when the modem refuses CLOSE")
    func refusedCloseKeepsTheMessage() {
        withChannel(respond: { request in
            switch request.kind {
            case 0x01: return frameBytes(.helloReply, request.sequence, [1] + be16(1024) + utf8("device1"))
            case 0x02: return frameBytes(.error, request.sequence, [3, 1] + utf8("refused"))
            default: return frameBytes(.error, request.sequence, [2, 1] + utf8("not open"))
            }
        }) { channel, _ in
            var transport = ModemTransport(channel: channel, host: ByteView("h"), port: 1, tls: false)
            #expect(failure { () throws(ModemFailure) in try transport.open(timeout: .seconds(1)) } == .modem(.connectFailed, retriable: true))
            transport.close()
            #expect(lastErrorMessage(transport.channel) == "refused")
            #expect(failure { () throws(ModemFailure) in try transport.channel.close() } == .modem(.notOpen, retriable: true))
            #expect(lastErrorMessage(transport.channel) == "not open")
        }
    }

    @Test("ERROR: an unknown code is .unknown, flag bits other than bit 0 are ignored, long messages are cut to ModemMessage.capacity")
    func errorFrameEdges() {
        let long = String(repeating: "0123456789", count: 12)  // 120 bytes
        #expect(ModemMessage.capacity == 48)
        withChannel(respond: { frameBytes(.error, $0.sequence, [0x42, 0xFE] + utf8(long)) }) { channel, _ in
            #expect(failure { () throws(ModemFailure) in try channel.close() } == .modem(.unknown, retriable: false))
            #expect(lastErrorMessage(channel) == String(long.prefix(ModemMessage.capacity)))
        }
        // An ERROR too short to hold code and flags is an unexpected answer to the request made.
        withChannel(respond: { frameBytes(.error, $0.sequence, [3]) }) { channel, _ in
            #expect(failure { () throws(ModemFailure) in try channel.time() } == .unexpectedResponse(request: .time, kind: 0xFF))
        }
    }

    @Test("Stale responses (old sequence numbers, ERROR included) are skipped")
    func staleResponsesSkipped() throws {
        try withChannel(respond: { request in
            frameBytes(.timeReply, request.sequence &- 1, [0, 0, 0, 0, 0, 0, 0, 1])
                + frameBytes(.error, request.sequence &- 2, [6, 1] + utf8("old"))
                + frameBytes(.timeReply, request.sequence, [0, 0, 0, 0, 0, 0, 0x30, 0x39])
        }) { channel, _ in
            let first = try channel.time()
            #expect(first == 12345)
            let second = try channel.time()
            #expect(second == 12345)
            #expect(channel.damagedFrames == 0)
        }
    }

    @Test("A late answer to a timed-out request is skipped by the next request")
    func lateAnswerAfterTimeout() throws {
        var answerFirst = false
        try withChannel(respond: { request in
            defer { answerFirst = true }
            // The first TIME gets no answer; with the second, its late answer arrives first.
            guard answerFirst else { return [] }
            return frameBytes(.timeReply, request.sequence &- 1, [0, 0, 0, 0, 0, 0, 0, 1])
                + frameBytes(.timeReply, request.sequence, [0, 0, 0, 0, 0, 0, 0, 2])
        }) { channel, _ in
            channel.responseGrace = .milliseconds(100)
            #expect(failure { () throws(ModemFailure) in try channel.time() } == .noResponse(request: .time))
            let millis = try channel.time()
            #expect(millis == 2)
        }
    }

    @Test("A response of the wrong kind → unexpectedResponse(request, kind)")
    func wrongKind() {
        withChannel(respond: { frameBytes(.closed, $0.sequence) }) { channel, _ in
            #expect(failure { () throws(ModemFailure) in try channel.time() } == .unexpectedResponse(request: .time, kind: 0x85))
        }
        // TIME reply of the wrong length.
        withChannel(respond: { frameBytes(.timeReply, $0.sequence, [1, 2, 3]) }) { channel, _ in
            #expect(failure { () throws(ModemFailure) in try channel.time() } == .unexpectedResponse(request: .time, kind: 0x86))
        }
    }

    @Test("No answer → noResponse after exactly timeout + grace on the virtual clock")
    func noResponseTiming() {
        let clock = VirtualClock(start: 1_000)
        // A modem that answers HELLO and nothing else.
        withChannel(clock: clock, respond: { $0.kind == 0x01 ? standardReply()($0) : [] }) { channel, modem in
            #expect(failure { () throws(ModemFailure) in try handshake(&channel) } == nil)
            #expect(clock.now().milliseconds == 1_000)
            let readsAfterHello = modem.reads
            #expect(failure { () throws(ModemFailure) in
                try channel.open(host: ByteView("h"), port: 1, tls: true, timeout: .seconds(30))
            } == .noResponse(request: .open))
            #expect(clock.now().milliseconds == 1_000 + 30_000 + 5_000)
            #expect(modem.reads == readsAfterHello + 1)

            channel.responseGrace = .milliseconds(100)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
            defer { buffer.deallocate() }
            #expect(failure { () throws(ModemFailure) in try channel.receive(into: buffer, timeout: .milliseconds(250)) }
                == .noResponse(request: .receive))
            #expect(clock.now().milliseconds == 36_000 + 350)
            // Requests without a timeout of their own wait for the grace alone.
            #expect(failure { () throws(ModemFailure) in try channel.close() } == .noResponse(request: .close))
            #expect(clock.now().milliseconds == 36_450)
        }
    }

    @Test("Damaged frames and noise on the line are skipped and counted; byte-by-byte delivery works")
    func damagedFramesCounted() throws {
        try withChannel(respond: { request in
            var damaged = frameBytes(.timeReply, request.sequence, [0, 0, 0, 0, 0, 0, 0, 9])
            damaged[damaged.count - 1] ^= 0xFF
            return [0x00, 0x11] + damaged + frameBytes(.timeReply, request.sequence, [0, 0, 0, 0, 0, 0, 0, 7])
        }) { channel, modem in
            modem.readChunk = 1
            let millis = try channel.time()
            #expect(millis == 7)
            #expect(channel.damagedFrames == 1)
            #expect(channel.skippedBytes == 2 + 15)
        }
    }

    @Test("send cuts data to the modem's limit less the 4-byte timeout field")
    func sendChunksToModemLimit() throws {
        let data = (0..<100).map { UInt8($0) }
        try withChannel(payload: 256, respond: { request in
            request.kind == 0x03 ? frameBytes(.sent, request.sequence, be16(request.payload.count - 4)) : standardReply(limit: 64)(request)
        }) { channel, modem in
            try handshake(&channel)
            #expect(channel.modemMaximumPayload == 64)
            let sent = try sendBytes(&channel, data, timeout: .milliseconds(200))
            #expect(sent == 60)
            #expect(modem.requests.last == SeenFrame(kind: 0x03, sequence: 2, payload: [0, 0, 0, 200] + data[..<60]))
            #expect(modem.writtenFrames.last.map { Array($0[3...4]) } == [0x00, 0x40])
        }
    }

    @Test("SENT with more bytes than the chunk, or not 2 bytes long → unexpectedResponse")
    func sentCountChecked() throws {
        try withChannel(respond: { request in
            request.kind == 0x03 ? frameBytes(.sent, request.sequence, [0x00, 0x04]) : standardReply()(request)
        }) { channel, _ in
            try handshake(&channel)
            #expect(failure { () throws(ModemFailure) in
                try sendBytes(&channel, utf8("abc"), timeout: .zero)
            } == .unexpectedResponse(request: .send, kind: 0x83))
        }
        try withChannel(respond: { request in
            request.kind == 0x03 ? frameBytes(.sent, request.sequence, [0x03]) : standardReply()(request)
        }) { channel, _ in
            try handshake(&channel)
            #expect(failure { () throws(ModemFailure) in
                try sendBytes(&channel, utf8("abc"), timeout: .zero)
            } == .unexpectedResponse(request: .send, kind: 0x83))
        }
    }

    @Test("receive asks for at most its buffer (and the frame buffer), and refuses a bigger answer")
    func receiveBoundedByBuffer() throws {
        var answer: [UInt8] = []
        try withChannel(payload: 32, respond: { request in frameBytes(.received, request.sequence, answer) }) { channel, modem in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 10, alignment: 1)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            answer = Array(1...11)
            #expect(failure { () throws(ModemFailure) in try channel.receive(into: buffer, timeout: .milliseconds(1)) }
                == .unexpectedResponse(request: .receive, kind: 0x84))
            #expect(Array(buffer) == Array(repeating: 0, count: 10))
            #expect(modem.requests.last?.payload == [0x00, 0x0A, 0, 0, 0, 1])

            answer = Array(1...10)
            let full = try channel.receive(into: buffer, timeout: .milliseconds(1))
            #expect(full == 10)
            #expect(Array(buffer) == Array(1...10))

            answer = []
            let empty = try channel.receive(into: buffer, timeout: .milliseconds(1))
            #expect(empty == 0)

            // A buffer larger than the frame buffer's payload asks for the frame limit (32).
            let large = UnsafeMutableRawBufferPointer.allocate(byteCount: 1000, alignment: 1)
            defer { large.deallocate() }
            answer = Array(repeating: 7, count: 32)
            let limited = try channel.receive(into: large, timeout: .milliseconds(1))
            #expect(limited == 32)
            #expect(modem.requests.last?.payload == [0x00, 0x20, 0, 0, 0, 1])
        }
    }

    @Test("time() decodes the u64 big-endian milliseconds")
    func timeDecodes() throws {
        try withChannel(respond: { frameBytes(.timeReply, $0.sequence, [0x00, 0x00, 0x01, 0x98, 0xA7, 0x6B, 0x2C, 0x01]) }) { channel, _ in
            let millis = try channel.time()
            #expect(millis == 1_755_155_475_457)
        }
        try withChannel(respond: { frameBytes(.timeReply, $0.sequence, [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]) }) { channel, _ in
            let largest = try channel.time()
            #expect(largest == Int64.max - 1)
        }
    }

    @Test("Sequence numbers wrap from 255 to 0")
    func sequenceWraps() throws {
        try withChannel(respond: { frameBytes(.closed, $0.sequence) }) { channel, modem in
            for _ in 0..<257 { try channel.close() }
            #expect(modem.requests.map(\.sequence).suffix(3) == [255, 0, 1])
        }
    }
}
