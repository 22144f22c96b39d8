#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// SIGINT and SIGTERM as a request to stop, for every wait on this board.
///
/// The handler only sets a flag. It is installed without `SA_RESTART`, so a signal ends the
/// `poll(2)` or sleep the process is in with `EINTR`; `MonotonicClock.sleep` and the TCP and
/// TLS transports' waits then return at once when a stop was requested, and the caller (the
/// device flow, the stand-ins) sees the flag between steps and stops cleanly.
public enum StopSignals {
    private static let requested = Atomic<Bool>(false)

    /// Whether SIGINT or SIGTERM has arrived.
    public static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Routes SIGINT and SIGTERM to `isRequested`, and ignores SIGPIPE (a closed pipe or
    /// socket is then an error from `write`, not the end of the process).
    public static func install() {
        signal(SIGPIPE, SIG_IGN)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in StopSignals.requested.store(true, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }
}
