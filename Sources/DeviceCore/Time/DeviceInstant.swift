/// A reading of the board's millisecond counter: the low 32 bits of the milliseconds since an
/// arbitrary origin, as `HAL_GetTick`, `xTaskGetTickCount` or a SysTick count give them.
///
/// The counter wraps every 49.7 days, so instants are compared by their distance: `a < b` when
/// `b` is 1 ms to 24.8 days (2^31 − 1 ms) after `a`. Every instant the core keeps is within
/// that of now (the longest wait, `DeviceDuration.maximum`, is shorter), so the order holds for
/// any uptime. The core never reads a clock: callers pass the current instant in, and the
/// state machines answer with the instant they next need to be woken.
///
/// 32 bits, not 64: every timer in the core is one register and one compare on Cortex-M.
public struct DeviceInstant: Comparable, Sendable {
    public var milliseconds: UInt32

    public init(milliseconds: UInt32) { self.milliseconds = milliseconds }

    /// The instant of a wider counter, e.g. a 64-bit millisecond count: its low 32 bits.
    @inline(__always)
    public init(truncating milliseconds: Int64) { self.milliseconds = UInt32(truncatingIfNeeded: milliseconds) }

    /// `true` when `rhs` comes after `lhs`, by less than 2^31 ms.
    public static func < (lhs: DeviceInstant, rhs: DeviceInstant) -> Bool { (lhs - rhs).milliseconds < 0 }

    /// The instant `duration` later (earlier, for a negative duration).
    public static func + (lhs: DeviceInstant, rhs: DeviceDuration) -> DeviceInstant {
        DeviceInstant(milliseconds: lhs.milliseconds &+ UInt32(bitPattern: rhs.milliseconds))
    }

    /// The time from `rhs` to `lhs`: negative when `lhs` comes first.
    public static func - (lhs: DeviceInstant, rhs: DeviceInstant) -> DeviceDuration {
        DeviceDuration(milliseconds: Int32(bitPattern: lhs.milliseconds &- rhs.milliseconds))
    }
}

/// A span of time in milliseconds, at most `maximum` (24.8 days) either way.
public struct DeviceDuration: Comparable, Sendable {
    public var milliseconds: Int32

    public init(milliseconds: Int32) { self.milliseconds = milliseconds }

    public static func milliseconds(_ value: Int32) -> DeviceDuration { DeviceDuration(milliseconds: value) }
    /// `value` seconds, at most `maximumSeconds` either way (a larger `value` gives that);
    /// callers that take seconds from outside check the range first and say so.
    public static func seconds(_ value: Int32) -> DeviceDuration {
        DeviceDuration(milliseconds: max(-maximumSeconds, min(maximumSeconds, value)) &* 1000)
    }
    /// Whole `seconds` from the wire (a `retry-after`, a keep-alive): `maximum` if longer.
    public init(seconds: UInt32) {
        self = .seconds(Int32(truncatingIfNeeded: min(seconds, UInt32(truncatingIfNeeded: DeviceDuration.maximumSeconds))))
    }

    public static let zero = DeviceDuration(milliseconds: 0)
    /// The longest duration: 2^31 − 1 ms, 24 days 20 hours 31 minutes (and `-maximum` the
    /// longest negative one).
    public static let maximum = DeviceDuration(milliseconds: Int32.max)
    /// Whole seconds in `maximum`: 2,147,483.
    public static let maximumSeconds: Int32 = Int32.max / 1000
    /// Longer than any wait the core makes ("no limit": 6.2 days), and short enough that an
    /// instant this far ahead, or a sum of two, still compares as later.
    public static let forever = DeviceDuration(milliseconds: Int32.max / 4)

    public static func < (lhs: DeviceDuration, rhs: DeviceDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }
    /// The sum, at most `maximum` either way: a deadline `now + (a + b)` is never one that has
    /// wrapped into the past.
    public static func + (lhs: DeviceDuration, rhs: DeviceDuration) -> DeviceDuration {
        let (sum, overflow) = lhs.milliseconds.addingReportingOverflow(rhs.milliseconds)
        return DeviceDuration(milliseconds: overflow ? (sum < 0 ? Int32.max : -Int32.max) : sum)
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
