#if canImport(Glibc)
import Glibc
#endif
import DeviceCore

/// `DeviceClock` on Linux: `CLOCK_MONOTONIC`, which never jumps with NTP or the wall clock.
///
/// Instants are the low 32 bits of the milliseconds since an arbitrary origin (the kernel's,
/// usually boot), as `DeviceInstant` wants them.
public struct MonotonicClock: DeviceClock, Sendable {
    public init() {}

    public func now() -> DeviceInstant { DeviceInstant(truncating: Self.milliseconds(Self.timespecNow())) }

    /// Sleeps until `deadline` with `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` (the
    /// absolute form of `nanosleep`: no drift). A signal resumes the sleep, except SIGINT or
    /// SIGTERM (`StopSignals`), which end it at once.
    public func sleep(until deadline: DeviceInstant) {
        let start = Self.timespecNow()
        let wait = deadline - DeviceInstant(truncating: Self.milliseconds(start))
        if wait <= .zero { return }
        let targetMilliseconds = Self.milliseconds(start) + Int64(wait.milliseconds)
        var target = timespec()
        target.tv_sec = time_t(targetMilliseconds / 1000)
        target.tv_nsec = Int((targetMilliseconds % 1000) * 1_000_000)
        while !StopSignals.isRequested {
            let result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil)
            if result != EINTR { return }
        }
    }

    private static func timespecNow() -> timespec {
        var ts = timespec()
        // CLOCK_MONOTONIC cannot fail with a valid pointer.
        _ = clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts
    }

    private static func milliseconds(_ ts: timespec) -> Int64 { Int64(ts.tv_sec) &* 1000 &+ Int64(ts.tv_nsec) / 1_000_000 }
}
