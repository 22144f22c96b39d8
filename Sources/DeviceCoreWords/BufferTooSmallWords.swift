import DeviceCore

extension BufferTooSmall {
    /// The one sentence for every "buffer too small": `what` names the buffer
    /// ("the transmit buffer holds 256 bytes; it needs 300").
    public func words(_ what: String) -> String {
        "\(what) holds \(capacity) bytes; it needs \(needed)"
    }
}
