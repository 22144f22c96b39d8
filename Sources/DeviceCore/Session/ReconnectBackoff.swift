/// How long to wait before the next connection attempt: exponential with a cap, plus random
/// jitter so that a fleet does not reconnect in step. Pure: randomness is passed in.
///
/// Defaults follow the azure-sdk-for-c guidance: 1 s doubling to at most 100 s, plus up to 5 s.
public struct ReconnectBackoff: Sendable {
    public var minimum: DeviceDuration
    public var maximum: DeviceDuration
    public var maximumJitter: DeviceDuration
    /// Failed attempts since the last success.
    public private(set) var attempts = 0

    public init(
        minimum: DeviceDuration = .seconds(1), maximum: DeviceDuration = .seconds(100),
        maximumJitter: DeviceDuration = .seconds(5)
    ) {
        self.minimum = minimum
        self.maximum = maximum
        self.maximumJitter = maximumJitter
    }

    /// The delay before the next attempt, counting this one as failed.
    public mutating func nextDelay<R: RandomNumberGenerator>(using random: inout R) -> DeviceDuration {
        var base = minimum.milliseconds
        var doublings = attempts
        while doublings > 0 && base < maximum.milliseconds {
            base = base > maximum.milliseconds / 2 ? maximum.milliseconds : base &* 2
            doublings -= 1
        }
        if base > maximum.milliseconds { base = maximum.milliseconds }
        attempts += 1
        let jitterRange = UInt32(truncatingIfNeeded: max(maximumJitter.milliseconds, 0))
        let jitter = jitterRange == 0 ? 0 : UInt32(truncatingIfNeeded: random.next()) % (jitterRange &+ 1)
        return .milliseconds(base) + .milliseconds(Int32(bitPattern: jitter))
    }

    /// A connection succeeded: start again from the minimum.
    public mutating func reset() { attempts = 0 }
}
