import DeviceCore
import Testing

/// Runs `body` with a scratch buffer of `count` bytes.
func withBuffer<R>(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
    defer { buffer.deallocate() }
    return try body(buffer)
}

/// What a `TextWriter`-based builder writes, as a String.
func written(_ capacity: Int = 512, _ build: (inout TextWriter) -> Void) throws -> String {
    try withBuffer(capacity) { buffer in
        var writer = TextWriter(into: buffer)
        build(&writer)
        return text(try writer.finish())
    }
}

@Suite("IoT Hub: names and topics")
struct IoTHubNameTests {
    let device = IoTHubConfiguration(hostName: ByteView("contoso.azure-devices.net"), deviceID: ByteView("device1"))

    @Test func clientIDAndUserNameForADevice() throws {
        #expect(try written { IoTHubTopics.clientID(device, into: &$0) } == "device1")
        #expect(try written { IoTHubTopics.userName(device, into: &$0) } == "contoso.azure-devices.net/device1/?api-version=2021-04-12")
    }

    @Test func userNameWithModuleClientTypeAndModelID() throws {
        let configuration = IoTHubConfiguration(
            hostName: ByteView("h.azure-devices.net"), deviceID: ByteView("d1"), moduleID: ByteView("m1"),
            modelID: ByteView("dtmi:com:example:Thermostat;1"), clientType: ByteView("swift-azure-iot-device/0.1"))
        #expect(try written { IoTHubTopics.clientID(configuration, into: &$0) } == "d1/m1")
        #expect(try written { IoTHubTopics.userName(configuration, into: &$0) }
            == "h.azure-devices.net/d1/m1/?api-version=2021-04-12&DeviceClientType=swift-azure-iot-device%2F0.1&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1")
    }

    @Test func connectPacketForX509HasNoPassword() throws {
        try withBuffer(256) { buffer in
            let connect = try IoTHubClient.connectPacket(for: device, buffer: buffer)
            #expect(text(connect.clientID) == "device1")
            #expect(connect.userName.map(text) == "contoso.azure-devices.net/device1/?api-version=2021-04-12")
            #expect(connect.password == nil)
            #expect(!connect.cleanSession)
            #expect(connect.keepAlive == 240)
        }
    }

    /// Client id and user name share the buffer: device1 (7) then
    /// contoso.azure-devices.net/device1/?api-version=2021-04-12 (57), 64 bytes together.
    @Test(arguments: [64, 63, 7, 6, 0])
    func connectPacketBufferExactFitAndShort(capacity: Int) throws {
        try withBuffer(capacity) { buffer in
            if capacity >= 64 {
                let connect = try IoTHubClient.connectPacket(for: device, buffer: buffer)
                #expect(text(connect.clientID) == "device1")
                #expect(connect.userName.map(text) == "contoso.azure-devices.net/device1/?api-version=2021-04-12")
            } else {
                #expect(throws: BufferTooSmall(needed: 64, capacity: capacity)) { try IoTHubClient.connectPacket(for: device, buffer: buffer) }
            }
        }
    }

    @Test func telemetryTopicWithoutAndWithJSONProperties() throws {
        #expect(try written { IoTHubTopics.telemetryTopic(device, into: &$0) } == "devices/device1/messages/events/")
        #expect(try written { IoTHubTopics.telemetryTopic(device, properties: .json, into: &$0) }
            == "devices/device1/messages/events/$.ct=application%2Fjson&$.ce=utf-8")
    }

    @Test func propertyBagEscapesWhatMustBeEscaped() throws {
        let pairs: [(key: ByteView, value: ByteView)] = [
            (ByteView("alert level"), ByteView("high&urgent=yes")),
            (ByteView("unit"), ByteView("°C/100%")),
        ]
        let result = try pairs.withUnsafeBufferPointer { list in
            try written {
                IoTHubTopics.telemetryTopic(
                    device,
                    properties: TelemetryProperties(
                        contentType: ByteView("application/json"), messageID: ByteView("id 1"),
                        correlationID: ByteView("c/2"), creationTime: ByteView("2025-05-22T08:06:59.626Z"), application: list),
                    into: &$0)
            }
        }
        #expect(result == "devices/device1/messages/events/$.ct=application%2Fjson&$.mid=id%201&$.cid=c%2F2&$.ctime=2025-05-22T08%3A06%3A59.626Z&alert%20level=high%26urgent%3Dyes&unit=%C2%B0C%2F100%25")
    }

    /// The first property written has no `&` before it, system or application.
    @Test func applicationPropertiesAlone() throws {
        let pairs: [(key: ByteView, value: ByteView)] = [(ByteView("a b"), ByteView("1")), (ByteView("c"), ByteView(""))]
        let result = try pairs.withUnsafeBufferPointer { list in
            try written { IoTHubTopics.telemetryTopic(device, properties: TelemetryProperties(application: list), into: &$0) }
        }
        #expect(result == "devices/device1/messages/events/a%20b=1&c=")
        #expect(try written { IoTHubTopics.telemetryTopic(device, properties: TelemetryProperties(creationTime: ByteView("t")), into: &$0) }
            == "devices/device1/messages/events/$.ctime=t")
    }

    @Test func moduleTelemetryTopic() throws {
        let module = IoTHubConfiguration(hostName: ByteView("h"), deviceID: ByteView("d1"), moduleID: ByteView("m1"))
        #expect(try written { IoTHubTopics.telemetryTopic(module, into: &$0) } == "devices/d1/modules/m1/messages/events/")
    }

    @Test func cloudToDeviceFilterAndProperties() throws {
        #expect(try written { IoTHubTopics.cloudToDeviceFilter(deviceID: ByteView("device1"), into: &$0) } == "devices/device1/messages/devicebound/#")
        let bag = IoTHubTopics.cloudToDeviceProperties(
            topic: ByteView("devices/device1/messages/devicebound/%24.mid=7&%24.to=%2Fdevices%2Fdevice1%2Fmessages%2Fdevicebound&color=red"),
            deviceID: ByteView("device1"))
        #expect(bag.map(text) == "%24.mid=7&%24.to=%2Fdevices%2Fdevice1%2Fmessages%2Fdevicebound&color=red")
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices/device2/messages/devicebound/a=b"), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices/device1/messages/events/"), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices/device1/messages/devicebound/"), deviceID: ByteView("device1")).map(text) == "")
        // Matched piece by piece: a longer device id, a topic cut short at each piece, no device id.
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices/device10/messages/devicebound/a=b"), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices/device1/messages/devicebound"), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices/device1"), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices/"), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("device"), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView(), deviceID: ByteView("device1")) == nil)
        #expect(IoTHubTopics.cloudToDeviceProperties(topic: ByteView("devices//messages/devicebound/x=1"), deviceID: ByteView()).map(text) == "x=1")
    }
}

@Suite("IoT Hub: telemetry through the session")
struct IoTHubTelemetryTests {
    /// The walkthrough's three messages: (temperature, humidity, timestamp µs, expected body).
    static let walkthrough: [(Int64, Int64, Int64, String)] = [
        (246, 673, 1_747_901_219_626_893, #"{"temperature":24.6,"humidity":67.3,"message":"Hello from Python X.509 DPS device! (message 1/3)","timestamp":"2025-05-22T08:06:59.626893","deviceId":"device1"}"#),
        (215, 628, 1_747_901_220_857_368, #"{"temperature":21.5,"humidity":62.8,"message":"Hello from Python X.509 DPS device! (message 2/3)","timestamp":"2025-05-22T08:07:00.857368","deviceId":"device1"}"#),
        (290, 581, 1_747_901_222_027_735, #"{"temperature":29.0,"humidity":58.1,"message":"Hello from Python X.509 DPS device! (message 3/3)","timestamp":"2025-05-22T08:07:02.027735","deviceId":"device1"}"#),
    ]

    @Test func walkthroughBodiesByteExact() throws {
        for (index, (temperature, humidity, micros, expected)) in Self.walkthrough.enumerated() {
            let body = try withBuffer(512) { buffer in
                text(try WalkthroughTelemetry(
                    temperatureTenths: temperature, humidityTenths: humidity, greeting: ByteView("Hello from Python X.509 DPS device!"),
                    index: index + 1, count: 3, timestampMicroseconds: micros, deviceID: ByteView("device1")
                ).write(into: buffer))
            }
            #expect(body == expected)
        }
    }

    @Test func walkthroughBodyReportsExactSizeWhenTheBufferIsSmall() throws {
        try withBuffer(16) { buffer in
            let message = WalkthroughTelemetry(temperatureTenths: 246, humidityTenths: 673, greeting: ByteView("Hello from Python X.509 DPS device!"), index: 1, count: 3, timestampMicroseconds: 1_747_901_219_626_893, deviceID: ByteView("device1"))
            #expect(throws: JSONWriteError.bufferTooSmall(BufferTooSmall(needed: 160, capacity: 16))) { try message.write(into: buffer) }
        }
    }

    @Test func firstWalkthroughMessageAsPublishedBytes() throws {
        let h = SessionHarness(outboxBytes: 4096, connect: MQTTConnect(clientID: ByteView("device1"), cleanSession: false, keepAlive: 240))
        _ = try h.connect()
        try withBuffer(256) { topicBuffer in
            try withBuffer(512) { bodyBuffer in
                let client = IoTHubClient(configuration: IoTHubConfiguration(hostName: ByteView("contoso.azure-devices.net"), deviceID: ByteView("device1")), topicBuffer: topicBuffer)
                let body = try WalkthroughTelemetry(
                    temperatureTenths: 246, humidityTenths: 673, greeting: ByteView("Hello from Python X.509 DPS device!"),
                    index: 1, count: 3, timestampMicroseconds: 1_747_901_219_626_893, deviceID: ByteView("device1")
                ).write(into: bodyBuffer)
                let topic = try client.telemetryTopic(for: body)
                #expect(text(topic) == "devices/device1/messages/events/$.ct=application%2Fjson&$.ce=utf-8")
                #expect(try h.session.publish(topic: topic, payload: body) == 1)
            }
        }
        // Computed independently (Python) from the topic and body.
        #expect(h.sent() == "32e6010042646576696365732f646576696365312f6d657373616765732f6576656e74732f242e63743d6170706c69636174696f6e2532466a736f6e26242e63653d7574662d3800017b2274656d7065726174757265223a32342e362c2268756d6964697479223a36372e332c226d657373616765223a2248656c6c6f2066726f6d20507974686f6e20582e35303920445053206465766963652120286d65737361676520312f3329222c2274696d657374616d70223a22323032352d30352d32325430383a30363a35392e363236383933222c226465766963654964223a2264657669636531227d")
        #expect(try h.feed("40020001") == [.published(packetID: 1)])
    }

    @Test func bodyOver256KBIsRefused() throws {
        try withBuffer(128) { topicBuffer in
            let client = IoTHubClient(configuration: IoTHubConfiguration(hostName: ByteView("h"), deviceID: ByteView("d")), topicBuffer: topicBuffer)
            try withBuffer(262_145) { big in
                let tooLarge = ByteView(UnsafeRawBufferPointer(big))
                #expect(throws: IoTHubError.messageTooLarge(size: 262_145, limit: 262_144)) { try client.telemetryTopic(for: tooLarge) }
                let largest = ByteView(UnsafeRawBufferPointer(rebasing: big[..<262_144]))
                let topic = try client.telemetryTopic(for: largest)
                #expect(text(topic) == "devices/d/messages/events/$.ct=application%2Fjson&$.ce=utf-8")
            }
        }
    }

    @Test func aTopicBufferTooSmallSaysHowMuchIsNeeded() {
        withBuffer(10) { topicBuffer in
            let client = IoTHubClient(configuration: IoTHubConfiguration(hostName: ByteView("h"), deviceID: ByteView("device1")), topicBuffer: topicBuffer)
            #expect(throws: IoTHubError.bufferTooSmall(BufferTooSmall(needed: 66, capacity: 10))) { try client.telemetryTopic(for: ByteView("{}")) }
        }
    }

    @Test func cloudToDeviceMessageIsRecognised() throws {
        try withBuffer(16) { topicBuffer in
            let client = IoTHubClient(configuration: IoTHubConfiguration(hostName: ByteView("h"), deviceID: ByteView("device1")), topicBuffer: topicBuffer)
            let publish = MQTTPublish(topic: ByteView("devices/device1/messages/devicebound/%24.mid=9&k=v%20w"), payload: ByteView("on"), qos: .atLeastOnce, packetID: 4)
            let message = try #require(client.cloudToDeviceMessage(in: publish))
            #expect(text(message.payload) == "on")
            var reader = message.propertyReader()
            var pairs = [String]()
            while let pair = try reader.next() { pairs.append("\(text(pair.key))=\(text(pair.value))") }
            #expect(pairs == ["%24.mid=9", "k=v%20w"])
            // IoT Hub leaves some `/` unencoded in the bag; they, `?` and a second `=` stay in the value.
            let raw = MQTTPublish(topic: ByteView("devices/device1/messages/devicebound/%24.to=%2Fdevices%2Fdevice1&k=a/b?c=d"), payload: ByteView(""))
            var rawReader = try #require(client.cloudToDeviceMessage(in: raw)).propertyReader()
            var rawPairs = [String]()
            while let pair = try rawReader.next() { rawPairs.append("\(text(pair.key)) \(text(pair.value))") }
            #expect(rawPairs == ["%24.to %2Fdevices%2Fdevice1", "k a/b?c=d"])
            #expect(client.cloudToDeviceMessage(in: MQTTPublish(topic: ByteView("other"), payload: ByteView())) == nil)
        }
    }
}

/// An HMAC stand-in that records what it was asked and answers with a fixed pattern, so the
/// token assembly can be checked exactly. The real HMAC-SHA256 comes from the board.
final class RecordingHMAC: HMACSHA256 {
    var keys = [[UInt8]]()
    var messages = [String]()

    func authenticate(key: ByteView, message: ByteView, into mac: UnsafeMutableRawBufferPointer) {
        keys.append((0..<key.count).map { key[$0] })
        messages.append(text(message))
        for i in 0..<32 { mac[i] = UInt8(i * 8) }
    }
}

@Suite("SAS tokens")
struct SASTokenTests {
    /// base64 of the bytes 0, 8, 16, …, 248, the stand-in MAC.
    static let macBase64 = "AAgQGCAoMDhASFBYYGhweICIkJigqLC4wMjQ2ODo8Pg="

    @Test func dpsTokenSignsTheEncodedResourceAndExpiry() throws {
        let hmac = RecordingHMAC()
        let token = try withBuffer(256) { scratch in
            try written { writer in
                var resource = [UInt8](repeating: 0, count: 64)
                let resourceView = resource.withUnsafeMutableBytes { raw -> ByteView in
                    var w = TextWriter(into: raw)
                    SASToken.dpsResource(idScope: ByteView("0ne00000A0A"), registrationID: ByteView("device1"), into: &w)
                    return try! w.finish()
                }
                try! SASToken.write(
                    resource: resourceView, keyBase64: ByteView("AQIDBA=="), expiryEpochSeconds: 1_747_904_819,
                    keyName: ByteView("registration"), hmac: hmac, scratch: scratch, into: &writer)
                _ = resource
            }
        }
        #expect(hmac.keys == [[1, 2, 3, 4]])
        #expect(hmac.messages == ["0ne00000A0A%2Fregistrations%2Fdevice1\n1747904819"])
        #expect(token == "SharedAccessSignature sr=0ne00000A0A%2Fregistrations%2Fdevice1&sig=AAgQGCAoMDhASFBYYGhweICIkJigqLC4wMjQ2ODo8Pg%3D&se=1747904819&skn=registration")
    }

    @Test func hubTokenWithoutKeyName() throws {
        let hmac = RecordingHMAC()
        let token = try withBuffer(256) { scratch in
            try written { writer in
                try! SASToken.write(
                    resource: ByteView("h.azure-devices.net/devices/d1"), keyBase64: ByteView("AA=="), expiryEpochSeconds: 10,
                    hmac: hmac, scratch: scratch, into: &writer)
            }
        }
        #expect(hmac.messages == ["h.azure-devices.net%2Fdevices%2Fd1\n10"])
        #expect(token == "SharedAccessSignature sr=h.azure-devices.net%2Fdevices%2Fd1&sig=AAgQGCAoMDhASFBYYGhweICIkJigqLC4wMjQ2ODo8Pg%3D&se=10")
    }

    @Test func hubResource() throws {
        #expect(try written { SASToken.hubResource(hostName: ByteView("h.azure-devices.net"), deviceID: ByteView("d1"), into: &$0) } == "h.azure-devices.net/devices/d1")
    }

    @Test func groupKeyDerivationSignsTheRegistrationID() throws {
        let hmac = RecordingHMAC()
        let key = try withBuffer(64) { scratch in
            try written { writer in
                try! SASToken.deriveDeviceKey(groupKeyBase64: ByteView("AQID"), registrationID: ByteView("device1"), hmac: hmac, scratch: scratch, into: &writer)
            }
        }
        #expect(hmac.keys == [[1, 2, 3]])
        #expect(hmac.messages == ["device1"])
        #expect(key == Self.macBase64)
    }

    /// `write` into exactly `capacity` bytes of scratch: the token, or the error.
    func token(resource: StaticString, key: StaticString, expiry: Int64, keyName: StaticString? = nil, scratch capacity: Int) -> Result<String, SASError> {
        withBuffer(capacity) { scratch in
            withBuffer(512) { out in
                var writer = TextWriter(into: out)
                do throws(SASError) {
                    try SASToken.write(resource: ByteView(resource), keyBase64: ByteView(key), expiryEpochSeconds: expiry,
                                       keyName: keyName.map { ByteView($0) }, hmac: RecordingHMAC(), scratch: scratch, into: &writer)
                    return .success(text(try! writer.finish()))
                } catch {
                    return .failure(error)
                }
            }
        }
    }

    /// The documented size, `k + r + 1 + d + 32 + 44`, works exactly; one byte less, or any
    /// size down to none, says that size. DPS: key `AQIDBA==` (k = 4), resource
    /// `0ne00000A0A%2Fregistrations%2Fdevice1` (r = 37), expiry of d = 10 digits: 128.
    @Test func dpsScratchIsExactlyTheDocumentedSize() {
        let exact = 4 + 37 + 1 + 10 + 32 + 44
        #expect(exact == 128)
        #expect(token(resource: "0ne00000A0A/registrations/device1", key: "AQIDBA==", expiry: 1_747_904_819, keyName: "registration", scratch: exact)
            == .success("SharedAccessSignature sr=0ne00000A0A%2Fregistrations%2Fdevice1&sig=AAgQGCAoMDhASFBYYGhweICIkJigqLC4wMjQ2ODo8Pg%3D&se=1747904819&skn=registration"))
        for capacity in 0..<exact {
            #expect(token(resource: "0ne00000A0A/registrations/device1", key: "AQIDBA==", expiry: 1_747_904_819, scratch: capacity)
                == .failure(.bufferTooSmall(BufferTooSmall(needed: exact, capacity: capacity))), "scratch \(capacity)")
        }
    }

    /// A 44-character Azure key (k = 32), `h.azure-devices.net%2Fdevices%2Fd1` (r = 34), expiry
    /// 10 (d = 2): 145 bytes. (The old rule, resource + key + 64 = 30 + 44 + 64 = 138, was short.)
    @Test func hubScratchIsExactlyTheDocumentedSize() {
        let key: StaticString = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        let exact = 32 + 34 + 1 + 2 + 32 + 44
        #expect(exact == 145)
        #expect(token(resource: "h.azure-devices.net/devices/d1", key: key, expiry: 10, scratch: exact)
            == .success("SharedAccessSignature sr=h.azure-devices.net%2Fdevices%2Fd1&sig=AAgQGCAoMDhASFBYYGhweICIkJigqLC4wMjQ2ODo8Pg%3D&se=10"))
        #expect(token(resource: "h.azure-devices.net/devices/d1", key: key, expiry: 10, scratch: exact - 1)
            == .failure(.bufferTooSmall(BufferTooSmall(needed: exact, capacity: exact - 1))))
        #expect(token(resource: "h.azure-devices.net/devices/d1", key: key, expiry: 10, scratch: 30 + 44 + 64)
            == .failure(.bufferTooSmall(BufferTooSmall(needed: exact, capacity: 138))))
    }

    /// Derivation: the decoded group key and the MAC, `k + 32`: 35 bytes for `AQID`.
    @Test func derivationScratchIsExactlyTheDocumentedSize() {
        func derive(scratch capacity: Int) -> Result<String, SASError> {
            withBuffer(capacity) { scratch in
                withBuffer(64) { out in
                    var writer = TextWriter(into: out)
                    do throws(SASError) {
                        try SASToken.deriveDeviceKey(groupKeyBase64: ByteView("AQID"), registrationID: ByteView("device1"), hmac: RecordingHMAC(), scratch: scratch, into: &writer)
                        return .success(text(try! writer.finish()))
                    } catch {
                        return .failure(error)
                    }
                }
            }
        }
        #expect(derive(scratch: 35) == .success(Self.macBase64))
        #expect(derive(scratch: 34) == .failure(.bufferTooSmall(BufferTooSmall(needed: 35, capacity: 34))))
        #expect(derive(scratch: 0) == .failure(.bufferTooSmall(BufferTooSmall(needed: 35, capacity: 0))))
    }

    /// An invalid key is named whatever the scratch size.
    @Test func invalidKeyComesBeforeTheScratchSize() {
        #expect(token(resource: "r", key: "AQ!D", expiry: 1, scratch: 0) == .failure(.invalidKey(Base64Error(kind: .invalidCharacter, offset: 2))))
    }

    @Test func invalidKeyIsReported() throws {
        let hmac = RecordingHMAC()
        try withBuffer(64) { scratch in
            var out = [UInt8](repeating: 0, count: 256)
            out.withUnsafeMutableBytes { raw in
                var writer = TextWriter(into: raw)
                #expect(throws: SASError.self) {
                    try SASToken.write(resource: ByteView("r"), keyBase64: ByteView("not base64!"), expiryEpochSeconds: 1, hmac: hmac, scratch: scratch, into: &writer)
                }
            }
        }
        #expect(hmac.messages.isEmpty)
    }
}
