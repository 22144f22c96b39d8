#if canImport(Glibc)
import Glibc
#endif
import DeviceCore

/// The wall clock (`CLOCK_REALTIME`), for timestamps in messages and logs. Never for timeouts:
/// it jumps with NTP; `MonotonicClock` is for waiting.
public enum WallClock {
    /// Microseconds since the Unix epoch.
    public static func epochMicroseconds() -> Int64 {
        var ts = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000 &+ Int64(ts.tv_nsec) / 1000
    }

    /// Now as RFC 3339 UTC with milliseconds, e.g. `2026-12-02T16:05:09.123Z`.
    public static func timestamp() -> String {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { buffer in
            var writer = TextWriter(into: buffer)
            ISO8601.append(epochMicroseconds: epochMicroseconds(), fractionDigits: 3, suffixZ: true, to: &writer)
            return String(decoding: UnsafeRawBufferPointer(start: writer.written.baseAddress, count: writer.written.count), as: UTF8.self)
        }
    }
}
