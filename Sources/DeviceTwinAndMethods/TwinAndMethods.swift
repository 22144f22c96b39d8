import DeviceCore

/// What the application does with the hub's method calls and the twin's news, for
/// `TwinAndMethods`. Views are valid only during the call.
public protocol TwinAndMethodsHandler {
    /// A direct method was called: write the response's JSON payload into `response` and return
    /// the status (200 for success, 404 for a method the device does not have, …) and the
    /// payload written. The flow publishes the answer at once.
    mutating func methodCalled(_ request: DirectMethodRequest, response: UnsafeMutableRawBufferPointer) -> (status: Int, payload: ByteView)
    /// The twin's news: `.twin`, `.desiredPatch`, `.reportedAccepted`, `.retrying` or `.rejected`.
    mutating func twinChanged(_ action: TwinAction)
    /// A twin or method message the device could not read; it was dropped.
    mutating func malformed(_ error: IoTHubProtocolError)
    /// The next reported patch to send, asked for whenever none is in flight; `nil` when none
    /// waits. It is copied before the next call.
    mutating func nextReport() -> ByteView?
    /// A patch from `nextReport()` that the twin could not take (larger than its patch buffer).
    mutating func reportRefused(_ error: TwinError)
}

/// The device twin and direct methods served on the hub connection of
/// `DeviceFlow.sendTelemetry(_:hub:features:…)`: the twin is read after every (re)connect and
/// kept in version order, reported patches go out one at a time with the twin's retries, and
/// every method call is answered with what the handler returns.
///
/// Subscribe the session to `TwinAndMethods.subscriptions` (with the C2D filter if you want
/// cloud-to-device messages too; IoT Hub allows 5).
public struct TwinAndMethods<Handler: TwinAndMethodsHandler>: HubFeatures {
    public var twin: DeviceTwin
    public var handler: Handler
    private let responseTopic: UnsafeMutableRawBufferPointer
    private let responsePayload: UnsafeMutableRawBufferPointer
    /// A method's answer waiting to be published: its topic's length and its payload.
    private var pendingAnswer: (topicCount: Int, payload: ByteView)?

    /// The twin's and methods' filters.
    public static var subscriptions: (MQTTSubscription, MQTTSubscription, MQTTSubscription) {
        (MQTTSubscription(filter: ByteView(TwinTopics.responseFilter), qos: .atMostOnce),
         MQTTSubscription(filter: ByteView(TwinTopics.desiredPatchFilter), qos: .atLeastOnce),
         MQTTSubscription(filter: ByteView(DirectMethods.requestFilter), qos: .atMostOnce))
    }

    /// Bytes a method response topic takes at most, for `responseTopic`: the prefix, an 11-character
    /// status and a request id of up to 64 bytes.
    public static var responseTopicBufferSize: Int { 20 + 11 + 7 + 64 }

    /// Serves `twin` and method calls with `handler`; method answers are written into
    /// `responseTopic` (at least `responseTopicBufferSize` bytes) and `responsePayload`.
    public init(twin: DeviceTwin, handler: Handler, responseTopic: UnsafeMutableRawBufferPointer, responsePayload: UnsafeMutableRawBufferPointer) {
        self.twin = twin
        self.handler = handler
        self.responseTopic = responseTopic
        self.responsePayload = responsePayload
    }

    public mutating func connected(now: @autoclosure () -> DeviceInstant) {
        twin.connected(now: now())
    }

    public mutating func connectionLost() {
        twin.connectionLost()
        pendingAnswer = nil  // IoT Hub has given the call up with the connection
    }

    public mutating func received(_ publish: MQTTPublish, now: @autoclosure () -> DeviceInstant) {
        do throws(IoTHubProtocolError) {
            if let request = try DirectMethods.parseRequest(topic: publish.topic, payload: publish.payload) {
                return answer(request)
            }
            if let action = try twin.handle(publish, now: now()) { handler.twinChanged(action) }
        } catch {
            handler.malformed(error)
        }
    }

    private mutating func answer(_ request: DirectMethodRequest) {
        let (status, payload) = handler.methodCalled(request, response: responsePayload)
        var writer = TextWriter(into: responseTopic)
        DirectMethods.responseTopic(status: status, requestID: request.requestID, into: &writer)
        // A request id longer than the buffer allows cannot be answered; IoT Hub times the call out.
        guard !writer.overflowed else { return handler.malformed(.requestIDTooLong(request.requestID.count)) }
        pendingAnswer = (writer.count, payload)
    }

    public mutating func nextPublish(now: @autoclosure () -> DeviceInstant) -> (topic: ByteView, payload: ByteView)? {
        if let answer = pendingAnswer {
            pendingAnswer = nil
            return (ByteView(UnsafeRawBufferPointer(rebasing: responseTopic[0..<answer.topicCount])), answer.payload)
        }
        let time = now()
        if !twin.hasPatchInFlight, let patch = handler.nextReport() {
            do throws(TwinError) { try twin.report(patch, now: time) } catch { handler.reportRefused(error) }
        }
        while let action = twin.nextAction(now: time) {
            if case .publish(let topic, let payload) = action { return (topic, payload) }
            handler.twinChanged(action)
        }
        return nil
    }

    public var nextDeadline: DeviceInstant? { twin.nextDeadline }
}
