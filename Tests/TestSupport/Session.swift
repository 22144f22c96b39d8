import DeviceCore

/// Bytes on the heap at a fixed address for the life of the object, for `ByteView`s that must
/// outlive the session (client id, topics, filters).
public final class PinnedBytes {
    public let storage: UnsafeMutableRawBufferPointer

    public init(_ string: String) {
        let utf8 = Array(string.utf8)
        storage = .allocate(byteCount: max(1, utf8.count), alignment: 1)
        storage.copyBytes(from: utf8)
        view = ByteView(baseAddress: storage.baseAddress, count: utf8.count)
    }

    public let view: ByteView

    deinit { storage.deallocate() }
}

/// The memory one MQTT session works in, allocated for the life of the object.
public final class SessionBuffers {
    public let receive: UnsafeMutableRawBufferPointer
    public let transmit: UnsafeMutableRawBufferPointer
    public let outbox: UnsafeMutableRawBufferPointer
    public let inflight: UnsafeMutableBufferPointer<MQTTInflightEntry>

    /// `receive`, `transmit` and `outbox` bytes, and `window` in-flight entries.
    public init(receive receiveBytes: Int, transmit transmitBytes: Int, outbox outboxBytes: Int, window: Int) {
        receive = .allocate(byteCount: receiveBytes, alignment: 8)
        transmit = .allocate(byteCount: transmitBytes, alignment: 8)
        outbox = .allocate(byteCount: outboxBytes, alignment: 8)
        inflight = .allocate(capacity: window)
        inflight.initialize(repeating: MQTTInflightEntry())
    }

    public var memory: MQTTSessionMemory {
        MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight)
    }

    deinit {
        receive.deallocate()
        transmit.deallocate()
        outbox.deallocate()
        inflight.deallocate()
    }
}
