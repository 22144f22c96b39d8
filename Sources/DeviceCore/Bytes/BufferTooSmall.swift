/// A caller's buffer is too small for what it was given: the one "buffer too small" of the
/// whole core, whichever buffer it is (a packet, a topic, a request, a decoded text, the
/// device's memory region). Nothing was written that could be mistaken for a result.
///
/// `needed` is the whole size the operation takes, not the shortfall, so the caller can size
/// the buffer from the error alone; `capacity` is the room the buffer had.
public struct BufferTooSmall: Error, Equatable, Sendable {
    /// Bytes the operation takes.
    public let needed: Int
    /// Bytes the buffer had room for.
    public let capacity: Int

    public init(needed: Int, capacity: Int) {
        self.needed = needed
        self.capacity = capacity
    }
}
