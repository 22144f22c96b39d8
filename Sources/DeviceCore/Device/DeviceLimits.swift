/// The buffer sizes `IoTDevice` carves out of its memory region, in bytes. The defaults fit
/// the device flow of `board/modem-demo` in a micro:bit's 16 KB of RAM.
public struct DeviceLimits {
    /// The largest packet the device receives: DPS's `assigned` answer is about 370 bytes,
    /// a cloud-to-device message its topic and payload plus 5.
    public var receive = 768
    /// Control packets on their way out; the CONNECTs are about 80 bytes, 60 plus the user name.
    public var transmit = 384
    /// Encoded telemetry kept until IoT Hub acknowledges it: a message is its body plus about 70.
    public var outbox = 512
    /// Telemetry messages in flight at once.
    public var window = 2
    /// The CONNECT texts: DPS's user name, then IoT Hub's client id and user name.
    public var connectText = 192
    /// A DPS request's topic and body.
    public var request = 256
    /// DPS's answer: 128 bytes for the operation id, the rest for the assignment's text (the
    /// hub's name and the device id are kept here for the telemetry that follows).
    public var results = 384
    /// A telemetry topic with its property bag.
    public var topic = 128
    /// One message body, as `makeBody` writes it.
    public var body = 256

    public init() {}
}
