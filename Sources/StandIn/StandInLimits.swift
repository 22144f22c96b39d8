/// The bounds of the DPS stand-in's numbers, one table for its flags and its configuration
/// file, and the range check that names what is out of bounds (`--timeout must be 1 to 86400
/// seconds, got 0`, as the device's options say it).
enum StandInLimits {
    /// A whole-number setting: its range and what it counts, for the message.
    struct Bound: Sendable {
        let range: ClosedRange<Int>
        /// `seconds`, `milliseconds`, …, or a phrase in parentheses; empty for a plain count.
        let unit: String
    }

    /// `retry-after` of a 202 or a 429, seconds.
    static let retryAfter = Bound(range: 0...3600, unit: "seconds")
    /// How many times a fault fires (0: never).
    static let times = Bound(range: 0...1_000_000, unit: "times")
    /// The packet after which `drop` closes the connection (CONNECT is 1).
    static let afterPackets = Bound(range: 1...1_000_000, unit: "(the packet's number on its connection: CONNECT is 1)")
    /// The CONNACK code a refused CONNECT gets.
    static let refuseCode = Bound(range: 1...5, unit: "(a CONNACK refusal code)")
    /// How long every response is held back, milliseconds.
    static let delay = Bound(range: 0...60_000, unit: "milliseconds")

    /// The TLS handshake and CONNECT timeouts, seconds (decimals allowed).
    static let stepTimeout: ClosedRange<Double> = 0.1...3600
    /// The idle limit after CONNECT, seconds (decimals allowed).
    static let idleTimeout: ClosedRange<Double> = 0.1...86_400

    /// The problem with `value` for `name`, or `nil` when it is in bounds (or not given).
    static func problem(_ name: String, _ value: Int?, _ bound: Bound) -> String? {
        guard let value, !bound.range.contains(value) else { return nil }
        let unit = bound.unit.isEmpty ? "" : " \(bound.unit)"
        return "\(name) must be \(bound.range.lowerBound) to \(bound.range.upperBound)\(unit), got \(value)"
    }

    /// The problem with `seconds` for `name`, or `nil` when it is in `range` (or not given).
    static func problem(_ name: String, seconds: Double?, _ range: ClosedRange<Double>) -> String? {
        guard let seconds, !(seconds.isFinite && range.contains(seconds)) else { return nil }
        return "\(name) must be \(text(range.lowerBound)) to \(text(range.upperBound)) seconds, got \(text(seconds))"
    }

    /// `3600` rather than `3600.0`; `0.1` as it is.
    static func text(_ value: Double) -> String {
        value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
