/// How much of its input the inspector holds at once; everything else streams.
enum InspectorLimits {
    /// Largest packet `decode` holds whole: every CONNECT the codec accepts (at most 327,699
    /// bytes: five strings of 65,535) and SUBSCRIBE, UNSUBSCRIBE and SUBACK lists up to this
    /// size. A larger PUBLISH is streamed; any other larger packet is an error.
    static let heldPacketSize = 1 << 20

    /// Largest JSON value `encode` holds whole from standard input: room for `decode`'s line
    /// of any packet it holds (at most 6 characters a byte, for strings of control characters).
    /// A PUBLISH whose `payload_hex` runs past it is streamed; any other larger value is an
    /// error.
    static let heldJSONSize = 8 << 20
}
