import DeviceCore
import DeviceTwinAndMethods
import Testing

/// Bytes that stay put for as long as the test holds them (topics and payloads handed to the
/// core as views).
final class HeldText {
    private var blocks = [UnsafeMutableRawBufferPointer]()

    func view(_ string: String) -> ByteView {
        let bytes = Array(string.utf8)
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
        block.copyBytes(from: bytes)
        blocks.append(block)
        return ByteView(baseAddress: block.baseAddress, count: bytes.count)
    }

    func publish(_ topic: String, _ payload: String = "") -> MQTTPublish {
        MQTTPublish(topic: view(topic), payload: view(payload))
    }

    deinit { blocks.forEach { $0.deallocate() } }
}

@Suite("IoT Hub: twin and method topics")
struct TwinAndMethodTopicTests {
    let held = HeldText()

    @Test func requestTopicsAndFilters() throws {
        #expect(try written { TwinTopics.getTopic(requestID: 7, into: &$0) } == "$iothub/twin/GET/?$rid=7")
        let longest = try written { TwinTopics.reportedPatchTopic(requestID: UInt32.max, into: &$0) }
        #expect(longest == "$iothub/twin/PATCH/properties/reported/?$rid=4294967295")
        #expect(longest.utf8.count == DeviceTwin.topicBufferSize)
        #expect(text(ByteView(TwinTopics.responseFilter)) == "$iothub/twin/res/#")
        #expect(text(ByteView(TwinTopics.desiredPatchFilter)) == "$iothub/twin/PATCH/properties/desired/#")
        #expect(text(ByteView(DirectMethods.requestFilter)) == "$iothub/methods/POST/#")
        #expect(try written { DirectMethods.responseTopic(status: 200, requestID: ByteView("1f"), into: &$0) } == "$iothub/methods/res/200/?$rid=1f")
        #expect(try written { DirectMethods.responseTopic(status: -3, requestID: ByteView("2"), into: &$0) } == "$iothub/methods/res/-3/?$rid=2")
    }

    @Test(arguments: [
        ("$iothub/twin/res/200/?$rid=1", "200 rid 1 version nil retry nil"),
        ("$iothub/twin/res/204/?$rid=2&$version=5", "204 rid 2 version 5 retry nil"),
        ("$iothub/twin/res/204/?$version=9223372036854775807&$rid=4294967295", "204 rid 4294967295 version 9223372036854775807 retry nil"),
        ("$iothub/twin/res/429/?$rid=3&retry-after=7&other=x", "429 rid 3 version nil retry 7"),
    ])
    func twinResponses(topic: String, expected: String) throws {
        let r = try #require(try TwinTopics.parseResponse(held.view(topic)))
        #expect("\(r.status) rid \(r.requestID) version \(r.version.map(String.init) ?? "nil") retry \(r.retryAfter.map(String.init) ?? "nil")" == expected)
    }

    @Test(arguments: [
        ("$iothub/twin/res/20/?$rid=1", IoTHubProtocolError.malformedTopic(offset: 19)),
        ("$iothub/twin/res/2000/?$rid=1", .malformedTopic(offset: 20)),
        ("$iothub/twin/res/200", .missingTopicKey("$rid")),
        ("$iothub/twin/res/200/?$version=1", .missingTopicKey("$rid")),
        ("$iothub/twin/res/200/?$rid=x", .malformedTopic(offset: 22)),
        ("$iothub/twin/res/200/?$rid=4294967296", .malformedTopic(offset: 22)),
        ("$iothub/twin/res/204/?$rid=1&$version=-1", .malformedTopic(offset: 29)),
        ("$iothub/twin/res/204/?$rid=1&$version=9223372036854775808", .malformedTopic(offset: 29)),
        ("$iothub/twin/res/200/?$rid=%zz", .malformedTopic(offset: 27)),
        ("$iothub/twin/res/200/x", .malformedTopic(offset: 21)),
    ])
    func malformedTwinResponses(topic: String, expected: IoTHubProtocolError) throws {
        #expect(throws: expected) { try TwinTopics.parseResponse(held.view(topic)) }
    }

    @Test func otherTopicsAreNotTwinOrMethodMessages() throws {
        for topic in ["$iothub/twin/re/200/?$rid=1", "devices/d/messages/devicebound/", "$dps/registrations/res/200/?$rid=1", "$iothub/methods/res/200/?$rid=1"] {
            #expect(try TwinTopics.parseResponse(held.view(topic)) == nil)
            #expect(try TwinTopics.parseDesiredPatch(held.view(topic)) == nil)
            #expect(try DirectMethods.parseRequest(topic: held.view(topic), payload: ByteView()) == nil)
        }
    }

    @Test func desiredPatchTopics() throws {
        #expect(try TwinTopics.parseDesiredPatch(held.view("$iothub/twin/PATCH/properties/desired/?$version=12")) == .some(12))
        #expect(try TwinTopics.parseDesiredPatch(held.view("$iothub/twin/PATCH/properties/desired/")) == .some(nil))
        #expect(try TwinTopics.parseDesiredPatch(held.view("$iothub/twin/PATCH/properties/desired/?a=b")) == .some(nil))
        #expect(throws: IoTHubProtocolError.malformedTopic(offset: 38)) {
            try TwinTopics.parseDesiredPatch(held.view("$iothub/twin/PATCH/properties/desired/x"))
        }
        #expect(throws: IoTHubProtocolError.malformedTopic(offset: 39)) {
            try TwinTopics.parseDesiredPatch(held.view("$iothub/twin/PATCH/properties/desired/?$version=v1"))
        }
    }

    @Test func methodRequests() throws {
        let payload = held.view("{\"delay\":5}")
        let reboot = try #require(try DirectMethods.parseRequest(topic: held.view("$iothub/methods/POST/reboot/?$rid=1"), payload: payload))
        #expect(text(reboot.name) == "reboot")
        #expect(text(reboot.requestID) == "1")
        #expect(text(reboot.payload) == "{\"delay\":5}")
        #expect(reboot.component == nil)
        #expect(text(reboot.command) == "reboot")

        let command = try #require(try DirectMethods.parseRequest(topic: held.view("$iothub/methods/POST/thermostat1*getMaxMinReport/?$rid=a7"), payload: ByteView()))
        #expect(command.component.map(text) == "thermostat1")
        #expect(text(command.command) == "getMaxMinReport")
        #expect(text(command.requestID) == "a7")
    }

    @Test(arguments: [
        ("$iothub/methods/POST//?$rid=1", IoTHubProtocolError.malformedTopic(offset: 21)),
        ("$iothub/methods/POST/reboot", .malformedTopic(offset: 27)),
        ("$iothub/methods/POST/reboot/", .malformedTopic(offset: 28)),
        ("$iothub/methods/POST/reboot/$rid=1", .malformedTopic(offset: 28)),
        ("$iothub/methods/POST/reboot/?x=1", .missingTopicKey("$rid")),
        ("$iothub/methods/POST/reboot/?$rid=", .malformedTopic(offset: 29)),
        ("$iothub/methods/POST/reboot/?$rid=1&%g", .malformedTopic(offset: 36)),
    ])
    func malformedMethodRequests(topic: String, expected: IoTHubProtocolError) throws {
        #expect(throws: expected) { try DirectMethods.parseRequest(topic: held.view(topic), payload: ByteView()) }
    }
}

@Suite("IoT Hub: twin documents and Plug and Play bodies")
struct TwinDocumentTests {
    let held = HeldText()

    @Test func fullTwin() throws {
        let body = #"{"desired":{"targetTemperature":21.5,"$metadata":{"$lastUpdated":"2026-12-03T10:00:00Z"},"$version":3},"reported":{"serial":"A1","$version":5},"tags":{}}"#
        let twin = try TwinDocument.parse(held.view(body))
        #expect(text(twin.desired) == #"{"targetTemperature":21.5,"$metadata":{"$lastUpdated":"2026-12-03T10:00:00Z"},"$version":3}"#)
        #expect(twin.desiredVersion == 3)
        #expect(text(twin.reported) == #"{"serial":"A1","$version":5}"#)
        #expect(twin.reportedVersion == 5)

        let desiredOnly = try TwinDocument.parse(held.view(#" {"desired":{"$version":1}} "#))
        #expect(text(desiredOnly.desired) == #"{"$version":1}"#)
        #expect(desiredOnly.reported.isEmpty)
        #expect(desiredOnly.reportedVersion == nil)
    }

    @Test(arguments: [
        ("[1]", IoTHubProtocolError.notAnObject),
        ("", .malformedJSON(JSONError(kind: .unexpectedEnd, offset: 0))),
        (#"{"reported":{"$version":1}}"#, .missingVersion),
        (#"{"desired":{"a":1}}"#, .missingVersion),
        (#"{"desired":{"$version":"3"}}"#, .missingVersion),
        (#"{"desired":{"$version":3.5}}"#, .missingVersion),
        (#"{"desired":[1]}"#, .notAnObject),
        (#"{"desired":{"$version":1},"reported":7}"#, .notAnObject),
        (#"{"desired":{"$version":1}"#, .malformedJSON(JSONError(kind: .unexpectedEnd, offset: 25))),
        (#"{"desired":{"$version":1}}x"#, .malformedJSON(JSONError(kind: .trailingCharacters, offset: 26))),
    ])
    func malformedTwins(body: String, expected: IoTHubProtocolError) throws {
        #expect(throws: expected) { try TwinDocument.parse(held.view(body)) }
    }

    @Test func patchVersions() throws {
        #expect(try TwinDocument.version(of: held.view(#"{"fan":{"speed":2,"$version":40},"$version":7}"#)) == 7)
        #expect(try TwinDocument.version(of: held.view(#"{"fan":2}"#)) == nil)
        #expect(throws: IoTHubProtocolError.notAnObject) { try TwinDocument.version(of: held.view("null")) }
    }

    @Test func plugAndPlayBodies() throws {
        #expect(try json { PlugAndPlay.registrationPayload(modelID: ByteView("dtmi:com:example:Thermostat;1"), into: &$0) }
            == #"{"modelId":"dtmi:com:example:Thermostat;1"}"#)
        let ack = try json { json in
            json.beginObject()
            PlugAndPlay.acknowledgement(ByteView("targetTemperature"), value: ByteView("21.5"), status: 200, version: 4, description: ByteView("applied"), into: &json)
            PlugAndPlay.beginComponent(ByteView("thermostat1"), into: &json)
            PlugAndPlay.acknowledgement(ByteView("fan"), value: ByteView("\"on\""), status: 400, version: 5, into: &json)
            json.endObject()
            json.endObject()
        }
        #expect(ack == #"{"targetTemperature":{"value":21.5,"ac":200,"av":4,"ad":"applied"},"thermostat1":{"__t":"c","fan":{"value":"on","ac":400,"av":5}}}"#)
    }

    private func json(_ build: (inout JSONWriter) -> Void) throws -> String {
        try withBuffer(512) { buffer in
            var writer = JSONWriter(into: buffer)
            build(&writer)
            return text(try writer.finish())
        }
    }
}
