import DeviceCore

/// A whole number of something, or `forever` (`--messages`, `--duration`).
/// (A negative count is read as one, so that the range check names it.)
enum CountOrForever: Equatable {
    case count(Int)
    case forever

    init?(_ argument: String) {
        if argument == "forever" {
            self = .forever
        } else if let value = Int(argument) {
            self = .count(value)
        } else {
            return nil
        }
    }
}

/// What `run` sends once it is connected to its hub, and how long it stays.
struct TelemetryPlan {
    /// Where each message's body comes from.
    enum Body {
        /// The walkthrough's message: readings, the index, the wall-clock time.
        case walkthrough
        /// The same JSON every time (`--body`).
        case fixed(String)
        /// The standard output of a command run before each message (`--body-command`).
        case command(String)
    }

    /// How many messages; `nil`: one every `interval` until stopped.
    var messages: Int?
    var interval: DeviceDuration
    /// How long to stay connected after the last acknowledgement; `nil`: until stopped.
    var stayConnected: DeviceDuration?
    var body: Body
    /// The twin and methods to serve on the connection, if any.
    var hubFeatures: HubFeaturePlan? = nil

    /// How long the whole telemetry step may take: every message, its interval, the stay, and
    /// `timeout` for the connection and the last PUBACK. `nil` when the step has no end, or
    /// when it is longer than `DeviceDuration.maximum` (24.8 days, the farthest a deadline can
    /// be): such a run is bounded by its messages, and the session's timers still end a dead
    /// connection. (The options are bounded so that the sum cannot overflow: `RunOptions.validate`.)
    func deadline(timeoutSeconds: Int) -> DeviceDuration? {
        guard let messages, let stayConnected else { return nil }
        let total = Int64(interval.milliseconds) * Int64(max(messages, 1)) + Int64(stayConnected.milliseconds)
            + Int64(timeoutSeconds) * 1000
        return total <= Int64(DeviceDuration.maximum.milliseconds) ? DeviceDuration(milliseconds: Int32(total)) : nil
    }
}
