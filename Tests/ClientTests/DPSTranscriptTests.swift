import DeviceCore
import Testing

/// A DPS registration over a session, on virtual time. Keeps the buffers alive.
final class DPSHarness {
    let mqtt: SessionHarness
    let requestBuffer: UnsafeMutableRawBufferPointer
    let resultsBuffer: UnsafeMutableRawBufferPointer
    let userNameBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    var registration: DPSRegistration
    var outcome: DPSOutcome?
    /// Every action the registration returned, in words (its views last only until the next call), in order.
    var actions = [String]()

    init(resultsCapacity: Int = 1024, requestCapacity: Int = 512, configure: (inout DPSConfiguration) -> Void = { _ in }) throws {
        requestBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: requestCapacity, alignment: 8)
        resultsBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: resultsCapacity, alignment: 8)
        var configuration = DPSConfiguration(idScope: view("0ne00000A0A"), registrationID: view("device1"))
        configure(&configuration)
        let connect = try DPSRegistration.connectPacket(for: configuration, userNameBuffer: userNameBuffer)
        mqtt = SessionHarness(subscriptions: [DPSRegistration.subscription], connect: connect)
        registration = DPSRegistration(configuration: configuration, requestBuffer: requestBuffer, resultsBuffer: resultsBuffer)
        registration.start(now: mqtt.now)
    }

    deinit {
        requestBuffer.deallocate()
        resultsBuffer.deallocate()
        userNameBuffer.deallocate()
    }

    /// Feeds `hex` to the session and every event to the registration; returns the events seen.
    @discardableResult
    func feed(_ hexString: String) throws -> [Seen] {
        let data = bytes(hexString)
        var offset = 0
        var seen = [Seen]()
        repeat {
            offset += data[offset...].withUnsafeBytes { mqtt.session.receive($0) }
            while let event = try mqtt.session.nextEvent(now: mqtt.now) {
                seen.append(Seen(event))
                try carryOut(registration.handle(event, now: mqtt.now))
            }
        } while offset < data.count
        return seen
    }

    /// Advances virtual time to `milliseconds` and runs the timers of both machines.
    func tick(_ milliseconds: UInt32) throws {
        mqtt.at(milliseconds)
        _ = try feed("")
        try carryOut(registration.timersDue(now: mqtt.now))
    }

    /// Does what the registration asked, as `DeviceFlow.provision` does; keeps every action.
    func carryOut(_ action: DPSAction?) throws {
        guard let action else { return }
        actions.append(action.summary)
        switch action {
        case .publish(let topic, let payload): try mqtt.session.publish(topic: topic, payload: payload, qos: .atLeastOnce)
        case .progress: break
        case .finished(let result): outcome = result
        }
    }

    /// The connection dropped: the session and the registration are told, as `DeviceFlow` tells them.
    func connectionLost() {
        mqtt.session.connectionLost()
        mqtt.session.discardOutbox()
        registration.connectionLost()
    }

    /// Connects, answers CONNACK and SUBACK: the register request is then queued.
    func connectAndSubscribe() throws {
        try mqtt.session.connectionOpened(now: mqtt.now)
        _ = mqtt.sent()
        try feed("20020000")
        _ = mqtt.sent()
        try feed("9003000101")
    }
}

/// Hex of a QoS 1 PUBLISH from the server (packet id `id`), built with the codec.
func serverPublish(_ topic: String, _ payload: String, id: UInt16 = 1) -> String {
    publishHex(topic, payload, id: id)
}

func publishHex(_ topic: String, _ payload: String, id: UInt16, dup: Bool = false) -> String {
    let t = Array(topic.utf8), p = Array(payload.utf8)
    return t.withUnsafeBytes { tb in
        p.withUnsafeBytes { pb in
            let packet = MQTTPacket.publish(MQTTPublish(topic: ByteView(tb), payload: ByteView(pb), qos: .atLeastOnce, packetID: id, dup: dup))
            var out = [UInt8](repeating: 0, count: try! packet.encodedSize())
            _ = out.withUnsafeMutableBytes { try! packet.encode(into: $0) }
            return hex(out)
        }
    }
}

let assignedBody = #"{"operationId":"4.abc","status":"assigned","registrationState":{"x509":{},"registrationId":"device1","createdDateTimeUtc":"2025-05-22T08:06:58.2Z","assignedHub":"contoso.azure-devices.net","deviceId":"device1","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2025-05-22T08:06:58.5Z","etag":"IjAwMDAi"}}"#

extension DPSAction {
    /// The action in words, for exact comparisons.
    var summary: String {
        switch self {
        case .publish(let topic, let payload): return "publish \(text(topic)) \(text(payload))"
        case .progress(let p): return "progress \(p.status) \(p.registrationStatus.map { "\($0)" } ?? "-") next in \(p.nextRequestIn.milliseconds) ms"
        case .finished(let outcome): return "finished \(outcome.summary)"
        }
    }
}

extension DPSOutcome {
    /// The outcome in words, for exact comparisons.
    var summary: String {
        switch self {
        case .assigned(let a):
            return "assigned hub=\(text(a.assignedHub)) device=\(text(a.deviceID)) substatus=\(text(a.substatus)) payload=\(a.payload.map(text) ?? "-")"
        case .failed(let f):
            return "failed \(f.reason) code=\(f.errorCode.map { String($0) } ?? "-") message=\(f.message.map(text) ?? "-") tracking=\(f.trackingID.map(text) ?? "-")"
        }
    }
}

@Suite("DPS: whole flows")
struct DPSFlowTests {
    @Test func registerAssigningPollAssignedEveryByteAndDeadline() throws {
        let h = try DPSHarness()
        try h.mqtt.session.connectionOpened(now: h.mqtt.now)
        // Bytes computed independently of the codec (Python, by hand from the standard).
        #expect(h.mqtt.sent() == "104d00044d5154540482003c0007646576696365310038306e6530303030304130412f726567697374726174696f6e732f646576696365312f6170692d76657273696f6e3d323031392d30332d3331")
        #expect(try h.feed("20020000") == [.connected(sessionPresent: false)])
        #expect(h.mqtt.sent() == "821d00010018246470732f726567697374726174696f6e732f7265732f2301")
        #expect(try h.feed("9003000101") == [.subscribed(packetID: 1, codes: [1])])
        #expect(h.mqtt.sent() == "324e002e246470732f726567697374726174696f6e732f5055542f696f746470732d72656769737465722f3f247269643d3100027b22726567697374726174696f6e4964223a2264657669636531227d")
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: 30_000), "response timeout")
        try h.feed("40020002")
        h.mqtt.at(400)
        try h.feed("32600030246470732f726567697374726174696f6e732f7265732f3230322f3f247269643d312672657472792d61667465723d3300017b226f7065726174696f6e4964223a22342e616263222c22737461747573223a2261737369676e696e67227d")
        #expect(h.mqtt.sent() == "40020001", "the response is acknowledged")
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: 3_400), "exactly retry-after")
        try h.tick(3_399)
        #expect(h.mqtt.sent() == "")
        try h.tick(3_400)
        #expect(h.mqtt.sent() == "324f004b246470732f726567697374726174696f6e732f4745542f696f746470732d6765742d6f7065726174696f6e7374617475732f3f247269643d32266f7065726174696f6e49643d342e6162630003")
        try h.feed("40020003")
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=2", assignedBody, id: 2))
        #expect(h.mqtt.sent() == "40020002")
        #expect(h.outcome?.summary == "assigned hub=contoso.azure-devices.net device=device1 substatus=initialAssignment payload=-")
        #expect(h.registration.nextDeadline == nil)
        // What the registration asked for, in order: it never touched the session itself.
        #expect(h.actions == [
            #"publish $dps/registrations/PUT/iotdps-register/?$rid=1 {"registrationId":"device1"}"#,
            "progress 202 assigning next in 3000 ms",
            "publish $dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.abc ",
            "finished assigned hub=contoso.azure-devices.net device=device1 substatus=initialAssignment payload=-",
        ])
        // Finished: later events and timers ask for nothing.
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=2", assignedBody, id: 3))
        try h.tick(1_000_000)
        #expect(h.actions.count == 4)
    }

    @Test func assignedWithReturnedPayload() throws {
        let h = try DPSHarness { $0.customPayload = view(#"{"modelId":"dtmi:x;1"}"#) }
        try h.connectAndSubscribe()
        #expect(h.mqtt.sent() == publishHex("$dps/registrations/PUT/iotdps-register/?$rid=1", #"{"registrationId":"device1","payload":{"modelId":"dtmi:x;1"}}"#, id: 2))
        let body = #"{"operationId":"o","status":"assigned","registrationState":{"assignedHub":"h.azure-devices.net","deviceId":"d1","status":"assigned","substatus":"reprovisionedToInitialAssignment","payload":{"config":[1,2,{"k":null}]}}}"#
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=1", body))
        #expect(h.outcome?.summary == #"assigned hub=h.azure-devices.net device=d1 substatus=reprovisionedToInitialAssignment payload={"config":[1,2,{"k":null}]}"#)
    }

    /// The results buffer is 128 bytes for the operation id and the response's decoded text:
    /// o, h.azure-devices.net, d1 and initialAssignment take 1 + 19 + 2 + 17 = 39, which is what
    /// `.bufferTooSmall` says a shorter buffer needs.
    @Test func resultsBufferIs128BytesPlusTheResponsesText() throws {
        let body = #"{"operationId":"o","status":"assigned","registrationState":{"assignedHub":"h.azure-devices.net","deviceId":"d1","status":"assigned","substatus":"initialAssignment"}}"#
        let exact = try DPSHarness(resultsCapacity: 128 + 39)
        try exact.connectAndSubscribe()
        try exact.feed(serverPublish("$dps/registrations/res/200/?$rid=1", body))
        #expect(exact.outcome?.summary == "assigned hub=h.azure-devices.net device=d1 substatus=initialAssignment payload=-")
        let short = try DPSHarness(resultsCapacity: 128 + 38)
        try short.connectAndSubscribe()
        try short.feed(serverPublish("$dps/registrations/res/200/?$rid=1", body))
        #expect(short.outcome?.summary == "failed malformedResponse(DeviceCore.DPSProtocolError.bufferTooSmall(DeviceCore.BufferTooSmall(needed: 39, capacity: 38))) code=- message=- tracking=-")
    }

    /// The request buffer holds the topic and then the body: the register request of `device1`
    /// takes 46 + 28 = 74 bytes, and `.bufferTooSmall` says so whichever part does not fit.
    @Test(arguments: [(73, Int64(74)), (50, 74), (46, 74), (45, 74), (0, 74)])
    func registerRequestOneByteShortOrLess(capacity: Int, needed: Int64) throws {
        let h = try DPSHarness(requestCapacity: capacity)
        #expect(throws: DPSError.bufferTooSmall(BufferTooSmall(needed: Int(needed), capacity: capacity))) { try h.connectAndSubscribe() }
    }

    @Test func registerRequestFitsExactly() throws {
        let h = try DPSHarness(requestCapacity: 74)
        try h.connectAndSubscribe()
        #expect(h.actions == [#"publish $dps/registrations/PUT/iotdps-register/?$rid=1 {"registrationId":"device1"}"#])
    }

    /// With registration id `d` the register request takes 46 + 22 = 68 bytes; the poll for
    /// operation `op1` 73, all topic.
    @Test(arguments: [(73, true), (72, false)])
    func pollRequestExactFitAndOneByteShort(capacity: Int, fits: Bool) throws {
        let h = try DPSHarness(requestCapacity: capacity) { $0.registrationID = view("d") }
        try h.connectAndSubscribe()
        try h.feed(serverPublish("$dps/registrations/res/202/?$rid=1&retry-after=2", #"{"operationId":"op1","status":"assigning"}"#))
        if fits {
            try h.tick(2_000)
            #expect(h.actions.last == "publish $dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op1 ")
        } else {
            #expect(throws: DPSError.bufferTooSmall(BufferTooSmall(needed: 73, capacity: 72))) { try h.tick(2_000) }
        }
    }

    /// A registration id that is not UTF-8 cannot go in the JSON body (the session refuses it as
    /// the client id before this: the registration alone is driven here).
    @Test func registrationIDThatIsNotUTF8() throws {
        let bad: [UInt8] = [0x64, 0xFF], granted: [UInt8] = [1]
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        let results = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { request.deallocate(); results.deallocate() }
        try bad.withUnsafeBytes { id in
            try granted.withUnsafeBytes { codes in
                var registration = DPSRegistration(
                    configuration: DPSConfiguration(idScope: view("0ne00000A0A"), registrationID: ByteView(id)),
                    requestBuffer: request, resultsBuffer: results)
                let suback = MQTTSessionEvent.subscribed(MQTTSubAck(packetID: 1, returnCodes: ByteView(codes)))
                #expect(throws: DPSError.registrationIDNotUTF8) {
                    try registration.handle(suback, now: DeviceInstant(milliseconds: 0))
                }
            }
        }
    }

    @Test func assignedWithNullPayloadHasNone() throws {
        let h = try DPSHarness()
        try h.connectAndSubscribe()
        let body = #"{"operationId":"o","status":"assigned","registrationState":{"assignedHub":"h.azure-devices.net","deviceId":"d1","status":"assigned","substatus":null,"payload":null}}"#
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=1", body))
        #expect(h.outcome?.summary == "assigned hub=h.azure-devices.net device=d1 substatus= payload=-")
    }

    @Test func userAgentIsPercentEncodedInTheUserName() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)
        defer { buffer.deallocate() }
        let configuration = DPSConfiguration(idScope: view("0ne00000TEST"), registrationID: view("device1"), userAgent: view("azure-iot-device-provisioning-py/2.14.0(3.11.7;Linux #1 SMP PREEMPT_DYNAMIC @0;x86_64)"))
        let connect = try DPSRegistration.connectPacket(for: configuration, userNameBuffer: buffer)
        #expect(connect.userName.map(text) == "0ne00000TEST/registrations/device1/api-version=2019-03-31&ClientVersion=azure-iot-device-provisioning-py%2F2.14.0%283.11.7%3BLinux%20%231%20SMP%20PREEMPT_DYNAMIC%20%400%3Bx86_64%29")
        #expect(text(connect.clientID) == "device1")
        #expect(connect.cleanSession)
        #expect(connect.password == nil)
    }
}

@Suite("DPS: responses")
struct DPSResponseTests {
    /// Registers and answers with `topic` + `body`; returns the harness for further checks.
    func answered(
        _ status: String, _ query: String, _ body: String, configure: (inout DPSConfiguration) -> Void = { _ in }
    ) throws -> DPSHarness {
        let h = try DPSHarness(configure: configure)
        try h.connectAndSubscribe()
        _ = h.mqtt.sent()
        try h.feed(serverPublish("$dps/registrations/res/\(status)/?\(query)", body))
        return h
    }

    @Test(arguments: ["$rid=1&retry-after=5", "retry-after=5&$rid=1"])
    func retryAfterFirstOrLast(query: String) throws {
        let h = try answered("202", query, #"{"operationId":"op1","status":"assigning"}"#)
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: 5_000))
    }

    @Test func retryAfterAbsentDefaultsToTwoSeconds() throws {
        let h = try answered("202", "$rid=1", #"{"operationId":"op1","status":"assigning"}"#)
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: 2_000))
    }

    @Test(arguments: [("0", UInt32(2_000)), ("1", 2_000), ("86400", 300_000)])
    func absurdRetryAfterIsClamped(value: String, expected: UInt32) throws {
        // An overall timeout beyond the ceiling, so that the clamped wait is what shows.
        let h = try answered("202", "$rid=1&retry-after=\(value)", #"{"operationId":"op1","status":"assigning"}"#) {
            $0.overallTimeout = .seconds(3_600)
        }
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: expected))
    }

    @Test(arguments: [("0", UInt32(2_000)), ("86400", 300_000)])
    func throttledRetryAfterIsClamped(value: String, expected: UInt32) throws {
        // 429's retry-after goes through the same floor and ceiling as a poll's.
        let h = try answered("429", "$rid=1&retry-after=\(value)", "") { $0.overallTimeout = .seconds(3_600) }
        #expect(h.outcome == nil)
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: expected))
    }

    @Test func unauthorizedErrorBodyEndsWithCodeMessageAndTrackingID() throws {
        let h = try answered("401", "$rid=1", #"{"errorCode":401002,"trackingId":"8d2f-77","message":"Unauthorized","timestampUtc":"2025-05-22T08:06:58.2Z"}"#)
        #expect(h.outcome?.summary == "failed rejected(status: 401) code=401002 message=Unauthorized tracking=8d2f-77")
    }

    @Test func throttledThenAssigned() throws {
        let h = try answered("429", "$rid=1&retry-after=4", "")
        #expect(h.outcome == nil)
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: 4_000))
        try h.tick(4_000)
        // The register request again, with a new request id.
        #expect(h.mqtt.sent() == "40020001" + publishHex("$dps/registrations/PUT/iotdps-register/?$rid=2", #"{"registrationId":"device1"}"#, id: 3))
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=2", assignedBody, id: 2))
        #expect(h.outcome?.summary == "assigned hub=contoso.azure-devices.net device=device1 substatus=initialAssignment payload=-")
    }

    @Test func serverErrorRetriedWithBackoffThenAssigned() throws {
        let h = try answered("500", "$rid=1", #"{"errorCode":500000,"message":"oops"}"#)
        #expect(h.outcome == nil)
        // Backoff: 1 s plus jitter of at most 5 s from the seeded generator.
        let deadline = try #require(h.registration.nextDeadline)
        #expect(deadline >= DeviceInstant(milliseconds: 1_000) && deadline <= DeviceInstant(milliseconds: 6_000))
        try h.tick(deadline.milliseconds)
        #expect(h.mqtt.sent().hasSuffix(publishHex("$dps/registrations/PUT/iotdps-register/?$rid=2", #"{"registrationId":"device1"}"#, id: 3)))
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=2", assignedBody, id: 2))
        #expect(h.outcome?.summary.hasPrefix("assigned") == true)
    }

    @Test func failedRegistrationCarriesErrorCodeAndMessage() throws {
        let h = try answered("200", "$rid=1", #"{"operationId":"o","status":"failed","registrationState":{"registrationId":"device1","status":"failed","errorCode":400209,"errorMessage":"Custom allocation failed"}}"#)
        #expect(h.outcome?.summary == "failed registrationFailed code=400209 message=Custom allocation failed tracking=-")
    }

    @Test func disabledEnrollment() throws {
        let h = try answered("200", "$rid=1", #"{"operationId":"o","status":"disabled","registrationState":{"registrationId":"device1","status":"disabled"}}"#)
        #expect(h.outcome?.summary == "failed disabled code=- message=- tracking=-")
    }

    @Test func unassignedThenAssigned() throws {
        let h = try answered("202", "$rid=1&retry-after=2", #"{"operationId":"op9","status":"unassigned"}"#)
        try h.tick(2_000)
        #expect(h.mqtt.sent() == "40020001" + publishHex("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op9", "", id: 3))
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=2", assignedBody, id: 2))
        #expect(h.outcome?.summary.hasPrefix("assigned hub=contoso") == true)
    }

    @Test func malformedJSONEndsWithTheParserError() throws {
        let h = try answered("200", "$rid=1", #"{"operationId":"o","status":"assigned""#)
        guard case .failed(let failure) = h.outcome, case .malformedResponse(.malformedJSON) = failure.reason else {
            Issue.record("expected a malformed JSON failure, got \(String(describing: h.outcome?.summary))")
            return
        }
    }

    @Test func hubWithoutDeviceIDIsMalformed() throws {
        let h = try answered("200", "$rid=1", #"{"operationId":"o","status":"assigned","registrationState":{"assignedHub":"h.net","status":"assigned"}}"#)
        #expect(h.outcome?.summary == "failed malformedResponse(DeviceCore.DPSProtocolError.assignmentWithoutHubOrDevice) code=- message=- tracking=-")
    }

    @Test func a200WithoutStatusIsMalformed() throws {
        let h = try answered("200", "$rid=1", #"{"operationId":"o"}"#)
        #expect(h.outcome?.summary == "failed malformedResponse(DeviceCore.DPSProtocolError.missingStatus) code=- message=- tracking=-")
    }

    @Test func assigningWithoutAnOperationIDIsMalformed() throws {
        let h = try answered("202", "$rid=1&retry-after=3", #"{"status":"assigning"}"#)
        #expect(h.outcome?.summary == "failed malformedResponse(DeviceCore.DPSProtocolError.missingOperationID) code=- message=- tracking=-")
    }

    @Test func responseForAnotherRequestIDIsIgnored() throws {
        let h = try answered("200", "$rid=77", assignedBody)
        #expect(h.outcome == nil)
        #expect(h.mqtt.sent() == "40020001", "still acknowledged at the MQTT level")
        #expect(h.registration.nextDeadline == DeviceInstant(milliseconds: 30_000))
    }

    @Test func responseArrivingAfterItsTimeoutIsIgnoredAndTheRequestRepeated() throws {
        let h = try DPSHarness()
        try h.connectAndSubscribe()
        _ = h.mqtt.sent()
        try h.tick(30_000)  // response timeout: wait (backoff) before asking again
        let retryAt = try #require(h.registration.nextDeadline)
        try h.tick(retryAt.milliseconds)
        #expect(h.mqtt.sent() == publishHex("$dps/registrations/PUT/iotdps-register/?$rid=2", #"{"registrationId":"device1"}"#, id: 3))
        // The late answer to $rid=1 is stale now.
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=1", assignedBody))
        #expect(h.outcome == nil)
        try h.feed(serverPublish("$dps/registrations/res/200/?$rid=2", assignedBody, id: 2))
        #expect(h.outcome?.summary.hasPrefix("assigned") == true)
    }

    @Test func overallTimeoutEndsTheRegistration() throws {
        let h = try DPSHarness { $0.overallTimeout = .seconds(10) }
        try h.connectAndSubscribe()
        try h.tick(10_000)
        #expect(h.outcome?.summary == "failed timedOut code=- message=- tracking=-")
    }

    @Test func refusedSubscription() throws {
        let h = try DPSHarness()
        try h.mqtt.session.connectionOpened(now: h.mqtt.now)
        _ = h.mqtt.sent()
        try h.feed("20020000")
        try h.feed("9003000180")
        #expect(h.outcome?.summary == "failed subscriptionRefused code=- message=- tracking=-")
    }

    @Test func lostConnectionKeepsTheRetryAfterWaitThenPolls() throws {
        let h = try answered("202", "$rid=1&retry-after=2", #"{"operationId":"op1","status":"assigning"}"#)
        h.connectionLost()
        h.mqtt.at(500)
        try h.mqtt.session.connectionOpened(now: h.mqtt.now)
        _ = h.mqtt.sent()
        try h.feed("20020000")
        // Re-subscribed; the stale register request is not re-sent (DPS keeps no session).
        #expect(h.mqtt.sent() == "821d0003" + "0018246470732f726567697374726174696f6e732f7265732f2301")
        try h.feed("9003000301")
        #expect(h.mqtt.sent() == "", "retry-after still runs")
        try h.tick(2_000)
        #expect(h.mqtt.sent() == publishHex("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op1", "", id: 4))
    }

    @Test func requestInFlightWhenTheConnectionDropsIsRepeatedAfterSubscribing() throws {
        let h = try DPSHarness()
        try h.connectAndSubscribe()
        _ = h.mqtt.sent()
        h.connectionLost()
        try h.mqtt.session.connectionOpened(now: h.mqtt.now)
        _ = h.mqtt.sent()
        try h.feed("20020000")
        _ = h.mqtt.sent()
        try h.feed("9003000301")
        #expect(h.mqtt.sent() == publishHex("$dps/registrations/PUT/iotdps-register/?$rid=2", #"{"registrationId":"device1"}"#, id: 4))
    }
}
