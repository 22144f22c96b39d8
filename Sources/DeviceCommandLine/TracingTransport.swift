import DeviceCore
import LinuxBoard
import PacketInspector

/// `DeviceTransport` decorator for `--verbose`: every MQTT packet, decoded, both directions.
struct TracingTransport: DeviceTransport {
    typealias Failure = TLSFailure
    let inner: TLSTransport
    let tracer: Reporter?
    private let outbound = PacketTrace(direction: "sent")
    private let inbound = PacketTrace(direction: "received")

    init(_ inner: TLSTransport, tracing tracer: Reporter?) {
        self.inner = inner
        self.tracer = tracer
    }

    static func isRetriable(_ failure: TLSFailure) -> Bool { TLSTransport.isRetriable(failure) }

    mutating func open(timeout: DeviceDuration) throws(TLSFailure) {
        outbound.reset()
        inbound.reset()
        try inner.open(timeout: timeout)
    }

    mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        let sent = try inner.send(bytes, timeout: timeout)
        if let tracer { outbound.feed(bytes.slice(from: 0, count: sent), to: tracer) }
        return sent
    }

    mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(TLSFailure) -> Int {
        let count = try inner.receive(into: buffer, timeout: timeout)
        if let tracer, count > 0 { inbound.feed(ByteView(UnsafeRawBufferPointer(rebasing: buffer[..<count])), to: tracer) }
        return count
    }

    mutating func close() { inner.close() }

    mutating func setEndpoint(host: ByteView, port: UInt16) { inner.setEndpoint(host: host, port: port) }
}

/// Reassembles one direction's bytes into packets and reports each, decoded.
final class PacketTrace {
    let direction: String
    private var pending = [UInt8]()

    init(direction: String) { self.direction = direction }

    func reset() { pending = [] }

    func feed(_ bytes: ByteView, to reporter: Reporter) {
        pending += UnsafeRawBufferPointer(start: bytes.baseAddress, count: bytes.count)
        while let length = Self.packetLength(pending), pending.count >= length {
            let packet = Array(pending[..<length])
            pending.removeFirst(length)
            let text: String
            if let objects = try? PacketInspector.decodeAll(packet), let object = objects.first {
                text = object.compactText
            } else {
                text = "undecodable: " + Hex.string(packet)
            }
            reporter.step("mqtt", ["direction": .string(direction), "packet": .string(text)], "  mqtt \(direction == "sent" ? ">" : "<") \(text)")
        }
    }

    /// Whole-packet length from the fixed header, once enough of it is there.
    static func packetLength(_ bytes: [UInt8]) -> Int? {
        var value = 0
        var shift = 0
        var index = 1
        while index < bytes.count && index <= 4 {
            value |= Int(bytes[index] & 0x7F) << shift
            if bytes[index] & 0x80 == 0 { return index + 1 + value }
            shift += 7
            index += 1
        }
        return index > 4 ? 5 : nil
    }
}
