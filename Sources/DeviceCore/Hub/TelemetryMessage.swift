/// The walkthrough's telemetry body, without floating point:
/// `{"temperature":24.6,"humidity":67.3,"message":"Hello from … (message 1/3)","timestamp":"2025-05-22T08:06:59.626893","deviceId":"device1"}`.
public struct WalkthroughTelemetry {
    /// Tenths of a degree Celsius: 246 is 24.6.
    public var temperatureTenths: Int64
    /// Tenths of a percent: 673 is 67.3.
    public var humidityTenths: Int64
    /// The greeting before ` (message i/N)`.
    public var greeting: ByteView
    /// 1-based index of this message and the number of messages (0: an open-ended series,
    /// and the message names only its index).
    public var index: Int
    public var count: Int
    /// Wall-clock time of the reading, microseconds since 1970 (UTC).
    public var timestampMicroseconds: Int64
    public var deviceID: ByteView

    public init(
        temperatureTenths: Int64, humidityTenths: Int64, greeting: ByteView = ByteView("Hello from Swift X.509 DPS device!"),
        index: Int, count: Int, timestampMicroseconds: Int64, deviceID: ByteView
    ) {
        self.temperatureTenths = temperatureTenths
        self.humidityTenths = humidityTenths
        self.greeting = greeting
        self.index = index
        self.count = count
        self.timestampMicroseconds = timestampMicroseconds
        self.deviceID = deviceID
    }

    /// Writes the body as compact JSON into `buffer`.
    public func write(into buffer: UnsafeMutableRawBufferPointer) throws(JSONWriteError) -> ByteView {
        var json = JSONWriter(into: buffer)
        json.beginObject()
        json.key("temperature")
        json.fixedPoint(temperatureTenths, fractionDigits: 1)
        json.key("humidity")
        json.fixedPoint(humidityTenths, fractionDigits: 1)
        json.key("message")
        json.beginString()
        json.stringPart(greeting)
        json.stringPart(" (message ")
        json.stringDecimal(Int64(widening: UInt(bitPattern: index)))
        if count > 0 {
            json.stringPart("/")
            json.stringDecimal(Int64(widening: UInt(bitPattern: count)))
        }
        json.stringPart(")")
        json.endString()
        json.key("timestamp")
        json.beginString()
        json.stringPartUnescaped { ISO8601.append(epochMicroseconds: timestampMicroseconds, fractionDigits: 6, suffixZ: false, to: &$0) }
        json.endString()
        json.key("deviceId")
        json.string(deviceID)
        json.endObject()
        return try json.finish()
    }
}
