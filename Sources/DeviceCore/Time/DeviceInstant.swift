/// A point on the board's monotonic clock, in milliseconds since an arbitrary origin.
///
/// The core never reads a clock: callers pass the current instant in, and the state machines
/// answer with the instant they next need to be woken.
public struct DeviceInstant: Comparable, Sendable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (lhs: DeviceInstant, rhs: DeviceInstant) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// The instant `duration` later.
    public static func + (lhs: DeviceInstant, rhs: DeviceDuration) -> DeviceInstant {
        DeviceInstant(milliseconds: lhs.milliseconds &+ rhs.milliseconds)
    }

    /// The time from `earlier` to `self`.
    public static func - (lhs: DeviceInstant, rhs: DeviceInstant) -> DeviceDuration {
        DeviceDuration(milliseconds: lhs.milliseconds &- rhs.milliseconds)
    }
}

/// A span of time in milliseconds.
public struct DeviceDuration: Comparable, Sendable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func milliseconds(_ value: Int64) -> DeviceDuration { DeviceDuration(milliseconds: value) }
    public static func seconds(_ value: Int64) -> DeviceDuration { DeviceDuration(milliseconds: value &* 1000) }
    public static let zero = DeviceDuration(milliseconds: 0)
    /// Longer than any wait ("no limit"), and still far enough from overflow for arithmetic.
    public static let forever = DeviceDuration(milliseconds: Int64.max / 4)

    public static func < (lhs: DeviceDuration, rhs: DeviceDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }
    public static func + (lhs: DeviceDuration, rhs: DeviceDuration) -> DeviceDuration {
        DeviceDuration(milliseconds: lhs.milliseconds &+ rhs.milliseconds)
    }
}

/// The earlier of two optional deadlines.
@inline(__always)
func earliest(_ a: DeviceInstant?, _ b: DeviceInstant?) -> DeviceInstant? {
    guard let a else { return b }
    guard let b else { return a }
    return min(a, b)
}

extension Int64 {
    /// Widens a word-sized unsigned value. `Int64(x)` from a narrower integer goes through
    /// `BinaryInteger`'s generic `words` path on 32-bit targets, which `-no-allocations` rejects.
    @inline(__always)
    init(widening value: UInt) { self.init(_truncatingBits: value) }
}
