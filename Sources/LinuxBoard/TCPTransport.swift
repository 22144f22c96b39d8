#if canImport(Glibc)
import Glibc
#endif
import DeviceCore

/// `DeviceTransport` over a plain TCP socket on Linux.
///
/// `open()` resolves the host with `getaddrinfo`, tries each address with a non-blocking
/// `connect` bounded by `connectTimeout`, and sets `TCP_NODELAY` (MQTT packets are small and
/// latency matters more than coalescing). The socket stays non-blocking: `send` and `receive`
/// wait with `poll(2)` for at most the timeout the caller gives. Writes use `MSG_NOSIGNAL`, so a
/// closed peer is a `closedByPeer` error, never a `SIGPIPE`.
///
/// After `open()`, `send` and `receive` allocate nothing.
public struct TCPTransport: DeviceTransport {
    /// The system call a failure comes from.
    public enum Operation: String, Sendable, Equatable {
        case socket, connect, setOption = "setsockopt", send, receive, poll
    }

    /// Why the transport failed, with what is needed to fix it in `description`.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// `getaddrinfo` could not resolve `host`; `message` is its explanation.
        case dnsFailure(host: String, message: String)
        /// Every address of `host` refused the connection: nothing listens on `port`.
        case connectionRefused(host: String, port: UInt16)
        /// `operation` did not complete within its timeout (for `connect`, `connectTimeout`).
        case timedOut(Operation)
        /// The server closed the connection (or reset it).
        case closedByPeer
        /// A system call failed with `errno`.
        case io(Operation, errno: Int32)

        public var description: String {
            switch self {
            case .dnsFailure(let host, let message):
                return "cannot resolve host \"\(host)\": \(message). Check the host name and the DNS configuration (/etc/resolv.conf, /etc/hosts)."
            case .connectionRefused(let host, let port):
                return "\(host):\(port) refused the connection: nothing is listening on port \(port). Check the port number and that the server is running and listening on that address."
            case .timedOut(let operation):
                if operation == .connect {
                    return "connecting timed out: the server did not answer within the connect timeout. Check that the host is reachable (firewall, routing, VPN), or raise `connectTimeout`."
                }
                return "\(operation.rawValue) timed out: the connection made no progress within the timeout. Check the network, or raise the timeout."
            case .closedByPeer:
                return "the server closed the connection. Its log says why: refused credentials, another client taking over the same client id, a protocol error, or keep-alive expiry."
            case .io(let operation, let code):
                return "\(operation.rawValue) failed: \(String(cString: strerror(code))) (errno \(code)). Check the network and the process limits (open files)."
            }
        }
    }

    public private(set) var host: String
    public private(set) var port: UInt16
    /// Longest time `open()` spends connecting, over all of the host's addresses.
    public var connectTimeout: DeviceDuration
    /// The socket, or -1 when closed. Exposed so that a test can break the connection under
    /// the client (e.g. `shutdown(fd, SHUT_RDWR)`) or a program can `poll` on it with other files.
    public private(set) var fileDescriptor: Int32 = -1

    public init(host: String, port: UInt16, connectTimeout: DeviceDuration = .seconds(10)) {
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
    }

    /// Points the next `open` at `host`:`port` (the view is copied).
    public mutating func setEndpoint(host: ByteView, port: UInt16) {
        self.host = String(decoding: UnsafeRawBufferPointer(start: host.baseAddress, count: host.count), as: UTF8.self)
        self.port = port
    }

    // MARK: Open and close

    /// Resolves the host and connects, giving up after `connectTimeout` or `timeout`,
    /// whichever is shorter.
    public mutating func open(timeout: DeviceDuration = .forever) throws(Failure) {
        close()
        let clock = MonotonicClock()
        let deadline = clock.now() + min(connectTimeout, timeout)

        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        if status != 0 {
            let message = status == EAI_SYSTEM
                ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            throw .dnsFailure(host: host, message: message)
        }
        defer { freeaddrinfo(list) }

        var lastFailure = Failure.dnsFailure(host: host, message: "no address")
        var refused = false
        var node = list
        while let info = node {
            node = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if fd < 0 {
                lastFailure = .io(.socket, errno: errno)
                continue
            }
            do throws(Failure) {
                try Self.connect(fd, to: info.pointee.ai_addr, length: info.pointee.ai_addrlen, deadline: deadline, clock: clock)
                var one: Int32 = 1
                if setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                    throw .io(.setOption, errno: errno)
                }
                fileDescriptor = fd
                return
            } catch {
                _ = Glibc.close(fd)
                if case .io(.connect, let code) = error, code == ECONNREFUSED {
                    refused = true
                } else {
                    lastFailure = error
                }
                if case .timedOut = error { break }  // the deadline covers all addresses
            }
        }
        if refused { throw .connectionRefused(host: host, port: port) }
        throw lastFailure
    }

    private static func connect(
        _ fd: Int32, to address: UnsafeMutablePointer<sockaddr>?, length: socklen_t, deadline: DeviceInstant, clock: MonotonicClock
    ) throws(Failure) {
        if Glibc.connect(fd, address, length) == 0 { return }
        guard errno == EINPROGRESS || errno == EINTR else { throw .io(.connect, errno: errno) }
        // Connection in progress: writable means it finished, one way or the other.
        while true {
            let remaining = deadline - clock.now()
            // SIGINT/SIGTERM end the wait at once (`wait` returns false), and the attempt with it.
            if remaining <= .zero || StopSignals.isRequested { throw .timedOut(.connect) }
            let ready = try wait(fd, for: Int16(POLLOUT), timeout: remaining)
            if ready { break }
        }
        var code: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size) != 0 { throw .io(.connect, errno: errno) }
        if code != 0 { throw .io(.connect, errno: code) }
    }

    public mutating func close() {
        guard fileDescriptor >= 0 else { return }
        _ = Glibc.close(fileDescriptor)
        fileDescriptor = -1
    }

    // MARK: Bytes

    public mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(Failure) -> Int {
        guard fileDescriptor >= 0 else { throw .io(.send, errno: EBADF) }
        if bytes.isEmpty { return 0 }
        var waited = false
        while true {
            let sent = Glibc.send(fileDescriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if sent >= 0 { return sent }
            switch errno {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                // Wait once for room; if none came within the timeout, report 0 bytes taken.
                if waited { return 0 }
                waited = true
                if try !Self.wait(fileDescriptor, for: Int16(POLLOUT), timeout: timeout) { return 0 }
            case EPIPE, ECONNRESET:
                throw .closedByPeer
            default:
                throw .io(.send, errno: errno)
            }
        }
    }

    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(Failure) -> Int {
        guard fileDescriptor >= 0 else { throw .io(.receive, errno: EBADF) }
        if buffer.isEmpty {
            // Nothing can be taken; a 0-byte recv would look like end of stream.
            _ = try Self.wait(fileDescriptor, for: Int16(POLLIN), timeout: timeout)
            return 0
        }
        var waited = false
        while true {
            let received = recv(fileDescriptor, buffer.baseAddress, buffer.count, 0)
            if received > 0 { return received }
            if received == 0 { throw .closedByPeer }
            switch errno {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                if waited { return 0 }
                waited = true
                if try !Self.wait(fileDescriptor, for: Int16(POLLIN), timeout: timeout) { return 0 }
            case ECONNRESET, EPIPE:
                throw .closedByPeer
            default:
                throw .io(.receive, errno: errno)
            }
        }
    }

    /// Waits with `poll(2)` until `fd` is ready for `events` (or has an error or hang-up, which
    /// the following call reports); `false` when `timeout` passed first or SIGINT/SIGTERM asked
    /// to stop (`StopSignals`).
    private static func wait(_ fd: Int32, for events: Int16, timeout: DeviceDuration) throws(Failure) -> Bool {
        let clock = MonotonicClock()
        let deadline = clock.now() + timeout
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while !StopSignals.isRequested {
            var remaining = (deadline - clock.now()).milliseconds
            if remaining < 0 { remaining = 0 }
            let result = poll(&entry, 1, Int32(clamping: remaining))
            if result > 0 { return true }
            if result == 0 { return false }
            if errno != EINTR { throw .io(.poll, errno: errno) }
        }
        return false
    }
}
