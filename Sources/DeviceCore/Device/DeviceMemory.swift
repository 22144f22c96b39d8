/// `IoTDevice`'s buffers and state, carved from the one region the firmware gives it. One set of
/// session buffers serves the DPS session and then the IoT Hub session; the DPS results stay,
/// since the hub's name and the device id point into them. `state` holds the device's client and
/// registration, so that they are not on the stack.
struct DeviceMemory {
    var state: UnsafeMutableRawBufferPointer
    var session: MQTTSessionMemory
    var subscription: UnsafeMutableBufferPointer<MQTTSubscription>
    var connectText: UnsafeMutableRawBufferPointer
    var request: UnsafeMutableRawBufferPointer
    var results: UnsafeMutableRawBufferPointer
    var topic: UnsafeMutableRawBufferPointer
    var body: UnsafeMutableRawBufferPointer

    /// Every piece starts on this boundary (the strictest the pieces need; `IoTDevice` checks
    /// its state's).
    static let alignment = 8

    /// What `init(carving:)` needs for `limits`, whatever the region's own alignment.
    static func requiredBytes(_ limits: DeviceLimits, state: Int) -> Int {
        let sizes = pieceSizes(limits, state: state)
        var total = alignment - 1
        for index in sizes.indices {
            // A negative or absurd limit needs more than any region holds: the caller refuses it.
            guard sizes[index] >= 0, sizes[index] <= Int.max / 4 else { return Int.max }
            let (sum, overflow) = total.addingReportingOverflow(rounded(sizes[index]))
            if overflow { return Int.max }
            total = sum
        }
        return total
    }

    /// The pieces in order (`init(carving:)` takes them so): the state, receive, transmit,
    /// outbox, in-flight entries, the subscription, then the texts.
    private static func pieceSizes(_ limits: DeviceLimits, state: Int) -> InlineArray<11, Int> {
        let window = limits.window.multipliedReportingOverflow(by: MemoryLayout<MQTTInflightEntry>.stride)
        return [state, limits.receive, limits.transmit, limits.outbox,
         window.overflow ? -1 : window.partialValue, MemoryLayout<MQTTSubscription>.stride,
         limits.connectText, limits.request, limits.results, limits.topic, limits.body]
    }

    private static func rounded(_ size: Int) -> Int { (size &+ (alignment - 1)) & ~(alignment - 1) }

    /// The pieces of a region at `base` that holds `requiredBytes(limits, state:)` (checked by
    /// the caller), built in place. The state piece is left for the caller to initialise.
    init(carving base: UnsafeMutableRawPointer, _ limits: DeviceLimits, state stateSize: Int) {
        // The sizes passed `requiredBytes`: none is negative and the offsets cannot overflow.
        var next = base.alignedUp(toMultipleOf: Self.alignment)
        func take(_ count: Int) -> UnsafeMutableRawBufferPointer {
            defer { next += Self.rounded(count) }
            return UnsafeMutableRawBufferPointer(start: next, count: count)
        }
        func take<Element>(_ count: Int, of value: Element) -> UnsafeMutableBufferPointer<Element> {
            let start = next.initializeMemory(as: Element.self, repeating: value, count: count)
            next += Self.rounded(count &* MemoryLayout<Element>.stride)
            return UnsafeMutableBufferPointer(start: start, count: count)
        }
        state = take(stateSize)
        let receive = take(limits.receive), transmit = take(limits.transmit), outbox = take(limits.outbox)
        session = MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: take(limits.window, of: MQTTInflightEntry()))
        subscription = take(1, of: DPSRegistration.subscription)
        connectText = take(limits.connectText)
        request = take(limits.request)
        results = take(limits.results)
        topic = take(limits.topic)
        body = take(limits.body)
    }
}
