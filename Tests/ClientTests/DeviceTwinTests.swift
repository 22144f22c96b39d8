import DeviceCore
import DeviceTwinAndMethods
import Testing

/// The twin's state machine driven by hand: every action it returns, with exact topics and
/// payloads, for each answer IoT Hub can give.
@Suite("IoT Hub: device twin state machine")
final class DeviceTwinTests {
    let held = HeldText()
    let topic = UnsafeMutableRawBufferPointer.allocate(byteCount: DeviceTwin.topicBufferSize, alignment: 1)
    let patch = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 1)
    var twin: DeviceTwin
    var now = DeviceInstant(milliseconds: 1_000)

    init() throws {
        let configuration = TwinConfiguration(
            responseTimeout: .seconds(30), backoff: ReconnectBackoff(minimum: .seconds(1), maximum: .seconds(8), maximumJitter: .zero))
        twin = try DeviceTwin(configuration: configuration, topicBuffer: topic, patchBuffer: patch)
    }

    deinit {
        topic.deallocate()
        patch.deallocate()
    }

    /// What `nextAction` asks for now, spelled out; "-" for nothing.
    func next() -> String { describe(twin.nextAction(now: now)) }

    func receive(_ topic: String, _ payload: String = "") throws -> String {
        describe(try twin.handle(held.publish(topic, payload), now: now))
    }

    func describe(_ action: TwinAction?) -> String {
        switch action {
        case nil: return "-"
        case .publish(let topic, let payload)?: return "publish \(text(topic)) \(text(payload))"
        case .twin(let document)?: return "twin desired=\(text(document.desired)) v\(document.desiredVersion)"
        case .desiredPatch(let body, let version)?: return "patch v\(version) \(text(body))"
        case .reportedAccepted(let version)?: return "accepted v\(version.map(String.init) ?? "nil")"
        case .retrying(let request, let status, let wait)?: return "retry \(request) \(status) in \(wait.milliseconds) ms"
        case .rejected(let request, let status)?: return "rejected \(request) \(status)"
        }
    }

    @Test func getAfterConnectThenPatchesInVersionOrder() throws {
        #expect(next() == "-")  // not connected yet
        twin.connected(now: now)
        #expect(next() == "publish $iothub/twin/GET/?$rid=1 ")
        #expect(next() == "-")
        #expect(twin.nextDeadline == DeviceInstant(milliseconds: 31_000))
        // A patch that comes while the GET is on its way waits in it...
        #expect(try receive("$iothub/twin/PATCH/properties/desired/?$version=4", #"{"fan":1,"$version":4}"#) == "-")
        // ...and the GET's answer is older than that patch: asked again, not delivered.
        #expect(try receive("$iothub/twin/res/200/?$rid=1", #"{"desired":{"fan":0,"$version":3},"reported":{"$version":1}}"#) == "-")
        #expect(next() == "publish $iothub/twin/GET/?$rid=2 ")
        #expect(try receive("$iothub/twin/res/200/?$rid=2", #"{"desired":{"fan":1,"$version":4},"reported":{"$version":1}}"#)
            == #"twin desired={"fan":1,"$version":4} v4"#)
        #expect(twin.desiredVersion == 4)
        #expect(try receive("$iothub/twin/PATCH/properties/desired/?$version=4", #"{"fan":1,"$version":4}"#) == "-")
        #expect(try receive("$iothub/twin/PATCH/properties/desired/?$version=6", #"{"fan":3,"$version":6}"#) == #"patch v6 {"fan":3,"$version":6}"#)
        #expect(try receive("$iothub/twin/PATCH/properties/desired/?$version=5", #"{"fan":2,"$version":5}"#) == "-")
        // Without a version in the topic, the body's orders the patch.
        #expect(try receive("$iothub/twin/PATCH/properties/desired/", #"{"fan":4,"$version":7}"#) == #"patch v7 {"fan":4,"$version":7}"#)
        #expect(twin.desiredVersion == 7)
        // An answer to a request given up on, and messages that are not the twin's.
        #expect(try receive("$iothub/twin/res/200/?$rid=1", #"{"desired":{"$version":9}}"#) == "-")
        #expect(try receive("devices/d/messages/devicebound/a=b", "x") == "-")
        #expect(twin.nextDeadline == nil)
    }

    @Test func reportedPatchRetriedAfterThrottlingTimeoutAndReconnect() throws {
        twin.connected(now: now)
        #expect(next() == "publish $iothub/twin/GET/?$rid=1 ")
        #expect(try receive("$iothub/twin/res/200/?$rid=1", #"{"desired":{"$version":1}}"#) == #"twin desired={"$version":1} v1"#)

        try twin.report(held.view(#"{"temp":21}"#), now: now)
        #expect(twin.hasPatchInFlight)
        #expect(throws: TwinError.patchInFlight) { try self.twin.report(self.held.view("{}"), now: self.now) }
        #expect(next() == #"publish $iothub/twin/PATCH/properties/reported/?$rid=2 {"temp":21}"#)
        #expect(try receive("$iothub/twin/res/429/?$rid=2&retry-after=7") == "retry reportedPatch 429 in 7000 ms")
        #expect(next() == "-")
        now = now + .seconds(7)
        #expect(next() == #"publish $iothub/twin/PATCH/properties/reported/?$rid=3 {"temp":21}"#)
        #expect(try receive("$iothub/twin/res/503/?$rid=3") == "retry reportedPatch 503 in 1000 ms")
        now = now + .seconds(1)
        #expect(next() == #"publish $iothub/twin/PATCH/properties/reported/?$rid=4 {"temp":21}"#)
        // No answer in 30 s: asked again.
        now = now + .seconds(30)
        #expect(next() == #"publish $iothub/twin/PATCH/properties/reported/?$rid=5 {"temp":21}"#)
        // The connection drops before the answer: after the reconnect, the GET, then the patch again.
        twin.connectionLost()
        #expect(next() == "-")
        #expect(twin.nextDeadline == nil)
        twin.connected(now: now)
        #expect(next() == "publish $iothub/twin/GET/?$rid=6 ")
        #expect(next() == #"publish $iothub/twin/PATCH/properties/reported/?$rid=7 {"temp":21}"#)
        #expect(try receive("$iothub/twin/res/204/?$rid=7&$version=9") == "accepted v9")
        #expect(!twin.hasPatchInFlight)
        try twin.report(held.view(#"{"bad":1}"#), now: now)
        #expect(next() == #"publish $iothub/twin/PATCH/properties/reported/?$rid=8 {"bad":1}"#)
        #expect(try receive("$iothub/twin/res/400/?$rid=8") == "rejected reportedPatch 400")
        #expect(!twin.hasPatchInFlight)
    }

    @Test func getRefusedOrFailing() throws {
        twin.connected(now: now)
        #expect(next() == "publish $iothub/twin/GET/?$rid=1 ")
        #expect(try receive("$iothub/twin/res/500/?$rid=1") == "retry get 500 in 1000 ms")
        #expect(twin.nextDeadline == DeviceInstant(milliseconds: 2_000))
        now = now + .seconds(1)
        #expect(next() == "publish $iothub/twin/GET/?$rid=2 ")
        #expect(try receive("$iothub/twin/res/500/?$rid=2") == "retry get 500 in 2000 ms")
        now = now + .seconds(2)
        #expect(next() == "publish $iothub/twin/GET/?$rid=3 ")
        // A malformed twin is an error, and asked for again after a backoff.
        #expect(throws: IoTHubProtocolError.missingVersion) {
            try self.twin.handle(self.held.publish("$iothub/twin/res/200/?$rid=3", #"{"desired":{}}"#), now: self.now)
        }
        #expect(twin.nextDeadline == DeviceInstant(milliseconds: 8_000))
        now = DeviceInstant(milliseconds: 8_000)
        #expect(next() == "publish $iothub/twin/GET/?$rid=4 ")
        #expect(try receive("$iothub/twin/res/404/?$rid=4") == "rejected get 404")
        // With no GET outstanding and no version held, a patch is delivered.
        #expect(try receive("$iothub/twin/PATCH/properties/desired/?$version=2", #"{"$version":2}"#) == #"patch v2 {"$version":2}"#)
        twin.requestTwin(now: now)
        #expect(next() == "publish $iothub/twin/GET/?$rid=5 ")
    }

    @Test func malformedMessagesAndTooSmallBuffers() throws {
        twin.connected(now: now)
        _ = next()
        #expect(try receive("$iothub/twin/res/200/?$rid=1", #"{"desired":{"$version":1}}"#) == #"twin desired={"$version":1} v1"#)
        #expect(throws: IoTHubProtocolError.missingVersion) {
            try self.twin.handle(self.held.publish("$iothub/twin/PATCH/properties/desired/", #"{"fan":1}"#), now: self.now)
        }
        #expect(throws: IoTHubProtocolError.notAnObject) {
            try self.twin.handle(self.held.publish("$iothub/twin/PATCH/properties/desired/?$version=2", "[]"), now: self.now)
        }
        #expect(throws: IoTHubProtocolError.malformedTopic(offset: 17)) {
            try self.twin.handle(self.held.publish("$iothub/twin/res/x"), now: self.now)
        }
        #expect(twin.desiredVersion == 1)
        #expect(throws: TwinError.bufferTooSmall(BufferTooSmall(needed: 33, capacity: 32))) {
            try self.twin.report(self.held.view(String(repeating: "x", count: 33)), now: self.now)
        }
        #expect(!twin.hasPatchInFlight)
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: DeviceTwin.topicBufferSize - 1, alignment: 1)
        defer { small.deallocate() }
        #expect(throws: TwinError.bufferTooSmall(BufferTooSmall(needed: 55, capacity: 54))) { try DeviceTwin(topicBuffer: small, patchBuffer: self.patch) }
    }
}
