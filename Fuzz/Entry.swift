// The one libFuzzer entry point of the fuzz binary. Every target is a function in its own
// file; `FUZZ_TARGET` (or `--target=NAME` before libFuzzer's flags) picks one.
#if canImport(Glibc)
import Glibc
#endif

let fuzzTargets: [(name: String, run: (ByteView) -> Void)] = [
    ("frames", fuzzFrameReader),
    ("decode", fuzzPacketDecode),
    ("dps-topic", fuzzDPSTopic),
    ("json", fuzzJSONReader),
    ("property-bag", fuzzPropertyBag),
    ("dps-body", fuzzDPSResponseBody),
    ("session", fuzzSession),
    ("base64", fuzzBase64),
]

nonisolated(unsafe) var selectedTarget: ((ByteView) -> Void)?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> Int32 {
    var name = getenv("FUZZ_TARGET").map { String(cString: $0) }
    var i = 1
    while i < Int(argc.pointee) {
        if let arg = argv.pointee[i].map({ String(cString: $0) }), arg.hasPrefix("--target=") {
            name = String(arg.dropFirst("--target=".count))
        }
        i += 1
    }
    guard let name, let target = fuzzTargets.first(where: { $0.name == name }) else {
        fputs("set FUZZ_TARGET to one of: \(fuzzTargets.map(\.name).joined(separator: " "))\n", stderr)
        exit(2)
    }
    fputs("fuzz target: \(name)\n", stderr)
    selectedTarget = target.run
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget.unsafelyUnwrapped(ByteView(baseAddress: data.map { UnsafeRawPointer($0) }, count: size))
    return 0
}
