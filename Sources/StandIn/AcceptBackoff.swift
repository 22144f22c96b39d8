#if canImport(Glibc)
import Glibc
#endif
import DeviceCore

/// What the server does while `accept(2)` keeps failing, above all for want of file descriptors
/// (EMFILE, ENFILE). The connection then stays in the listen backlog and the listening socket
/// stays readable: polling it again at once would spin at full CPU. So the server leaves the
/// listener out of `poll` and tries again after `retryInterval`, or as soon as one of its own
/// connections closes (which frees a descriptor). The log gets one line when such an episode
/// begins and one when it ends: when the backlog is drained, not at each connection that a
/// freed descriptor lets in.
struct AcceptBackoff {
    static let retryInterval = DeviceDuration.milliseconds(250)

    /// When the current episode began; `nil` while accepting normally.
    private(set) var since: DeviceInstant?
    /// Failed attempts in the current episode.
    private(set) var failures = 0
    /// When to try again; `nil`: now.
    private(set) var retryAt: DeviceInstant?

    /// Whether the listener should be polled and accepted from at `now`.
    func mayAccept(at now: DeviceInstant) -> Bool {
        guard let retryAt else { return true }
        return now >= retryAt
    }

    /// `accept` failed with `code`; the log line when this begins an episode.
    mutating func acceptFailed(errno code: Int32, openConnections: Int, at now: DeviceInstant) -> String? {
        failures += 1
        retryAt = now + Self.retryInterval
        guard since == nil else { return nil }
        since = now
        return "accept failed: \(Self.describe(code)), with \(openConnections) connection\(openConnections == 1 ? "" : "s") open: "
            + "new clients wait in the listen backlog; trying again every \(Self.retryInterval.secondsText) and whenever a connection closes"
    }

    /// `accept` found nothing more waiting: the backlog is drained, so an episode is over;
    /// the log line when one was going on.
    mutating func caughtUp(at now: DeviceInstant) -> String? {
        guard let began = since else { return nil }
        let line = "accepting again: the backlog is drained, \((now - began).secondsText) after accept first failed (\(failures) failed attempt\(failures == 1 ? "" : "s"))"
        since = nil
        failures = 0
        retryAt = nil
        return line
    }

    /// One of the server's connections closed: a descriptor is free, so try again at once.
    mutating func connectionClosed() {
        retryAt = nil
    }

    /// `errno` in words, with the limit it hit when it is about descriptors.
    static func describe(_ code: Int32) -> String {
        let words = String(cString: strerror(code))
        switch code {
        case EMFILE:
            var limit = rlimit()
            let soft = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? " \(limit.rlim_cur)" : ""
            return "EMFILE (\(words): the process's limit of\(soft) file descriptors, RLIMIT_NOFILE)"
        case ENFILE:
            return "ENFILE (\(words): the system's limit of open files)"
        default:
            return "errno \(code) (\(words))"
        }
    }
}
