import DeviceCore
import Foundation
import Glibc
import LinuxBoard
import TestSupport
import Testing

/// Heap allocations per QoS 1 publish once connected: the goal is 0.
///
/// Method: `alloc-count.c` is compiled into a shared library that replaces malloc, calloc,
/// realloc, the aligned allocators and free, counting calls made by one thread between
/// `alloccount_start()` and `alloccount_stop()`. The test runs this test binary again as a child
/// process with the library in `LD_PRELOAD` and a port in the environment; in the child, this
/// same test connects an `MQTTClient<TCPTransport, MonotonicClock>` to the parent's mosquitto,
/// warms up (first-use metadata, lazily built tables), then counts the allocations of N
/// publishes and their PUBACKs (and, in a second phase, N publishes coming back through a
/// subscription: delivery and the PUBACK the client owes), and reports the figures to the parent.
///
/// Swift Testing installs a `swift_willThrow` hook that captures a backtrace, on the heap, for
/// every error thrown in the process; each `.backPressure` the loop catches would be charged
/// one allocation that the session and driver do not make. So each phase runs twice: once
/// as is (the figure with the hook, reported for reference), and once with the hook suspended
/// around the measured loop (the figure for the code under test, which must be 0).
@Suite("Integration: heap allocations per publish", .serialized)
struct AllocationTests {
    static let measured = 1_000
    static let warmUp = 100

    @Test func publishAllocatesNothingAfterConnect() throws {
        let environment = ProcessInfo.processInfo.environment
        if let port = environment["ALLOC_PROBE_PORT"].flatMap(UInt16.init), let output = environment["ALLOC_PROBE_OUT"] {
            try Self.probe(port: port, output: output)
            return
        }

        let broker = try Mosquitto.start()
        defer { broker.stop() }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("alloc-count.c").path
        let library = "\(broker.directory)/liballoccount.so"
        guard let compiler = ["/usr/bin/cc", "/usr/bin/gcc"].first(where: FileManager.default.isExecutableFile) else {
            Issue.record("no C compiler (/usr/bin/cc) to build the allocation counter; install gcc")
            return
        }
        let build = try run(compiler, ["-O2", "-shared", "-fPIC", "-o", library, source], environment: [:], log: "\(broker.directory)/cc.txt")
        try #require(build == 0, "building \(source) failed:\n\(contents("\(broker.directory)/cc.txt"))")

        let results = "\(broker.directory)/allocations.txt"
        var childEnvironment = environment
        childEnvironment["LD_PRELOAD"] = library
        childEnvironment["ALLOC_PROBE_PORT"] = String(broker.port)
        childEnvironment["ALLOC_PROBE_OUT"] = results
        let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let status = try run(
            me, ["--testing-library", "swift-testing", "--filter", "publishAllocatesNothingAfterConnect"],
            environment: childEnvironment, log: "\(broker.directory)/child.txt")
        let report = contents(results)
        let succeeded: Bool = status == 0 && !report.isEmpty
        try #require(succeeded, "the probe process failed (\(status)):\n\(contents("\(broker.directory)/child.txt"))")

        var figures = [String: [Int]]()
        for line in report.split(separator: "\n") {
            let fields = line.split(separator: " ")
            figures[String(fields[0])] = fields.dropFirst().compactMap { Int($0) }
        }
        for phase in ["publish", "roundtrip"] {
            let values = try #require(figures[phase], "no \(phase) figure in \(report)")
            try #require(values.count == 5, "\(phase): \(values)")
            let (allocations, frees, bytes, throwsCaught, withHook) = (values[0], values[1], values[2], values[3], values[4])
            print("""
                allocations, \(phase): \(allocations) mallocs, \(frees) frees, \(bytes) bytes over \(Self.measured) QoS 1 messages \
                = \(Double(allocations) / Double(Self.measured)) per message; with Swift Testing's throw hook in place: \(withHook) \
                (\(throwsCaught) back-pressure errors caught)
                """)
            #expect(allocations == 0, "\(phase): \(allocations) heap allocations in \(Self.measured) publishes after connect")
        }
    }

    // MARK: In the child process

    private typealias StartCounting = @convention(c) () -> Void
    private typealias StopCounting = @convention(c) (UnsafeMutablePointer<UInt>?, UnsafeMutablePointer<UInt>?) -> UInt

    private static func probe(port: UInt16, output: String) throws {
        guard let startSymbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "alloccount_start"),
            let stopSymbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "alloccount_stop")
        else {
            Issue.record("liballoccount.so is not preloaded (LD_PRELOAD=\(ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? ""))")
            return
        }
        let start = unsafeBitCast(startSymbol, to: StartCounting.self)
        let stop = unsafeBitCast(stopSymbol, to: StopCounting.self)
        var report = ""

        for (phase, subscribe) in [("publish", false), ("roundtrip", true)] {
            let c = ProbeClient(port: port, clientID: "alloc-\(phase)", topic: "alloc/\(phase)", subscribe: subscribe)
            try c.connect()
            try #require(try c.exchange(count: warmUp, messages: subscribe).finished, "warm-up of \(phase)")
            // As is, with Swift Testing's hook on thrown errors.
            start()
            let first = try c.exchange(count: measured, messages: subscribe)
            let withHook = stop(nil, nil)
            try #require(first.finished, "\(phase) did not finish")
            // With the hook suspended: what the session, the driver and the board allocate.
            var frees: UInt = 0
            var bytes: UInt = 0
            let hooks = ThrowHooks()
            hooks.suspend()
            start()
            let second = try c.exchange(count: measured, messages: subscribe)
            let allocations = stop(&frees, &bytes)
            hooks.restore()
            try #require(second.finished, "\(phase) did not finish")
            c.client.disconnect()
            report += "\(phase) \(allocations) \(frees) \(bytes) \(second.backPressure) \(withHook)\n"
        }
        try report.write(toFile: output, atomically: true, encoding: .utf8)
    }

    /// Runs `executable` to completion with its output in `log`; returns the exit status.
    private func run(_ executable: String, _ arguments: [String], environment: [String: String], log: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = environment }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}

/// A client without recording, so that only the session, the driver and the board run in
/// the measured loop.
private final class ProbeClient {
    let buffers = SessionBuffers(receive: 4096, transmit: 1024, outbox: 16 * 64, window: 16)
    let clientID: PinnedBytes
    let topic: PinnedBytes
    let subscriptions = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: 1)
    let payload = CounterPayload()
    let clock = MonotonicClock()
    var client: MQTTClient<TCPTransport, MonotonicClock>

    init(port: UInt16, clientID id: String, topic name: String, subscribe: Bool) {
        clientID = PinnedBytes(id)
        topic = PinnedBytes(name)
        subscriptions.initialize(repeating: MQTTSubscription(filter: topic.view, qos: .atLeastOnce))
        let configuration = MQTTSessionConfiguration(
            connect: MQTTConnect(clientID: clientID.view, keepAlive: 30),
            subscriptions: subscribe ? MQTTTopicFilterList(UnsafeBufferPointer(subscriptions)) : nil)
        client = MQTTClient(
            session: MQTTSession(configuration: configuration, memory: buffers.memory),
            transport: TCPTransport(host: "127.0.0.1", port: port), clock: clock)
        client.ioTimeout = DeviceDuration.milliseconds(200)
    }

    deinit { subscriptions.deallocate() }

    func connect() throws {
        var subscribed = client.session.configuration.subscriptions == nil
        try client.connect()
        let deadline = clock.now() + DeviceDuration.seconds(5)
        while !subscribed && clock.now() < deadline {
            try client.poll(until: clock.now() + DeviceDuration.milliseconds(100)) { if case .subscribed = $0 { subscribed = true } }
        }
    }

    /// Publishes `count` QoS 1 messages with back-pressure and waits for every PUBACK (and, if
    /// `messages`, every delivery back). Allocates nothing itself: the handler counts in locals.
    func exchange(count: Int, messages: Bool) throws -> (finished: Bool, backPressure: Int) {
        var backPressure = 0
        var next = 1
        var acknowledged = 0
        var received = 0
        let deadline = clock.now() + DeviceDuration.seconds(20)
        while acknowledged < count || (messages && received < count) {
            if clock.now() > deadline { return (false, backPressure) }
            if next <= count {
                do throws(MQTTSessionError) {
                    _ = try client.session.publish(topic: topic.view, payload: payload.view(next))
                    next += 1
                    continue
                } catch .backPressure {
                    backPressure += 1  // window full: poll for PUBACKs
                }
            }
            try client.poll(until: clock.now() + DeviceDuration.milliseconds(100)) { event in
                switch event {
                case .published: acknowledged += 1
                case .message: received += 1
                default: break
                }
            }
        }
        return (true, backPressure)
    }
}

/// The Swift runtime's hooks called on every `throw` (`_swift_willThrow`, and
/// `_swift_willThrowTypedImpl` for typed throws), which Swift Testing sets to record backtraces.
private final class ThrowHooks {
    private var slots: [UnsafeMutablePointer<UnsafeRawPointer?>] = []
    private var saved: [UnsafeRawPointer?] = []

    init() {
        for name in ["_swift_willThrow", "_swift_willThrowTypedImpl"] {
            if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) {
                slots.append(symbol.assumingMemoryBound(to: UnsafeRawPointer?.self))
            }
        }
        saved.reserveCapacity(slots.count)
    }

    func suspend() {
        saved = slots.map(\.pointee)
        for slot in slots { slot.pointee = nil }
    }

    func restore() {
        for (slot, value) in zip(slots, saved) { slot.pointee = value }
    }
}
