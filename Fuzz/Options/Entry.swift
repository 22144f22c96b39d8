// The libFuzzer entry point of build/fuzz/fuzz-options, whose one target is `options`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzOptions(ByteView(baseAddress: data.map { UnsafeRawPointer($0) }, count: size))
    return 0
}
