import Foundation
import Glibc
import TestSupport

/// A plain TCP server on a loopback port that misbehaves in one chosen way, for the failure
/// tests that a real broker cannot stage.
final class RawListener: @unchecked Sendable {
    enum Behaviour: Sendable {
        /// Never accepts: the kernel completes TCP, nobody answers the ClientHello.
        case silent
        /// Accepts and closes at once.
        case acceptAndClose
        /// Answers the ClientHello with an HTTP error.
        case sendGarbage
        /// Reads the ClientHello, keeps it, and closes.
        case captureClientHello
    }

    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var captured: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)

    /// A listener that treats the first `connections` clients so (one after the other).
    init(_ behaviour: Behaviour, connections: Int = 1) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            close(fd)
            throw FixtureError(description: "bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
        if case .silent = behaviour {
            done.signal()
            return
        }
        let listener = fd
        Thread { [self] in
            for _ in 0..<connections { self.serve(listener, behaviour) }
            self.done.signal()
        }.start()
    }

    private func serve(_ listener: Int32, _ behaviour: Behaviour) {
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 10_000) == 1 else { return }
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        defer { close(client) }
        switch behaviour {
        case .silent, .acceptAndClose:
            return
        case .sendGarbage:
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = recv(client, &buffer, buffer.count, 0)
            let reply = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)
            _ = send(client, reply, reply.count, Int32(MSG_NOSIGNAL))
            usleep(200_000)
        case .captureClientHello:
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            // One TLS record: 5-byte header, then its length.
            while bytes.count < 5 || bytes.count < 5 + (Int(bytes[3]) << 8 | Int(bytes[4])) {
                var wait = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
                guard poll(&wait, 1, 5000) == 1 else { break }
                let count = recv(client, &buffer, buffer.count, 0)
                if count <= 0 { break }
                bytes += buffer[0..<count]
            }
            lock.lock()
            captured = bytes
            lock.unlock()
        }
    }

    /// The ClientHello record, once the connection is over.
    func clientHello() -> [UInt8] {
        _ = done.wait(timeout: .now() + 10)
        lock.lock()
        defer { lock.unlock() }
        return captured
    }

    func stop() {
        _ = done.wait(timeout: .now() + 10)
        close(fd)
    }
}

/// The parts of a TLS ClientHello the tests look at.
struct ClientHello {
    var clientVersion: UInt16 = 0
    var serverName: String?
    var extensionTypes: [UInt16] = []

    init?(record: [UInt8]) {
        var at = 0
        func byte() -> Int? {
            guard at < record.count else { return nil }
            defer { at += 1 }
            return Int(record[at])
        }
        func u16() -> Int? { guard let a = byte(), let b = byte() else { return nil }; return a << 8 | b }
        func skip(_ n: Int) -> Bool { at += n; return at <= record.count }
        // Record header: handshake (22), version, length; handshake header: ClientHello (1), 3-byte length.
        guard byte() == 22, skip(4), byte() == 1, skip(3) else { return nil }
        guard let version = u16() else { return nil }
        clientVersion = UInt16(version)
        guard skip(32), let sessionLength = byte(), skip(sessionLength),
              let suitesLength = u16(), skip(suitesLength),
              let compressionLength = byte(), skip(compressionLength) else { return nil }
        guard let extensionsLength = u16() else { return }
        let end = at + extensionsLength
        while at + 4 <= end {
            guard let type = u16(), let length = u16() else { return nil }
            extensionTypes.append(UInt16(type))
            if type == 0 {
                // server_name: list length, name type (0 = host_name), name length, name.
                let start = at
                guard u16() != nil, byte() == 0, let nameLength = u16(), at + nameLength <= record.count else { return nil }
                serverName = String(decoding: record[at..<(at + nameLength)], as: UTF8.self)
                at = start
            }
            guard skip(length) else { return nil }
        }
    }
}
