import DeviceCore
import Testing

/// CONNECT for client "dev1", clean session, keep-alive 60.
let connectClean60 = "101000044d5154540402003c000464657631"

@Suite("Session: connect")
struct ConnectTranscripts {
    @Test func acceptedConnectionReportsSessionPresentAndArmsKeepAlive() throws {
        let h = SessionHarness()
        h.at(1_000)
        try h.session.connectionOpened(now: h.now)
        #expect(h.session.state == .connecting(deadline: DeviceInstant(milliseconds: 31_000)))
        #expect(h.session.nextDeadline == DeviceInstant(milliseconds: 31_000))
        #expect(h.sent() == connectClean60)
        h.at(1_200)
        #expect(try h.feed("20020000") == [.connected(sessionPresent: false)])
        #expect(h.session.state == .connected)
        // Keep-alive counts from the last send (CONNECT at 1 000 ms).
        #expect(h.session.nextDeadline == DeviceInstant(milliseconds: 61_000))
        #expect(h.sent() == "")
    }

    @Test(arguments: [
        (UInt8(1), MQTTConnectReturnCode.unacceptableProtocolVersion, false),
        (2, .identifierRejected, false),
        (3, .serverUnavailable, true),
        (4, .badUserNameOrPassword, false),
        (5, .notAuthorized, false),
    ])
    func refusedConnectionIsATypedError(code: UInt8, expected: MQTTConnectReturnCode, retriable: Bool) throws {
        let h = SessionHarness()
        try h.session.connectionOpened(now: h.now)
        _ = h.sent()
        let error = #expect(throws: MQTTSessionError.self) { try h.feed("2002000" + String(code)) }
        #expect(error == .connectionRefused(expected))
        #expect(error?.isRetriable == retriable)
        #expect(h.session.state == .disconnected)
        #expect(h.session.nextDeadline == nil)
    }

    @Test func noConnackWithinTimeoutIsAnError() throws {
        let h = SessionHarness()
        try h.session.connectionOpened(now: h.now)
        _ = h.sent()
        h.at(29_999)
        #expect(try h.events() == [])
        h.at(30_000)
        #expect(throws: MQTTSessionError.connackTimeout) { try h.events() }
        #expect(h.session.state == .disconnected)
    }

    @Test func anyPacketBeforeConnackIsAProtocolViolation() throws {
        let h = SessionHarness()
        try h.session.connectionOpened(now: h.now)
        _ = h.sent()
        #expect(throws: MQTTSessionError.unexpectedPacket(.puback)) { try h.feed("40020001") }
    }

    @Test func secondConnackIsUnexpected() throws {
        let h = SessionHarness()
        _ = try h.connect()
        #expect(throws: MQTTSessionError.unexpectedPacket(.connack)) { try h.feed("20020000") }
    }

    @Test func malformedPacketFromServerNamesTheRule() throws {
        let h = SessionHarness()
        _ = try h.connect()
        // PUBLISH with QoS 3.
        #expect(throws: MQTTSessionError.malformedPacket(MQTTDecodeError(.invalidQoS, at: 0))) { try h.feed("36050001740001") }
        #expect(h.session.state == .disconnected)
    }
}

@Suite("Session: keep-alive")
struct KeepAliveTranscripts {
    @Test func pingAfterIdleIntervalAndPongRearmsTimer() throws {
        let h = SessionHarness(keepAlive: 60)
        _ = try h.connect()
        h.at(59_999)
        #expect(try h.events() == [])
        #expect(h.sent() == "")
        h.at(60_000)
        #expect(try h.events() == [])
        #expect(h.sent() == "c000")
        // Waiting for PINGRESP until 60 000 + 10 000.
        #expect(h.session.nextDeadline == DeviceInstant(milliseconds: 70_000))
        h.at(60_500)
        #expect(try h.feed("d000") == [])
        #expect(h.session.nextDeadline == DeviceInstant(milliseconds: 120_000))
    }

    @Test func noPongIsADeadConnection() throws {
        let h = SessionHarness(keepAlive: 60)
        _ = try h.connect()
        h.at(60_000)
        _ = try h.events()
        #expect(h.sent() == "c000")
        h.at(69_999)
        #expect(try h.events() == [])
        h.at(70_000)
        #expect(throws: MQTTSessionError.pingTimeout) { try h.events() }
    }

    @Test func anyPacketCountsAsProofOfLife() throws {
        let h = SessionHarness(keepAlive: 60)
        _ = try h.connect()
        h.at(60_000)
        _ = try h.events()
        _ = h.sent()
        h.at(65_000)
        #expect(try h.feed("30040001746d") == [.message(topic: "t", payload: "m", qos: .atMostOnce, packetID: 0, dup: false, retain: false)])
        h.at(70_000)
        #expect(try h.events() == [])
    }

    @Test func sendingPostponesThePing() throws {
        let h = SessionHarness(keepAlive: 60)
        _ = try h.connect()
        h.at(30_000)
        try h.session.publish(topic: view("t"), payload: view("x"), qos: .atMostOnce)
        #expect(h.sent() == "3004000174" + "78")
        #expect(h.session.nextDeadline == DeviceInstant(milliseconds: 90_000))
    }

    @Test func keepAliveZeroNeverPings() throws {
        let h = SessionHarness(keepAlive: 0, acknowledgementTimeout: nil)
        try h.session.connectionOpened(now: h.now)
        #expect(h.sent() == "101000044d51545404020000000464657631")
        _ = try h.feed("20020000")
        #expect(h.session.nextDeadline == nil)
        h.at(10_000_000)
        #expect(try h.events() == [])
        #expect(h.sent() == "")
    }
}

@Suite("Session: publish QoS 1")
struct PublishTranscripts {
    @Test func windowFillsThenPubackFreesASlot() throws {
        let h = SessionHarness(window: 2)
        _ = try h.connect()
        #expect(try h.publish("t", "a") == 1)
        #expect(try h.publish("t", "b") == 2)
        #expect(throws: MQTTSessionError.backPressure(.windowFull(capacity: 2))) { try h.publish("t", "c") }
        #expect(h.sent() == "32060001740001" + "61" + "32060001740002" + "62")
        #expect(try h.feed("40020001") == [.published(packetID: 1)])
        #expect(try h.publish("t", "c") == 3)
        #expect(h.sent() == "32060001740003" + "63")
        #expect(h.session.unacknowledgedCount == 2)
    }

    @Test func outboxBytesFullIsBackPressureWithSizes() throws {
        // Each of these packets is 8 bytes; 20 bytes hold two.
        let h = SessionHarness(window: 8, outboxBytes: 20)
        _ = try h.connect()
        _ = try h.publish("t", "a")
        _ = try h.publish("t", "b")
        #expect(throws: MQTTSessionError.backPressure(.outboxFull(needed: 8, available: 4))) { try h.publish("t", "c") }
        #expect(throws: MQTTSessionError.bufferTooSmall(BufferTooSmall(needed: 23, capacity: 20))) {
            try h.publish("t", "0123456789abcdef")
        }
        _ = h.sent()
        _ = try h.feed("40020001")
        // The freed space at the front is reused.
        #expect(try h.publish("t", "c") == 3)
    }

    @Test func pubacksInAnyOrderAndUnknownOnesAreReported() throws {
        let h = SessionHarness(window: 4)
        _ = try h.connect()
        for payload: StaticString in ["a", "b", "c"] { _ = try h.publish("t", payload) }
        _ = h.sent()
        #expect(try h.feed("40020003" + "40020001" + "40020009" + "40020002") == [
            .published(packetID: 3), .published(packetID: 1), .unknownAck(.puback, packetID: 9), .published(packetID: 2),
        ])
        #expect(try h.feed("40020001") == [.unknownAck(.puback, packetID: 1)])
        #expect(h.session.unacknowledgedCount == 0)
    }

    @Test func packetIDsSkipThoseStillInFlightAndWrapPast65535() throws {
        let h = SessionHarness(window: 2)
        _ = try h.connect()
        #expect(try h.publish("t", "a") == 1)
        _ = h.sent()
        // Cycle ids with the second slot until the counter wraps; id 1 stays in flight.
        for expected in 2...65535 {
            #expect(try h.publish("t", "b") == UInt16(expected))
            _ = h.sent()
            _ = try h.feed("4002" + hex4(expected))
        }
        #expect(try h.publish("t", "c") == 2, "0 is never used and 1 is still in flight")
    }

    @Test func qos2PublishIsRefused() throws {
        let h = SessionHarness()
        _ = try h.connect()
        #expect(throws: MQTTSessionError.encoding(.invalid(.invalidQoS))) { try h.publish("t", "a", qos: .exactlyOnce) }
    }

    @Test func invalidTopicIsAnEncodingError() throws {
        let h = SessionHarness()
        _ = try h.connect()
        #expect(throws: MQTTSessionError.encoding(.invalid(.wildcardInTopicName))) { try h.publish("t/#", "a") }
        #expect(h.session.unacknowledgedCount == 0)
    }

    @Test func noAckWithinTimeoutEndsTheConnection() throws {
        let h = SessionHarness(keepAlive: 0, acknowledgementTimeout: .seconds(5))
        _ = try h.connect()
        h.at(1_000)
        _ = try h.publish("t", "a")
        _ = h.sent()
        #expect(h.session.nextDeadline == DeviceInstant(milliseconds: 6_000))
        h.at(5_999)
        #expect(try h.events() == [])
        h.at(6_000)
        #expect(throws: MQTTSessionError.acknowledgementTimeout(packetID: 1)) { try h.events() }
    }
}

@Suite("Session: inbound")
struct InboundTranscripts {
    @Test func qos1MessageIsAcknowledgedAfterTheApplicationTookIt() throws {
        let h = SessionHarness()
        _ = try h.connect()
        let data = bytes("32070001740005" + "6869")  // QoS 1, id 5, "hi"
        _ = data.withUnsafeBytes { h.session.receive($0) }
        let first = try h.session.nextEvent(now: h.now).map(Seen.init)
        #expect(first == .message(topic: "t", payload: "hi", qos: .atLeastOnce, packetID: 5, dup: false, retain: false))
        #expect(h.sent() == "", "no PUBACK before the application comes back")
        #expect(try h.session.nextEvent(now: h.now) == nil)
        #expect(h.sent() == "40020005")
    }

    /// An application that stops after taking a message (DPS's last answer) still acknowledges it.
    @Test func disconnectAcknowledgesTheMessageTakenLast() throws {
        let h = SessionHarness()
        _ = try h.connect()
        let data = bytes("32070001740005" + "6869")  // QoS 1, id 5, "hi"
        _ = data.withUnsafeBytes { h.session.receive($0) }
        #expect(try h.session.nextEvent(now: h.now).map(Seen.init) == .message(topic: "t", payload: "hi", qos: .atLeastOnce, packetID: 5, dup: false, retain: false))
        try h.session.disconnect()
        #expect(h.sent() == "40020005" + "e000", "PUBACK, then DISCONNECT")
    }

    @Test func disconnectWithNothingOwedIsDisconnectAlone() throws {
        let h = SessionHarness()
        _ = try h.connect()
        #expect(try h.feed("32070001740005" + "6869").count == 1)
        #expect(h.sent() == "40020005")
        try h.session.disconnect()
        #expect(h.sent() == "e000")
    }

    @Test func redeliveryWithDupIsDeliveredAndAcknowledgedAgain() throws {
        let h = SessionHarness()
        _ = try h.connect()
        #expect(try h.feed("3a070001740005" + "6869") == [.message(topic: "t", payload: "hi", qos: .atLeastOnce, packetID: 5, dup: true, retain: false)])
        #expect(h.sent() == "40020005")
    }

    @Test func qos2PublishClosesTheSession() throws {
        let h = SessionHarness()
        _ = try h.connect()
        #expect(throws: MQTTSessionError.unsolicitedQoS2Publish(packetID: 7)) { try h.feed("34070001740007" + "6869") }
        #expect(h.session.state == .disconnected)
    }

    @Test(arguments: ["10", "82", "a2", "c0", "e0", "50", "62", "70"])
    func packetsAClientNeverReceivesAreViolations(first: String) throws {
        let h = SessionHarness()
        _ = try h.connect()
        let packet: String
        switch first {
        case "10": packet = connectClean60
        case "82": packet = "8206000100017801"
        case "a2": packet = "a20500010001" + "78"
        case "c0", "e0": packet = first + "00"
        default: packet = first + "020001"
        }
        let type = MQTTPacketType(rawValue: bytes(first)[0] >> 4)!
        #expect(throws: MQTTSessionError.unexpectedPacket(type)) { try h.feed(packet) }
    }

    /// A packet only clients send is a violation by its type alone: its body is not read, so a
    /// malformed one gives the same error (and the firmware links no decoder for it).
    @Test(arguments: ["82020001", "100c00044d5154580402003c0000", "a2020001"])
    func malformedClientOnlyPacketsAreUnexpectedNotMalformed(packet: String) throws {
        let h = SessionHarness()
        _ = try h.connect()
        let type = MQTTPacketType(rawValue: bytes(packet)[0] >> 4)!
        #expect(throws: MQTTSessionError.unexpectedPacket(type)) { try h.feed(packet) }
    }

    @Test func partialFramesAndManyFramesPerRead() throws {
        let h = SessionHarness()
        _ = try h.connect()
        let stream = bytes("30040001746d" + "d000" + "30050001746e6f" + "300400017470")
        var seen = [Seen]()
        // One byte at a time.
        for byte in stream {
            _ = [byte].withUnsafeBytes { h.session.receive($0) }
            seen += try h.events()
        }
        // All at once.
        seen += try h.feed(hex(stream))
        let one: [Seen] = [
            .message(topic: "t", payload: "m", qos: .atMostOnce, packetID: 0, dup: false, retain: false),
            .message(topic: "t", payload: "no", qos: .atMostOnce, packetID: 0, dup: false, retain: false),
            .message(topic: "t", payload: "p", qos: .atMostOnce, packetID: 0, dup: false, retain: false),
        ]
        #expect(seen == one + one)
    }

    @Test func serverClosingMidFrameLosesNothingOnResume() throws {
        let h = SessionHarness(cleanSession: false)
        _ = try h.connect()
        _ = try h.publish("t", "a")
        #expect(h.sent() == "32060001740001" + "61")
        // Half a PUBACK, then the connection drops.
        _ = try h.feed("4002")
        h.session.connectionLost()
        #expect(h.session.state == .disconnected)
        #expect(h.session.unacknowledgedCount == 1)
        try h.session.connectionOpened(now: h.now)
        #expect(h.sent() == "101000044d5154540400003c000464657631", "the half packet is gone; only CONNECT is sent")
        #expect(try h.feed("20020100") == [.connected(sessionPresent: true)])
        #expect(h.sent() == "3a060001740001" + "61")
    }
}

@Suite("Session: subscribe and resume")
struct SubscribeResumeTranscripts {
    static var subscriptions: [MQTTSubscription] { [MQTTSubscription(filter: ByteView("c/#"), qos: .atLeastOnce)] }

    @Test func subscribeTracksSubackCodesPerFilter() throws {
        let h = SessionHarness()
        _ = try h.connect()
        let list = [MQTTSubscription(filter: view("a"), qos: .atLeastOnce), MQTTSubscription(filter: view("b/+"), qos: .exactlyOnce)]
        let id = try list.withUnsafeBufferPointer { try h.session.subscribe(MQTTTopicFilterList($0)) }
        #expect(id == 1)
        #expect(h.sent() == "820c0001" + "00016101" + "0003622f2b02")
        #expect(try h.feed("9004000101" + "80") == [.subscribed(packetID: 1, codes: [1, 0x80])])
        let unsubscribeID = try list.withUnsafeBufferPointer { try h.session.unsubscribe(MQTTTopicFilterList($0)) }
        #expect(h.sent() == "a20a0002" + "000161" + "0003622f2b")
        #expect(try h.feed("b0020002") == [.unsubscribed(packetID: unsubscribeID)])
        #expect(try h.feed("b0020002") == [.unknownAck(.unsuback, packetID: 2)])
    }

    @Test func subackWithWrongNumberOfCodesIsAViolation() throws {
        let h = SessionHarness()
        _ = try h.connect()
        let list = [MQTTSubscription(filter: view("a"), qos: .atLeastOnce)]
        _ = try list.withUnsafeBufferPointer { try h.session.subscribe(MQTTTopicFilterList($0)) }
        _ = h.sent()
        #expect(throws: MQTTSessionError.subackCountMismatch(expected: 1, actual: 2)) { try h.feed("900400010101") }
    }

    @Test func configuredSubscriptionsAreMadeOnFirstConnect() throws {
        let h = SessionHarness(subscriptions: Self.subscriptions)
        #expect(try h.connect() == [.connected(sessionPresent: false)])
        #expect(h.sent() == "82080001" + "0003632f23" + "01")
        #expect(try h.feed("9003000101") == [.subscribed(packetID: 1, codes: [1])])
    }

    @Test func resumeWithSessionPresentResendsWithDupAndSameIDs() throws {
        let h = SessionHarness(cleanSession: false, subscriptions: Self.subscriptions)
        _ = try h.connect()
        _ = h.sent()
        _ = try h.feed("9003000101")
        _ = try h.publish("t", "a")  // id 2
        _ = try h.publish("t", "b")  // id 3
        _ = try h.publish("t", "c")  // id 4
        #expect(h.sent() == "32060001740002" + "61" + "32060001740003" + "62" + "32060001740004" + "63")
        _ = try h.feed("40020003")
        h.session.connectionLost()
        _ = try h.publish("t", "d")  // queued while offline: id 5, never sent, so no DUP
        try h.session.connectionOpened(now: h.now)
        #expect(h.sent() == "101000044d5154540400003c000464657631")
        #expect(try h.feed("20020100") == [.connected(sessionPresent: true)])
        #expect(h.sent() == "3a060001740002" + "61" + "3a060001740004" + "63" + "32060001740005" + "64")
        #expect(try h.feed("40020002" + "40020004" + "40020005") == [.published(packetID: 2), .published(packetID: 4), .published(packetID: 5)])
    }

    @Test func resumeWithoutSessionResubscribesBeforeResending() throws {
        let h = SessionHarness(cleanSession: false, subscriptions: Self.subscriptions)
        _ = try h.connect()
        _ = h.sent()
        _ = try h.feed("9003000101")
        _ = try h.publish("t", "a")  // id 2
        _ = h.sent()
        h.session.connectionLost()
        try h.session.connectionOpened(now: h.now)
        _ = h.sent()
        #expect(try h.feed("20020000") == [.connected(sessionPresent: false)])
        // SUBSCRIBE (new id 3) first, then the publish again with DUP and its old id.
        #expect(h.sent() == "82080003" + "0003632f23" + "01" + "3a060001740002" + "61")
        #expect(try h.feed("9003000301" + "40020002") == [.subscribed(packetID: 3, codes: [1]), .published(packetID: 2)])
    }

    /// A packet cut off mid-way never reached the server whole, so its resend is not a
    /// redelivery: DUP stays 0.
    @Test func partialSendOfAPublishIsResentWholeAfterReconnect() throws {
        let h = SessionHarness(cleanSession: false)
        _ = try h.connect()
        _ = try h.publish("t", "a")
        let chunk = h.session.pendingOutput()
        #expect(chunk.count == 8)
        h.session.didSend(3, now: h.now)
        h.session.connectionLost()
        try h.session.connectionOpened(now: h.now)
        _ = h.sent()
        _ = try h.feed("20020100")
        #expect(h.sent() == "32060001740001" + "61")
    }
}

/// Four hex digits of `value` (for packet ids).
func hex4(_ value: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
