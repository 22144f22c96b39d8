#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS

/// Randomness from the operating system, e.g. to seed the reconnect jitter.
public enum SystemEntropy {
    /// 64 random bits from `getrandom(2)` (the kernel's CSPRNG; blocks only before the pool is
    /// first initialised at boot), falling back to `/dev/urandom` on kernels without it.
    public static func randomUInt64() -> UInt64 {
        var value: UInt64 = 0
        let filled = withUnsafeMutableBytes(of: &value) { fill($0) }
        if filled { return value }
        // No source at all (a broken container): better some variation than a fixed seed.
        var ts = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(bitPattern: Int64(ts.tv_sec)) &* 1_000_000_007 ^ UInt64(bitPattern: Int64(ts.tv_nsec)) ^ UInt64(getpid()) << 32
    }

    /// Fills `buffer` with random bytes; `false` when the system has no source.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let count = getrandom(buffer.baseAddress! + offset, buffer.count - offset, 0)
            if count > 0 {
                offset += count
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && errno == ENOSYS { return readURandom(UnsafeMutableRawBufferPointer(rebasing: buffer[offset...])) }
            return false
        }
        return true
    }

    private static func readURandom(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd < 0 { return false }
        defer { _ = close(fd) }
        var offset = 0
        while offset < buffer.count {
            let count = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count > 0 { offset += count } else if count < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }
}
