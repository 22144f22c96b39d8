import DeviceCore
import TestSupport
import Testing

/// A burst of inbound QoS 1 messages that arrives in one read: the session owes a PUBACK for
/// each, more than the transmit buffer holds. The session stops handing out messages until the
/// owed PUBACK fits (`needsOutputSent`), the driver sends, and the connection survives with
/// every message delivered once and acknowledged.
@Suite("Session: inbound QoS 1 burst")
struct SessionBurstTests {
    @Test func burstOfQoS1MessagesLargerThanTheTransmitBufferKeepsTheConnection() throws {
        let buffers = SessionBuffers(receive: 1024, transmit: 64, outbox: 256, window: 4)
        let clientID = PinnedBytes("burst")
        var session = MQTTSession(
            configuration: MQTTSessionConfiguration(connect: MQTTConnect(clientID: clientID.view)),
            memory: buffers.memory)
        let now = DeviceInstant(milliseconds: 0)
        try session.connectionOpened(now: now)
        func drainOutput() -> [UInt8] {
            var out = [UInt8]()
            while true {
                let chunk = session.pendingOutput()
                if chunk.isEmpty { return out }
                out += (0..<chunk.count).map { chunk[$0] }
                session.didSend(chunk.count, now: now)
            }
        }
        _ = drainOutput()
        // CONNACK, then 40 QoS 1 PUBLISHes on "t" (ids 1…40, payload "hi"): 360 bytes, one read.
        var input: [UInt8] = [0x20, 0x02, 0x00, 0x00]
        for id in 1...40 { input += [0x32, 0x07, 0x00, 0x01, 0x74, 0x00, UInt8(id), 0x68, 0x69] }
        #expect(input.withUnsafeBytes { session.receive($0) } == input.count)

        var messages = 0
        var acknowledged = [UInt8]()
        let outcome = Result { () throws(MQTTSessionError) in
            // A driver loop as MQTTClient runs it: drain events, then send; repeat.
            for _ in 0..<10 {
                while let event = try session.nextEvent(now: now) {
                    if case .message = event { messages += 1 }
                }
                acknowledged += drainOutput()
            }
        }
        try outcome.get()
        // 40 messages delivered and 40 PUBACKs sent, whatever the transmit buffer size.
        #expect(messages == 40)
        #expect(acknowledged.count == 40 * 4)
        #expect(acknowledged == (1...40).flatMap { [0x40, 0x02, 0x00, UInt8($0)] })
        #expect(session.state == .connected)
    }
}
