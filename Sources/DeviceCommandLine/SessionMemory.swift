import DeviceCore

/// Memory for one MQTT session, allocated once for the run.
public final class SessionMemory {
    public let receive: UnsafeMutableRawBufferPointer
    public let transmit = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    public let outbox: UnsafeMutableRawBufferPointer
    public let inflight = UnsafeMutableBufferPointer<MQTTInflightEntry>.allocate(capacity: 8)
    public let subscriptions = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: 5)  // IoT Hub allows 5 per connection
    /// CONNECT text (client id, user name): the hub's user name holds a percent-encoded
    /// `--model-id` (2,048 characters, up to 3 bytes each).
    public let connectText = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 * 1024, alignment: 8)

    public init(receiveBytes: Int = 16 * 1024, outboxBytes: Int = 300 * 1024) {
        receive = .allocate(byteCount: receiveBytes, alignment: 8)
        outbox = .allocate(byteCount: outboxBytes, alignment: 8)
        inflight.initialize(repeating: MQTTInflightEntry())
    }

    deinit {
        for buffer in [receive, transmit, outbox, connectText] { buffer.deallocate() }
        inflight.deallocate()
        subscriptions.deallocate()
    }

    public var memory: MQTTSessionMemory { MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight) }
}

/// Keeps Swift strings alive as `ByteView`s for the life of the run.
public final class TextStore {
    public init() {}

    private var storage = [UnsafeMutableRawBufferPointer]()

    public func view(_ text: String) -> ByteView {
        let bytes = Array(text.utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        storage.append(buffer)
        return ByteView(baseAddress: buffer.baseAddress, count: bytes.count)
    }

    deinit { storage.forEach { $0.deallocate() } }
}

extension ByteView {
    /// The bytes as a Swift string (at the edge only).
    public var string: String { String(decoding: UnsafeRawBufferPointer(start: baseAddress, count: count), as: UTF8.self) }
}
