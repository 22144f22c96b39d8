/// A bump allocator over a caller's buffer: copies of received text (hub name, device id,
/// error message) that must outlive the receive buffer they arrived in.
public struct ByteArena {
    let storage: UnsafeMutableRawBufferPointer
    /// Bytes handed out so far.
    public private(set) var used = 0

    public init(_ storage: UnsafeMutableRawBufferPointer) { self.storage = storage }

    /// Bytes still free.
    public var available: Int { storage.count - used }

    /// Forgets everything handed out; earlier views become invalid.
    public mutating func reset() { used = 0 }

    /// Free space at the end, to write into before `commit(_:)`.
    public var freeSpace: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: storage[used...]) }

    /// Keeps the first `count` bytes of `freeSpace` and returns a view of them.
    public mutating func commit(_ count: Int) -> ByteView {
        precondition(count >= 0 && count <= available, "commit past the arena's end")
        let view = ByteView(baseAddress: storage.baseAddress.map { UnsafeRawPointer($0 + used) }, count: count)
        used += count
        return view
    }

    /// A copy of `bytes`, or `nil` if they do not fit.
    public mutating func copy(_ bytes: ByteView) -> ByteView? {
        guard bytes.count <= available else { return nil }
        if bytes.count > 0 { bytes.copyBytes(to: storage.baseAddress.unsafelyUnwrapped + used) }
        return commit(bytes.count)
    }
}
