#if canImport(Glibc)
import Glibc
#endif
import DeviceCore

/// `DeviceClock` on Linux: `CLOCK_MONOTONIC`, which never jumps with NTP or the wall clock.
///
/// Instants count milliseconds since an arbitrary origin (the kernel's, usually boot).
public struct MonotonicClock: DeviceClock, Sendable {
    public init() {}

    public func now() -> DeviceInstant {
        var ts = timespec()
        // CLOCK_MONOTONIC cannot fail with a valid pointer.
        _ = clock_gettime(CLOCK_MONOTONIC, &ts)
        return DeviceInstant(milliseconds: Int64(ts.tv_sec) &* 1000 &+ Int64(ts.tv_nsec) / 1_000_000)
    }

    /// Sleeps until `deadline` with `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` (the
    /// absolute form of `nanosleep`: no drift). A signal resumes the sleep, except SIGINT or
    /// SIGTERM (`StopSignals`), which end it at once.
    public func sleep(until deadline: DeviceInstant) {
        var target = timespec()
        target.tv_sec = time_t(deadline.milliseconds / 1000)
        target.tv_nsec = Int((deadline.milliseconds % 1000) * 1_000_000)
        if deadline.milliseconds < 0 { return }
        while !StopSignals.isRequested {
            let result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil)
            if result != EINTR { return }
        }
    }
}
