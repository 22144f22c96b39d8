// The targets of build/fuzz/fuzz-options (the entry points are in Fuzz/Support.swift): one,
// `options`.

let fuzzTargets: [(name: String, run: (ByteView) -> Void)] = [
    ("options", fuzzOptions),
]
