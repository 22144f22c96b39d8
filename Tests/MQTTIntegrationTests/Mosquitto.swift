import Foundation
import Glibc
import DeviceCore
import LinuxBoard

/// A mosquitto broker of the test's own, on a free loopback port, plain TCP, no persistence.
/// Start it with `Mosquitto.start()` and stop it in a `defer`, so it goes even when the test fails.
final class Mosquitto {
    static let executable = "/usr/sbin/mosquitto"

    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    let port: UInt16
    let directory: String
    private let process: Process

    /// Starts mosquitto with `settings` added to the configuration and waits until its port
    /// accepts connections.
    static func start(_ settings: [String] = []) throws -> Mosquitto {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw StartFailure(description: """
                mosquitto is not installed (no \(executable)). These tests need a real broker: \
                run `make setup` (scripts/setup.sh installs the mosquitto package) or `apt-get install mosquitto`.
                """)
        }
        return try Mosquitto(settings: settings)
    }

    private init(settings: [String]) throws {
        var template = Array("/tmp/mqtt-it-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StartFailure(description: "mkdtemp failed: errno \(errno)")
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
                    throw StartFailure(description: "mosquitto exited with status \(process.terminationStatus) on port \(port):\n\(log())")
                }
                if clock.now() > deadline {
                    stop()
                    throw StartFailure(description: "mosquitto did not accept connections on port \(port) within 10 s (\(error)):\n\(log())")
                }
                usleep(20_000)
            }
        }
    }

    /// The broker's log and standard error, for failure messages.
    func log() -> String {
        let files = ["stderr.txt", "mosquitto.log"].map { "\(directory)/\($0)" }
        return files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n")
    }

    /// Stops the broker and removes its files.
    func stop() {
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

/// A loopback TCP port nobody listens on right now (bind to port 0, read it back, close).
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Mosquitto.StartFailure(description: "socket: errno \(errno)") }
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
    guard result == 0 else { throw Mosquitto.StartFailure(description: "bind/getsockname: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}
