import Foundation
import Glibc

// What the test suites share to run other programs: finding and running tools, spawning
// long-running servers with a clean signal state, a free loopback port, clean-up at exit.

/// A failure of the test fixtures themselves (a missing tool, a tool that failed, a server
/// that did not start).
public struct FixtureError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
    public init(_ description: String) { self.description = description }
}

public enum Tools {
    /// The executable `name` in PATH (or the usual system directories).
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        for directory in directories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `executable` in `directory` with the test process's environment plus `environment`
    /// and stdin from /dev/null; returns its exit status and combined output.
    public static func run(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
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
}

/// Starts `arguments` with stdout and stderr to `output`, stdin from /dev/null, an empty
/// signal mask and default signal handling, and a minimal PATH.
///
/// Not Foundation's `Process`: it passes on the calling thread's signal mask, and test threads
/// block SIGTERM, which a server such as mosquitto would then never see.
public func spawn(_ arguments: [String], output: String) throws -> pid_t {
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

/// SIGTERM to `pid`, then SIGKILL if it has not exited within 3 s; reaps it.
public func terminate(_ pid: pid_t) {
    kill(pid, SIGTERM)
    var status: Int32 = 0
    for _ in 0..<300 {
        if waitpid(pid, &status, WNOHANG) == pid { return }
        usleep(10_000)
    }
    kill(pid, SIGKILL)
    _ = waitpid(pid, &status, 0)
}

/// A loopback TCP port nobody listens on at the moment of the call (bound to port 0 on
/// 127.0.0.1, read back, closed).
public func freeLoopbackPort() throws -> UInt16 {
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

private let exitActions = NSLock()
nonisolated(unsafe) private var exitBlocks: [@Sendable () -> Void] = []

/// Runs `block` when the test process exits normally (blocks run in the order registered).
public func atExit(_ block: @escaping @Sendable () -> Void) {
    exitActions.withLock {
        if exitBlocks.isEmpty { atexit { exitActions.withLock { exitBlocks.forEach { $0() } } } }
        exitBlocks.append(block)
    }
}
