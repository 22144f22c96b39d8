import Foundation
import Glibc
import DeviceCore
import LinuxBoard

/// A mosquitto broker of the test's own, on a free loopback port, plain TCP, no persistence.
/// Start it with `Mosquitto.start()` and stop it in a `defer`, so it goes even when the test fails.
public final class Mosquitto {
    public static let executable = "/usr/sbin/mosquitto"

    public let port: UInt16
    public let directory: String
    private let process: Process

    /// Starts mosquitto with `settings` added to the configuration and waits until its port
    /// accepts connections.
    public static func start(_ settings: [String] = []) throws -> Mosquitto {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw FixtureError(description: """
                mosquitto is not installed (no \(executable)). These tests need a real broker: \
                run `make setup` (scripts/setup.sh installs the mosquitto package) or `apt-get install mosquitto`.
                """)
        }
        return try Mosquitto(settings: settings)
    }

    private init(settings: [String]) throws {
        var template = Array("/tmp/mqtt-it-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw FixtureError(description: "mkdtemp failed: errno \(errno)")
        }
        directory = String(cString: made)
        port = try freeLoopbackPort()
        var lines = [
            "listener \(port) 127.0.0.1",
            "persistence false",
            "log_dest file \(directory)/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            // The subscribers take every message; let none be dropped for a full queue.
            "max_queued_messages 100000",
        ]
        if getuid() == 0 { lines.append("user root") }  // else mosquitto drops to user "mosquitto"
        if !settings.contains(where: { $0.hasPrefix("allow_anonymous") }) { lines.append("allow_anonymous true") }
        lines += settings
        let configuration = "\(directory)/mosquitto.conf"
        try (lines.joined(separator: "\n") + "\n").write(toFile: configuration, atomically: true, encoding: .utf8)

        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["-c", configuration]
        _ = FileManager.default.createFile(atPath: "\(directory)/stderr.txt", contents: nil)
        let output = FileHandle(forWritingAtPath: "\(directory)/stderr.txt")
        process.standardOutput = output
        process.standardError = output
        try process.run()

        // Wait until the port accepts a connection (or mosquitto gives up).
        let clock = MonotonicClock()
        let deadline = clock.now() + DeviceDuration.seconds(10)
        while true {
            var probe = TCPTransport(host: "127.0.0.1", port: port, connectTimeout: .milliseconds(500))
            do {
                try probe.open()
                probe.close()
                return
            } catch {
                if !process.isRunning {
                    throw FixtureError(description: "mosquitto exited with status \(process.terminationStatus) on port \(port):\n\(log())")
                }
                if clock.now() > deadline {
                    stop()
                    throw FixtureError(description: "mosquitto did not accept connections on port \(port) within 10 s (\(error)):\n\(log())")
                }
                usleep(20_000)
            }
        }
    }

    /// The broker's log and standard error, for failure messages.
    public func log() -> String {
        let files = ["stderr.txt", "mosquitto.log"].map { "\(directory)/\($0)" }
        return files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n")
    }

    /// Stops the broker and removes its files.
    public func stop() {
        if process.isRunning {
            // SIGKILL, not terminate(): a child spawned from a Swift concurrency thread inherits
            // its blocked signal mask, and mosquitto then never sees a SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A real mosquitto on a free loopback port, with TLS and client certificates required, the
/// certificate's CN as user name. `stop()` it in a `defer`; `deinit` stops it too, and it runs
/// under `timeout`, so that a crashed test run leaves no broker behind for long.
///
/// Started with `spawn` (an empty signal mask), so that SIGTERM stops it.
public final class TLSBroker: @unchecked Sendable {
    public static let executable = "/usr/sbin/mosquitto"

    public let port: UInt16
    public let logPath: String
    private var pid: pid_t

    /// Starts mosquitto with `certificate`/`key` as the server's identity, trusting `clientCA`
    /// for client certificates; `tlsVersion` is mosquitto's minimum version, `settings` more
    /// configuration lines. Its configuration and log go in `directory`.
    public init(directory: String, certificate: String, key: String, clientCA: String, tlsVersion: String = "tlsv1.2", settings: [String] = []) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw FixtureError(description: "mosquitto is not installed at \(Self.executable) (needed for the TLS broker tests): apt-get install mosquitto")
        }
        var lastLog = ""
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            let name = "mosquitto-\(port)-\(UInt32.random(in: 0...UInt32.max))"
            let configPath = directory + "/" + name + ".conf"
            let logPath = directory + "/" + name + ".log"
            var config = """
                log_dest stderr
                log_type all
                listener \(port) 127.0.0.1
                cafile \(clientCA)
                certfile \(certificate)
                keyfile \(key)
                require_certificate true
                tls_version \(tlsVersion)
                use_identity_as_username true

                """
            config += settings.map { $0 + "\n" }.joined()
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
            if !exited { terminate(pid) }
        }
        throw FixtureError(description: "mosquitto did not start; its log:\n\(lastLog)")
    }

    /// With a server certificate of the RSA family (`pki.server`, `pki.wrongNameServer`, …),
    /// trusting `clientCA` (default: the RSA root) for client certificates.
    public convenience init(pki: PKI, certificate: String, key: String, clientCA: String? = nil, tlsVersion: String = "tlsv1.2") throws {
        try self.init(directory: pki.directory, certificate: certificate, key: key, clientCA: clientCA ?? pki.root, tlsVersion: tlsVersion)
    }

    /// With the EC family's server certificate, trusting its root for client certificates;
    /// no persistence, anonymous clients allowed, up to 1000 queued messages (the modem tests).
    public convenience init(pki: PKI.EC) throws {
        try self.init(
            directory: pki.directory, certificate: pki.server, key: pki.serverKey, clientCA: pki.root,
            settings: ["persistence false", "allow_anonymous true", "max_queued_messages 1000"])
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func stop() {
        if pid > 0 {
            terminate(pid)
            pid = 0
        }
    }

    deinit { stop() }
}
