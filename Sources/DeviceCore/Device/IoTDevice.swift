/// The front door for firmware: the device's whole job — register with DPS, then send
/// telemetry to the assigned IoT Hub, retrying what may pass — from an ID scope, a
/// registration id, the board's transport and clock, and one memory region the firmware owns.
///
///     var device = try IoTDevice(idScope: ByteView("0ne00000A0A"), registrationID: id,
///                                transport: transport, clock: clock, memory: region)
///     let outcome = try device.run(messages: 3, interval: .seconds(1)) { (index, buffer) throws(JSONWriteError) in … }
///
/// `memory` must hold `requiredBytes(limits)` and outlive the device; nothing else is
/// allocated. The device's client (with the transport) and its DPS registration live in
/// `memory` too, not on the stack; the device is not copyable, and ending it deinitialises them.
/// docs/firmware.md shows a whole firmware and every lifetime rule.
public struct IoTDevice<Transport: DeviceTransport, Clock: DeviceClock, Observer: DeviceFlowObserver>: ~Copyable
where Observer.TransportFailure == Transport.Failure {
    public typealias Failure = DeviceFlowFailure<Transport.Failure>
    public typealias Flow = DeviceFlow<Transport, Clock, Observer>

    /// Runs the steps; its observer sees every step as it happens (and can stop the job).
    public var flow: Flow
    /// The one client of both steps, in `memory`: its transport is pointed at DPS, then at the
    /// hub, and each step puts its session in.
    private let client: UnsafeMutablePointer<Flow.Client>
    private let registration: UnsafeMutablePointer<DPSRegistration>
    private let memory: DeviceMemory
    /// The board's transport, between the steps (e.g. for a modem's line statistics).
    public var transport: Transport { client.pointee.transport }
    private var dps: DPSConfiguration
    private let provisioningHost: ByteView
    private let provisioningPort: UInt16

    /// Sent to DPS as the registration's `payload` (raw JSON, e.g. IoT Plug and Play's
    /// `{"modelId":"dtmi:…;1"}`); must outlive the device. `nil` (the default) sends none.
    public var registrationPayload: ByteView? {
        get { dps.customPayload }
        set { dps.customPayload = newValue }
    }

    /// The bytes `memory` must hold for `limits`.
    public static func requiredBytes(_ limits: DeviceLimits = DeviceLimits()) -> Int {
        DeviceMemory.requiredBytes(limits, state: stateBytes)
    }

    /// The client, then the registration, each on `DeviceMemory.alignment`.
    private static var clientBytes: Int { (MemoryLayout<Flow.Client>.stride + 7) / 8 * 8 }
    private static var stateBytes: Int { clientBytes + MemoryLayout<DPSRegistration>.stride }

    /// A device that will register `registrationID` (for X.509, the certificate's CN) in
    /// `idScope` at `provisioningHost`:`provisioningPort`; IoT Hub is then reached on 8883.
    /// The views must outlive the device. Throws
    /// `.bufferTooSmall` when `memory` holds less than `requiredBytes(limits)`. `seed` seeds
    /// the retries' jitter: take it from the board's entropy. Out of line, so that the values
    /// it builds in place do not stay in the caller's frame.
    @inline(never)
    public init(
        idScope: ByteView, registrationID: ByteView,
        provisioningHost: ByteView = ByteView("global.azure-devices-provisioning.net"), provisioningPort: UInt16 = 8883,
        transport: Transport, clock: Clock, memory region: UnsafeMutableRawBufferPointer, limits: DeviceLimits = DeviceLimits(),
        observer: Observer, seed: UInt64 = 0x5EED
    ) throws(Failure) {
        // The state's types need no more than the pieces' alignment on the targets we build for.
        let needed = Self.requiredBytes(limits)
        guard MemoryLayout<Flow.Client>.alignment <= DeviceMemory.alignment,
              MemoryLayout<DPSRegistration>.alignment <= DeviceMemory.alignment,
              let start = region.baseAddress, region.count >= needed else {
            throw .bufferTooSmall(BufferTooSmall(needed: needed, capacity: region.count))
        }
        memory = DeviceMemory(carving: start, limits, state: Self.stateBytes)
        self.provisioningHost = provisioningHost
        self.provisioningPort = provisioningPort
        dps = DPSConfiguration(idScope: idScope, registrationID: registrationID, jitterSeed: seed)
        flow = Flow(observer: observer, random: SplitMix64(seed: seed))
        let base = memory.state.baseAddress.unsafelyUnwrapped
        client = base.bindMemory(to: Flow.Client.self, capacity: 1)
        // A session to hold the place: each step puts its own in.
        client.initialize(to: Flow.Client(
            session: MQTTSession(
                configuration: MQTTSessionConfiguration(connect: MQTTConnect(clientID: registrationID, cleanSession: true, keepAlive: 60)),
                memory: memory.session),
            transport: transport, clock: clock))
        // Set up by each `provision()`: a registration holds only plain values (views, numbers),
        // so its memory needs no deinitialising.
        registration = (base + Self.clientBytes).bindMemory(to: DPSRegistration.self, capacity: 1)
    }

    deinit {
        client.deinitialize(count: 1)
    }

    /// Registers with DPS and, when DPS assigns the device, sends `messages` telemetry messages
    /// `interval` apart and waits until IoT Hub has acknowledged each; returns DPS's outcome
    /// (`.failed` when DPS refused the device: nothing was sent). `makeBody(index, buffer)`
    /// writes message `index` (from 1) into `buffer`, or returns `nil` to skip it. Throws the
    /// first failure that retrying cannot pass; the telemetry step fails with `.timedOut` if it
    /// is not done within `messages` × `interval` + `timeout`.
    @discardableResult
    public mutating func run(
        messages: Int, interval: DeviceDuration, timeout: DeviceDuration = .seconds(120),
        makeBody: (Int, UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView?
    ) throws(Failure) -> DPSOutcome {
        let outcome = try provision()
        if case .assigned(let assignment) = outcome {
            try sendTelemetry(to: assignment, messages: messages, interval: interval, timeout: timeout, makeBody: makeBody)
        }
        return outcome
    }

    /// The DPS step of `run` alone: registers (retrying within DPS's overall timeout, 180 s)
    /// and returns the outcome; its views point into `memory`.
    @inline(never)
    public mutating func provision() throws(Failure) -> DPSOutcome {
        try prepareProvisioning()
        return try flow.provision(&client.pointee, &registration.pointee)
    }

    /// The DPS session and a new registration, in place; out of line so that its temporaries
    /// are gone before the registration runs. `mutating`, though it changes only what the
    /// pointers reach: called from a mutating step, a non-mutating method is handed a copy of
    /// the whole device (346 bytes of that step's frame with the self-test's observer).
    @inline(never)
    private mutating func prepareProvisioning() throws(Failure) {
        let connect: MQTTConnect
        do throws(BufferTooSmall) { connect = try DPSRegistration.connectPacket(for: dps, userNameBuffer: memory.connectText) } catch {
            throw .bufferTooSmall(error)
        }
        client.pointee.transport.setEndpoint(host: provisioningHost, port: provisioningPort)
        replaceSession(connect, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(memory.subscription)))
        registration.initialize(to: DPSRegistration(configuration: dps, requestBuffer: memory.request, resultsBuffer: memory.results))
    }

    /// The telemetry step of `run` alone, to the hub of `assignment` (from `provision()`, or
    /// one the firmware saved; its views must outlive the call).
    @inline(never)
    public mutating func sendTelemetry(
        to assignment: DPSAssignment, messages: Int, interval: DeviceDuration, timeout: DeviceDuration = .seconds(120),
        makeBody: (Int, UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView?
    ) throws(Failure) {
        let hub = try prepareTelemetry(to: assignment, modelID: nil, subscriptions: nil)
        let deadline = telemetryDeadline(messages: messages, interval: interval, timeout: timeout, stayConnected: .zero)
        try flow.sendTelemetry(
            &client.pointee, hub: hub, count: messages, interval: interval,
            bodyBuffer: memory.body, deadline: deadline, makeBody: makeBody)
    }

    /// The telemetry step with `features` (the twin and direct methods of the module
    /// DeviceTwinAndMethods) served on the same connection: the session subscribes to
    /// `subscriptions` (which must outlive the call), and `modelID` (IoT Plug and Play) goes
    /// in the hub user name. Stays connected `stayConnected` after the last acknowledgement,
    /// serving them; `nil` stays until the observer stops the device (and retries lost
    /// connections until then: no timeout).
    @inline(never)
    public mutating func sendTelemetry<Features: HubFeatures>(
        to assignment: DPSAssignment, messages: Int, interval: DeviceDuration, timeout: DeviceDuration = .seconds(120),
        stayConnected: DeviceDuration? = .zero, modelID: ByteView? = nil, subscriptions: MQTTTopicFilterList, features: inout Features,
        makeBody: (Int, UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView?
    ) throws(Failure) {
        let hub = try prepareTelemetry(to: assignment, modelID: modelID, subscriptions: subscriptions)
        let deadline = telemetryDeadline(messages: messages, interval: interval, timeout: timeout, stayConnected: stayConnected)
        try flow.sendTelemetry(
            &client.pointee, hub: hub, features: &features, count: messages,
            interval: interval, bodyBuffer: memory.body, deadline: deadline, stayConnected: stayConnected,
            makeBody: makeBody)
    }

    /// When the telemetry step starting now must be done (`DeviceDuration.telemetryTimeLimit`);
    /// `nil`: no deadline. Inlined: out of line it cost 78 B of flash and 300 B of stack (M4).
    @inline(__always)
    private func telemetryDeadline(
        messages: Int, interval: DeviceDuration, timeout: DeviceDuration, stayConnected: DeviceDuration?
    ) -> DeviceInstant? {
        let now = client.pointee.clock.now()
        return DeviceDuration.telemetryTimeLimit(messages: messages, interval: interval, timeout: timeout, stayConnected: stayConnected)
            .map { now + $0 }
    }

    /// The IoT Hub session in place, and the hub's client; out of line and `mutating`, as
    /// `prepareProvisioning`. The hub's configuration is built here, so that the step's frame
    /// holds only the client.
    @inline(never)
    private mutating func prepareTelemetry(
        to assignment: DPSAssignment, modelID: ByteView?, subscriptions: MQTTTopicFilterList?
    ) throws(Failure) -> IoTHubClient {
        let hub = IoTHubConfiguration(hostName: assignment.assignedHub, deviceID: assignment.deviceID, modelID: modelID)
        let connect: MQTTConnect
        do throws(BufferTooSmall) { connect = try IoTHubClient.connectPacket(for: hub, buffer: memory.connectText) } catch {
            throw .bufferTooSmall(error)
        }
        client.pointee.transport.setEndpoint(host: hub.hostName, port: 8883)
        replaceSession(connect, subscriptions: subscriptions)
        return IoTHubClient(configuration: hub, topicBuffer: memory.topic)
    }

    /// Puts a new session in the client, with the configuration's defaults, on the one set of
    /// session buffers: one out-of-line copy for both steps.
    @inline(never)
    private mutating func replaceSession(_ connect: MQTTConnect, subscriptions: MQTTTopicFilterList?) {
        client.pointee.session = MQTTSession(configuration: MQTTSessionConfiguration(connect: connect, subscriptions: subscriptions), memory: memory.session)
    }
}

extension IoTDevice where Observer == SilentObserver<Transport.Failure> {
    /// A device with no observer: for a firmware that does not report progress.
    public init(
        idScope: ByteView, registrationID: ByteView,
        provisioningHost: ByteView = ByteView("global.azure-devices-provisioning.net"), provisioningPort: UInt16 = 8883,
        transport: Transport, clock: Clock, memory region: UnsafeMutableRawBufferPointer, limits: DeviceLimits = DeviceLimits(),
        seed: UInt64 = 0x5EED
    ) throws(Failure) {
        try self.init(
            idScope: idScope, registrationID: registrationID, provisioningHost: provisioningHost, provisioningPort: provisioningPort,
            transport: transport, clock: clock, memory: region, limits: limits, observer: SilentObserver(), seed: seed)
    }
}
