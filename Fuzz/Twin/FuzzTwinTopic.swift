// Target `twin-topic`: TwinTopics.parseResponse, TwinTopics.parseDesiredPatch and
// DirectMethods.parseRequest, all three on the input as it is and behind each of the three
// prefixes (so the fuzzer need not find them itself).

func fuzzTwinTopic(_ data: ByteView) {
    let asIs = FuzzBuffer(copying: data)
    defer { withExtendedLifetime(asIs) {} }
    checkTwinTopic(asIs.view)
    for prefix in [TwinTopics.responsePrefix, TwinTopics.desiredPatchPrefix, DirectMethods.requestPrefix] {
        let prefixed = FuzzBuffer(joining: ByteView(prefix), data)
        withExtendedLifetime(prefixed) { checkTwinTopic(prefixed.view) }
    }
}

/// The three prefixes do not overlap: at most one parser claims a topic (returns it or throws).
private func checkTwinTopic(_ topic: ByteView) {
    let payload = ByteView("{\"delay\":5}")
    let claims = (checkResponse(topic) ? 1 : 0) + (checkDesiredPatch(topic) ? 1 : 0) + (checkMethodRequest(topic, payload) ? 1 : 0)
    fuzzCheck(claims <= 1, "\(claims) parsers claim topic \(hexString(topic))")
}

/// `true` when `parseResponse` claimed the topic.
private func checkResponse(_ topic: ByteView) -> Bool {
    let prefix = ByteView(TwinTopics.responsePrefix)
    let hasPrefix = topic.hasPrefix(prefix)
    do throws(IoTHubProtocolError) {
        guard let response = try TwinTopics.parseResponse(topic) else {
            fuzzCheck(!hasPrefix, "a twin response topic parsed as not one: \(hexString(topic))")
            return false
        }
        fuzzCheck(hasPrefix, "a topic without the response prefix parsed as a response: \(hexString(topic))")
        // The status is the three digits right after the prefix (so at most 999; `000` to `099`
        // are three digits too, and the twin refuses them like a 4xx), then the end, `/` or `?`.
        fuzzCheck(response.status <= 999, "status \(response.status) is more than three digits: \(hexString(topic))")
        fuzzCheck(topic.count >= prefix.count + 3, "status of a topic too short to hold one")
        let digits = topic.slice(from: prefix.count, count: 3)
        fuzzCheck(DecimalText.parse(digits, maximum: 999) == UInt64(response.status),
                  "status \(response.status) is not the digits \(hexString(digits))")
        if topic.count > prefix.count + 3 {
            let next = topic[prefix.count + 3]
            fuzzCheck(next == UInt8(ascii: "/") || next == UInt8(ascii: "?"), "status followed by \(next)")
        }
        fuzzCheck(occurs(ByteView("$rid="), in: topic), "a response without $rid= in \(hexString(topic))")
        if response.version != nil { fuzzCheck(occurs(ByteView("$version="), in: topic), "a version without $version=") }
        if response.retryAfter != nil { fuzzCheck(occurs(ByteView("retry-after="), in: topic), "a retry-after without retry-after=") }
        fuzzCheck((response.version ?? 0) >= 0, "negative version \(response.version ?? 0)")
        // Written back in the canonical form, the response parses to itself.
        let canonical = FuzzBuffer(capacity: 128) { writer in
            writer.append(TwinTopics.responsePrefix)
            writer.appendDecimal(Int(response.status), minimumDigits: 3)
            writer.append("/?$rid=")
            writer.appendDecimal(UInt64(response.requestID))
            if let version = response.version { writer.append("&$version="); writer.appendDecimal(version) }
            if let retry = response.retryAfter { writer.append("&retry-after="); writer.appendDecimal(UInt64(retry)) }
        }
        do throws(IoTHubProtocolError) {
            let again = try TwinTopics.parseResponse(canonical.view)
            fuzzCheck(again == response, "canonical form \(hexString(canonical.view)) parses differently")
        } catch {
            finding("canonical form \(hexString(canonical.view)) does not parse: \(error)")
        }
    } catch {
        fuzzCheck(hasPrefix, "parseResponse threw \(error) on a topic without its prefix: \(hexString(topic))")
        switch error {
        case .malformedTopic(let offset):
            fuzzCheck(offset >= prefix.count && offset <= topic.count, "error offset \(offset) outside the topic's tail (\(topic.count))")
        case .missingTopicKey(let key):
            fuzzCheck(ByteView(key) == ByteView("$rid"), "missing key other than $rid")
        default: finding("parseResponse threw \(error)")
        }
    }
    return true
}

/// `true` when `parseDesiredPatch` claimed the topic.
private func checkDesiredPatch(_ topic: ByteView) -> Bool {
    let prefix = ByteView(TwinTopics.desiredPatchPrefix)
    let hasPrefix = topic.hasPrefix(prefix)
    do throws(IoTHubProtocolError) {
        guard let version = try TwinTopics.parseDesiredPatch(topic) else {
            fuzzCheck(!hasPrefix, "a desired-patch topic parsed as not one: \(hexString(topic))")
            return false
        }
        fuzzCheck(hasPrefix, "a topic without the desired-patch prefix parsed as one: \(hexString(topic))")
        if topic.count == prefix.count {
            fuzzCheck(version == nil, "the bare prefix gave version \(version ?? 0)")
        } else {
            fuzzCheck(topic[prefix.count] == UInt8(ascii: "?"), "prefix followed by \(topic[prefix.count]), not ?")
        }
        if let version {
            fuzzCheck(version >= 0, "negative version \(version)")
            fuzzCheck(occurs(ByteView("$version="), in: topic), "a version without $version=")
        }
        let canonical = FuzzBuffer(capacity: 96) { writer in
            writer.append(TwinTopics.desiredPatchPrefix)
            if let version { writer.append("?$version="); writer.appendDecimal(version) }
        }
        do throws(IoTHubProtocolError) {
            let again = try TwinTopics.parseDesiredPatch(canonical.view)
            fuzzCheck(again == .some(version), "canonical form \(hexString(canonical.view)) parses differently")
        } catch {
            finding("canonical form \(hexString(canonical.view)) does not parse: \(error)")
        }
    } catch {
        fuzzCheck(hasPrefix, "parseDesiredPatch threw \(error) on a topic without its prefix: \(hexString(topic))")
        guard case .malformedTopic(let offset) = error else { finding("parseDesiredPatch threw \(error)") }
        fuzzCheck(offset >= prefix.count && offset <= topic.count, "error offset \(offset) outside the topic's tail (\(topic.count))")
    }
    return true
}

/// `true` when `parseRequest` claimed the topic.
private func checkMethodRequest(_ topic: ByteView, _ payload: ByteView) -> Bool {
    let prefix = ByteView(DirectMethods.requestPrefix)
    let hasPrefix = topic.hasPrefix(prefix)
    do throws(IoTHubProtocolError) {
        guard let request = try DirectMethods.parseRequest(topic: topic, payload: payload) else {
            fuzzCheck(!hasPrefix, "a method topic parsed as not one: \(hexString(topic))")
            return false
        }
        fuzzCheck(hasPrefix, "a topic without the method prefix parsed as one: \(hexString(topic))")
        let base = topic.baseAddress.unsafelyUnwrapped
        let name = request.name
        // The name: non-empty, no `/`, the slice of the topic right after the prefix, then `/?`.
        fuzzCheck(!name.isEmpty, "empty method name")
        fuzzCheck(name.baseAddress == base + prefix.count, "the name is not the slice after the prefix")
        fuzzCheck(!contains(name, UInt8(ascii: "/")), "a name with /: \(hexString(name))")
        let afterName = prefix.count + name.count
        fuzzCheck(afterName + 2 <= topic.count && topic[afterName] == UInt8(ascii: "/") && topic[afterName + 1] == UInt8(ascii: "?"),
                  "name not followed by /? in \(hexString(topic))")
        // The request id: non-empty, a value of the query (after `=`, no `&` in it).
        let rid = request.requestID
        fuzzCheck(!rid.isEmpty, "empty request id")
        let ridStart = rid.baseAddress.unsafelyUnwrapped - UnsafeRawPointer(base)
        fuzzCheck(ridStart > afterName + 2 && ridStart + rid.count <= topic.count, "request id outside the query")
        fuzzCheck(topic[ridStart - 1] == UInt8(ascii: "="), "request id not after =")
        fuzzCheck(!contains(rid, UInt8(ascii: "&")), "request id with &")
        fuzzCheck(request.payload.baseAddress == payload.baseAddress && request.payload.count == payload.count, "payload not passed through")
        // component*command: split at the first `*`, and together they are the name.
        if let component = request.component {
            fuzzCheck(!contains(component, UInt8(ascii: "*")), "component with *")
            fuzzCheck(component.isEmpty || component.baseAddress == name.baseAddress, "component is not the name's start")
            let command = request.command
            let joined = FuzzBuffer(capacity: name.count + 1) { writer in
                writer.append(component)
                writer.append(UInt8(ascii: "*"))
                writer.append(command)
            }
            fuzzCheck(joined.view == name, "component * command \(hexString(joined.view)) is not the name \(hexString(name))")
        } else {
            fuzzCheck(!contains(name, UInt8(ascii: "*")), "a name with * and no component")
            fuzzCheck(request.command == name, "command of a plain name is not the name")
        }
        // Written back in the canonical form, the request reads the same.
        let canonical = FuzzBuffer(capacity: prefix.count + name.count + rid.count + 7) { writer in
            writer.append(DirectMethods.requestPrefix)
            writer.append(name)
            writer.append("/?$rid=")
            writer.append(rid)
        }
        do throws(IoTHubProtocolError) {
            let again = try DirectMethods.parseRequest(topic: canonical.view, payload: payload)
            fuzzCheck(again == request, "canonical form \(hexString(canonical.view)) reads differently")
        } catch {
            finding("canonical form \(hexString(canonical.view)) does not parse: \(error)")
        }
        // The response topic echoes the id unchanged.
        let response = FuzzBuffer(capacity: 30 + rid.count) { writer in
            DirectMethods.responseTopic(status: 200, requestID: rid, into: &writer)
        }
        let expected = FuzzBuffer(capacity: 30 + rid.count) { writer in
            writer.append("$iothub/methods/res/200/?$rid=")
            writer.append(rid)
        }
        fuzzCheck(response.view == expected.view, "response topic \(hexString(response.view))")
    } catch {
        fuzzCheck(hasPrefix, "parseRequest threw \(error) on a topic without its prefix: \(hexString(topic))")
        switch error {
        case .malformedTopic(let offset):
            fuzzCheck(offset >= prefix.count && offset <= topic.count, "error offset \(offset) outside the topic's tail (\(topic.count))")
        case .missingTopicKey(let key):
            fuzzCheck(ByteView(key) == ByteView("$rid"), "missing key other than $rid")
        default: finding("parseRequest threw \(error)")
        }
    }
    return true
}

private func contains(_ view: ByteView, _ byte: UInt8) -> Bool {
    var i = 0
    while i < view.count {
        if view[i] == byte { return true }
        i += 1
    }
    return false
}
