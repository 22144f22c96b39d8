// Shared by every fuzz target (host only; compiled into the same module as DeviceCore's
// sources, so the core's internal API is visible without `@testable`).
#if canImport(Glibc)
import Glibc
#endif

/// A finding: the message goes to stderr, then the process traps so libFuzzer saves the input.
func finding(_ message: String) -> Never {
    fputs("FUZZ FINDING: \(message)\n", stderr)
    fflush(stderr)
    abort()
}

func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { finding(message()) }
}

/// Lower-case hex, for finding messages.
func hexString(_ view: ByteView) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var out = ""
    var i = 0
    while i < view.count {
        out.append(digits[Int(view[i] >> 4)])
        out.append(digits[Int(view[i] & 0x0F)])
        i += 1
    }
    return out
}

/// Reads every byte of `view` (so ASan checks it) and returns their sum.
@inline(never)
func touchBytes(_ view: ByteView) -> Int {
    var sum = 0
    var i = 0
    while i < view.count { sum &+= Int(view[i]); i += 1 }
    return sum
}

/// Reads the fuzz input front to back: control bytes first, the rest as data.
struct FuzzInput {
    let bytes: ByteView
    var position = 0

    init(_ bytes: ByteView) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    /// The next byte, or 0 when the input is used up.
    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    /// Everything not read yet.
    var rest: ByteView { bytes.slice(from: position, count: bytes.count - position) }
}

/// A heap buffer of exactly `count` bytes, so AddressSanitizer sees any access past its end.
/// `count` 0 gives a 1-byte allocation viewed as empty.
final class FuzzBuffer {
    let raw: UnsafeMutableRawBufferPointer
    private let storage: UnsafeMutableRawBufferPointer

    init(count: Int) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
        storage.initializeMemory(as: UInt8.self, repeating: 0xA5)
        raw = UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
    }

    /// A copy of `view` in its own exact-size allocation.
    convenience init(copying view: ByteView) {
        self.init(count: view.count)
        view.copyBytes(to: storage.baseAddress!)
    }

    var view: ByteView { ByteView(UnsafeRawBufferPointer(raw)) }

    deinit { storage.deallocate() }
}

/// Which known findings to tolerate while hunting for others (comma-separated names in
/// `FUZZ_KNOWN`); empty in `make fuzz` and `make fuzz-smoke`, so every finding fails there.
let knownFindings: Set<String> = {
    guard let value = getenv("FUZZ_KNOWN") else { return [] }
    return Set(String(cString: value).split(separator: ",").map(String.init))
}()

func isKnown(_ name: String) -> Bool {
    !knownFindings.isEmpty && knownFindings.contains(name)
}
