// The one libFuzzer entry point of build/fuzz/fuzz-device. Every target is a function in its
// own file; `FUZZ_TARGET` (or `--target=NAME` before libFuzzer's flags) picks one.

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
    selectedTarget = selectFuzzTarget(fuzzTargets, argc: argc, argv: argv)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget.unsafelyUnwrapped(ByteView(baseAddress: data.map { UnsafeRawPointer($0) }, count: size))
    return 0
}
