import DeviceCore
import Testing

/// `DPSResponseBody.parse` of `json` into a 512-byte arena, its fields in words (`-` for absent)
/// and the arena bytes it used.
func parsedBody(_ json: StaticString) throws(DPSProtocolError) -> (fields: String, used: Int) {
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 1)
    defer { storage.deallocate() }
    var arena = ByteArena(storage)
    let body = try DPSResponseBody.parse(ByteView(json), into: &arena)
    func show(_ view: ByteView?) -> String { view.map(text) ?? "-" }
    let status = body.status.map { "\($0)" } ?? "-"
    let code = body.errorCode.map { String($0) } ?? "-"
    let fields = "operation=\(show(body.operationID)) status=\(status) hub=\(show(body.assignedHub)) device=\(show(body.deviceID)) "
        + "substatus=\(show(body.substatus)) payload=\(show(body.payload)) code=\(code) message=\(show(body.errorMessage)) tracking=\(show(body.trackingID))"
    return (fields, arena.used)
}

/// A member whose value is `null` is absent, as in Azure's SDKs (parson's `json_value_get_string`
/// and `json_object_get_object` give NULL for it).
@Suite("DPS response bodies: null is absent")
struct DPSResponseBodyNullTests {
    @Test func nullPayloadIsNoPayload() throws {
        let body = try parsedBody(#"{"operationId":"o","status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d","payload":null}}"#)
        #expect(body.fields == "operation=o status=assigned hub=h device=d substatus=- payload=- code=- message=- tracking=-")
        #expect(body.used == 3, "only o, h and d are kept: no 4-byte null")
    }

    @Test func payloadHoldingNullsIsKeptAsWritten() throws {
        let body = try parsedBody(#"{"status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d","payload":{"k":null,"a":[null]}}}"#)
        #expect(body.fields == #"operation=- status=assigned hub=h device=d substatus=- payload={"k":null,"a":[null]} code=- message=- tracking=-"#)
    }

    @Test func nullErrorFieldsAreAbsent() throws {
        let body = try parsedBody(#"{"errorCode":null,"trackingId":null,"message":null,"timestampUtc":null}"#)
        #expect(body.fields == "operation=- status=- hub=- device=- substatus=- payload=- code=- message=- tracking=-")
        #expect(body.used == 0)
    }

    @Test func nullRegistrationStateAndOperationIdAreAbsent() throws {
        let body = try parsedBody(#"{"operationId":null,"status":"assigning","registrationState":null}"#)
        #expect(body.fields == "operation=- status=assigning hub=- device=- substatus=- payload=- code=- message=- tracking=-")
    }

    @Test func nestedNullsAreAbsentAndANullStatusLeavesTheGapToRegistrationState() throws {
        let body = try parsedBody(
            #"{"status":null,"registrationState":{"status":"failed","assignedHub":null,"deviceId":null,"substatus":null,"errorCode":null,"errorMessage":null,"payload":null}}"#)
        #expect(body.fields == "operation=- status=failed hub=- device=- substatus=- payload=- code=- message=- tracking=-")
    }

    @Test func aLaterNullDoesNotUndoAnEarlierValue() throws {
        let body = try parsedBody(
            #"{"operationId":"4.a","operationId":null,"errorCode":400207,"errorCode":null,"registrationState":{"payload":{"x":1},"payload":null,"errorMessage":"bad","errorMessage":null}}"#)
        #expect(body.fields == #"operation=4.a status=- hub=- device=- substatus=- payload={"x":1} code=400207 message=bad tracking=-"#)
    }

    @Test func anErrorBodyWithEveryField() throws {
        let body = try parsedBody(#"{"errorCode":401002,"trackingId":"8ad0463c","message":"Invalid certificate.","timestampUtc":"2020-04-10T05:24:22.4718526Z"}"#)
        #expect(body.fields == "operation=- status=- hub=- device=- substatus=- payload=- code=401002 message=Invalid certificate. tracking=8ad0463c")
    }
}

/// The reader looks member names up in one table, with where each counts (top level,
/// `registrationState`, or both): a name in the wrong place, or with a value of the wrong type,
/// is skipped like an unknown member.
@Suite("DPS response bodies: names in their place")
struct DPSResponseBodyMemberTests {
    @Test func namesOutOfTheirPlaceAreSkipped() throws {
        let body = try parsedBody(
            #"{"assignedHub":"top","deviceId":"top","substatus":"top","payload":{"top":1},"errorMessage":"top","registrationState":{"operationId":"nested","trackingId":"nested","message":"nested","registrationState":{"deviceId":"deep"}}}"#)
        #expect(body.fields == "operation=- status=- hub=- device=- substatus=- payload=- code=- message=- tracking=-")
        #expect(body.used == 0)
    }

    @Test func valuesOfTheWrongTypeAreSkipped() throws {
        let body = try parsedBody(
            #"{"errorCode":"401002","status":5,"operationId":7,"trackingId":["t"],"message":{"m":1},"registrationState":"x"}"#)
        #expect(body.fields == "operation=- status=- hub=- device=- substatus=- payload=- code=- message=- tracking=-")
        #expect(body.used == 0)
    }

    /// Error codes are 32-bit: the largest is kept, one past it (or a fraction) counts as absent.
    @Test func errorCodesOutsideInt32AreAbsent() throws {
        #expect(try parsedBody(#"{"errorCode":2147483647}"#).fields.contains(" code=2147483647 "))
        #expect(try parsedBody(#"{"errorCode":-2147483648}"#).fields.contains(" code=-2147483648 "))
        #expect(try parsedBody(#"{"errorCode":2147483648}"#).fields.contains(" code=- "))
        #expect(try parsedBody(#"{"errorCode":-2147483649}"#).fields.contains(" code=- "))
        #expect(try parsedBody(#"{"errorCode":4010.5}"#).fields.contains(" code=- "))
    }

    @Test func escapedNamesAndStatusesMatch() throws {
        let body = try parsedBody(#"{"\u0073tatus":"as\u0073igned","registrationState":{"assigned\u0048ub":"h","deviceI\u0064":"d","errorCode":400}}"#)
        #expect(body.fields == "operation=- status=assigned hub=h device=d substatus=- payload=- code=400 message=- tracking=-")
    }

    @Test(arguments: [
        (#"{"status":"unassigned"}"#, "unassigned"), (#"{"status":"assigning"}"#, "assigning"),
        (#"{"status":"assigned"}"#, "assigned"), (#"{"status":"failed"}"#, "failed"), (#"{"status":"disabled"}"#, "disabled"),
    ] as [(StaticString, String)])
    func everyStatus(json: StaticString, status: String) throws {
        #expect(try parsedBody(json).fields.contains("status=\(status) "))
    }

    @Test(arguments: [#"{"status":"assign"}"#, #"{"status":"assignedx"}"#, #"{"status":""}"#, #"{"status":"unassigned\u0001"}"#] as [StaticString])
    func prefixesAndLongerWordsAreUnknownStatuses(json: StaticString) {
        #expect(throws: DPSProtocolError.unknownStatus) { try parsedBody(json) }
    }
}

/// The payload is kept as written, escapes and all, through the same copy into the arena as the
/// decoded strings: an exact fit, and one byte short.
@Suite("DPS response bodies: payload in the arena")
struct DPSResponseBodyPayloadArenaTests {
    static let body: StaticString = #"{"registrationState":{"deviceId":"d\u0031","payload":{"s":"a\"b"}}}"#

    func parsed(capacity: Int) throws(DPSProtocolError) -> (payload: String?, device: String?, used: Int) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
        defer { storage.deallocate() }
        var arena = ByteArena(storage)
        let body = try DPSResponseBody.parse(ByteView(Self.body), into: &arena)
        return (body.payload.map(text), body.deviceID.map(text), arena.used)
    }

    @Test func exactFit() throws {
        // "d1" (2) and {"s":"a\"b"} (12).
        let result = try parsed(capacity: 14)
        #expect(result.payload == #"{"s":"a\"b"}"#)
        #expect(result.device == "d1")
        #expect(result.used == 14)
    }

    /// `needed` is the whole text: the 2 bytes kept and the 12 of the payload that did not fit.
    @Test func oneByteShortForThePayload() {
        #expect(throws: DPSProtocolError.bufferTooSmall(BufferTooSmall(needed: 14, capacity: 13))) { try parsed(capacity: 13) }
    }

    /// Once a string does not fit, the rest of the body is still read: `needed` counts every
    /// string after it too, and a body that is malformed further on says so instead.
    @Test func neededCountsTheWholeTextWhereverItStopsFitting() {
        #expect(throws: DPSProtocolError.bufferTooSmall(BufferTooSmall(needed: 14, capacity: 1))) { try parsed(capacity: 1) }
        #expect(throws: DPSProtocolError.bufferTooSmall(BufferTooSmall(needed: 14, capacity: 0))) { try parsed(capacity: 0) }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { storage.deallocate() }
        var arena = ByteArena(storage)
        #expect(throws: DPSProtocolError.malformedJSON(JSONError(kind: .expectedColon, offset: 21))) {
            try DPSResponseBody.parse(ByteView(#"{"deviceId":"d1","x" 1}"#), into: &arena)
        }
    }
}

/// Members of the wrong type are skipped with everything nested in them, and reading goes on
/// after them at the same level.
@Suite("DPS response bodies: wrong types skipped")
struct DPSResponseBodySkipTests {
    @Test func nestedContainersInPlaceOfStrings() throws {
        let body = try parsedBody(#"{"status":{"a":[1,{"b":[]}]},"operationId":[["x"]],"registrationState":{"deviceId":{"c":{}},"assignedHub":"h"},"trackingId":"t"}"#)
        #expect(body.fields == "operation=- status=- hub=h device=- substatus=- payload=- code=- message=- tracking=t")
    }

    @Test func documentEndingInsideASkippedMember() {
        #expect(throws: DPSProtocolError.malformedJSON(JSONError(kind: .unexpectedEnd, offset: 18))) {
            try parsedBody(#"{"status":{"a":[1,"#)
        }
    }
}
