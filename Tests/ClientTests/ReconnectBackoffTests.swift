import DeviceCore
import Testing

/// A generator that returns the values it is given, in turn.
struct ScriptedRandom: RandomNumberGenerator {
    var values: [UInt64]
    mutating func next() -> UInt64 { values.isEmpty ? 0 : values.removeFirst() }
}

@Suite("Reconnect backoff")
struct ReconnectBackoffTests {
    @Test func doublesFromOneSecondToTheCapWithoutJitter() {
        var backoff = ReconnectBackoff(maximumJitter: .zero)
        var random = ScriptedRandom(values: [])
        let delays = (0..<10).map { _ in backoff.nextDelay(using: &random).milliseconds }
        #expect(delays == [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 100_000, 100_000, 100_000])
        #expect(backoff.attempts == 10)
    }

    @Test func jitterIsAddedFromTheInjectedSourceUpToFiveSeconds() {
        var backoff = ReconnectBackoff()
        // next() % 5001: 0, 5000 (the most), 1234.
        var random = ScriptedRandom(values: [0, 5_000, 5_001 + 1_234])
        #expect(backoff.nextDelay(using: &random).milliseconds == 1_000)
        #expect(backoff.nextDelay(using: &random).milliseconds == 7_000)
        #expect(backoff.nextDelay(using: &random).milliseconds == 5_234)
    }

    @Test func resetStartsAgainFromTheMinimum() {
        var backoff = ReconnectBackoff(maximumJitter: .zero)
        var random = ScriptedRandom(values: [])
        _ = backoff.nextDelay(using: &random)
        _ = backoff.nextDelay(using: &random)
        backoff.reset()
        #expect(backoff.attempts == 0)
        #expect(backoff.nextDelay(using: &random).milliseconds == 1_000)
    }

    @Test func manyAttemptsNeverOverflow() {
        var backoff = ReconnectBackoff(maximumJitter: .zero)
        var random = ScriptedRandom(values: [])
        for _ in 0..<200 { _ = backoff.nextDelay(using: &random) }
        #expect(backoff.nextDelay(using: &random).milliseconds == 100_000)
    }

    @Test func seededGeneratorIsDeterministic() {
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
        let first = (0..<4).map { _ in a.next() }
        #expect(first == (0..<4).map { _ in b.next() })
        // SplitMix64's published first output for seed 0.
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    }
}
