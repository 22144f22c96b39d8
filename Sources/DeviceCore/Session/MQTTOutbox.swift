/// Bookkeeping for one QoS 1 PUBLISH held in the outbox until its PUBACK. The caller provides
/// an array of these (its length is the in-flight window); the session fills them in.
public struct MQTTInflightEntry: Sendable {
    /// 0 marks a free entry.
    var packetID: UInt16 = 0
    /// Publication order, to send, resend and reclaim oldest first.
    var sequence: UInt64 = 0
    /// Where the encoded packet sits in the outbox bytes.
    var offset = 0
    var length = 0
    /// Handed whole to the transport at least once (a resend then carries DUP).
    var everSent = false
    /// Handed whole to the transport on the current connection.
    var sentOnThisConnection = false
    /// When it was last handed to the transport, for the acknowledgement timeout.
    var sentAt = DeviceInstant(milliseconds: 0)

    public init() {}
}

/// Why a publish could not be taken now. Nothing was queued; try again after an
/// acknowledgement frees room.
public enum MQTTBackPressure: Error, Equatable {
    /// Every in-flight entry holds an unacknowledged publish.
    case windowFull(capacity: Int)
    /// The outbox has `available` contiguous bytes; the packet needs `needed`.
    case outboxFull(needed: Int, available: Int)
}

/// QoS 1 publishes from encoding to acknowledgement, in caller-provided memory.
///
/// Encoded packets live in a byte ring in publication order. A PUBACK frees its entry at once,
/// so the window counts exactly the unacknowledged publishes; the packet's bytes are reclaimed
/// once every older packet is acknowledged too. Resending after a reconnect sets the DUP bit in
/// the stored bytes and sends them again, oldest first.
struct MQTTOutbox {
    let bytes: UnsafeMutableRawBufferPointer
    let entries: UnsafeMutableBufferPointer<MQTTInflightEntry>
    /// Entries holding an unacknowledged publish.
    private(set) var unacknowledgedCount = 0
    private var nextSequence: UInt64 = 1

    init(bytes: UnsafeMutableRawBufferPointer, entries: UnsafeMutableBufferPointer<MQTTInflightEntry>) {
        precondition(entries.count > 0, "the in-flight window needs at least one entry")
        self.bytes = bytes
        self.entries = entries
        removeAll()
    }

    var capacity: Int { entries.count }

    /// The live entry that comes first (`oldest`) or last in publication order, among those
    /// whose `sentOnThisConnection` is `sentOnThisConnection` (any when `nil`). A flag rather
    /// than a predicate, and not inlined: one copy of the loop serves every caller. Static over
    /// `entries`, so that a caller hands over two words, not a copy of the outbox.
    @inline(never)
    private static func extreme(
        _ entries: UnsafeMutableBufferPointer<MQTTInflightEntry>, oldest: Bool, sentOnThisConnection: Bool? = nil
    ) -> Int? {
        var found: Int?
        var i = 0
        while i < entries.count {
            let entry = entries[i]
            if entry.packetID != 0 && (sentOnThisConnection == nil || entry.sentOnThisConnection == sentOnThisConnection) {
                if let best = found {
                    if (entry.sequence < entries[best].sequence) == oldest { found = i }
                } else {
                    found = i
                }
            }
            i += 1
        }
        return found
    }

    /// Space for a new packet of `length` bytes (no more than the whole outbox) after the newest
    /// one, or the reason there is none yet. `mutating` though it changes nothing: the session
    /// then lends the outbox where it is rather than copying it to the stack for the call.
    mutating func placement(for length: Int) -> Result<Int, MQTTBackPressure> {
        if unacknowledgedCount == entries.count { return .failure(.windowFull(capacity: entries.count)) }
        guard let oldest = Self.extreme(entries, oldest: true), let newest = Self.extreme(entries, oldest: false) else { return .success(0) }
        let head = entries[oldest].offset
        let tail = entries[newest].offset + entries[newest].length
        if tail > head {
            if bytes.count - tail >= length { return .success(tail) }
            if head >= length { return .success(0) }
            return .failure(.outboxFull(needed: length, available: max(bytes.count - tail, head)))
        }
        if head - tail >= length { return .success(tail) }
        return .failure(.outboxFull(needed: length, available: head - tail))
    }

    /// Records a packet already encoded at `offset` (from `placement(for:)`).
    mutating func append(packetID: UInt16, offset: Int, length: Int) {
        var i = 0
        while entries[i].packetID != 0 { i += 1 }  // placement() checked there is a free entry
        var entry = MQTTInflightEntry()
        entry.packetID = packetID
        entry.sequence = nextSequence
        entry.offset = offset
        entry.length = length
        entries[i] = entry
        nextSequence &+= 1
        unacknowledgedCount += 1
    }

    private func find(_ packetID: UInt16) -> Int? {
        guard packetID != 0 else { return nil }
        var i = 0
        while i < entries.count {
            if entries[i].packetID == packetID { return i }
            i += 1
        }
        return nil
    }

    /// `true` when an unacknowledged publish uses `packetID`.
    func isInFlight(_ packetID: UInt16) -> Bool { find(packetID) != nil }

    /// Frees the publish with `packetID`. Returns `false` when no unacknowledged publish has it.
    mutating func acknowledge(_ packetID: UInt16) -> Bool {
        guard let i = find(packetID) else { return false }
        entries[i] = MQTTInflightEntry()
        unacknowledgedCount -= 1
        return true
    }

    /// After a lost connection: every unacknowledged publish is to be sent again, with DUP
    /// set if it had reached the transport whole before.
    mutating func prepareResend() {
        var i = 0
        while i < entries.count {
            if entries[i].packetID != 0 {
                if entries[i].everSent {
                    let header = bytes.baseAddress.unsafelyUnwrapped + entries[i].offset
                    header.storeBytes(of: header.load(as: UInt8.self) | 0x08, as: UInt8.self)
                }
                entries[i].sentOnThisConnection = false
            }
            i += 1
        }
    }

    /// The oldest unacknowledged publish not yet sent on this connection, as an entry index.
    func nextUnsent() -> Int? { Self.extreme(entries, oldest: true, sentOnThisConnection: false) }

    /// The encoded packet of entry `i`.
    func packet(at i: Int) -> ByteView {
        ByteView(baseAddress: UnsafeRawPointer(bytes.baseAddress.unsafelyUnwrapped + entries[i].offset), count: entries[i].length)
    }

    /// Marks entry `i` handed whole to the transport at `now`.
    mutating func markSent(_ i: Int, now: DeviceInstant) {
        entries[i].everSent = true
        entries[i].sentOnThisConnection = true
        entries[i].sentAt = now
    }

    /// The publish sent longest ago on this connection and still unacknowledged. Inlined into
    /// its one caller (`MQTTSession.timers()`): out of line, its optional pair came back
    /// through memory.
    @inline(__always)
    func oldestUnacknowledgedSend() -> (packetID: UInt16, sentAt: DeviceInstant)? {
        guard let i = Self.extreme(entries, oldest: true, sentOnThisConnection: true) else { return nil }
        return (entries[i].packetID, entries[i].sentAt)
    }

    /// Forgets every publish (a clean start that must not resend).
    mutating func removeAll() {
        var i = 0
        while i < entries.count {
            entries[i] = MQTTInflightEntry()
            i += 1
        }
        unacknowledgedCount = 0
    }
}
