import DeviceCore

/// Which twin request an action is about.
public enum TwinRequest: Equatable, Sendable {
    /// The GET of the full twin.
    case get
    /// The reported-properties patch.
    case reportedPatch
}

/// What the twin asks the caller to do, or tells it happened.
public enum TwinAction: Equatable {
    /// Publish `payload` on `topic` at QoS 0 (the hub's answer, not a PUBACK, confirms a twin
    /// request; the twin asks again itself when none comes). The topic is in the twin's topic
    /// buffer and the payload in its patch buffer: valid until the next call.
    case publish(topic: ByteView, payload: ByteView)
    /// The full twin arrived (after every connect, and when asked for): the desired state to
    /// apply, whole. Views point into the received message.
    case twin(TwinDocument)
    /// A desired-properties patch newer than what the device holds. `body` points into the
    /// received message.
    case desiredPatch(body: ByteView, version: Int64)
    /// IoT Hub stored the reported patch; `version` is the reported properties' new version.
    case reportedAccepted(version: Int64?)
    /// IoT Hub is throttled or failing (429, 5xx): the request is sent again after `retryIn`.
    case retrying(TwinRequest, status: UInt16, retryIn: DeviceDuration)
    /// IoT Hub refused the request for good (a 4xx other than 429); a refused patch is dropped.
    case rejected(TwinRequest, status: UInt16)
}

/// Why the twin could not take a reported patch; nothing was sent.
public enum TwinError: Error, Equatable, Sendable {
    /// A patch is still waiting for IoT Hub's answer: report again after its `.reportedAccepted`
    /// or `.rejected`.
    case patchInFlight
    /// The patch is larger than the twin's patch buffer (or, from `init`, the topic buffer
    /// is smaller than `DeviceTwin.topicBufferSize`).
    case bufferTooSmall(BufferTooSmall)
}

/// How the twin waits.
public struct TwinConfiguration {
    /// How long to wait for the answer to one request before asking again.
    public var responseTimeout: DeviceDuration
    /// Waits after a 429 or 5xx answer that gives no `retry-after`.
    public var backoff: ReconnectBackoff
    /// Ceiling for the hub's `retry-after`.
    public var maximumRetryAfter: DeviceDuration
    /// Seeds the jitter of `backoff`; take it from the board's entropy.
    public var jitterSeed: UInt64

    public init(
        responseTimeout: DeviceDuration = .seconds(30), backoff: ReconnectBackoff = ReconnectBackoff(),
        maximumRetryAfter: DeviceDuration = .seconds(300), jitterSeed: UInt64 = 0x7417
    ) {
        self.responseTimeout = responseTimeout
        self.backoff = backoff
        self.maximumRetryAfter = maximumRetryAfter
        self.jitterSeed = jitterSeed
    }
}

/// The device twin, sans I/O: it takes the connection's events, what arrives and the time, and
/// returns what to do. It never touches the session; the caller publishes what it asks for.
///
/// - After every `connected(now:)` it GETs the full twin, so the desired state never goes
///   stale (the hub does not queue patches for a device that is offline).
/// - Desired patches are delivered in version order: one not newer than the version held is
///   dropped, and while a GET is outstanding patches wait in it (if one turns out newer than
///   the GET's answer, the twin asks again) so that an older full twin never follows a newer patch.
/// - One reported patch at a time is in flight; it is copied into the patch buffer, sent again
///   after a 429 or 5xx, a lost answer or a reconnect, and ends in `.reportedAccepted` or
///   `.rejected`.
///
/// Subscribe to `TwinTopics.responseFilter` and `TwinTopics.desiredPatchFilter`; call
/// `handle(_:now:)` with each inbound PUBLISH, then `nextAction(now:)` until it returns `nil`,
/// and again by `nextDeadline`.
public struct DeviceTwin {
    private enum Phase: Equatable {
        case idle
        /// To be sent at the instant.
        case due(DeviceInstant)
        /// Sent with this request id; asked again at the instant.
        case awaiting(requestID: UInt32, until: DeviceInstant)
    }

    public let configuration: TwinConfiguration
    private let topicBuffer: UnsafeMutableRawBufferPointer
    private let patchBuffer: UnsafeMutableRawBufferPointer
    private var backoff: ReconnectBackoff
    private var random: SplitMix64
    private var isConnected = false
    private var lastRequestID: UInt32 = 0
    private var get = Phase.idle
    private var patch = Phase.idle
    /// Bytes of the reported patch in `patchBuffer`; `nil` when there is none.
    private var patchCount: Int?
    /// The newest patch version dropped while a GET was outstanding.
    private var newestWaitingPatch: Int64?
    /// The version of the desired properties the device holds (from the last full twin or
    /// patch delivered); `nil` before the first.
    public private(set) var desiredVersion: Int64?

    /// Bytes of the longest request topic (a reported patch's, with a ten-digit `$rid`).
    public static let topicBufferSize = 55

    /// A twin writing request topics into `topicBuffer` (at least `topicBufferSize` bytes) and
    /// keeping the reported patch in flight in `patchBuffer` (as large as the largest patch you
    /// report). Both must outlive the twin.
    public init(
        configuration: TwinConfiguration = TwinConfiguration(), topicBuffer: UnsafeMutableRawBufferPointer,
        patchBuffer: UnsafeMutableRawBufferPointer
    ) throws(TwinError) {
        guard topicBuffer.count >= Self.topicBufferSize else {
            throw .bufferTooSmall(BufferTooSmall(needed: Self.topicBufferSize, capacity: topicBuffer.count))
        }
        self.configuration = configuration
        self.topicBuffer = topicBuffer
        self.patchBuffer = patchBuffer
        backoff = configuration.backoff
        random = SplitMix64(seed: configuration.jitterSeed)
    }

    /// The connection to IoT Hub is up (CONNACK accepted): the full twin is asked for, and a
    /// patch still unanswered is sent again. Follow with `nextAction(now:)`.
    public mutating func connected(now: DeviceInstant) {
        isConnected = true
        get = .due(now)
        if patchCount != nil { patch = .due(now) }
    }

    /// The connection dropped: nothing is sent until `connected(now:)`.
    public mutating func connectionLost() {
        isConnected = false
        get = .idle
        patch = .idle
        newestWaitingPatch = nil
    }

    /// Asks for the full twin again (it comes as `.twin`). Follow with `nextAction(now:)`.
    public mutating func requestTwin(now: DeviceInstant) {
        if case .awaiting = get { return }
        get = .due(now)
    }

    /// Queues `patch` (a JSON object of reported properties) to be sent; it is copied. Follow
    /// with `nextAction(now:)`.
    public mutating func report(_ body: ByteView, now: DeviceInstant) throws(TwinError) {
        guard patchCount == nil else { throw .patchInFlight }
        guard body.count <= patchBuffer.count else { throw .bufferTooSmall(BufferTooSmall(needed: body.count, capacity: patchBuffer.count)) }
        if let base = patchBuffer.baseAddress { body.copyBytes(to: base) }
        patchCount = body.count
        if isConnected { patch = .due(now) }
    }

    /// Whether a reported patch is waiting for IoT Hub's answer.
    public var hasPatchInFlight: Bool { patchCount != nil }

    /// When `nextAction(now:)` has something to do next; `nil` when nothing waits.
    public var nextDeadline: DeviceInstant? {
        guard isConnected else { return nil }
        switch (Self.deadline(get), Self.deadline(patch)) {
        case (let a?, let b?): return min(a, b)
        case (let a, let b): return a ?? b
        }
    }

    private static func deadline(_ phase: Phase) -> DeviceInstant? {
        switch phase {
        case .idle: return nil
        case .due(let at): return at
        case .awaiting(_, let until): return until
        }
    }

    /// The next request due by `now` (a first send, a retry, or a request whose answer did not
    /// come in time), or `nil`. Call until `nil`.
    public mutating func nextAction(now: DeviceInstant) -> TwinAction? {
        guard isConnected else { return nil }
        if let at = Self.deadline(get), at <= now {
            return send(.get, now: now)
        }
        if let at = Self.deadline(patch), at <= now, patchCount != nil {
            return send(.reportedPatch, now: now)
        }
        return nil
    }

    private mutating func send(_ request: TwinRequest, now: DeviceInstant) -> TwinAction? {
        lastRequestID = lastRequestID == UInt32.max ? 1 : lastRequestID + 1
        let awaiting = Phase.awaiting(requestID: lastRequestID, until: now + configuration.responseTimeout)
        var writer = TextWriter(into: topicBuffer)
        let payload: ByteView
        if request == .get {
            get = awaiting
            TwinTopics.getTopic(requestID: lastRequestID, into: &writer)
            payload = ByteView()
        } else {
            patch = awaiting
            TwinTopics.reportedPatchTopic(requestID: lastRequestID, into: &writer)
            payload = ByteView(UnsafeRawBufferPointer(rebasing: patchBuffer[0..<(patchCount ?? 0)]))
        }
        // `init` made sure the topic buffer holds the longest topic.
        return .publish(topic: writer.written, payload: payload)
    }

    /// Reads an inbound PUBLISH: a twin response or a desired patch gives what to do or what
    /// happened; anything else (and an answer to a request given up on) gives `nil`. A
    /// malformed twin message is an error; the twin's state is unchanged by it, except that a
    /// malformed full twin is asked for again later.
    public mutating func handle(_ publish: MQTTPublish, now: DeviceInstant) throws(IoTHubProtocolError) -> TwinAction? {
        if let response = try TwinTopics.parseResponse(publish.topic) {
            if case .awaiting(let id, _) = get, id == response.requestID {
                return try answeredGet(response, body: publish.payload, now: now)
            }
            if case .awaiting(let id, _) = patch, id == response.requestID {
                return answeredPatch(response, now: now)
            }
            return nil
        }
        guard let topicVersion = try TwinTopics.parseDesiredPatch(publish.topic) else { return nil }
        let bodyVersion = try TwinDocument.version(of: publish.payload)
        guard let version = topicVersion ?? bodyVersion else { throw .missingVersion }
        if get != .idle {
            newestWaitingPatch = max(newestWaitingPatch ?? version, version)
            return nil
        }
        if let held = desiredVersion, version <= held { return nil }
        desiredVersion = version
        return .desiredPatch(body: publish.payload, version: version)
    }

    private mutating func answeredGet(_ response: TwinTopics.Response, body: ByteView, now: DeviceInstant) throws(IoTHubProtocolError) -> TwinAction? {
        if let wait = retryWait(response) {
            get = .due(now + wait)
            return .retrying(.get, status: response.status, retryIn: wait)
        }
        guard response.status >= 200 && response.status < 300 else {
            get = .idle
            newestWaitingPatch = nil
            return .rejected(.get, status: response.status)
        }
        let document: TwinDocument
        do throws(IoTHubProtocolError) { document = try TwinDocument.parse(body) } catch {
            get = .due(now + backoff.nextDelay(using: &random))
            throw error
        }
        backoff.reset()
        if let waiting = newestWaitingPatch, waiting > document.desiredVersion {
            // A patch came in while the GET was on its way that this twin does not hold yet.
            newestWaitingPatch = nil
            get = .due(now)
            return nil
        }
        get = .idle
        newestWaitingPatch = nil
        desiredVersion = document.desiredVersion
        return .twin(document)
    }

    private mutating func answeredPatch(_ response: TwinTopics.Response, now: DeviceInstant) -> TwinAction? {
        if let wait = retryWait(response) {
            patch = .due(now + wait)
            return .retrying(.reportedPatch, status: response.status, retryIn: wait)
        }
        backoff.reset()
        patch = .idle
        patchCount = nil
        guard response.status >= 200 && response.status < 300 else { return .rejected(.reportedPatch, status: response.status) }
        return .reportedAccepted(version: response.version)
    }

    /// How long to wait before asking again, for a 429 or 5xx answer; `nil` for others.
    private mutating func retryWait(_ response: TwinTopics.Response) -> DeviceDuration? {
        guard response.status == 429 || response.status >= 500 else { return nil }
        guard let seconds = response.retryAfter else { return backoff.nextDelay(using: &random) }
        let wait = DeviceDuration(seconds: seconds)
        return wait < configuration.maximumRetryAfter ? wait : configuration.maximumRetryAfter
    }
}
