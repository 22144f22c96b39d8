// The targets of build/fuzz/fuzz-twin (the entry points are in Fuzz/Support.swift), the binary
// of the targets for the module DeviceTwinAndMethods (the device twin, direct methods):
// DeviceCore as a module of its own, as in the package, then the twin's sources compiled with
// this directory and Fuzz/Support.swift. `FUZZ_TARGET` (or `--target=NAME` before libFuzzer's
// flags) picks one.
let fuzzTargets: [(name: String, run: (ByteView) -> Void)] = [
    ("twin-topic", fuzzTwinTopic),
    ("twin-body", fuzzTwinBody),
    ("twin-machine", fuzzTwinMachine),
]
