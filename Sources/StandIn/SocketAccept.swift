#if canImport(Glibc)
import Glibc
#endif

/// One connection taken from a listening socket with `accept(2)`, made non-blocking and
/// close-on-exec, with the peer's address as text for the logs.
enum SocketAccept {
    enum Outcome: Equatable {
        case accepted(fd: Int32, address: String)
        /// No connection is waiting (or one vanished before it was taken): try at the next poll.
        case nothingWaiting
        /// `accept` failed with `errno`, and will fail again: the connection stays in the backlog.
        case failed(errno: Int32)
    }

    static func next(from listener: Int32) -> Outcome {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                accept(listener, $0, &length)
            }
        }
        guard fd >= 0 else {
            let code = errno
            switch code {
            // ECONNABORTED: the client gave up while queued; the others are Linux's passing
            // network errors that accept(2) says to treat like EAGAIN.
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH:
                return .nothingWaiting
            default:
                return .failed(errno: code)
            }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return .accepted(fd: fd, address: text(of: &address))
    }

    /// `a.b.c.d` or the IPv6 address, or `client` for any other family.
    static func text(of address: inout sockaddr_storage) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = Int32(address.ss_family)
        let done: UnsafePointer<CChar>? = withUnsafePointer(to: &address) { raw in
            switch family {
            case AF_INET:
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                    withUnsafePointer(to: v4.pointee.sin_addr) { inet_ntop(AF_INET, $0, &buffer, socklen_t(buffer.count)) }
                }
            case AF_INET6:
                return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                    withUnsafePointer(to: v6.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &buffer, socklen_t(buffer.count)) }
                }
            default:
                return nil
            }
        }
        guard done != nil else { return "client" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
