extension DeviceDuration {
    /// How long a telemetry step may take: `messages` sends `interval` apart (at least one; a
    /// negative interval counts as none, as the flow sends such messages at once), then
    /// `stayConnected`, plus `timeout` for the connection, reconnects and the last
    /// acknowledgement. `nil`, no limit, when the stay is `nil` (until stopped) or the sum is
    /// `maximum` (24.8 days) or longer: a deadline cannot be that far, and such a step is
    /// bounded by its messages while the session's timers still end a dead connection.
    /// Inlined: a firmware's fixed schedule folds to a constant (out of line it is 100 bytes).
    @inline(__always)
    public static func telemetryTimeLimit(
        messages: Int, interval: DeviceDuration, timeout: DeviceDuration, stayConnected: DeviceDuration?
    ) -> DeviceDuration? {
        guard let stayConnected else { return nil }
        let (schedule, overflow) = max(interval.milliseconds, 0).multipliedReportingOverflow(by: Int32(clamping: max(messages, 1)))
        if overflow { return nil }
        let total = DeviceDuration(milliseconds: schedule) + (timeout + stayConnected)
        return total < maximum ? total : nil
    }
}
