// Target `twin-machine`: a DeviceTwin (topic buffer of exactly DeviceTwin.topicBufferSize, patch
// buffer of 0 to 63 bytes) driven by a script decoded from the input, beside a model of the rules
// DeviceTwin documents that predicts every answer: what it publishes and when, which response
// is the answer to which request, which desired patches are delivered, held or dropped.
//
// Input: byte 0 is the configuration (bits 0-4: response timeout 1 to 32 s; bits 5-7: retry-after
// ceiling 1 to 281 s), byte 1 the patch buffer's size (& 0x3F), byte 2 the jitter seed; then
// operations, one byte each (its low 3 bits choose it) followed by their argument bytes:
//   0 connected(now:)    1 connectionLost()    2 requestTwin(now:)
//   3 report(_:now:): L, then L & 0x7F bytes of patch
//   4 time passes: A; 0 jumps to nextDeadline, otherwise A * A * 10 ms
//   5 nextAction(now:) until nil (more than 4 actions at once is a finding)
//   6 handle(_:now:) of a twin response: status S (S & 0x80: (S & 0x7F) * 999 / 127, otherwise
//     one of `statuses`), request id R (R & 3: the last GET's, the last patch's, the next one,
//     R >> 2), flags F (1 $version, 2 retry-after, 4 $rid last, 8 no `/` before `?`, 16 no $rid),
//     the version (2 bytes), retry-after T, then a payload
//   7 handle(_:now:) of another topic: kind K (K & 3: 0 desired patch, its query by K >> 2 & 3:
//     `?$version=V`, none, `?a=b`, `?$version=x`; 1 D & 0x3F bytes of the input; 2 the response
//     prefix and D & 0x3F bytes; 3 a method call or a cloud-to-device topic), D, then a payload
// A payload is P, X: P & 7 is 0 empty, 1 a full twin, 2 a patch with $version, 3 a patch without,
// 4 X & 0x7F bytes of the input, 5 a twin whose $version is a string, 6 a twin with only desired
// properties, 7 `null`. Versions V are the newest the model has seen plus (X or D & 0x0F) - 4.

private let statuses: [Int] = [200, 204, 400, 404, 429, 500, 503, 202, 100, 301, 412, 599, 600, 999, 299, 199]

/// A request's state in the model: idle; due at some instant between two (the same one but
/// after a backoff, whose jitter the model does not know); or sent and awaiting its answer.
private enum ModelPhase: Equatable {
    case idle
    case due(earliest: DeviceInstant, latest: DeviceInstant)
    case awaiting(requestID: UInt32, until: DeviceInstant)

    var window: (earliest: DeviceInstant, latest: DeviceInstant)? {
        switch self {
        case .idle: return nil
        case .due(let earliest, let latest): return (earliest, latest)
        case .awaiting(_, let until): return (until, until)
        }
    }

    static func due(_ at: DeviceInstant) -> ModelPhase { .due(earliest: at, latest: at) }
}

/// What the model expects `handle` to give.
private enum Expected {
    case exactly(Result<TwinAction?, IoTHubProtocolError>)
    /// `.retrying` after a backoff delay, which the model knows only within bounds.
    case backoffRetry(TwinRequest, status: UInt16)
}

private struct TwinDriver {
    let configuration: TwinConfiguration
    let topicBuffer: FuzzBuffer
    let patchBuffer: FuzzBuffer
    var twin: DeviceTwin
    var now = DeviceInstant(milliseconds: 1_000)

    // The model.
    var connected = false
    var get = ModelPhase.idle
    var patch = ModelPhase.idle
    var patchBody: [UInt8]?
    var heldNewest: Int64?
    var desiredVersion: Int64?
    var lastRequestID: UInt32 = 0
    var lastGetID: UInt32 = 0
    var lastPatchID: UInt32 = 0

    var backoffLow: DeviceDuration { configuration.backoff.minimum }
    var backoffHigh: DeviceDuration { configuration.backoff.maximum + configuration.backoff.maximumJitter }

    /// The newest desired version the model knows of, for building versions near it.
    var newestVersion: Int64 { max(desiredVersion ?? 0, heldNewest ?? 0) }

    // MARK: Operations

    mutating func connect() {
        twin.connected(now: now)
        connected = true
        get = .due(now)
        if patchBody != nil { patch = .due(now) }
    }

    mutating func loseConnection() {
        twin.connectionLost()
        connected = false
        get = .idle
        patch = .idle
        heldNewest = nil
    }

    mutating func requestTwin() {
        twin.requestTwin(now: now)
        if case .awaiting = get { return }
        get = .due(now)
    }

    mutating func report(_ body: ByteView) {
        let capacity = patchBuffer.raw.count
        let expected: TwinError? = patchBody != nil ? .patchInFlight
            : body.count > capacity ? .bufferTooSmall(BufferTooSmall(needed: body.count, capacity: capacity)) : nil
        do throws(TwinError) {
            try twin.report(body, now: now)
            fuzzCheck(expected == nil, "report of \(body.count) bytes accepted, expected \(String(describing: expected))")
            patchBody = Array(body.buffer)
            if connected { patch = .due(now) }
        } catch {
            fuzzCheck(error == expected, "report of \(body.count) bytes threw \(error), expected \(String(describing: expected))")
        }
    }

    mutating func advance(_ a: UInt8) {
        if a == 0 {
            if let deadline = twin.nextDeadline, deadline > now { now = deadline }
        } else {
            now = now + .milliseconds(Int32(a) * Int32(a) * 10)
        }
    }

    mutating func drain() {
        var count = 0
        while let action = twin.nextAction(now: now) {
            count += 1
            if count > 4 { finding("more than 4 actions due at once (the last \(describe(action)))") }
            guard case .publish(let topic, let payload) = action else { finding("nextAction gave \(describe(action))") }
            published(topic, payload)
        }
        // Nothing the model says is due by now is left unsent.
        guard connected else { return }
        if let window = get.window, window.latest <= now { finding("GET due by \(window.latest.milliseconds) ms not sent at \(now.milliseconds) ms") }
        if let window = patch.window, window.latest <= now { finding("patch due by \(window.latest.milliseconds) ms not sent at \(now.milliseconds) ms") }
    }

    private mutating func published(_ topic: ByteView, _ payload: ByteView) {
        let getPrefix = ByteView("$iothub/twin/GET/?$rid=")
        let patchPrefix = ByteView("$iothub/twin/PATCH/properties/reported/?$rid=")
        fuzzCheck(connected, "published \(text(topic)) while disconnected")
        fuzzCheck(topic.baseAddress == UnsafeRawPointer(topicBuffer.raw.baseAddress) && topic.count <= DeviceTwin.topicBufferSize,
                  "topic \(text(topic)) is not in the topic buffer")
        let id = lastRequestID == UInt32.max ? 1 : lastRequestID + 1
        let isGet = topic.hasPrefix(getPrefix)
        fuzzCheck(isGet || topic.hasPrefix(patchPrefix), "published on \(text(topic))")
        let expected = FuzzBuffer(capacity: 64) { writer in
            writer.append(isGet ? getPrefix : patchPrefix)
            writer.appendDecimal(UInt64(id))
        }
        fuzzCheck(topic == expected.view, "published on \(text(topic)), expected \(text(expected.view))")
        lastRequestID = id
        let phase = isGet ? get : patch
        guard let window = phase.window, window.earliest <= now else {
            finding("\(text(topic)) sent at \(now.milliseconds) ms, before it was due (\(phase))")
        }
        let awaiting = ModelPhase.awaiting(requestID: id, until: now + configuration.responseTimeout)
        if isGet {
            fuzzCheck(payload.isEmpty, "GET with a payload")
            get = awaiting
            lastGetID = id
        } else {
            guard let body = patchBody else { finding("patch sent with none in flight") }
            fuzzCheck(Array(payload.buffer) == body, "patch sent as \(hexString(payload)), reported \(body)")
            fuzzCheck(payload.isEmpty || payload.baseAddress == UnsafeRawPointer(patchBuffer.raw.baseAddress), "patch not from the patch buffer")
            patch = awaiting
            lastPatchID = id
        }
    }

    /// Inbound: what the twin says about the PUBLISH must be what the model expects.
    mutating func inbound(_ topic: ByteView, _ payload: ByteView) {
        let previous = twin.desiredVersion
        let expected = predict(topic, payload)
        let actual: Result<TwinAction?, IoTHubProtocolError> = Result { () throws(IoTHubProtocolError) in
            try twin.handle(MQTTPublish(topic: topic, payload: payload), now: now)
        }
        let what = "\(text(topic)) [\(text(payload))]"
        switch (expected, actual) {
        case (.exactly(.success(let a)), .success(let b)):
            fuzzCheck(a == b, "\(what) gave \(describe(b)), expected \(describe(a))")
        case (.exactly(.failure(let a)), .failure(let b)):
            fuzzCheck(a == b, "\(what) threw \(b), expected \(a)")
        case (.backoffRetry(let request, let status), .success(.retrying(let r, let s, let wait)?)):
            fuzzCheck(r == request && s == status, "\(what) gave retrying \(r) \(s), expected \(request) \(status)")
            fuzzCheck(wait >= backoffLow && wait <= backoffHigh, "backoff \(wait.milliseconds) ms outside \(backoffLow.milliseconds)...\(backoffHigh.milliseconds)")
            if request == .get { get = .due(now + wait) } else { patch = .due(now + wait) }
        case (.exactly(.success(let a)), .failure(let b)): finding("\(what) threw \(b), expected \(describe(a))")
        case (.exactly(.failure(let a)), .success(let b)): finding("\(what) gave \(describe(b)), expected to throw \(a)")
        case (.backoffRetry(let request, let status), _): finding("\(what) gave \(actual), expected retrying \(request) \(status)")
        }
        // desiredVersion moves only with what is delivered, and a delivered patch is newer.
        switch actual {
        case .success(.desiredPatch(let body, let version)?):
            fuzzCheck(previous.map { version > $0 } ?? true, "patch v\(version) delivered over v\(previous ?? 0)")
            fuzzCheck(twin.desiredVersion == version, "desiredVersion \(String(describing: twin.desiredVersion)) after patch v\(version)")
            fuzzCheck(body.baseAddress == payload.baseAddress && body.count == payload.count, "patch body is not the payload")
        case .success(.twin(let document)?):
            fuzzCheck(twin.desiredVersion == document.desiredVersion, "desiredVersion \(String(describing: twin.desiredVersion)) after twin v\(document.desiredVersion)")
            let start = document.desired.baseAddress.unsafelyUnwrapped - payload.baseAddress.unsafelyUnwrapped
            fuzzCheck(start >= 0 && start + document.desired.count <= payload.count, "desired is not in the payload")
        case .success(.publish?): finding("handle asked to publish")
        default:
            fuzzCheck(twin.desiredVersion == previous, "desiredVersion \(String(describing: previous)) → \(String(describing: twin.desiredVersion)) with nothing delivered")
        }
    }

    /// The model's answer to an inbound PUBLISH; updates the model as it goes.
    private mutating func predict(_ topic: ByteView, _ payload: ByteView) -> Expected {
        do throws(IoTHubProtocolError) {
            if let response = try TwinTopics.parseResponse(topic) {
                if case .awaiting(let id, _) = get, id == response.requestID { return answeredGet(response, payload) }
                if case .awaiting(let id, _) = patch, id == response.requestID { return answeredPatch(response) }
                return .exactly(.success(nil))  // an answer to a request given up on, or to none
            }
            guard let topicVersion = try TwinTopics.parseDesiredPatch(topic) else { return .exactly(.success(nil)) }
            let bodyVersion = try TwinDocument.version(of: payload)
            guard let version = topicVersion ?? bodyVersion else { return .exactly(.failure(.missingVersion)) }
            if get != .idle {
                // Held in the GET outstanding: its answer must be at least as new.
                heldNewest = max(heldNewest ?? version, version)
                return .exactly(.success(nil))
            }
            if let held = desiredVersion, version <= held { return .exactly(.success(nil)) }
            desiredVersion = version
            return .exactly(.success(.desiredPatch(body: payload, version: version)))
        } catch {
            return .exactly(.failure(error))
        }
    }

    private mutating func answeredGet(_ response: TwinTopics.Response, _ body: ByteView) -> Expected {
        if let retry = retry(response) {
            guard let wait = retry else { return .backoffRetry(.get, status: response.status) }
            get = .due(now + wait)
            return .exactly(.success(.retrying(.get, status: response.status, retryIn: wait)))
        }
        guard response.status >= 200 && response.status < 300 else {
            get = .idle
            heldNewest = nil
            return .exactly(.success(.rejected(.get, status: response.status)))
        }
        let document: TwinDocument
        do throws(IoTHubProtocolError) { document = try TwinDocument.parse(body) } catch {
            get = .due(earliest: now + backoffLow, latest: now + backoffHigh)
            return .exactly(.failure(error))
        }
        if let held = heldNewest, held > document.desiredVersion {
            heldNewest = nil
            get = .due(now)  // asked again at once
            return .exactly(.success(nil))
        }
        get = .idle
        heldNewest = nil
        desiredVersion = document.desiredVersion
        return .exactly(.success(.twin(document)))
    }

    private mutating func answeredPatch(_ response: TwinTopics.Response) -> Expected {
        if let retry = retry(response) {
            guard let wait = retry else { return .backoffRetry(.reportedPatch, status: response.status) }
            patch = .due(now + wait)
            return .exactly(.success(.retrying(.reportedPatch, status: response.status, retryIn: wait)))
        }
        patch = .idle
        patchBody = nil
        guard response.status >= 200 && response.status < 300 else {
            return .exactly(.success(.rejected(.reportedPatch, status: response.status)))
        }
        return .exactly(.success(.reportedAccepted(version: response.version)))
    }

    /// For a 429 or 5xx: `.some(wait)` with the hub's retry-after (capped), `.some(nil)` for a
    /// backoff delay; `nil` for other statuses.
    private func retry(_ response: TwinTopics.Response) -> DeviceDuration?? {
        guard response.status == 429 || response.status >= 500 else { return nil }
        guard let seconds = response.retryAfter else { return .some(nil) }
        return .some(min(DeviceDuration(seconds: seconds), configuration.maximumRetryAfter))
    }

    /// After every operation: what the twin shows of its state is the model's.
    func checkState() {
        fuzzCheck(twin.desiredVersion == desiredVersion, "desiredVersion \(String(describing: twin.desiredVersion)), model \(String(describing: desiredVersion))")
        fuzzCheck(twin.hasPatchInFlight == (patchBody != nil), "hasPatchInFlight \(twin.hasPatchInFlight), model \(patchBody != nil)")
        let deadline = twin.nextDeadline
        guard connected else {
            fuzzCheck(deadline == nil, "a deadline while disconnected")
            return
        }
        let windows = [get.window, patch.window].compactMap { $0 }
        guard let earliest = windows.map(\.earliest).min(), let latest = windows.map(\.latest).min() else {
            fuzzCheck(deadline == nil, "deadline \(deadline?.milliseconds ?? 0) ms with nothing to do")
            return
        }
        guard let deadline else { finding("no deadline; model: GET \(get), patch \(patch)") }
        fuzzCheck(deadline >= earliest && deadline <= latest,
                  "deadline \(deadline.milliseconds) ms outside \(earliest.milliseconds)...\(latest.milliseconds); model: GET \(get), patch \(patch)")
    }

    // MARK: Inbound messages

    mutating func twinResponse(_ input: inout FuzzInput) {
        let s = input.byte(), r = input.byte(), flags = input.byte(), version = input.uint16(), retryAfter = input.byte()
        let status = s & 0x80 != 0 ? Int(s & 0x7F) * 999 / 127 : statuses[Int(s & 0x0F)]
        let rid: UInt32
        switch r & 3 {
        case 0: rid = lastGetID
        case 1: rid = lastPatchID
        case 2: rid = lastRequestID &+ 1
        default: rid = UInt32(r >> 2)
        }
        let topic = FuzzBuffer(capacity: 128) { writer in
            writer.append(TwinTopics.responsePrefix)
            writer.appendDecimal(status, minimumDigits: 3)
            if flags & 8 == 0 { writer.append("/") }
            writer.append("?")
            var pairs = 0
            func pair(_ key: StaticString, _ value: UInt64) {
                if pairs > 0 { writer.append("&") }
                writer.append(key)
                writer.appendDecimal(value)
                pairs += 1
            }
            let withRID = flags & 16 == 0
            if withRID && flags & 4 == 0 { pair("$rid=", UInt64(rid)) }
            if flags & 1 != 0 { pair("$version=", UInt64(version)) }
            if flags & 2 != 0 { pair("retry-after=", UInt64(retryAfter)) }
            if withRID && flags & 4 != 0 { pair("$rid=", UInt64(rid)) }
        }
        let body = payload(&input)
        withExtendedLifetime((topic, body)) { inbound(topic.view, body.view) }
    }

    mutating func otherInbound(_ input: inout FuzzInput) {
        let kind = input.byte(), d = input.byte()
        let topic: FuzzBuffer
        switch kind & 3 {
        case 0:
            let version = max(0, newestVersion + Int64(d & 0x0F) - 4)
            topic = FuzzBuffer(capacity: 96) { writer in
                writer.append(TwinTopics.desiredPatchPrefix)
                switch (kind >> 2) & 3 {
                case 0: writer.append("?$version="); writer.appendDecimal(version)
                case 1: break
                case 2: writer.append("?a=b")
                default: writer.append("?$version=x")
                }
            }
        case 1: topic = FuzzBuffer(copying: take(&input, Int(d & 0x3F)))
        case 2: topic = FuzzBuffer(joining: ByteView(TwinTopics.responsePrefix), take(&input, Int(d & 0x3F)))
        default:
            topic = FuzzBuffer(copying: (kind >> 2) & 1 == 0 ? ByteView("$iothub/methods/POST/reboot/?$rid=1")
                                                            : ByteView("devices/fuzz-device/messages/devicebound/%24.to=x"))
        }
        let body = payload(&input)
        withExtendedLifetime((topic, body)) { inbound(topic.view, body.view) }
    }

    private mutating func payload(_ input: inout FuzzInput) -> FuzzBuffer {
        let p = input.byte(), x = input.byte()
        let version = newestVersion + Int64(x & 0x0F) - 4
        let n = Int(x >> 4)
        switch p & 7 {
        case 0: return FuzzBuffer(count: 0)
        case 1:
            return FuzzBuffer(capacity: 128) { writer in
                writer.append("{\"desired\":{\"fan\":"); writer.appendDecimal(n)
                writer.append(",\"$version\":"); writer.appendDecimal(version)
                writer.append("},\"reported\":{\"serial\":\"A1\",\"$version\":"); writer.appendDecimal(n); writer.append("}}")
            }
        case 2:
            return FuzzBuffer(capacity: 64) { writer in
                writer.append("{\"fan\":"); writer.appendDecimal(n); writer.append(",\"$version\":"); writer.appendDecimal(version); writer.append("}")
            }
        case 3:
            return FuzzBuffer(capacity: 32) { writer in writer.append("{\"fan\":"); writer.appendDecimal(n); writer.append("}") }
        case 4: return FuzzBuffer(copying: take(&input, Int(x & 0x7F)))
        case 5:
            return FuzzBuffer(capacity: 64) { writer in
                writer.append("{\"desired\":{\"$version\":\""); writer.appendDecimal(version); writer.append("\"}}")
            }
        case 6:
            return FuzzBuffer(capacity: 64) { writer in
                writer.append("{\"desired\":{\"$metadata\":{},\"$version\":"); writer.appendDecimal(version); writer.append("}}")
            }
        default: return FuzzBuffer(copying: ByteView("null"))
        }
    }
}

/// Up to `count` bytes of the input, consumed.
private func take(_ input: inout FuzzInput, _ count: Int) -> ByteView {
    let n = min(count, input.remaining)
    let view = input.bytes.slice(from: input.position, count: n)
    input.position += n
    return view
}

private func text(_ view: ByteView) -> String {
    String(decoding: view.buffer, as: UTF8.self)
}

private func describe(_ action: TwinAction?) -> String {
    switch action {
    case nil: return "nil"
    case .publish(let topic, let payload)?: return "publish \(text(topic)) [\(text(payload))]"
    case .twin(let document)?: return "twin \(text(document.desired)) v\(document.desiredVersion)"
    case .desiredPatch(let body, let version)?: return "patch v\(version) \(text(body))"
    case .reportedAccepted(let version)?: return "accepted v\(version.map(String.init) ?? "nil")"
    case .retrying(let request, let status, let wait)?: return "retrying \(request) \(status) in \(wait.milliseconds) ms"
    case .rejected(let request, let status)?: return "rejected \(request) \(status)"
    }
}

func fuzzTwinMachine(_ data: ByteView) {
    var input = FuzzInput(data)
    let settings = input.byte()
    let patchSize = Int(input.byte() & 0x3F)
    let seed = input.byte()
    let configuration = TwinConfiguration(
        responseTimeout: .seconds(1 + Int32(settings & 0x1F)), backoff: ReconnectBackoff(),
        maximumRetryAfter: .seconds(1 + Int32(settings >> 5) * 40), jitterSeed: UInt64(seed))
    let topicBuffer = FuzzBuffer(count: DeviceTwin.topicBufferSize)
    let patchBuffer = FuzzBuffer(count: patchSize)

    let short = FuzzBuffer(count: DeviceTwin.topicBufferSize - 1)
    do throws(TwinError) {
        _ = try DeviceTwin(configuration: configuration, topicBuffer: short.raw, patchBuffer: patchBuffer.raw)
        finding("a topic buffer of \(DeviceTwin.topicBufferSize - 1) bytes accepted")
    } catch {
        fuzzCheck(error == .bufferTooSmall(BufferTooSmall(needed: DeviceTwin.topicBufferSize, capacity: DeviceTwin.topicBufferSize - 1)), "init threw \(error)")
    }
    let twin: DeviceTwin
    do throws(TwinError) {
        twin = try DeviceTwin(configuration: configuration, topicBuffer: topicBuffer.raw, patchBuffer: patchBuffer.raw)
    } catch {
        finding("init refused a topic buffer of topicBufferSize: \(error)")
    }
    var driver = TwinDriver(configuration: configuration, topicBuffer: topicBuffer, patchBuffer: patchBuffer, twin: twin)
    driver.checkState()
    while input.remaining > 0 {
        let op = input.byte()
        switch op & 7 {
        case 0: driver.connect()
        case 1: driver.loseConnection()
        case 2: driver.requestTwin()
        case 3:
            let length = Int(input.byte() & 0x7F)
            let body = FuzzBuffer(copying: take(&input, length))
            withExtendedLifetime(body) { driver.report(body.view) }
        case 4: driver.advance(input.byte())
        case 5: driver.drain()
        case 6: driver.twinResponse(&input)
        default: driver.otherInbound(&input)
        }
        driver.checkState()
    }
}
