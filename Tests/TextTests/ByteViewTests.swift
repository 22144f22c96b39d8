import DeviceCore
import Testing

/// `ByteView`'s representation: an empty view has no base address however it was made, and an
/// absent view (`ByteView?`) costs no byte more than a present one.
@Suite struct ByteViewTests {
    @Test func anOptionalViewIsNoLargerThanAView() {
        #expect(MemoryLayout<ByteView?>.size == MemoryLayout<ByteView>.size)
        #expect(MemoryLayout<ByteView?>.size == 2 * MemoryLayout<Int>.size)
    }

    @Test func anEmptyViewHasNoBaseAddressWhereverItWasMade() {
        let bytes: [UInt8] = [1, 2, 3]
        bytes.withUnsafeBytes { raw in
            let empty = ByteView(baseAddress: raw.baseAddress, count: 0)
            #expect(empty.baseAddress == nil && empty.isEmpty)
            #expect(empty == ByteView() && empty.buffer.baseAddress == nil)
            let tail = ByteView(raw).slice(from: 3, count: 0)
            #expect(tail.baseAddress == nil)
            let whole = ByteView(raw)
            #expect(whole.baseAddress == raw.baseAddress && whole.count == 3 && whole[2] == 3)
        }
        #expect(ByteView().baseAddress == nil)
        let absent: ByteView? = nil, present: ByteView? = ByteView()
        #expect(absent == nil && present != nil)
    }
}
