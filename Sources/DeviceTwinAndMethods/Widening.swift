// `Int64(x)` and `UInt64(x)` from a narrower integer go through `BinaryInteger`'s generic
// `words` path on 32-bit targets, which `-no-allocations` rejects: these widen a word directly.

extension Int64 {
    @inline(__always)
    init(widening value: UInt) { self.init(_truncatingBits: value) }
}

extension UInt64 {
    @inline(__always)
    init(widening value: UInt) { self.init(_truncatingBits: value) }
}
