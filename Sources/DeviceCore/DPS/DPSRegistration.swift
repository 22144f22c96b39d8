/// What a device needs to register with DPS.
public struct DPSConfiguration {
    /// The DPS instance's ID scope, e.g. `0ne00000A0A`.
    public var idScope: ByteView
    /// The registration id; for X.509 it must equal the certificate's CN.
    public var registrationID: ByteView
    /// Sent as `&ClientVersion=` in the user name; `nil` leaves it out.
    public var userAgent: ByteView?
    /// Custom allocation data, raw JSON sent as `payload`; `nil` leaves it out.
    public var customPayload: ByteView?
    /// How long to wait for the answer to one request before asking again.
    public var responseTimeout: DeviceDuration
    /// How long the whole registration may take.
    public var overallTimeout: DeviceDuration
    /// Wait before polling when the response carries no `retry-after`.
    public var defaultRetryAfter: DeviceDuration
    /// Floor for `retry-after`: DPS allows 5 polls per 10 s per device.
    public var minimumRetryAfter: DeviceDuration
    /// Ceiling for absurd `retry-after` values.
    public var maximumRetryAfter: DeviceDuration
    /// Waits for retriable failures without `retry-after` (429, 5xx, timeouts).
    public var backoff: ReconnectBackoff
    /// Seeds the jitter of `backoff`; take it from the board's entropy.
    public var jitterSeed: UInt64

    public init(
        idScope: ByteView, registrationID: ByteView, userAgent: ByteView? = nil, customPayload: ByteView? = nil,
        responseTimeout: DeviceDuration = .seconds(30), overallTimeout: DeviceDuration = .seconds(180),
        defaultRetryAfter: DeviceDuration = .seconds(2), minimumRetryAfter: DeviceDuration = .seconds(2),
        maximumRetryAfter: DeviceDuration = .seconds(300), backoff: ReconnectBackoff = ReconnectBackoff(),
        jitterSeed: UInt64 = 0x5EED
    ) {
        self.idScope = idScope
        self.registrationID = registrationID
        self.userAgent = userAgent
        self.customPayload = customPayload
        self.responseTimeout = responseTimeout
        self.overallTimeout = overallTimeout
        self.defaultRetryAfter = defaultRetryAfter
        self.minimumRetryAfter = minimumRetryAfter
        self.maximumRetryAfter = maximumRetryAfter
        self.backoff = backoff
        self.jitterSeed = jitterSeed
    }
}

/// Where DPS put the device.
public struct DPSAssignment: Equatable {
    public var assignedHub: ByteView
    public var deviceID: ByteView
    /// `initialAssignment`, `deviceDataMigrated`, `deviceDataReset`, … (empty if absent).
    public var substatus: ByteView
    /// Custom allocation data returned by DPS, raw JSON; `nil` if none.
    public var payload: ByteView?
}

/// Why registration ended without an assignment.
public struct DPSFailure: Equatable {
    public enum Reason: Equatable {
        /// DPS refused the request with a final status (400, 401, 403, 404, 412 …).
        case rejected(status: UInt16)
        /// The registration's status is `failed`.
        case registrationFailed
        /// The enrollment is `disabled`.
        case disabled
        /// The overall timeout passed.
        case timedOut
        /// The broker refused the subscription to the response topic.
        case subscriptionRefused
        /// A response the device could not make sense of.
        case malformedResponse(DPSProtocolError)
    }

    public var reason: Reason
    /// DPS's six-digit error code (e.g. 401002; the first three digits are the status), if given.
    public var errorCode: Int32?
    public var message: ByteView?
    public var trackingID: ByteView?
}

/// A DPS answer that did not end the registration, and what the device does next.
public struct DPSProgress: Equatable, Sendable {
    /// The response's status: 202, 200, 429, 5xx.
    public var status: UInt16
    /// The registration's status when the body carried one (`assigning`, `unassigned`).
    public var registrationStatus: DPSRegistrationStatus?
    /// How long the device waits before its next request (retry-after, clamped, or backoff).
    public var nextRequestIn: DeviceDuration
}

/// The end of a registration.
public enum DPSOutcome: Equatable {
    case assigned(DPSAssignment)
    case failed(DPSFailure)
}

/// What the registration asks its driver to do next.
public enum DPSAction: Equatable {
    /// Publish this request at QoS 1. Both views point into the request buffer: publish before
    /// the next call.
    case publish(topic: ByteView, payload: ByteView)
    /// DPS answered without ending the registration; the next request follows after
    /// `nextRequestIn` (call `timersDue` at `nextDeadline`).
    case progress(DPSProgress)
    /// The registration ended.
    case finished(DPSOutcome)
}

/// Errors in using the registration, as opposed to DPS saying no.
public enum DPSError: Error, Equatable {
    /// The request buffer cannot hold the topic and body.
    case bufferTooSmall(BufferTooSmall)
    /// The registration id is not UTF-8, so no request can carry it (the flow's CONNECT, whose
    /// client id it is, refuses it first).
    case registrationIDNotUTF8
}

/// The DPS register/poll flow as a pure state machine: it takes what arrived (the SUBACK for
/// the response topic, each PUBLISH), the time and lost connections, and returns what to do.
/// It never touches the session; its driver (`DeviceFlow.provision`) publishes for it.
///
///     connect ─▶ SUBACK ─▶ register ($rid=1) ─▶ 202 assigning ─(retry-after)─▶ poll ($rid=2) ─▶ …
///                                               200 assigned ──▶ .assigned(hub, device id)
///                                               200 failed / disabled, 4xx ──▶ .failed(reason, code, message, tracking id)
///                                               429 / 5xx / no answer ─(retry-after or backoff)─▶ same request again
///
/// Hand it every session event with `handle`, call `timersDue` at `nextDeadline`, and carry out
/// each `DPSAction` it returns. After a lost connection call `connectionLost()` (and drop the
/// session's unacknowledged requests: DPS keeps no session); after the next SUBACK the current
/// request is sent again, with a new request id.
public struct DPSRegistration {
    enum Step: Equatable {
        /// Waiting for the session's SUBACK before the first (or a repeated) request.
        case awaitingSubscription
        case awaitingResponse(requestID: UInt32, deadline: DeviceInstant)
        /// Waiting before the next request (poll or retry).
        case waiting(until: DeviceInstant)
        case finished
    }

    public let configuration: DPSConfiguration
    private let requestBuffer: UnsafeMutableRawBufferPointer
    /// Holds the operation id across responses.
    private var operationArena: ByteArena
    /// Holds the current response's text; reset for each response.
    private var resultArena: ByteArena
    private var operationID: ByteView?
    private(set) var step: Step = .awaitingSubscription
    /// Whether the response topic is subscribed on the current connection.
    private var subscribed = false
    private var lastRequestID: UInt32 = 0
    /// When the overall timeout ends the registration; set by `start(now:)`.
    public private(set) var overallDeadline: DeviceInstant?
    private var backoff: ReconnectBackoff
    private var random: SplitMix64

    /// Room kept for the operation id (DPS's are about 60 bytes).
    static let operationIDCapacity = 128

    /// A registration using `requestBuffer` to build requests and `resultsBuffer` to keep the
    /// assignment's text; both must outlive it. `resultsBuffer` must be larger than 128 bytes
    /// (a smaller one traps): its first 128 keep the operation id, the rest each response's
    /// decoded text (operation id, hub, device id, substatus, payload, error message, tracking
    /// id). A response with more text than that ends the registration with
    /// `.malformedResponse(.bufferTooSmall)`.
    public init(configuration: DPSConfiguration, requestBuffer: UnsafeMutableRawBufferPointer, resultsBuffer: UnsafeMutableRawBufferPointer) {
        precondition(resultsBuffer.count > Self.operationIDCapacity, "resultsBuffer must be larger than 128 bytes")
        self.configuration = configuration
        self.requestBuffer = requestBuffer
        operationArena = ByteArena(UnsafeMutableRawBufferPointer(rebasing: resultsBuffer[..<Self.operationIDCapacity]))
        resultArena = ByteArena(UnsafeMutableRawBufferPointer(rebasing: resultsBuffer[Self.operationIDCapacity...]))
        backoff = configuration.backoff
        random = SplitMix64(seed: configuration.jitterSeed)
    }

    /// The CONNECT for DPS: client id = registration id, the DPS user name (written into
    /// `userNameBuffer`, which must outlive the session), clean session, no password (X.509).
    public static func connectPacket(
        for configuration: DPSConfiguration, keepAlive: UInt16 = 60, userNameBuffer: UnsafeMutableRawBufferPointer
    ) throws(BufferTooSmall) -> MQTTConnect {
        var writer = TextWriter(into: userNameBuffer)
        DPSTopics.userName(idScope: configuration.idScope, registrationID: configuration.registrationID, userAgent: configuration.userAgent, into: &writer)
        let userName = try writer.finish()
        return MQTTConnect(clientID: configuration.registrationID, cleanSession: true, keepAlive: keepAlive, userName: userName)
    }

    /// The response subscription the session must make on connect.
    public static var subscription: MQTTSubscription { MQTTSubscription(filter: ByteView(DPSTopics.responseFilter), qos: .atLeastOnce) }

    /// Starts the clock on the overall timeout. Call once, when the first connection is attempted.
    public mutating func start(now: DeviceInstant) {
        if overallDeadline == nil { overallDeadline = now + configuration.overallTimeout }
    }

    /// The connection dropped. A request in flight is repeated after the next SUBACK; a wait
    /// for `retry-after` goes on.
    public mutating func connectionLost() {
        subscribed = false
        if case .awaitingResponse = step { step = .awaitingSubscription }
    }

    /// When `timersDue` must next run; `nil` once the registration has ended.
    public var nextDeadline: DeviceInstant? {
        switch step {
        case .finished: return nil
        case .awaitingSubscription: return overallDeadline
        case .awaitingResponse(_, let deadline): return earliest(deadline, overallDeadline)
        case .waiting(let until): return earliest(until, overallDeadline)
        }
    }

    /// Takes one session event: the SUBACK for the response topic sends the current request, a
    /// PUBLISH on it is read as DPS's answer; other events are ignored.
    public mutating func handle(_ event: MQTTSessionEvent, now: DeviceInstant) throws(DPSError) -> DPSAction? {
        guard step != .finished else { return nil }
        switch event {
        case .subscribed(let suback):
            guard suback.returnCodes.count > 0, suback.returnCode(at: 0) != .failure else {
                return finish(.failed(DPSFailure(reason: .subscriptionRefused)))
            }
            subscribed = true
            return step == .awaitingSubscription ? try request(now: now) : nil
        case .message(let publish):
            return received(topic: publish.topic, payload: publish.payload, now: now)
        default:
            return nil
        }
    }

    /// Acts on deadlines: the overall timeout, a response timeout, the wait before a poll.
    /// Inlined into its one caller in a firmware, `DeviceFlow`'s turn of the registration: out
    /// of line it is a function of its own, in flash and on the stack.
    @inline(__always)
    public mutating func timersDue(now: DeviceInstant) throws(DPSError) -> DPSAction? {
        if step == .finished { return nil }
        if let overallDeadline, now >= overallDeadline {
            return finish(.failed(DPSFailure(reason: .timedOut)))
        }
        switch step {
        case .awaitingResponse(_, let deadline) where now >= deadline:
            step = .waiting(until: now + backoff.nextDelay(using: &random))
        case .waiting(let until) where now >= until:
            if subscribed { return try request(now: now) }
            step = .awaitingSubscription
        default:
            break
        }
        return nil
    }

    /// A PUBLISH that arrived: DPS's answer to the request in flight, or nothing (another
    /// topic, a stale or foreign request id). Inlined into its one caller, so that the answer
    /// is built in the caller's result and not copied through a frame of its own.
    @inline(__always)
    private mutating func received(topic: ByteView, payload: ByteView, now: DeviceInstant) -> DPSAction? {
        var body = DPSResponseBody()
        // Every way the response ends the registration in failure leaves `decide` with its
        // reason, for one construction of the failure: a refusal, a failed and a disabled
        // registration carry the body's error fields (`details`), a malformed response none.
        let reason: DPSFailure.Reason
        var details = false
        decide: do {
            let response: DPSTopics.Response
            do throws(DPSProtocolError) {
                guard let parsed = try DPSTopics.parseResponse(topic) else { return nil }
                response = parsed
            } catch {
                reason = .malformedResponse(error)
                break decide
            }
            // Stale (an earlier request's) or foreign responses are ignored.
            guard case .awaitingResponse(let requestID, _) = step, response.requestID == requestID else { return nil }

            resultArena.reset()
            do throws(DPSProtocolError) { try body.read(payload, arena: &resultArena) } catch {
                reason = .malformedResponse(error)
                break decide
            }
            let status = response.status
            let wait: DeviceDuration
            if status == 429 || status >= 500 {
                wait = response.retryAfter.map { clampRetryAfter($0) } ?? backoff.nextDelay(using: &random)
            } else {
                guard status == 200 || status == 202 else {
                    reason = .rejected(status: status)
                    details = true
                    break decide
                }
                backoff.reset()
                guard let registrationStatus = body.status else {
                    reason = .malformedResponse(.missingStatus)
                    break decide
                }
                switch registrationStatus {
                case .assigned:
                    guard let hub = body.assignedHub, let device = body.deviceID, !hub.isEmpty, !device.isEmpty else {
                        reason = .malformedResponse(.assignmentWithoutHubOrDevice)
                        break decide
                    }
                    return finish(.assigned(DPSAssignment(assignedHub: hub, deviceID: device, substatus: body.substatus ?? ByteView(), payload: body.payload)))
                case .failed:
                    reason = .registrationFailed
                    details = true
                    break decide
                case .disabled:
                    reason = .disabled
                    details = true
                    break decide
                case .assigning, .unassigned:
                    if let id = body.operationID {
                        operationArena.reset()
                        guard let kept = operationArena.copy(id) else {
                            reason = .malformedResponse(.bufferTooSmall(BufferTooSmall(needed: id.count, capacity: Self.operationIDCapacity)))
                            break decide
                        }
                        operationID = kept
                    } else if operationID == nil {
                        reason = .malformedResponse(.missingOperationID)
                        break decide
                    }
                    wait = response.retryAfter.map { clampRetryAfter($0) } ?? configuration.defaultRetryAfter
                }
            }
            step = .waiting(until: now + wait)
            return .progress(DPSProgress(status: status, registrationStatus: body.status, nextRequestIn: wait))
        }
        return finish(.failed(DPSFailure(
            reason: reason, errorCode: details ? body.errorCode : nil, message: details ? body.errorMessage : nil,
            trackingID: details ? body.trackingID : nil)))
    }

    /// `retry-after` seconds, clamped to the configured floor and ceiling. Out of line: the
    /// multiply and the comparisons were inlined at each of its two sites in `handle`.
    @inline(never)
    private func clampRetryAfter(_ seconds: UInt32) -> DeviceDuration {
        let wait = DeviceDuration(seconds: seconds)
        return max(configuration.minimumRetryAfter, min(configuration.maximumRetryAfter, wait))
    }

    /// The register request, or the poll once DPS has given an operation id, with a new
    /// request id; its response is awaited from now. The topic and then the body are written
    /// one after the other into the request buffer, by one writer, so that one check covers
    /// both: `.bufferTooSmall` says what the whole request takes. Out of line: inlined
    /// into `handle`, its writers' frame sat on the stack under every response's parse as well.
    @inline(never)
    private mutating func request(now: DeviceInstant) throws(DPSError) -> DPSAction {
        lastRequestID &+= 1
        if lastRequestID == 0 { lastRequestID = 1 }
        var writer = TextWriter(into: requestBuffer)
        let topicCount: Int
        if let operationID {
            DPSTopics.pollTopic(requestID: lastRequestID, operationID: operationID, into: &writer)
            topicCount = writer.count
        } else {
            DPSTopics.registerTopic(requestID: lastRequestID, into: &writer)
            topicCount = writer.count
            var json = JSONWriter(writer)
            DPSTopics.registerBody(registrationID: configuration.registrationID, payload: configuration.customPayload, into: &json)
            // The body is balanced: only a registration id that is not UTF-8 fails the writer.
            if json.error != nil { throw .registrationIDNotUTF8 }
            writer = json.writer
        }
        let request: ByteView
        do throws(BufferTooSmall) { request = try writer.finish() } catch {
            throw .bufferTooSmall(error)
        }
        step = .awaitingResponse(requestID: lastRequestID, deadline: now + configuration.responseTimeout)
        return .publish(topic: request.slice(from: 0, count: topicCount), payload: request.slice(from: topicCount, count: request.count - topicCount))
    }

    private mutating func finish(_ result: DPSOutcome) -> DPSAction {
        step = .finished
        return .finished(result)
    }
}
