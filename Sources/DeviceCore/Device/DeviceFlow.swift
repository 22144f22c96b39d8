/// Why a step of the device's job failed.
public enum DeviceFlowFailure<TransportFailure: Error>: Error {
    case transport(TransportFailure)
    case session(MQTTSessionError)
    case dps(DPSError)
    case hub(IoTHubError)
    /// The body builder could not write the message.
    case body(JSONWriteError)
    /// The step did not finish before its deadline.
    case timedOut
    /// The observer asked to stop (e.g. on SIGINT); the connection was closed with DISCONNECT.
    case stopped
    /// `IoTDevice`'s memory region, or a piece of it (see `DeviceLimits`), is too small.
    case bufferTooSmall(BufferTooSmall)
}

/// What happens during the device's job, as it happens (the command line prints it, a
/// firmware may blink a LED). Views are valid only during the call.
public enum DeviceFlowEvent<TransportFailure: Error> {
    /// Opening the transport and sending CONNECT (attempt 1, 2, …).
    case connecting(attempt: Int)
    /// CONNACK accepted.
    case connected(sessionPresent: Bool)
    /// The connection failed or dropped; the next attempt comes after `retryIn`.
    case connectionFailed(DeviceFlowFailure<TransportFailure>, retryIn: DeviceDuration)
    /// DPS answered without ending the registration; the next request comes after a wait.
    case registrationProgress(DPSProgress)
    /// The registration ended.
    case provisioned(DPSOutcome)
    /// A telemetry message was queued with this packet id (`index` counts from 1).
    case messageSent(index: Int, packetID: UInt16, body: ByteView)
    /// IoT Hub acknowledged the message with this packet id.
    case messageAcknowledged(packetID: UInt16)
    /// A message from the cloud arrived.
    case cloudToDevice(CloudToDeviceMessage)
    /// DISCONNECT sent and the transport closed.
    case disconnected
}

/// Receives `DeviceFlowEvent`s, and can ask the flow to stop.
public protocol DeviceFlowObserver {
    associatedtype TransportFailure: Error
    mutating func observe(_ event: DeviceFlowEvent<TransportFailure>)
    /// Checked between steps: when true, the flow disconnects cleanly and throws `.stopped`.
    var shouldStop: Bool { get }
}

extension DeviceFlowObserver {
    public var shouldStop: Bool { false }
}

/// The device's job, the same on every board: register with DPS, then send telemetry to the
/// assigned hub. Failures that may pass (refused or dropped connections, server errors) are
/// retried with backoff and jitter until the step's deadline; the others end the job at once.
///
/// The steps are `@inline(never)`: inlined into the firmware's one caller, their typed-error
/// values each took stack slots of their own and their code was duplicated (board/modem-demo:
/// 13.1 KB of stack and 6.1 KB more flash than with them out of line; docs/size.md).
public struct DeviceFlow<Transport: DeviceTransport, Clock: DeviceClock, Observer: DeviceFlowObserver>
where Observer.TransportFailure == Transport.Failure {
    public typealias Failure = DeviceFlowFailure<Transport.Failure>
    public typealias Client = MQTTClient<Transport, Clock>

    public var observer: Observer
    public var backoff: ReconnectBackoff
    /// Jitter for the backoff; seed it from the board's entropy.
    public var random: SplitMix64

    public init(observer: Observer, backoff: ReconnectBackoff = ReconnectBackoff(), random: SplitMix64) {
        self.observer = observer
        self.backoff = backoff
        self.random = random
    }

    /// Whether another attempt can help.
    @inline(__always)
    public static func isRetriable(_ failure: Failure) -> Bool {
        switch failure {
        case .session(let error): return error.isRetriable
        case .transport(let error): return Transport.isRetriable(error)
        case .timedOut: return true
        case .dps, .hub, .body, .stopped, .bufferTooSmall: return false
        }
    }

    @inline(never)
    static func failure(_ error: Client.Failure) -> Failure {
        switch error {
        case .session(let e): return .session(e)
        case .transport(let e): return .transport(e)
        case .sendTimedOut: return .timedOut
        }
    }

    /// After a failure: throws it if it is final or the deadline (if any) would pass, otherwise
    /// reports it and sleeps for the backoff delay.
    @inline(never)
    mutating func waitBeforeRetry(_ failure: Failure, clock: Clock, deadline: DeviceInstant?) throws(Failure) {
        if observer.shouldStop { throw .stopped }
        guard Self.isRetriable(failure) else { throw failure }
        let wait = backoff.nextDelay(using: &random)
        let now = clock.now()
        if let deadline, now + wait >= deadline { throw failure }
        observer.observe(.connectionFailed(failure, retryIn: wait))
        clock.sleep(until: now + wait)
    }

    /// Connects `client`, retrying retriable failures until `deadline` (`nil`: until stopped);
    /// no attempt (connect, handshake, CONNACK) runs past it.
    @inline(never)
    public mutating func connect(_ client: inout Client, deadline: DeviceInstant?) throws(Failure) {
        var attempt = 0
        while true {
            if observer.shouldStop { throw .stopped }
            attempt += 1
            observer.observe(.connecting(attempt: attempt))
            do throws(Client.Failure) {
                let sessionPresent = try client.connect(until: deadline)
                backoff.reset()
                observer.observe(.connected(sessionPresent: sessionPresent))
                return
            } catch {
                try waitBeforeRetry(Self.failure(error), clock: client.clock, deadline: deadline)
            }
        }
    }

    /// Registers with DPS over `client` (configured with `DPSRegistration.connectPacket` and
    /// its subscription) and returns the outcome; disconnects before returning. The
    /// registration decides, the flow carries out its actions: it publishes the requests,
    /// reports progress, and reconnects while the registration's deadline allows.
    @inline(never)
    public mutating func provision(_ client: inout Client, _ registration: inout DPSRegistration) throws(Failure) -> DPSOutcome {
        let clock = client.clock
        registration.start(now: clock.now())
        let deadline = registration.overallDeadline ?? clock.now()
        var outcome: DPSOutcome?
        // A failure that ends the registration at once (the request did not fit or could not be queued).
        var final: Failure?
        while true {
            try connect(&client, deadline: deadline)
            do throws(Client.Failure) {
                while outcome == nil && final == nil {
                    if observer.shouldStop { break }
                    let event = try client.nextEvent(until: registration.nextDeadline)
                    advance(&registration, after: event, &client, &outcome, &final)
                }
            } catch {
                // DPS keeps no session: requests not yet acknowledged are sent again, with new
                // request ids, after the next SUBACK.
                client.session.discardOutbox()
                registration.connectionLost()
                if outcome == nil && final == nil {
                    try waitBeforeRetry(Self.failure(error), clock: clock, deadline: deadline)
                    continue
                }
            }
            disconnect(&client)
            if let final { throw final }
            guard let result = outcome else { throw .stopped }
            observer.observe(.provisioned(result))
            return result
        }
    }

    /// Hands the registration `event` (if any), then its timers, and carries out what it asks.
    /// Out of line: its actions and their failures are not in `provision`'s frame while that
    /// waits for input.
    @inline(never)
    private mutating func advance(
        _ registration: inout DPSRegistration, after event: MQTTSessionEvent?, _ client: inout Client,
        _ outcome: inout DPSOutcome?, _ final: inout Failure?
    ) {
        do throws(DPSError) {
            if let event { carryOut(try registration.handle(event, now: client.clock.now()), &client.session, &outcome, &final) }
            if outcome == nil && final == nil {
                carryOut(try registration.timersDue(now: client.clock.now()), &client.session, &outcome, &final)
            }
        } catch {
            final = .dps(error)
        }
    }

    /// Does what the registration asked: publishes its request, reports its progress, or keeps its outcome.
    @inline(never)
    private mutating func carryOut(_ action: DPSAction?, _ session: inout MQTTSession, _ outcome: inout DPSOutcome?, _ final: inout Failure?) {
        switch action {
        case nil: break
        case .publish(let topic, let payload):
            do throws(MQTTSessionError) { try session.publish(topic: topic, payload: payload, qos: .atLeastOnce) } catch {
                final = .session(error)
            }
        case .progress(let progress): observer.observe(.registrationProgress(progress))
        case .finished(let result): outcome = result
        }
    }

    /// Sends `count` messages to IoT Hub over `client` (configured with
    /// `IoTHubClient.connectPacket`), `interval` apart, waits until IoT Hub has acknowledged
    /// every one, stays connected `stayConnected` longer (`nil`: until the observer stops it;
    /// cloud-to-device messages keep arriving), and disconnects. The step fails with
    /// `.timedOut` at `deadline`; with no deadline it retries lost connections until stopped.
    /// `makeBody(index, buffer)` writes message `index` (from 1), or returns `nil` to send
    /// nothing this time (its source failed and said so). Lost connections are resumed:
    /// unacknowledged messages are re-sent with DUP.
    @inline(__always)
    public mutating func sendTelemetry(
        _ client: inout Client, hub: IoTHubClient, count: Int, interval: DeviceDuration,
        bodyBuffer: UnsafeMutableRawBufferPointer, deadline: DeviceInstant?, stayConnected: DeviceDuration? = .zero,
        makeBody: (Int, UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView?
    ) throws(Failure) {
        var none = NoHubFeatures()
        try sendTelemetry(
            &client, hub: hub, features: &none, count: count, interval: interval, bodyBuffer: bodyBuffer, deadline: deadline,
            stayConnected: stayConnected, makeBody: makeBody)
    }

    /// `sendTelemetry` with the twin, direct methods or other `features` served on the same
    /// connection: told of every connect and loss, handed every inbound PUBLISH that is not a
    /// cloud-to-device message, and what they ask to publish is published (QoS 0) as the
    /// steps go. Subscribe the session to what the features need.
    ///
    /// Instants are compared within 24.8 days (`DeviceInstant`): the stay is timed from the
    /// last acknowledgement, and a step longer than that has no deadline.
    @inline(never)
    public mutating func sendTelemetry<Features: HubFeatures>(
        _ client: inout Client, hub: IoTHubClient, features: inout Features, count: Int, interval: DeviceDuration,
        bodyBuffer: UnsafeMutableRawBufferPointer, deadline: DeviceInstant?, stayConnected: DeviceDuration? = .zero,
        makeBody: (Int, UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView?
    ) throws(Failure) {
        let clock = client.clock
        var next = 1
        var nextSendAt = clock.now()
        // When the stay ends: set once every message is acknowledged.
        var stayUntil: DeviceInstant?
        try connect(&client, deadline: deadline)
        features.connected(now: clock.now())
        do throws(Failure) {
            while true {
                if next > count && client.session.unacknowledgedCount == 0, let stayConnected {
                    let until = stayUntil ?? clock.now() + stayConnected
                    if clock.now() >= until { break }
                    stayUntil = until
                }
                if observer.shouldStop { throw .stopped }
                if let deadline, clock.now() >= deadline { throw .timedOut }
                do throws(Failure) {
                    while let message = features.nextPublish(now: clock.now()) {
                        do throws(MQTTSessionError) { _ = try client.session.publish(topic: message.topic, payload: message.payload, qos: .atMostOnce) } catch {
                            // A full outbox waits for acknowledgements; the features ask again (the twin on its timeout).
                            guard case .backPressure = error else { throw .session(error) }
                            break
                        }
                    }
                    if next <= count && clock.now() >= nextSendAt,
                       try queueMessage(next, &client.session, hub: hub, bodyBuffer: bodyBuffer, makeBody: makeBody) {
                        next += 1
                        nextSendAt = clock.now() + interval
                    }
                    let wake = earliest(earliest(next <= count ? nextSendAt : stayUntil, deadline), features.nextDeadline)
                    let event: MQTTSessionEvent?
                    do throws(Client.Failure) { event = try client.nextEvent(until: wake) } catch { throw Self.failure(error) }
                    if let event { deliver(event, hub: hub, features: &features, clock: clock) }
                } catch {
                    // Final failures (hub, body, stop) are rethrown by waitBeforeRetry; the rest reconnect.
                    features.connectionLost()
                    try waitBeforeRetry(error, clock: clock, deadline: deadline)
                    try connect(&client, deadline: deadline)
                    features.connected(now: clock.now())
                }
            }
        } catch {
            disconnect(&client)
            throw error
        }
        disconnect(&client)
    }

    /// Ends a step: DISCONNECT, the transport closed, and the observer told. One copy for every
    /// step's exits.
    @inline(never)
    private mutating func disconnect(_ client: inout Client) {
        client.disconnect()
        observer.observe(.disconnected)
    }

    /// Hands an event of the hub's session on: an acknowledgement or a cloud-to-device message
    /// to the observer, any other message to `features`. Out of line, so that the observer's
    /// events are not in `sendTelemetry`'s frame while that waits for input.
    @inline(never)
    private mutating func deliver<Features: HubFeatures>(
        _ event: MQTTSessionEvent, hub: IoTHubClient, features: inout Features, clock: Clock
    ) {
        switch event {
        case .published(let packetID): observer.observe(.messageAcknowledged(packetID: packetID))
        case .message(let publish):
            if let c2d = hub.cloudToDeviceMessage(in: publish) {
                observer.observe(.cloudToDevice(c2d))
            } else {
                features.received(publish, now: clock.now())
            }
        default: break
        }
    }

    /// Writes message `index` and queues it; `false` when the window or outbox is full (it is
    /// written again later). Out of line, so that its values are not in `sendTelemetry`'s frame
    /// while that waits for input.
    @inline(never)
    mutating func queueMessage(
        _ index: Int, _ session: inout MQTTSession, hub: IoTHubClient, bodyBuffer: UnsafeMutableRawBufferPointer,
        makeBody: (Int, UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView?
    ) throws(Failure) -> Bool {
        let made: ByteView?
        do throws(JSONWriteError) { made = try makeBody(index, bodyBuffer) } catch { throw .body(error) }
        guard let body = made else { return true }  // its source failed and said so: skipped
        let topic: ByteView
        do throws(IoTHubError) { topic = try hub.telemetryTopic(for: body) } catch { throw .hub(error) }
        do throws(MQTTSessionError) {
            let packetID = try session.publish(topic: topic, payload: body, qos: .atLeastOnce)
            observer.observe(.messageSent(index: index, packetID: packetID, body: body))
            return true
        } catch {
            // A full window or outbox waits for acknowledgements; anything else is final.
            guard case .backPressure = error else { throw .session(error) }
            return false
        }
    }
}
