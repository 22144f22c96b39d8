#if canImport(Glibc)
import Glibc
#endif
import DeviceCore
import LinuxBoard

/// A command the user gave (`--body-command`), run with `/bin/sh -c` as a child in its own
/// process group: its standard input is given, its standard output and error are read (each
/// up to a limit), and a command that runs past its time, or a stop request (SIGINT/SIGTERM),
/// ends the whole group with SIGKILL. Nothing here throws: every way a command can end is a
/// `ShellCommand.Outcome` that the caller names to the user.
public struct ShellCommand: Sendable {
    /// How the command ended.
    public enum Ending: Equatable, Sendable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it (not one we sent).
        case signaled(Int32)
        /// It ran past `timeoutMilliseconds` and was killed.
        case timedOut
        /// SIGINT/SIGTERM reached the agent while it ran; it was killed.
        case stopped
        /// It could not be started (`/bin/sh` missing, no processes or pipes left): errno.
        case notStarted(Int32)
    }

    /// What the command did.
    public struct Outcome: Equatable, Sendable {
        public var ending: Ending
        public var standardOutput: [UInt8]
        public var standardError: [UInt8]
        /// Whether standard output passed `outputLimit` (what is kept is its start).
        public var outputTruncated: Bool
    }

    public let command: String
    /// Variables added to (or replacing ones in) the agent's own environment.
    public var environment: [(name: String, value: String)]
    public var timeoutMilliseconds: Int64
    /// Most bytes of standard output kept; more ends the read there and marks it truncated.
    public var outputLimit: Int
    /// Most bytes of standard error kept (the start; the rest is read and dropped).
    public var errorLimit: Int = 4096

    public init(_ command: String, environment: [(name: String, value: String)] = [], timeoutMilliseconds: Int64, outputLimit: Int) {
        self.command = command
        self.environment = environment
        self.timeoutMilliseconds = timeoutMilliseconds
        self.outputLimit = outputLimit
    }

    /// Runs the command with `input` on its standard input and waits for it to end.
    /// SIGPIPE is ignored from then on in this process: a command that exits without reading
    /// its input must not end the agent.
    public func run(input: [UInt8] = []) -> Outcome {
        signal(SIGPIPE, SIG_IGN)
        var outcome = Outcome(ending: .exited(0), standardOutput: [], standardError: [], outputTruncated: false)
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard Self.makePipe(&inPipe) else { outcome.ending = .notStarted(errno); return outcome }
        guard Self.makePipe(&outPipe) else { let e = errno; Self.close(inPipe); outcome.ending = .notStarted(e); return outcome }
        guard Self.makePipe(&errPipe) else { let e = errno; Self.close(inPipe + outPipe); outcome.ending = .notStarted(e); return outcome }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        posix_spawnattr_setpgroup(&attributes, 0)
        // The child starts with default dispositions and no blocked signals, whatever ours are.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let arguments = ["/bin/sh", "-c", command]
        let variables = Self.mergedEnvironment(environment)
        var pid: pid_t = 0
        let spawned = Self.withCStrings(arguments) { argv in
            Self.withCStrings(variables) { envp in posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp) }
        }
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attributes)
        Self.close([inPipe[0], outPipe[1], errPipe[1]])
        guard spawned == 0 else {
            Self.close([inPipe[1], outPipe[0], errPipe[0]])
            outcome.ending = .notStarted(spawned)
            return outcome
        }

        let clock = MonotonicClock()
        let deadline = clock.now() + .milliseconds(Int32(clamping: timeoutMilliseconds))
        var input = input[...]
        var writeEnd = inPipe[1]
        if input.isEmpty { Glibc.close(writeEnd); writeEnd = -1 } else { _ = fcntl(writeEnd, F_SETFL, O_NONBLOCK) }
        var readEnds = [outPipe[0], errPipe[0]]
        var killedFor: Ending?
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while readEnds.contains(where: { $0 >= 0 }) {
            if StopSignals.isRequested { killedFor = .stopped; break }
            let left = (deadline - clock.now()).milliseconds
            if left <= 0 { killedFor = .timedOut; break }
            var entries = [pollfd(fd: readEnds[0], events: Int16(POLLIN), revents: 0),
                           pollfd(fd: readEnds[1], events: Int16(POLLIN), revents: 0),
                           pollfd(fd: writeEnd, events: Int16(POLLOUT), revents: 0)]
            let ready = poll(&entries, 3, Int32(clamping: min(left, 200)))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            if entries[2].revents != 0 {
                let written = input.withUnsafeBytes { Glibc.write(writeEnd, $0.baseAddress, $0.count) }
                if written > 0 { input = input.dropFirst(written) }
                if written < 0 && errno != EAGAIN && errno != EINTR || input.isEmpty {
                    Glibc.close(writeEnd)  // done, or the command does not read its input (EPIPE)
                    writeEnd = -1
                }
            }
            for slot in 0..<2 where entries[slot].revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(readEnds[slot], $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 {
                    Glibc.close(readEnds[slot])
                    readEnds[slot] = -1
                    continue
                }
                if slot == 0 {
                    let room = outputLimit - outcome.standardOutput.count
                    outcome.standardOutput += chunk[..<min(count, room)]
                    if count > room {
                        outcome.outputTruncated = true
                        Glibc.close(readEnds[0])
                        readEnds[0] = -1
                    }
                } else {
                    let room = max(0, errorLimit - outcome.standardError.count)
                    outcome.standardError += chunk[..<min(count, room)]
                }
            }
        }
        Self.close(readEnds.filter { $0 >= 0 } + (writeEnd >= 0 ? [writeEnd] : []))
        // A command that closed its output may still be running: its time and a stop request
        // bound this wait too.
        var status: Int32 = 0
        while killedFor == nil {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno != EINTR) { break }
            if StopSignals.isRequested { killedFor = .stopped } else if clock.now() >= deadline { killedFor = .timedOut } else { usleep(5_000) }
        }
        if killedFor != nil {
            kill(-pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        if let killedFor {
            outcome.ending = killedFor
        } else if status & 0x7F == 0 {
            outcome.ending = .exited((status >> 8) & 0xFF)
        } else {
            outcome.ending = .signaled(status & 0x7F)
        }
        return outcome
    }

    /// The agent's environment with `additions` put in (replacing variables of the same name).
    static func mergedEnvironment(_ additions: [(name: String, value: String)]) -> [String] {
        var variables: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            if !additions.contains(where: { $0.name == name }) { variables.append(text) }
            entry += 1
        }
        return variables + additions.map { "\($0.name)=\($0.value)" }
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return body(&pointers)
    }

    /// A pipe whose ends are closed in the child after `dup2` (close-on-exec).
    static func makePipe(_ ends: inout [Int32]) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    static func close(_ descriptors: [Int32]) {
        for descriptor in descriptors where descriptor >= 0 { Glibc.close(descriptor) }
    }
}

extension ShellCommand.Outcome {
    /// The start of standard error as text, on one line, for a message to the user.
    public var errorText: String {
        let text = String(decoding: standardError, as: UTF8.self)
        return text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " / ")
    }
}

extension ShellCommand.Outcome {
    /// Why the command failed, in words that follow its name ("exited with status 2: …"), or
    /// `nil` when it exited 0. `timeoutSeconds` is the limit it ran under.
    public func failure(timeoutSeconds: Int64) -> String? {
        let stderr = errorText.isEmpty ? "" : ": \(errorText)"
        switch ending {
        case .exited(0): return nil
        case .exited(let status): return "exited with status \(status)\(stderr)"
        case .signaled(let signal): return "was ended by signal \(signal)\(stderr)"
        case .timedOut: return "ran past \(timeoutSeconds) s and was killed"
        case .stopped: return "was stopped (SIGINT/SIGTERM)"
        case .notStarted(let error): return "could not start /bin/sh (errno \(error))"
        }
    }
}
