// The targets of build/fuzz/fuzz-device (the entry points are in Fuzz/Support.swift). Every
// target is a function in its own file; `FUZZ_TARGET` (or `--target=NAME` before libFuzzer's
// flags) picks one.

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
