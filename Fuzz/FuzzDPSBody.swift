// Target `dps-body`: DPSResponseBody.parse into a small arena, checked against a large one.
//
// Input: byte 0 is the small arena's size; the rest is the body.

func fuzzDPSResponseBody(_ data: ByteView) {
    var input = FuzzInput(data)
    let capacity = Int(input.byte())
    let body = FuzzBuffer(copying: input.rest)

    let bigStorage = FuzzBuffer(count: body.raw.count * 4 + 16)
    var big = ByteArena(bigStorage.raw)
    let smallStorage = FuzzBuffer(count: capacity)
    var small = ByteArena(smallStorage.raw)

    let roomy: Result<DPSResponseBody, DPSProtocolError> = Result { () throws(DPSProtocolError) in
        try DPSResponseBody.parse(body.view, into: &big)
    }
    let tight: Result<DPSResponseBody, DPSProtocolError> = Result { () throws(DPSProtocolError) in
        try DPSResponseBody.parse(body.view, into: &small)
    }
    fuzzCheck(big.used <= bigStorage.raw.count && small.used <= capacity, "arena over-used")
    switch roomy {
    case .success(let parsed):
        fuzzCheck(big.used <= body.raw.count, "decoded text \(big.used) longer than the body \(body.raw.count)")
        touch(parsed)
        switch tight {
        case .success(let other): fuzzCheck(other == parsed, "small arena gives a different result")
        case .failure(let error):
            guard case .bufferTooSmall = error else { finding("small arena threw \(error), large one succeeded") }
        }
    case .failure(let error):
        if case .bufferTooSmall = error { finding("a body-sized arena was too small") }
        if case .success = tight { finding("only the small arena succeeded") }
    }
}

private func touch(_ b: DPSResponseBody) {
    for v in [b.operationID, b.assignedHub, b.deviceID, b.substatus, b.payload, b.errorMessage, b.trackingID] {
        if let v { _ = touchBytes(v) }
    }
    if let payload = b.payload {
        fuzzCheck(payload != ByteView("null"), "\"payload\": null kept as the text null")
        var reader = JSONReader(payload)
        do throws(JSONError) { while try reader.next() != nil {} } catch {
            finding("payload \(hexString(payload)) is not JSON: \(error)")
        }
    }
}
