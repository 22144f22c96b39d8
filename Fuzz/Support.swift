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

extension FuzzBuffer {
    /// `parts` one after the other in one exact-size allocation (a prefix the fuzzer need not
    /// find, then its input).
    convenience init(joining parts: ByteView...) {
        self.init(count: parts.reduce(0) { $0 + $1.count })
        var offset = 0
        for part in parts {
            part.copyBytes(to: raw.baseAddress.unsafelyUnwrapped + offset)
            offset += part.count
        }
    }

    /// What `write` writes (at most `capacity` bytes), in an exact-size allocation.
    convenience init(capacity: Int, writing write: (inout TextWriter) -> Void) {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
        defer { scratch.deallocate() }
        var writer = TextWriter(into: scratch)
        write(&writer)
        let text: ByteView
        do throws(BufferTooSmall) { text = try writer.finish() } catch { finding("harness text overflow: \(error)") }
        self.init(copying: text)
    }
}

/// libFuzzer's entry points, shared by the three binaries: each lists its targets as
/// `fuzzTargets` (its Entry.swift), and `LLVMFuzzerInitialize` picks one.
nonisolated(unsafe) var selectedTarget: ((ByteView) -> Void)?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> Int32 {
    selectedTarget = selectFuzzTarget(fuzzTargets, argc: argc, argv: argv)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget.unsafelyUnwrapped(ByteView(baseAddress: data.map { UnsafeRawPointer($0) }, count: size))
    return 0
}

/// The target named by `FUZZ_TARGET` (or by `--target=NAME` among libFuzzer's arguments) in
/// `targets`; without one, the names go to stderr and the process exits 2.
func selectFuzzTarget(
    _ targets: [(name: String, run: (ByteView) -> Void)], argc: UnsafeMutablePointer<Int32>,
    argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>
) -> (ByteView) -> Void {
    var name = getenv("FUZZ_TARGET").map { String(cString: $0) }
    var i = 1
    while i < Int(argc.pointee) {
        if let arg = argv.pointee[i].map({ String(cString: $0) }), arg.hasPrefix("--target=") {
            name = String(arg.dropFirst("--target=".count))
        }
        i += 1
    }
    guard let name, let target = targets.first(where: { $0.name == name }) else {
        fputs("set FUZZ_TARGET to one of: \(targets.map(\.name).joined(separator: " "))\n", stderr)
        exit(2)
    }
    fputs("fuzz target: \(name)\n", stderr)
    return target.run
}

/// Whether `needle` occurs in `view`.
func occurs(_ needle: ByteView, in view: ByteView) -> Bool {
    guard needle.count <= view.count else { return false }
    var start = 0
    while start <= view.count - needle.count {
        if view.slice(from: start, count: needle.count) == needle { return true }
        start += 1
    }
    return false
}
