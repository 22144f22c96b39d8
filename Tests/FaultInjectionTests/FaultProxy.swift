import Foundation
import Glibc
import TestSupport

/// A TCP fault proxy for tests, on loopback only: listens on a free 127.0.0.1 port and forwards
/// each accepted connection to `127.0.0.1:targetPort` (mosquitto), applying the faults of that
/// connection's `ConnectionPlan`.
///
/// One thread runs a `poll(2)` loop over the listener and every live connection. Each direction
/// of a connection is parsed into MQTT packets (fixed header + remaining length) and forwarded
/// packet by packet, so faults can act at packet boundaries: cut after N bytes or N packets, drop
/// packets of a type, stall (black-hole everything from a point on, keeping the sockets open),
/// delay, reset (SO_LINGER 0, so the client sees RST), refuse (accept and reset at once), flip a
/// byte. What was forwarded, dropped or swallowed is recorded per packet.
///
/// With `framing: .tlsRecords` (TLS hides the MQTT packets) the units are TLS records instead:
/// 5-byte header (content type, version, length) and body; counts and cuts are per record, and a
/// record's `type` is its content type (22 handshake, 20 change_cipher_spec, 21 alert, 23 data).
///
/// Bounded: the thread ends by itself after `lifetime`, and `stop()` ends it earlier.
final class FaultProxy: @unchecked Sendable {
    /// How each direction is cut into units.
    enum Framing: Sendable { case mqtt, tlsRecords }

    enum Direction: Int, Sendable, CustomStringConvertible {
        case toBroker = 0, toClient = 1
        var description: String { self == .toBroker ? "→broker" : "→client" }
    }

    /// Faults for one direction of one connection. Counts are of this direction only.
    struct DirectionPlan: Sendable {
        /// Close both sides once this many bytes have been forwarded (mid-packet if it falls there).
        var cutAfterBytes: Int?
        /// Close both sides once this many whole packets have been forwarded (0: at once).
        var cutAfterPackets: Int?
        /// Packet types (1…14) swallowed instead of forwarded, e.g. 4 for PUBACK.
        var dropTypes: Set<UInt8> = []
        /// After this many forwarded packets, swallow everything and keep the sockets open; an
        /// end of stream from this direction's source is not passed on either (a half-open link).
        var stallAfterPackets: Int?
        /// Holds every packet this long before forwarding it.
        var delayMilliseconds = 0
        /// XORs the byte at this offset of the forwarded stream with `flipMask`.
        var flipByteAt: Int?
        var flipMask: UInt8 = 0xFF

        init(
            cutAfterBytes: Int? = nil, cutAfterPackets: Int? = nil, dropTypes: Set<UInt8> = [],
            stallAfterPackets: Int? = nil, delayMilliseconds: Int = 0, flipByteAt: Int? = nil, flipMask: UInt8 = 0xFF
        ) {
            self.cutAfterBytes = cutAfterBytes
            self.cutAfterPackets = cutAfterPackets
            self.dropTypes = dropTypes
            self.stallAfterPackets = stallAfterPackets
            self.delayMilliseconds = delayMilliseconds
            self.flipByteAt = flipByteAt
            self.flipMask = flipMask
        }
    }

    /// Faults for one connection.
    struct ConnectionPlan: Sendable {
        var toBroker = DirectionPlan()
        var toClient = DirectionPlan()
        /// Cuts reset the connection (SO_LINGER 0: RST) instead of closing it (FIN).
        var reset = false
        /// Accept the connection and reset it at once, never reaching the broker.
        var refuse = false

        static let clean = ConnectionPlan()

        subscript(direction: Direction) -> DirectionPlan {
            direction == .toBroker ? toBroker : toClient
        }
    }

    enum Fate: Sendable { case forwarded, dropped, swallowed }

    /// One whole packet seen by the proxy (a packet cut short is recorded with its prefix).
    struct Record: Sendable {
        var connection: Int
        var direction: Direction
        var fate: Fate
        var bytes: [UInt8]
        /// Order among all records of the proxy, both directions (from 1).
        var sequence = 0
        var framing = Framing.mqtt
        /// MQTT packet type, or TLS content type.
        var type: UInt8 { framing == .mqtt ? bytes[0] >> 4 : bytes[0] }
        var dup: Bool { bytes[0] & 0x08 != 0 }
    }

    let port: UInt16
    let targetPort: UInt16
    let framing: Framing
    private let listener: Int32
    private let lock = NSLock()
    private var plans = [ConnectionPlan]()
    private var defaultPlan = ConnectionPlan.clean
    private var _records = [Record]()
    private var _accepted = 0
    private var _cuts = 0
    private var running = true
    private var cutAllRequested = false
    private let finished = DispatchSemaphore(value: 0)

    /// Starts listening and forwarding; the thread ends after `lifetime` seconds at the latest.
    init(targetPort: UInt16, framing: Framing = .mqtt, lifetime: Double = 120) throws {
        self.targetPort = targetPort
        self.framing = framing
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0 && listen(fd, 16) == 0
            }
        }
        guard ok else {
            close(fd)
            throw ProxyError("bind/listen: errno \(errno)")
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let deadline = Self.nowMilliseconds() + Int(lifetime * 1000)
        let thread = Thread { [self] in
            run(until: deadline)
            finished.signal()
        }
        thread.name = "FaultProxy"
        thread.start()
    }

    deinit { stop() }

    struct ProxyError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Control (any thread)

    /// Plans for the next connections, in order; after them, `fallback` applies.
    func plan(_ next: [ConnectionPlan], then fallback: ConnectionPlan = .clean) {
        lock.withLock {
            plans = next
            defaultPlan = fallback
        }
    }

    var records: [Record] { lock.withLock { _records } }
    /// Connections accepted so far (refused ones included).
    var accepted: Int { lock.withLock { _accepted } }
    /// Cuts and resets the plans made happen (refusals included).
    var cuts: Int { lock.withLock { _cuts } }
    /// Plans not used yet.
    var plansLeft: Int { lock.withLock { plans.count } }

    /// Closes every live connection (both sides, FIN) at once; later ones follow their plans.
    func cutAll() {
        lock.withLock { cutAllRequested = true }
    }

    /// Stops the thread and closes every socket; waits for the thread.
    func stop() {
        let wasRunning = lock.withLock {
            let was = running
            running = false
            return was
        }
        if wasRunning { finished.wait() }
    }

    // MARK: The loop (proxy thread only)

    private final class Side {
        let plan: DirectionPlan
        var parse = [UInt8]()
        var packets = 0        // packets forwarded
        var bytes = 0          // bytes forwarded
        var stalled = false
        var sourceClosed = false
        /// Data to write to the destination, with the time it is due; `nil` data means cut.
        var queue = [(due: Int, data: [UInt8]?)]()
        init(plan: DirectionPlan) {
            self.plan = plan
            stalled = plan.stallAfterPackets == 0
        }
    }

    private final class Connection {
        let index: Int
        let plan: ConnectionPlan
        var fds: [Int32]  // [client, upstream]: the source of toBroker, then of toClient
        let sides: [Side]
        var closed = false
        init(index: Int, plan: ConnectionPlan, client: Int32, upstream: Int32) {
            self.index = index
            self.plan = plan
            fds = [client, upstream]
            sides = [Side(plan: plan.toBroker), Side(plan: plan.toClient)]
        }
    }

    private var connections = [Connection]()

    private func run(until deadline: Int) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while lock.withLock({ running }) && Self.nowMilliseconds() < deadline {
            if lock.withLock({ () -> Bool in defer { cutAllRequested = false }; return cutAllRequested }) {
                for c in connections where !c.closed {
                    lock.withLock { _cuts += 1 }
                    shut(c, reset: false)
                }
            }
            connections.removeAll { $0.closed }
            var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            var owners = [(Connection, Int)?.none]
            var timeout = 50
            let now = Self.nowMilliseconds()
            for c in connections {
                for d in 0..<2 where !c.sides[d].sourceClosed {
                    entries.append(pollfd(fd: c.fds[d], events: Int16(POLLIN), revents: 0))
                    owners.append((c, d))
                }
                for side in c.sides { if let first = side.queue.first { timeout = min(timeout, max(0, first.due - now)) } }
            }
            let ready = poll(&entries, nfds_t(entries.count), Int32(timeout))
            if ready < 0 && errno != EINTR { break }
            if ready > 0 {
                if entries[0].revents != 0 { acceptOne() }
                for i in 1..<entries.count where entries[i].revents != 0 {
                    guard let (c, d) = owners[i], !c.closed else { continue }
                    let n = recv(c.fds[d], &buffer, buffer.count, 0)
                    if n > 0 {
                        take(Array(buffer[0..<n]), connection: c, direction: d)
                    } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                        // End of stream (or reset) from this source.
                        if c.sides[d].stalled {
                            c.sides[d].sourceClosed = true  // half-open: tell the other side nothing
                        } else {
                            c.sides[d].queue.append((due: Self.nowMilliseconds(), data: nil))
                            c.sides[d].sourceClosed = true
                        }
                    }
                }
            }
            flushDue()
        }
        for c in connections { shut(c, reset: false) }
        connections = []
        close(listener)
    }

    private func acceptOne() {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        let (index, plan): (Int, ConnectionPlan) = lock.withLock {
            _accepted += 1
            let plan = plans.isEmpty ? defaultPlan : plans.removeFirst()
            if plan.refuse { _cuts += 1 }
            return (_accepted, plan)
        }
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if plan.refuse {
            Self.resetAndClose(client)
            return
        }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        var address = Self.loopback(port: targetPort)
        let connected = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard upstream >= 0, connected else {
            if upstream >= 0 { close(upstream) }
            Self.resetAndClose(client)
            return
        }
        setsockopt(upstream, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let c = Connection(index: index, plan: plan, client: client, upstream: upstream)
        connections.append(c)
        if plan.toBroker.cutAfterPackets == 0 || plan.toBroker.cutAfterBytes == 0
            || plan.toClient.cutAfterPackets == 0 || plan.toClient.cutAfterBytes == 0
        {
            lock.withLock { _cuts += 1 }
            shut(c, reset: plan.reset)
        }
    }

    /// Parses `bytes` into packets and applies the direction's plan to each whole one.
    private func take(_ bytes: [UInt8], connection c: Connection, direction d: Int) {
        let side = c.sides[d]
        let plan = side.plan
        let direction = Direction(rawValue: d)!
        side.parse += bytes
        while let length = Self.unitLength(side.parse, framing) {
            var packet = Array(side.parse[0..<length])
            side.parse.removeFirst(length)
            if side.stalled {
                record(c, direction, .swallowed, packet)
                continue
            }
            if plan.dropTypes.contains(packet[0] >> 4) {
                record(c, direction, .dropped, packet)
                continue
            }
            if let at = plan.flipByteAt, at >= side.bytes, at < side.bytes + packet.count {
                packet[at - side.bytes] ^= plan.flipMask
            }
            let due = Self.nowMilliseconds() + plan.delayMilliseconds
            if let limit = plan.cutAfterBytes, side.bytes + packet.count >= limit {
                let prefix = Array(packet[0..<(limit - side.bytes)])
                side.queue.append((due: due, data: prefix))
                side.queue.append((due: due, data: nil))
                side.bytes = limit
                record(c, direction, .forwarded, prefix)
                lock.withLock { _cuts += 1 }
                side.stalled = true  // nothing more goes this way
                continue
            }
            side.queue.append((due: due, data: packet))
            side.bytes += packet.count
            side.packets += 1
            record(c, direction, .forwarded, packet)
            if plan.cutAfterPackets == side.packets {
                side.queue.append((due: due, data: nil))
                lock.withLock { _cuts += 1 }
                side.stalled = true
            } else if plan.stallAfterPackets == side.packets {
                side.stalled = true
            }
        }
    }

    private func flushDue() {
        let now = Self.nowMilliseconds()
        for c in connections where !c.closed {
            for d in 0..<2 {
                let side = c.sides[d]
                while !c.closed, let first = side.queue.first, first.due <= now {
                    side.queue.removeFirst()
                    guard let data = first.data else {
                        shut(c, reset: c.plan.reset)
                        break
                    }
                    if !Self.writeAll(c.fds[1 - d], data) { shut(c, reset: false) }
                }
            }
        }
    }

    private func record(_ c: Connection, _ direction: Direction, _ fate: Fate, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        lock.withLock {
            _records.append(Record(connection: c.index, direction: direction, fate: fate, bytes: bytes, sequence: _records.count + 1, framing: framing))
        }
    }

    private func shut(_ c: Connection, reset: Bool) {
        guard !c.closed else { return }
        c.closed = true
        for fd in c.fds {
            if reset { Self.resetAndClose(fd) } else { close(fd) }
        }
    }

    // MARK: Helpers

    private static func resetAndClose(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    private static func writeAll(_ fd: Int32, _ data: [UInt8]) -> Bool {
        var offset = 0
        while offset < data.count {
            let n = data[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }

    /// The length of the complete unit (packet or record) at the start of `bytes`, or nil.
    static func unitLength(_ bytes: [UInt8], _ framing: Framing) -> Int? {
        switch framing {
        case .mqtt: return mqttPacketLength(bytes)
        case .tlsRecords:
            guard bytes.count >= 5 else { return nil }
            let total = 5 + (Int(bytes[3]) << 8 | Int(bytes[4]))
            return bytes.count >= total ? total : nil
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }

    static func nowMilliseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
    }
}
