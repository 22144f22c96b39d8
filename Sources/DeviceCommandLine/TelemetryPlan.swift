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

    /// How long the whole telemetry step may take (`DeviceDuration.telemetryTimeLimit`);
    /// `nil` when the step has no end or is 24.8 days or longer. (`RunOptions.validate` bounds
    /// the options.)
    func deadline(timeoutSeconds: Int) -> DeviceDuration? {
        guard let messages else { return nil }
        return DeviceDuration.telemetryTimeLimit(
            messages: messages, interval: interval, timeout: .seconds(Int32(clamping: timeoutSeconds)), stayConnected: stayConnected)
    }
}
