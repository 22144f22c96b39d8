import DeviceCore
import Glibc
@testable import StandIn
import Testing

// The rule the DPS stand-in follows while accept(2) fails (EMFILE, ENFILE): pause the listener,
// retry every 250 ms or when a connection closes, one log line when an episode begins and one
// when it ends. (The real thing,
// under `prlimit --nofile`, is in scripts/e2e-test.sh section 2.)

@Suite("DPS stand-in: accept back-off")
struct AcceptBackoffTests {
    static func at(_ milliseconds: UInt32) -> DeviceInstant { DeviceInstant(milliseconds: milliseconds) }

    /// An episode begins at the first failure and ends when the backlog is drained, however
    /// many connections get in (and attempts fail) in between.
    @Test func oneEpisodeLogsOnceWhenItBeginsAndOnceWhenItEnds() {
        var backoff = AcceptBackoff()
        #expect(backoff.mayAccept(at: Self.at(1000)))
        #expect(backoff.acceptFailed(errno: ENFILE, openConnections: 3, at: Self.at(1000))
            == "accept failed: ENFILE (Too many open files in system: the system's limit of open files), with 3 connections open: new clients wait in the listen backlog; trying again every 0.25 s and whenever a connection closes")
        #expect(!backoff.mayAccept(at: Self.at(1249)))
        #expect(backoff.mayAccept(at: Self.at(1250)))
        #expect(backoff.acceptFailed(errno: ENFILE, openConnections: 3, at: Self.at(1250)) == nil)
        #expect(backoff.acceptFailed(errno: ENFILE, openConnections: 3, at: Self.at(1500)) == nil)
        #expect(backoff.retryAt == Self.at(1750))
        #expect(backoff.caughtUp(at: Self.at(3500)) == "accepting again: the backlog is drained, 2.5 s after accept first failed (3 failed attempts)")
        #expect(backoff.caughtUp(at: Self.at(3600)) == nil)
        #expect(backoff.mayAccept(at: Self.at(3600)))
        // A new episode logs again.
        #expect(backoff.acceptFailed(errno: ENFILE, openConnections: 1, at: Self.at(5000))?.hasPrefix("accept failed: ENFILE") == true)
        #expect(backoff.caughtUp(at: Self.at(5001)) == "accepting again: the backlog is drained, 0.001 s after accept first failed (1 failed attempt)")
    }

    @Test func aClosedConnectionEndsThePauseAtOnce() {
        var backoff = AcceptBackoff()
        _ = backoff.acceptFailed(errno: EMFILE, openConnections: 1, at: Self.at(0))
        #expect(!backoff.mayAccept(at: Self.at(1)))
        backoff.connectionClosed()
        #expect(backoff.mayAccept(at: Self.at(1)))
        // Still the same episode until the backlog is drained.
        #expect(backoff.acceptFailed(errno: EMFILE, openConnections: 1, at: Self.at(2)) == nil)
    }

    @Test func emfileNamesTheProcessLimit() {
        var limit = rlimit()
        #expect(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(AcceptBackoff.describe(EMFILE) == "EMFILE (Too many open files: the process's limit of \(limit.rlim_cur) file descriptors, RLIMIT_NOFILE)")
        #expect(AcceptBackoff.describe(ENOMEM) == "errno 12 (Cannot allocate memory)")
    }

    @Test func peerAddressesAsText() {
        var v4 = sockaddr_storage()
        withUnsafeMutablePointer(to: &v4) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                $0.pointee.sin_family = sa_family_t(AF_INET)
                $0.pointee.sin_addr.s_addr = UInt32(0x7F00_0002).bigEndian
            }
        }
        #expect(SocketAccept.text(of: &v4) == "127.0.0.2")
        var v6 = sockaddr_storage()
        withUnsafeMutablePointer(to: &v6) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                $0.pointee.sin6_family = sa_family_t(AF_INET6)
                $0.pointee.sin6_addr.__in6_u.__u6_addr8.15 = 1
            }
        }
        #expect(SocketAccept.text(of: &v6) == "::1")
        var unix = sockaddr_storage()
        unix.ss_family = sa_family_t(AF_UNIX)
        #expect(SocketAccept.text(of: &unix) == "client")
    }
}
