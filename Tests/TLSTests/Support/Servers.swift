import Foundation
import Glibc
import Testing

/// A real mosquitto on a free loopback port, with TLS and client certificates required.
/// `stop()` it in a `defer`; `deinit` stops it too, and it runs under `timeout`, so that a
/// crashed test run leaves no broker behind for long.
///
/// Started with `posix_spawn` and an empty signal mask: Foundation's `Process` passes on the
/// calling thread's mask, and test threads block SIGTERM, which mosquitto would then never see.
final class Broker {
    static let executable = "/usr/sbin/mosquitto"

    let port: UInt16
    let logPath: String
    private var pid: pid_t

    /// Starts mosquitto with `certificate`/`key` as the server's identity, trusting `clientCA`
    /// for client certificates. `tlsVersion` is mosquitto's minimum version.
    init(pki: PKI, certificate: String, key: String, clientCA: String? = nil, tlsVersion: String = "tlsv1.2") throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw FixtureError(description: "mosquitto is not installed at \(Self.executable) (needed for the TLS tests): apt-get install mosquitto")
        }
        var lastLog = ""
        for _ in 0..<5 {
            let port = try freePort()
            let name = "mosquitto-\(port)-\(UInt32.random(in: 0...UInt32.max))"
            let configPath = pki.path(name + ".conf")
            let logPath = pki.path(name + ".log")
            var config = """
                log_dest stderr
                log_type all
                listener \(port) 127.0.0.1
                cafile \(clientCA ?? pki.root)
                certfile \(certificate)
                keyfile \(key)
                require_certificate true
                tls_version \(tlsVersion)
                use_identity_as_username true

                """
            if getuid() == 0 { config = "user root\n" + config }
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            let arguments = Tools.find("timeout").map { [$0, "300", Self.executable, "-c", configPath] }
                ?? [Self.executable, "-c", configPath]
            let pid = try spawn(arguments, output: logPath)
            // Ready when it says so; gone when the port was taken meanwhile (then try another).
            let deadline = Date().addingTimeInterval(10)
            var exited = false
            while Date() < deadline {
                let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                if text.contains(" running") {
                    self.port = port
                    self.logPath = logPath
                    self.pid = pid
                    return
                }
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    exited = true
                    break
                }
                usleep(10_000)
            }
            lastLog = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if !exited { Self.terminate(pid) }
        }
        throw FixtureError(description: "mosquitto did not start; its log:\n\(lastLog)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        if pid > 0 {
            Self.terminate(pid)
            pid = 0
        }
    }

    deinit { stop() }

    /// SIGTERM, then SIGKILL if it has not exited within 3 s; reaps it.
    private static func terminate(_ pid: pid_t) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<300 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
    }
}

/// Starts `arguments` with stdout and stderr to `output`, stdin from /dev/null, an empty
/// signal mask and default signal handling.
func spawn(_ arguments: [String], output: String) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var all = sigset_t()
    sigfillset(&all)
    sigdelset(&all, SIGKILL)
    sigdelset(&all, SIGSTOP)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard result == 0 else { throw FixtureError(description: "cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
    return pid
}

/// A loopback port nothing listens on (at the moment of the call).
func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FixtureError(description: "socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw FixtureError(description: "bind: \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

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

    init(_ behaviour: Behaviour) throws {
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
            self.serve(listener, behaviour)
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
