// Target `dps-topic`: DPSTopics.parseResponse, on the input as it is and behind the response
// prefix (so the fuzzer need not find the prefix itself).

func fuzzDPSTopic(_ data: ByteView) {
    let asIs = FuzzBuffer(copying: data)
    check(asIs.view)

    let prefix = ByteView(DPSTopics.responsePrefix)
    let prefixed = FuzzBuffer(count: prefix.count + data.count)
    prefix.copyBytes(to: prefixed.raw.baseAddress!)
    if data.count > 0 { data.copyBytes(to: prefixed.raw.baseAddress! + prefix.count) }
    check(prefixed.view)
    checkBagIsTail(asIs.view)
    checkBagIsTail(prefixed.view)
}

/// A topic's property bag, when it has one, is the end of the topic.
private func checkBagIsTail(_ topic: ByteView) {
    guard let bag = PropertyBagReader.bag(inTopic: topic) else { return }
    fuzzCheck(bag.count <= topic.count && bag == topic.slice(from: topic.count - bag.count, count: bag.count),
              "bag \(hexString(bag)) is not the end of topic \(hexString(topic))")
}

private func check(_ topic: ByteView) {
    do throws(DPSProtocolError) {
        guard let response = try DPSTopics.parseResponse(topic) else {
            fuzzCheck(!topic.hasPrefix(ByteView(DPSTopics.responsePrefix)), "a response topic parsed as not one")
            return
        }
        fuzzCheck(response.status <= 999, "status \(response.status) is more than three digits")
        // Written back in the canonical form, the response parses to itself.
        let out = FuzzBuffer(count: 96)
        var writer = TextWriter(into: out.raw)
        writer.append(DPSTopics.responsePrefix)
        writer.appendDecimal(Int(response.status), minimumDigits: 3)
        writer.append("/?")
        if let rid = response.requestID { writer.append("$rid="); writer.appendDecimal(UInt64(rid)) }
        if let retry = response.retryAfter { writer.append("&retry-after="); writer.appendDecimal(UInt64(retry)) }
        let canonical: ByteView
        do throws(BufferTooSmall) { canonical = try writer.finish() } catch { finding("canonical topic overflow") }
        do throws(DPSProtocolError) {
            let again = try DPSTopics.parseResponse(canonical)
            fuzzCheck(again == response, "canonical form \(hexString(canonical)) parses differently")
        } catch {
            finding("canonical form \(hexString(canonical)) does not parse: \(error)")
        }
    } catch {
        guard case .malformedResponseTopic(let offset) = error else { finding("unexpected error \(error)") }
        fuzzCheck(offset >= 0 && offset <= topic.count, "error offset \(offset) outside the topic")
    }
}
