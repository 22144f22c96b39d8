import DeviceCore
import DeviceCoreWords
import Testing

@Suite struct PercentEncodingTests {
    func encoded(_ input: [UInt8]) -> String {
        written(capacity: 1024) { PercentEncoding.encode(view(input), into: &$0) }.value!
    }

    func encoded(_ input: String) -> String { encoded(Array(input.utf8)) }

    func decoded(_ input: String, capacity: Int = 256) -> Result<[UInt8], PercentDecodingError> {
        do throws(PercentDecodingError) {
            return .success(bytes(try PercentEncoding.decode(view(input), into: buffer(capacity))))
        } catch {
            return .failure(error)
        }
    }

    @Test func dpsUserAgent() {
        let agent = "azure-iot-device-provisioning-py/2.14.0(3.11.7;Linux #1 SMP PREEMPT_DYNAMIC @0;x86_64)"
        let expected = "azure-iot-device-provisioning-py%2F2.14.0%283.11.7%3BLinux%20%231%20SMP%20PREEMPT_DYNAMIC%20%400%3Bx86_64%29"
        #expect(encoded(agent) == expected)
        #expect(decoded(expected) == .success(Array(agent.utf8)))
    }

    @Test func unreservedPassEverythingElseIsEscaped() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        #expect(encoded(unreserved) == unreserved)
        #expect(encoded(" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}") == "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D")
        #expect(encoded("ä✓😀") == "%C3%A4%E2%9C%93%F0%9F%98%80")
        #expect(encoded([0x00, 0x0A, 0x7F, 0x80, 0xFF]) == "%00%0A%7F%80%FF")
        #expect(encoded("") == "")
        #expect(encoded("application/json") == "application%2Fjson")
        // Every byte value: unreserved ones as themselves, others as %XX.
        let all = encoded(Array(0...255))
        #expect(all.utf8.count == 66 + 3 * (256 - 66))
        #expect(decoded(all) == .success(Array(0...255)))
    }

    @Test func decodesBothCasesAndKeepsPlus() {
        #expect(decoded("a%2fb%2Fc") == .success(Array("a/b/c".utf8)))
        #expect(decoded("a+b") == .success(Array("a+b".utf8)))
        #expect(decoded("%20") == .success([0x20]))
        #expect(decoded("") == .success([]))
        #expect(decoded("%c3%a4") == .success([0xC3, 0xA4]))
        #expect(decoded("100%25") == .success(Array("100%".utf8)))
    }

    @Test func decodeErrors() {
        #expect(decoded("%") == .failure(.truncatedEscape(offset: 0)))
        #expect(decoded("a%4") == .failure(.truncatedEscape(offset: 1)))
        #expect(decoded("%G1") == .failure(.invalidEscape(offset: 0)))
        #expect(decoded("%4G") == .failure(.invalidEscape(offset: 0)))
        #expect(decoded("ab%zz") == .failure(.invalidEscape(offset: 2)))
        #expect(decoded("%G") == .failure(.invalidEscape(offset: 0)))
        #expect(decoded("ok%20then%") == .failure(.truncatedEscape(offset: 9)))
        #expect(decoded("%%41") == .failure(.invalidEscape(offset: 0)))
        #expect(decoded("a%2Fb", capacity: 2) == .failure(.bufferTooSmall(BufferTooSmall(needed: 3, capacity: 2))))
        #expect(decoded("a%2Fb", capacity: 3) == .success(Array("a/b".utf8)))
    }

    @Test func decodesInPlace() throws {
        let input = "%24.ct%3Dapplication%2Fjson"
        let memory = buffer(input.utf8.count)
        memory.copyBytes(from: Array(input.utf8))
        let out = try PercentEncoding.decode(ByteView(UnsafeRawBufferPointer(memory)), into: memory)
        #expect(text(out) == "$.ct=application/json")
        #expect(out.baseAddress == UnsafeRawPointer(memory.baseAddress))
    }

    @Test func decodedEquals() {
        #expect(PercentEncoding.decodedEquals(view("%24.ct"), "$.ct"))
        #expect(PercentEncoding.decodedEquals(view("$.ct"), "$.ct"))
        #expect(!PercentEncoding.decodedEquals(view("%24.cx"), "$.ct"))
        #expect(!PercentEncoding.decodedEquals(view("%24.c"), "$.ct"))
        #expect(!PercentEncoding.decodedEquals(view("%24.ctt"), "$.ct"))
        #expect(!PercentEncoding.decodedEquals(view("%2"), "%2"))
        #expect(!PercentEncoding.decodedEquals(view("%zz"), "%zz"))
        #expect(PercentEncoding.decodedEquals(view(""), ""))
        #expect(PercentEncoding.decodedEquals(view("a%2fb"), view("a/b")))
    }

    @Test func overflowNeedsExactSize() {
        let result = written(capacity: 5) { PercentEncoding.encode(view("a b/c"), into: &$0) }
        #expect(result == .failure(BufferTooSmall(needed: 9, capacity: 5)))
    }
}

@Suite struct PropertyBagTests {
    func pairs(_ bag: String) -> Result<[String], PropertyBagError> {
        var reader = PropertyBagReader(view(bag))
        var out: [String] = []
        do throws(PropertyBagError) {
            while let pair = try reader.next() { out.append(text(pair.key) + "|" + text(pair.value)) }
            return .success(out)
        } catch {
            return .failure(error)
        }
    }

    @Test func telemetrySystemPropertiesRoundTrip() throws {
        let bag = "$.ct=application%2Fjson&$.ce=utf-8"
        #expect(pairs(bag) == .success(["$.ct|application%2Fjson", "$.ce|utf-8"]))

        // Read, decode, and write back with the writer: the same bytes.
        var reader = PropertyBagReader(view(bag))
        var writer = PropertyBagWriter(into: buffer(128))
        while let pair = try reader.next() {
            let key = try PercentEncoding.decode(pair.key, into: buffer(64))
            let value = try PercentEncoding.decode(pair.value, into: buffer(64))
            writer.add(key: key, value: value)
        }
        #expect(text(try writer.finish()) == bag)
        #expect(writer.pairCount == 2)

        // Passing the encoded pairs through unchanged also round-trips.
        var again = PropertyBagReader(view(bag))
        var copy = PropertyBagWriter(into: buffer(128))
        while let pair = try again.next() { copy.addEncoded(key: pair.key, value: pair.value) }
        #expect(text(try copy.finish()) == bag)
    }

    @Test func writer() throws {
        var writer = PropertyBagWriter(into: buffer(256))
        writer.add(key: "$.ct", value: "application/json")
        writer.add(key: "$.ce", value: view("utf-8"))
        writer.add(key: view("my key&=?"), value: view("a b&c=d ä"))
        writer.add(key: "empty", value: "")
        #expect(text(try writer.finish()) == "$.ct=application%2Fjson&$.ce=utf-8&my%20key%26%3D%3F=a%20b%26c%3Dd%20%C3%A4&empty=")

        // After a topic prefix.
        var topic = TextWriter(into: buffer(128))
        topic.append("devices/device1/messages/events/")
        var bag = PropertyBagWriter(topic)
        bag.add(key: "$.ct", value: "application/json")
        bag.add(key: "temperatureAlert", value: "true")
        #expect(text(try bag.finish()) == "devices/device1/messages/events/$.ct=application%2Fjson&temperatureAlert=true")

        // Values escape `$`; only names keep it.
        var dollar = PropertyBagWriter(into: buffer(64))
        dollar.add(key: "$rid", value: "$1")
        #expect(text(try dollar.finish()) == "$rid=%241")
    }

    @Test func writerOverflow() {
        var writer = PropertyBagWriter(into: buffer(8))
        writer.add(key: "$.ct", value: "application/json")
        do throws(BufferTooSmall) {
            _ = try writer.finish()
            Issue.record("expected overflow")
        } catch {
            #expect(error == BufferTooSmall(needed: 23, capacity: 8))
        }
    }

    @Test func readerShapes() {
        #expect(pairs("") == .success([]))
        #expect(pairs("&") == .success([]))
        #expect(pairs("&&&") == .success([]))
        #expect(pairs("a&&b=1&") == .success(["a|", "b|1"]))
        #expect(pairs("&a=1") == .success(["a|1"]))
        #expect(pairs("k=v=w") == .success(["k|v=w"]))
        #expect(pairs("k=") == .success(["k|"]))
        #expect(pairs("$rid=1&retry-after=3") == .success(["$rid|1", "retry-after|3"]))
        #expect(pairs("retry-after=120&$rid=1") == .success(["retry-after|120", "$rid|1"]))
        #expect(pairs("%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound&%24.ct=text%2Fplain")
            == .success(["%24.to|%2Fdevices%2Fd1%2Fmessages%2Fdevicebound", "%24.ct|text%2Fplain"]))
    }

    @Test func readerErrors() {
        #expect(pairs("=v") == .failure(PropertyBagError(kind: .emptyKey, offset: 0)))
        #expect(pairs("a=1&=2") == .failure(PropertyBagError(kind: .emptyKey, offset: 4)))
        #expect(pairs("a=%2") == .failure(PropertyBagError(kind: .invalidEscape, offset: 2)))
        #expect(pairs("a=%zz&b=1") == .failure(PropertyBagError(kind: .invalidEscape, offset: 2)))
        #expect(pairs("a%=1") == .failure(PropertyBagError(kind: .invalidEscape, offset: 1)))
        #expect(PropertyBagError(kind: .emptyKey, offset: 0).summary.description.isEmpty == false)
    }

    @Test func valueForKey() throws {
        let reader = PropertyBagReader(view("%24rid=7&retry-after=3&x"))
        #expect(try reader.value(forKey: "$rid").map(text) == "7")
        #expect(try reader.value(forKey: "retry-after").map(text) == "3")
        #expect(try reader.value(forKey: "x").map(text) == "")
        #expect(try reader.value(forKey: "missing") == nil)
    }

    /// The bag is where the topic's kind puts it: after `/messages/devicebound/` for cloud to
    /// device (raw `/`, `?` and `=` in it kept), after the first `?` for DPS, twin and methods.
    @Test func bagInTopic() throws {
        func bag(_ topic: String) -> String? { PropertyBagReader.bag(inTopic: view(topic)).map(text) }
        #expect(bag("devices/d1/messages/devicebound/%24.to=%2Fdevices%2Fd1&k=a/b") == "%24.to=%2Fdevices%2Fd1&k=a/b")
        #expect(pairs("%24.to=%2Fdevices%2Fd1&k=a/b") == .success(["%24.to|%2Fdevices%2Fd1", "k|a/b"]))
        #expect(bag("devices/d1/messages/devicebound/%24.to=/devices/d1/messages/devicebound&k=a?b=c&x=1/2")
            == "%24.to=/devices/d1/messages/devicebound&k=a?b=c&x=1/2")
        #expect(pairs("%24.to=/devices/d1/messages/devicebound&k=a?b=c&x=1/2")
            == .success(["%24.to|/devices/d1/messages/devicebound", "k|a?b=c", "x|1/2"]))
        #expect(bag("devices/d1/messages/devicebound/") == "")
        #expect(bag("$dps/registrations/res/202/?$rid=1&retry-after=3") == "$rid=1&retry-after=3")
        #expect(bag("$dps/registrations/res/200/?$rid=1&k=a?b/c") == "$rid=1&k=a?b/c")
        #expect(pairs("$rid=1&k=a?b/c") == .success(["$rid|1", "k|a?b/c"]))
        #expect(bag("$iothub/twin/res/200/?$rid=5&$version=7") == "$rid=5&$version=7")
        #expect(bag("$iothub/twin/PATCH/properties/desired/?$version=3") == "$version=3")
        #expect(bag("$iothub/methods/POST/reboot/?$rid=9") == "$rid=9")
        #expect(bag("a/b?") == nil, "not an IoT Hub or DPS topic")
        #expect(bag("k=v") == nil)
        #expect(bag("devices/d1/messages/events/a=b") == nil, "telemetry is sent, never received")
        #expect(bag("$iothub/twin/res/200/") == nil, "no ? and so no bag")
        #expect(bag("$dps/registrations/res/202/?") == "")
    }
}
