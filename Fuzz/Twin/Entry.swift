// The libFuzzer entry point of build/fuzz/fuzz-twin, the binary of the targets for the module
// DeviceTwinAndMethods (the device twin, direct methods): DeviceCore as a module of its own, as
// in the package, then the twin's sources compiled with this directory and Fuzz/Support.swift.
// `FUZZ_TARGET` (or `--target=NAME` before libFuzzer's flags) picks one.

let fuzzTargets: [(name: String, run: (ByteView) -> Void)] = [
    ("twin-topic", fuzzTwinTopic),
    ("twin-body", fuzzTwinBody),
    ("twin-machine", fuzzTwinMachine),
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
