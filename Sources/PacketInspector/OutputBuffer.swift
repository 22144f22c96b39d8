/// Text on its way out, handed to `sink` in pieces of up to `capacity` bytes: the inspector's
/// output never grows with the input, however long a line is.
public final class OutputBuffer {
    private let storage: UnsafeMutableRawBufferPointer
    private var count = 0
    private let sink: (UnsafeRawBufferPointer) -> Void

    /// A buffer that hands its bytes to `sink` when full and on `flush()`.
    public init(capacity: Int = 65_536, sink: @escaping (UnsafeRawBufferPointer) -> Void) {
        precondition(capacity >= 16, "OutputBuffer: capacity too small")
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
        self.sink = sink
    }

    /// Bytes not flushed by then are dropped.
    deinit { storage.deallocate() }

    /// Hands everything buffered to the sink.
    public func flush() {
        if count > 0 { sink(UnsafeRawBufferPointer(rebasing: storage[..<count])) }
        count = 0
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            if count == storage.count { flush() }
            let taken = min(rest.count, storage.count - count)
            UnsafeMutableRawBufferPointer(rebasing: storage[count..<count + taken])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<taken]))
            count += taken
            rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
        }
    }

    func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// `bytes` as lower-case hex, two digits each.
    func appendHex(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        while !rest.isEmpty {
            if storage.count - count < 2 { flush() }
            let taken = min(rest.count, (storage.count - count) / 2)
            let out = storage.baseAddress.unsafelyUnwrapped + count
            var index = 0
            for byte in rest.prefix(taken) {
                out.storeBytes(of: Hex.digit(byte >> 4), toByteOffset: index, as: UInt8.self)
                out.storeBytes(of: Hex.digit(byte & 0x0F), toByteOffset: index + 1, as: UInt8.self)
                index += 2
            }
            count += index
            rest = rest.dropFirst(taken)
        }
    }
}
