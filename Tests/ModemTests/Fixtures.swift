import Glibc
import TestSupport

// The certificates (`PKI.shared().ec`) and the TLS mosquitto (`TLSBroker(pki:)`) of these
// tests come from TestSupport; what is left here is the modem's own.

/// A connected pair of Unix stream sockets: [device end, modem end].
func serialLinePair() throws -> (device: Int32, modem: Int32) {
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else {
        throw FixtureError(description: "socketpair: \(String(cString: strerror(errno)))")
    }
    return (fds[0], fds[1])
}
