import DeviceCore
import Testing

@Suite("DeviceInstant and DeviceDuration: a wrapping 32-bit millisecond counter")
struct DeviceTimeTests {
    @Test func instantsCompareByDistanceAcrossTheWrap() {
        let beforeWrap = DeviceInstant(milliseconds: UInt32.max - 10)
        let afterWrap = DeviceInstant(milliseconds: 5)
        #expect(beforeWrap < afterWrap)
        #expect(!(afterWrap < beforeWrap))
        #expect(afterWrap - beforeWrap == .milliseconds(16))
        #expect(beforeWrap - afterWrap == .milliseconds(-16))
        #expect(beforeWrap + .milliseconds(16) == afterWrap)
        #expect(afterWrap + .milliseconds(-16) == beforeWrap)
        #expect(min(afterWrap, beforeWrap) == beforeWrap)
    }

    @Test func theHorizonIs2To31MinusOneMilliseconds() {
        let now = DeviceInstant(milliseconds: 1_000)
        #expect(now < now + .maximum)
        #expect((now + .maximum) - now == .maximum)
        // One millisecond more and the instant is read as in the past.
        #expect(now + .maximum + .milliseconds(1) < now)
    }

    @Test func durationSumsSaturate() {
        #expect(DeviceDuration.maximum + .milliseconds(1) == .maximum)
        #expect(DeviceDuration.seconds(2_000_000) + .seconds(2_000_000) == .maximum)
        #expect(DeviceDuration.milliseconds(-Int32.max) + .milliseconds(-5) == .milliseconds(-Int32.max))
        #expect(DeviceDuration.seconds(3) + .milliseconds(250) == .milliseconds(3_250))
        // A deadline `now + (a + b)` never wraps into the past.
        let now = DeviceInstant(milliseconds: 7)
        #expect(now < now + (DeviceDuration.forever + .maximum))
    }

    @Test func secondsAreClampedToTheLongestDuration() {
        #expect(DeviceDuration.seconds(120) == .milliseconds(120_000))
        #expect(DeviceDuration.maximumSeconds == 2_147_483)
        #expect(DeviceDuration.seconds(DeviceDuration.maximumSeconds) == .milliseconds(2_147_483_000))
        #expect(DeviceDuration.seconds(Int32.max) == .milliseconds(2_147_483_000))
        #expect(DeviceDuration.seconds(-Int32.max) == .milliseconds(-2_147_483_000))
        // From the wire (a retry-after of 2^32 - 1 s): the longest duration there is.
        #expect(DeviceDuration(seconds: UInt32.max) == .milliseconds(2_147_483_000))
        #expect(DeviceDuration(seconds: 86_400) == .milliseconds(86_400_000))
    }

    @Test func aWiderCounterGivesItsLow32Bits() {
        #expect(DeviceInstant(truncating: 0x1_0000_0005) == DeviceInstant(milliseconds: 5))
        #expect(DeviceInstant(truncating: 4_294_967_295) == DeviceInstant(milliseconds: UInt32.max))
    }
}
