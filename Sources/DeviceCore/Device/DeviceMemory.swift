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

    /// What `carve` needs for `limits`, whatever the region's own alignment.
    static func requiredBytes(_ limits: DeviceLimits, state: Int) -> Int {
        let sizes = pieceSizes(limits, state: state)
        var total = alignment - 1
        for index in sizes.indices {
            // A negative or absurd limit needs more than any region holds: `carve` refuses it.
            guard sizes[index] >= 0, sizes[index] <= Int.max / 4 else { return Int.max }
            let (sum, overflow) = total.addingReportingOverflow(rounded(sizes[index]))
            if overflow { return Int.max }
            total = sum
        }
        return total
    }

    /// The pieces in order: the state, receive, transmit, outbox, in-flight entries, the
    /// subscription, then the texts.
    private static func pieceSizes(_ limits: DeviceLimits, state: Int) -> InlineArray<11, Int> {
        let window = limits.window.multipliedReportingOverflow(by: MemoryLayout<MQTTInflightEntry>.stride)
        return [state, limits.receive, limits.transmit, limits.outbox,
         window.overflow ? -1 : window.partialValue, MemoryLayout<MQTTSubscription>.stride,
         limits.connectText, limits.request, limits.results, limits.topic, limits.body]
    }

    private static func rounded(_ size: Int) -> Int { (size + alignment - 1) / alignment * alignment }

    /// The pieces in `region`, or `nil` when it holds fewer than `requiredBytes(limits, state:)`.
    /// The state piece is left for the caller to initialise.
    static func carve(_ region: UnsafeMutableRawBufferPointer, _ limits: DeviceLimits, state: Int) -> DeviceMemory? {
        guard let base = region.baseAddress, region.count >= requiredBytes(limits, state: state) else { return nil }
        let misalignment = Int(bitPattern: UInt(bitPattern: base)) % alignment
        var offset = misalignment == 0 ? 0 : alignment - misalignment
        let sizes = pieceSizes(limits, state: state)
        var pieces = InlineArray<11, UnsafeMutableRawBufferPointer>(repeating: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        for index in sizes.indices {
            pieces[index] = UnsafeMutableRawBufferPointer(start: base + offset, count: sizes[index])
            offset += rounded(sizes[index])
        }
        let inflight = pieces[4].bindMemory(to: MQTTInflightEntry.self)
        inflight.initialize(repeating: MQTTInflightEntry())
        let subscription = pieces[5].bindMemory(to: MQTTSubscription.self)
        subscription.initialize(repeating: DPSRegistration.subscription)
        return DeviceMemory(
            state: pieces[0],
            session: MQTTSessionMemory(receive: pieces[1], transmit: pieces[2], outbox: pieces[3], inflight: inflight),
            subscription: subscription, connectText: pieces[6], request: pieces[7], results: pieces[8],
            topic: pieces[9], body: pieces[10])
    }
}
