import Foundation
import Glibc

// Certificates and a real mosquitto with TLS for the modem service tests, made the way
// Tests/TLSTests/Support does (openssl on the command line, mosquitto started with
// posix_spawn and an empty signal mask), trimmed to what these tests use.

struct FixtureError: Error, CustomStringConvertible, Sendable {
    var description: String
}

nonisolated(unsafe) private var removeAtExit: String?

/// A root CA, an unrelated CA, a server certificate for localhost/127.0.0.1, and client
/// certificates device1 (the modem's identity) and subscriber, all EC P-256; made once per run.
struct ModemPKI: Sendable {
    let directory: String

    func path(_ name: String) -> String { directory + "/" + name }

    var root: String { path("root.pem") }
    var unrelatedRoot: String { path("unrelated.pem") }
    var server: String { path("server.pem") }
    var serverKey: String { path("server.key") }
    var device: String { path("device1.pem") }
    var deviceKey: String { path("device1.key") }
    var subscriber: String { path("subscriber.pem") }
    var subscriberKey: String { path("subscriber.key") }

    static func shared() throws -> ModemPKI { try made.get() }

    private static let made: Result<ModemPKI, FixtureError> = make()

    private static func make() -> Result<ModemPKI, FixtureError> {
        guard let openssl = findTool("openssl") else {
            return .failure(FixtureError(description: "openssl is not installed (needed for the test certificates): apt-get install openssl"))
        }
        let directory = NSTemporaryDirectory() + "modem-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let result = try runTool("/bin/sh", ["-ec", script], in: directory, environment: ["OPENSSL": openssl])
            if result.status != 0 {
                return .failure(FixtureError(description: "making the test certificates failed (status \(result.status)):\n\(result.output)"))
            }
        } catch {
            return .failure(FixtureError(description: "cannot make the test certificates: \(error)"))
        }
        removeAtExit = directory
        atexit {
            if let directory = removeAtExit { try? FileManager.default.removeItem(atPath: directory) }
        }
        return .success(ModemPKI(directory: directory))
    }

    static let script = #"""
    cat > server-ext.cnf <<'X'
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature
    extendedKeyUsage = serverAuth
    subjectAltName = DNS:localhost, IP:127.0.0.1
    X
    cat > client-ext.cnf <<'X'
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature
    extendedKeyUsage = clientAuth
    X
    for ca in root unrelated; do
        $OPENSSL req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
            -subj "/CN=Modem Test $ca CA" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout $ca.key -out $ca.pem
    done
    $OPENSSL req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    $OPENSSL x509 -req -sha256 -days 825 -in server.csr -CA root.pem -CAkey root.key -set_serial 0x2001 \
        -extfile server-ext.cnf -out server.pem
    serial=0x4001
    for client in device1 subscriber; do
        $OPENSSL req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$client" -keyout $client.key -out $client.csr
        $OPENSSL x509 -req -sha256 -days 365 -in $client.csr -CA root.pem -CAkey root.key -set_serial $serial \
            -extfile client-ext.cnf -out $client.pem
        serial=0x4002
    done
    """#
}

func findTool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    for directory in directories where FileManager.default.isExecutableFile(atPath: directory + "/" + name) {
        return directory + "/" + name
    }
    return nil
}

func runTool(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let outputPath = directory + "/.run-\(UInt32.random(in: 0...UInt32.max)).log"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try? output.close()
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(atPath: outputPath)
    return (process.terminationStatus, text)
}

/// mosquitto on a free loopback port with TLS, client certificates required (signed by the
/// PKI's root) and the certificate's CN as user name. `stop()` it in a `defer`.
final class TLSBroker: @unchecked Sendable {
    static let executable = "/usr/sbin/mosquitto"

    let port: UInt16
    let logPath: String
    private var pid: pid_t

    init(pki: ModemPKI) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw FixtureError(description: "mosquitto is not installed at \(Self.executable): apt-get install mosquitto")
        }
        var lastLog = ""
        for _ in 0..<5 {
            let port = try loopbackPort()
            let name = "mosquitto-\(port)-\(UInt32.random(in: 0...UInt32.max))"
            let configPath = pki.path(name + ".conf")
            let logPath = pki.path(name + ".log")
            var config = """
                log_dest stderr
                log_type all
                persistence false
                listener \(port) 127.0.0.1
                cafile \(pki.root)
                certfile \(pki.server)
                keyfile \(pki.serverKey)
                require_certificate true
                tls_version tlsv1.2
                use_identity_as_username true
                allow_anonymous true
                max_queued_messages 1000

                """
            if getuid() == 0 { config = "user root\n" + config }
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            let arguments = findTool("timeout").map { [$0, "120", Self.executable, "-c", configPath] }
                ?? [Self.executable, "-c", configPath]
            let pid = try spawn(arguments, output: logPath)
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

/// Starts `arguments` with output to `output`, an empty signal mask and default handlers.
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

/// A loopback port nothing listens on at the moment of the call (bound to port 0, read back, closed).
func loopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FixtureError(description: "socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let result = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard result == 0 else { throw FixtureError(description: "bind/getsockname: \(String(cString: strerror(errno)))") }
    return UInt16(bigEndian: address.sin_port)
}

/// A connected pair of Unix stream sockets: [device end, modem end].
func serialLinePair() throws -> (device: Int32, modem: Int32) {
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else {
        throw FixtureError(description: "socketpair: \(String(cString: strerror(errno)))")
    }
    return (fds[0], fds[1])
}
