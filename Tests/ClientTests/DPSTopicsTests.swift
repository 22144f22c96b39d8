import DeviceCore
import Testing

/// `DPSTopics.parseResponse`: the status, the query's `$rid` and `retry-after`, and the offset of
/// what is malformed (the status's, or the query's start for anything in the query).
@Suite("DPS response topics")
struct DPSTopicsResponseTests {
    let held = HeldText()

    func parsed(_ topic: String) throws(DPSProtocolError) -> String? {
        guard let r = try DPSTopics.parseResponse(held.view(topic)) else { return nil }
        return "\(r.status) rid=\(r.requestID.map { String($0) } ?? "-") retry=\(r.retryAfter.map { String($0) } ?? "-")"
    }

    @Test(arguments: [
        ("$dps/registrations/res/202/?$rid=1&retry-after=3", "202 rid=1 retry=3"),
        ("$dps/registrations/res/200/?retry-after=0&$rid=4294967295", "200 rid=4294967295 retry=0"),
        ("$dps/registrations/res/429", "429 rid=- retry=-"),
        ("$dps/registrations/res/500/", "500 rid=- retry=-"),
        ("$dps/registrations/res/200/?", "200 rid=- retry=-"),
        ("$dps/registrations/res/200?$rid=2", "200 rid=2 retry=-"),
        ("$dps/registrations/res/202/?&&$rid=7&&", "202 rid=7 retry=-"),
        ("$dps/registrations/res/202/?$rid=1&$rid=9&other=%41&flag", "202 rid=9 retry=-"),
        ("$dps/registrations/res/202/?%24rid=5&rid=6&retry-after2=1", "202 rid=- retry=-"),
    ])
    func responses(topic: String, expected: String) throws {
        #expect(try parsed(topic) == expected)
    }

    @Test(arguments: ["$dps/registrations/re/200", "$iothub/twin/res/200/?$rid=1", "", "$dps/registrations/res"])
    func notResponses(topic: String) throws {
        #expect(try parsed(topic) == nil)
    }

    @Test(arguments: [
        ("$dps/registrations/res/20", 25), ("$dps/registrations/res/2000", 27), ("$dps/registrations/res/", 23),
        ("$dps/registrations/res/2x0", 24), ("$dps/registrations/res/200x", 26), ("$dps/registrations/res/200//?", 27),
        ("$dps/registrations/res/200/?$rid=", 28), ("$dps/registrations/res/200/?$rid", 28),
        ("$dps/registrations/res/200/?$rid=4294967296", 28), ("$dps/registrations/res/200/?retry-after=1s", 28),
        ("$dps/registrations/res/200/?$rid=1&=2", 28), ("$dps/registrations/res/200/?x=%4", 28),
        ("$dps/registrations/res/200/?x=%4G&$rid=1", 28), ("$dps/registrations/res/200/?$rid=-1", 28),
    ])
    func malformed(topic: String, offset: Int) {
        #expect(throws: DPSProtocolError.malformedResponseTopic(offset: offset)) { try parsed(topic) }
    }
}
