// Target `twin-body`: TwinDocument.parse and TwinDocument.version(of:) on the input as a body,
// checked against a plain JSONReader pass over it; then the input as the `desired` and as the
// `reported` part of a full twin, `{"desired":INPUT}` and `{"desired":{"$version":1},"reported":INPUT}`.

func fuzzTwinBody(_ data: ByteView) {
    let body = FuzzBuffer(copying: data)
    defer { withExtendedLifetime(body) {} }
    let view = body.view
    let plain = plainRead(view)

    let parsed: Result<TwinDocument, IoTHubProtocolError> = Result { () throws(IoTHubProtocolError) in try TwinDocument.parse(view) }
    switch parsed {
    case .success(let document):
        fuzzCheck(plain.error == nil && plain.isObject, "a twin parsed from a body JSONReader refuses (\(String(describing: plain.error)))")
        checkPart(document.desired, of: view, version: document.desiredVersion, "desired")
        if document.reported.isEmpty {
            fuzzCheck(document.reportedVersion == nil, "a version without reported properties")
        } else {
            checkPart(document.reported, of: view, version: document.reportedVersion, "reported")
            let desiredStart = document.desired.baseAddress.unsafelyUnwrapped
            let reportedStart = document.reported.baseAddress.unsafelyUnwrapped
            fuzzCheck(desiredStart + document.desired.count <= reportedStart || reportedStart + document.reported.count <= desiredStart,
                      "desired and reported overlap")
        }
    case .failure(let error):
        switch error {
        case .malformedJSON(let jsonError):
            fuzzCheck(plain.error != nil, "malformedJSON \(jsonError) for a body JSONReader reads whole")
            fuzzCheck(jsonError.offset >= 0 && jsonError.offset <= view.count, "error offset \(jsonError.offset) outside the body")
        case .notAnObject, .missingVersion:
            if plain.isObject { fuzzCheck(plain.error == nil, "\(error) for a body JSONReader refuses (\(String(describing: plain.error)))") }
        default: finding("parse threw \(error)")
        }
    }

    let version: Result<Int64?, IoTHubProtocolError> = Result { () throws(IoTHubProtocolError) in try TwinDocument.version(of: view) }
    if case .success = version {
        fuzzCheck(plain.error == nil && plain.isObject, "version(of:) read a body JSONReader refuses (\(String(describing: plain.error)))")
    }
    if case .failure(.malformedJSON) = version { fuzzCheck(plain.error != nil, "version(of:) refuses a body JSONReader reads") }
    guard plain.error == nil else { return }

    // The input as a part of a twin: one level deeper, so a document at the reader's maximum
    // depth may fail with nestingTooDeep; otherwise the part's version is version(of:)'s.
    let trimmed = trimmingWhitespace(view)
    let asDesired = FuzzBuffer(joining: ByteView("{\"desired\":"), view, ByteView("}"))
    let asReported = FuzzBuffer(joining: ByteView("{\"desired\":{\"$version\":1},\"reported\":"), view, ByteView("}"))
    defer { withExtendedLifetime((asDesired, asReported)) {} }
    for (wrapped, isDesired) in [(asDesired, true), (asReported, false)] {
        let result: Result<TwinDocument, IoTHubProtocolError> = Result { () throws(IoTHubProtocolError) in
            try TwinDocument.parse(wrapped.view)
        }
        let part = isDesired ? "desired" : "reported"
        if case .failure(.malformedJSON(let e)) = result, e.kind == .nestingTooDeep { continue }
        switch (version, result) {
        case (.success(let v), .success(let document)):
            fuzzCheck((isDesired ? document.desired : document.reported) == trimmed, "the \(part) part is not the input")
            if isDesired {
                fuzzCheck(v == document.desiredVersion, "desiredVersion \(document.desiredVersion), version(of:) \(String(describing: v))")
            } else {
                fuzzCheck(v == document.reportedVersion, "reportedVersion \(String(describing: document.reportedVersion)), version(of:) \(String(describing: v))")
            }
        case (.success(nil), .failure(let error)):
            fuzzCheck(isDesired && error == .missingVersion, "as \(part): \(error), version(of:) gave none")
        case (.success(let v?), .failure(let error)):
            finding("as \(part): \(error), version(of:) gave \(v)")
        case (.failure(let e), .failure(let error)):
            fuzzCheck(e == error, "as \(part): \(error), version(of:) threw \(e)")
        case (.failure(let e), .success):
            finding("as \(part): parsed, version(of:) threw \(e)")
        }
    }
}

/// A part of a parsed twin: a slice of the body, an object (`{` to `}`), whose `$version` is
/// the one the twin gives.
private func checkPart(_ part: ByteView, of body: ByteView, version: Int64?, _ name: String) {
    let start = part.baseAddress.unsafelyUnwrapped - body.baseAddress.unsafelyUnwrapped
    fuzzCheck(start >= 0 && start + part.count <= body.count, "\(name) is not a slice of the body")
    fuzzCheck(part.count >= 2 && part[0] == UInt8(ascii: "{") && part[part.count - 1] == UInt8(ascii: "}"),
              "\(name) \(hexString(part)) is not {…}")
    do throws(IoTHubProtocolError) {
        let again = try TwinDocument.version(of: part)
        fuzzCheck(again == version, "version(of: \(name)) \(String(describing: again)), the twin says \(String(describing: version))")
    } catch {
        finding("version(of: \(name)) threw \(error)")
    }
}

/// The body read to its end with a plain JSONReader (at its default depth): the error, if
/// any, and whether the first token opens an object.
private func plainRead(_ view: ByteView) -> (error: JSONError?, isObject: Bool) {
    var reader = JSONReader(view)
    var first = true
    var isObject = false
    do throws(JSONError) {
        while let token = try reader.next() {
            if first { isObject = token == .beginObject; first = false }
        }
    } catch {
        return (error, isObject)
    }
    return (nil, isObject)
}

private func trimmingWhitespace(_ view: ByteView) -> ByteView {
    func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
    var start = 0
    var end = view.count
    while start < end && isSpace(view[start]) { start += 1 }
    while end > start && isSpace(view[end - 1]) { end -= 1 }
    return view.slice(from: start, count: end - start)
}
