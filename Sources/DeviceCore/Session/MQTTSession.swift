/// An MQTT 3.1.1 client session as a pure state machine (sans I/O).
///
/// It never opens a socket, sleeps or reads a clock. The driver tells it when a connection
/// opens or drops, hands it received bytes and the current time, sends what it asks to send,
/// and wakes it at `nextDeadline`. The same session runs on Linux and on a microcontroller.
///
/// A driver loop, in outline:
///
///     session.connectionOpened(now: clock.now())          // after TCP/TLS is up: queues CONNECT
///     loop {
///         send every byte of session.pendingOutput() and report it with didSend(_:now:)
///         read into session.receiveSpace(), report with didReceive(_:)
///         while let event = try session.nextEvent(now: clock.now()) { handle(event) }
///     }
///
/// QoS 1 publishes are encoded into the outbox and kept until their PUBACK, so after a lost
/// connection they are re-sent (with DUP) on the next one, and back-pressure is an explicit
/// `MQTTBackPressure` error rather than a silent drop.
public struct MQTTSession {
    /// Where the session is in its connection's life.
    public enum State: Equatable, Sendable {
        /// No connection; call `connectionOpened(now:)` once the transport is up.
        case disconnected
        /// CONNECT queued or sent; waiting for CONNACK until the deadline.
        case connecting(deadline: DeviceInstant)
        /// CONNACK accepted.
        case connected
        /// DISCONNECT queued: send the pending output, then close the transport.
        case closing
    }

    /// A SUBSCRIBE or UNSUBSCRIBE waiting for its acknowledgement.
    private struct PendingRequest {
        /// 0 marks a free slot (the other fields are then not read).
        var packetID: UInt16 = 0
        var filterCount = 0
        var isSubscribe = false
    }

    public let configuration: MQTTSessionConfiguration
    public private(set) var state: State = .disconnected

    private var reader: MQTTFrameReader
    private var outbox: MQTTOutbox
    private let transmit: UnsafeMutableRawBufferPointer
    private var transmitStart = 0
    private var transmitEnd = 0
    /// Outbox entry being handed to the transport, and how many of its bytes have gone.
    private var sendingEntry: Int?
    private var sendingProgress = 0

    /// A literal rather than `InlineArray(repeating:)`, whose specialization (120 B of flash)
    /// was called into a temporary then copied over; a slot is freed by its packet id alone.
    private var pending: InlineArray<4, PendingRequest> = [PendingRequest(), PendingRequest(), PendingRequest(), PendingRequest()]
    private var lastPacketID: UInt16 = 0
    /// Packet id of an inbound QoS 1 message delivered but not yet acknowledged.
    private var owedPubAck: UInt16 = 0
    private var lastSend = DeviceInstant(milliseconds: 0)
    private var pingDeadline: DeviceInstant?

    public init(configuration: MQTTSessionConfiguration, memory: MQTTSessionMemory) {
        self.configuration = configuration
        reader = MQTTFrameReader(storage: memory.receive)
        outbox = MQTTOutbox(bytes: memory.outbox, entries: memory.inflight)
        transmit = memory.transmit
    }

    // MARK: Connection life

    /// The transport is connected: queues CONNECT and starts the CONNACK timer.
    public mutating func connectionOpened(now: DeviceInstant) throws(MQTTSessionError) {
        resetConnection()
        let space = transmitSpace()
        do throws(MQTTEncodeError) { didAppend(try configuration.connect.encode(into: space)) } catch { throw Self.appendError(error) }
        state = .connecting(deadline: now + configuration.connackTimeout)
    }

    /// The transport dropped (or the driver closed it after an error). Unacknowledged QoS 1
    /// publishes stay in the outbox for the next connection.
    public mutating func connectionLost() {
        resetConnection()
        state = .disconnected
    }

    /// Queues DISCONNECT; send the pending output, then close the transport. The outbox is
    /// kept: a later `connectionOpened(now:)` resumes it. The PUBACK owed for the message the
    /// application took last goes first, if there is room, so that it is not delivered again.
    public mutating func disconnect() throws(MQTTSessionError) {
        guard state == .connected else { throw .notConnected }
        if owedPubAck != 0, appendIfRoom(packetID: owedPubAck) { owedPubAck = 0 }
        let space = transmitSpace()
        do throws(MQTTEncodeError) { didAppend(try MQTTShortPacket.encode(.disconnect, into: space)) } catch { throw Self.appendError(error) }
        state = .closing
    }

    /// Drops every queued and unacknowledged publish, e.g. before a clean start. Call it while
    /// disconnected: on a live connection a publish half-handed to the transport would be cut.
    public mutating func discardOutbox() {
        outbox.removeAll()
        sendingEntry = nil
        sendingProgress = 0
    }

    private mutating func resetConnection() {
        reader.reset()
        transmitStart = 0
        transmitEnd = 0
        sendingEntry = nil
        sendingProgress = 0
        owedPubAck = 0
        pingDeadline = nil
        var i = 0
        while i < pending.count {
            pending[i].packetID = 0
            i += 1
        }
        outbox.prepareResend()
    }

    // MARK: Application requests

    /// Publishes `payload` on `topic`. QoS 1 returns the packet id its `.published` event will
    /// carry; the message is kept until then and may be queued while disconnected. QoS 0
    /// returns 0 and needs a connection. QoS 2 is refused: Azure IoT Hub closes the connection on it.
    @discardableResult
    public mutating func publish(
        topic: ByteView, payload: ByteView, qos: QoS = .atLeastOnce, retain: Bool = false
    ) throws(MQTTSessionError) -> UInt16 {
        if qos == .exactlyOnce { throw .encoding(.invalid(.invalidQoS)) }
        if qos == .atMostOnce && state != .connected { throw .notConnected }
        let name: MQTTTopicName
        do throws(MQTTEncodeError) { name = try MQTTTopicName(validating: topic) } catch { throw .encoding(error) }
        return try publish(topic: name, payload: payload, qos: qos, retain: retain)
    }

    /// `publish(topic:payload:qos:retain:)` to a topic validated beforehand, e.g. once for all
    /// the telemetry a device sends: the topic is not checked again.
    @discardableResult
    public mutating func publish(
        topic: MQTTTopicName, payload: ByteView, qos: QoS = .atLeastOnce, retain: Bool = false
    ) throws(MQTTSessionError) -> UInt16 {
        switch qos {
        case .atMostOnce:
            guard state == .connected else { throw .notConnected }
            let space = transmitSpace()
            do throws(MQTTEncodeError) {
                didAppend(try MQTTPublish.encode(topic: topic, payload: payload, qos: .atMostOnce, retain: retain, into: space))
            } catch { throw Self.appendError(error) }
            return 0
        case .exactlyOnce:
            throw .encoding(.invalid(.invalidQoS))
        case .atLeastOnce:
            // Size with a stand-in id first (the id does not change the size), so a refused
            // publish uses up no packet id; then write without checking again.
            var publish = MQTTPublish(topic: topic.bytes, payload: payload, qos: .atLeastOnce, packetID: 1, retain: retain)
            let total: Int
            do throws(MQTTEncodeError) {
                total = try UncheckedWriter.packetLength(remainingLength: try publish.remainingLength())
            } catch { throw .encoding(error) }
            // Never fits, however many acknowledgements come: not back pressure.
            guard total <= outbox.bytes.count else { throw .bufferTooSmall(BufferTooSmall(needed: total, capacity: outbox.bytes.count)) }
            let offset: Int
            switch outbox.placement(for: total) {
            case .success(let at): offset = at
            case .failure(let reason): throw .backPressure(reason)
            }
            publish.packetID = allocatePacketID()
            let space = UnsafeMutableRawBufferPointer(start: outbox.bytes.baseAddress.unsafelyUnwrapped + offset, count: total)
            // Sized above: it fits, and only the id (not 0) changed.
            do throws(MQTTEncodeError) {
                _ = try publish.write(remainingLength: try publish.remainingLength(), into: space)
            } catch { throw .encoding(error) }
            outbox.append(packetID: publish.packetID, offset: offset, length: total)
            return publish.packetID
        }
    }

    /// Subscribes to `subscriptions` (views need only live for this call). Returns the packet
    /// id that the `.subscribed` event will carry.
    @discardableResult
    public mutating func subscribe(_ subscriptions: MQTTTopicFilterList) throws(MQTTSessionError) -> UInt16 {
        try request(isSubscribe: true, subscriptions)
    }

    /// Unsubscribes from the filters of `filters` (QoS ignored). Returns the packet id that the
    /// `.unsubscribed` event will carry.
    @discardableResult
    public mutating func unsubscribe(_ filters: MQTTTopicFilterList) throws(MQTTSessionError) -> UInt16 {
        try request(isSubscribe: false, filters)
    }

    private mutating func request(isSubscribe: Bool, _ list: MQTTTopicFilterList) throws(MQTTSessionError) -> UInt16 {
        guard state == .connected else { throw .notConnected }
        guard let slot = pendingSlot(0, isSubscribe: nil) else { throw .tooManyPendingRequests }
        let packetID = allocatePacketID()
        let space = transmitSpace()
        do throws(MQTTEncodeError) {
            didAppend(try list.encode(packetID: packetID, withQoS: isSubscribe, into: space))
        } catch {
            throw Self.appendError(error)
        }
        pending[slot] = PendingRequest(packetID: packetID, filterCount: list.count, isSubscribe: isSubscribe)
        return packetID
    }

    /// The next packet id after the last one, skipping 0 and ids still in use.
    private mutating func allocatePacketID() -> UInt16 {
        while true {
            lastPacketID = lastPacketID == UInt16.max ? 1 : lastPacketID + 1
            if !outbox.isInFlight(lastPacketID) && pendingSlot(lastPacketID, isSubscribe: nil) == nil {
                return lastPacketID
            }
        }
    }

    // MARK: Output

    /// The bytes to write to the transport next (possibly only part of what is queued); empty
    /// when there is nothing to send. Report what was written with `didSend(_:now:)`.
    public mutating func pendingOutput() -> ByteView {
        if let entry = sendingEntry {
            let packet = outbox.packet(at: entry)
            // Offsets within the packet and the transmit buffer: plain arithmetic cannot overflow.
            return ByteView(baseAddress: packet.baseAddress.unsafelyUnwrapped + sendingProgress, count: packet.count &- sendingProgress)
        }
        if transmitEnd > transmitStart {
            return ByteView(baseAddress: UnsafeRawPointer(transmit.baseAddress.unsafelyUnwrapped + transmitStart), count: transmitEnd &- transmitStart)
        }
        guard state == .connected, let entry = outbox.nextUnsent() else { return ByteView() }
        sendingEntry = entry
        sendingProgress = 0
        return outbox.packet(at: entry)
    }

    /// Records that the transport took the first `count` bytes of `pendingOutput()`.
    public mutating func didSend(_ count: Int, now: DeviceInstant) {
        guard count > 0 else { return }
        lastSend = now
        // `count` is at most what `pendingOutput()` offered: offsets stay within their buffers.
        if let entry = sendingEntry {
            sendingProgress &+= count
            if sendingProgress >= outbox.packet(at: entry).count {
                outbox.markSent(entry, now: now)
                sendingEntry = nil
                sendingProgress = 0
            }
            return
        }
        transmitStart &+= count
        if transmitStart >= transmitEnd {
            transmitStart = 0
            transmitEnd = 0
        }
    }

    /// The free space at the end of the transmit buffer, for the next control packet (what
    /// was sent already is dropped first). Report what was written with `didAppend(_:)`.
    private mutating func transmitSpace() -> UnsafeMutableRawBufferPointer {
        if transmitStart > 0 {
            let pendingCount = transmitEnd &- transmitStart
            if pendingCount > 0 {
                transmit.baseAddress.unsafelyUnwrapped.copyMemory(from: transmit.baseAddress.unsafelyUnwrapped + transmitStart, byteCount: pendingCount)
            }
            transmitStart = 0
            transmitEnd = pendingCount
        }
        return UnsafeMutableRawBufferPointer(rebasing: transmit[transmitEnd...])
    }

    /// Records a control packet of `count` bytes written at the start of `transmitSpace()`.
    private mutating func didAppend(_ count: Int) { transmitEnd &+= count }

    /// The session's error for a control packet that could not be encoded. Out of line: one
    /// copy of the conversion serves the four callers.
    @inline(never)
    private static func appendError(_ error: MQTTEncodeError) -> MQTTSessionError {
        if case .bufferTooSmall(let tooSmall) = error { return .bufferTooSmall(tooSmall) }
        return .encoding(error)
    }

    /// Queues PUBACK (`packetID` not 0) or PINGREQ (`packetID` 0) if the transmit buffer has
    /// room; `false` if it has not. Out of line: inlined into `nextEvent(now:)` (with the
    /// transmit buffer's compaction) it kept that function from being inlined into the client's
    /// `takeEvent`, and one call here serves three callers (core 262 B smaller on M4).
    @inline(never)
    private mutating func appendIfRoom(packetID: UInt16) -> Bool {
        let space = transmitSpace()
        do throws(MQTTEncodeError) {
            didAppend(packetID == 0
                ? try MQTTShortPacket.encode(.pingreq, into: space)
                : try MQTTShortPacket.encode(.puback, packetID: packetID, into: space))
            return true
        } catch {
            return false  // only `.bufferTooSmall`: both packets are valid
        }
    }

    /// `true` when the session holds received packets back until its pending output is sent
    /// (a PUBACK it owes did not fit in the transmit buffer). Send `pendingOutput()`, then call
    /// `nextEvent(now:)` again.
    public var needsOutputSent: Bool { owedPubAck != 0 }

    // MARK: Input

    /// Free space for the transport to read into; report with `didReceive(_:)`.
    public mutating func receiveSpace() -> UnsafeMutableRawBufferPointer { reader.writableSpace() }

    /// Records that the transport wrote `count` bytes into `receiveSpace()`.
    public mutating func didReceive(_ count: Int) { reader.didWrite(count) }

    /// Copies received bytes in; returns how many fit (take events out, then offer the rest).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Int { reader.append(bytes) }

    /// Handles received packets and timers up to `now` and returns the next event, or `nil`
    /// when there is nothing more until new bytes arrive or `nextDeadline`. A thrown error ends
    /// the connection: close the transport; the session is then `.disconnected`.
    ///
    /// Inlined into its caller (`MQTTClient` has one call): left to the heuristics, a change
    /// anywhere in the receive path could make it a separate function, about 100 bytes more.
    @inline(__always)
    public mutating func nextEvent(now: DeviceInstant) throws(MQTTSessionError) -> MQTTSessionEvent? {
        do throws(MQTTSessionError) {
            while true {
                if owedPubAck != 0 {
                    // Acknowledge the message the application took on the previous call. With
                    // no room for the PUBACK, stop here: the driver sends, then asks again.
                    guard appendIfRoom(packetID: owedPubAck) else { return nil }
                    owedPubAck = 0
                }
                let frame: MQTTFrame?
                do throws(MQTTDecodeError) { frame = try reader.nextFrame() } catch { throw .malformedPacket(error) }
                guard let frame else { break }
                if let event = try handle(frame) { return event }
            }
            try checkTimers(now: now)
            return nil
        } catch {
            connectionLost()
            throw error
        }
    }

    private mutating func handle(_ frame: MQTTFrame) throws(MQTTSessionError) -> MQTTSessionEvent? {
        let decoded: MQTTServerPacket?
        do throws(MQTTDecodeError) { decoded = try frame.decodeFromServer() } catch { throw .malformedPacket(error) }
        // A packet only clients send (CONNECT, SUBSCRIBE…) is a violation whatever its body.
        guard let packet = decoded else { throw .unexpectedPacket(frame.type) }
        pingDeadline = nil  // any packet shows the connection is alive
        if case .connecting = state {
            guard case .connack(let connack) = packet else { throw .unexpectedPacket(packet.type) }
            guard connack.returnCode == .accepted else { throw .connectionRefused(connack.returnCode) }
            state = .connected
            if !connack.sessionPresent, let subscriptions = configuration.subscriptions {
                _ = try subscribe(subscriptions)
            }
            return .connected(sessionPresent: connack.sessionPresent)
        }
        switch packet {
        case .publish(let publish):
            switch publish.qos {
            case .atMostOnce: break
            case .atLeastOnce: owedPubAck = publish.packetID
            case .exactlyOnce: throw .unsolicitedQoS2Publish(packetID: publish.packetID)
            }
            return .message(publish)
        case .acknowledgement(.puback, let packetID):
            return outbox.acknowledge(packetID)
                ? .published(packetID: packetID)
                : .unknownAcknowledgement(.puback, packetID: packetID)
        case .suback(let suback):
            guard let slot = pendingSlot(suback.packetID, isSubscribe: true) else {
                return .unknownAcknowledgement(.suback, packetID: suback.packetID)
            }
            let expected = pending[slot].filterCount
            guard expected == suback.returnCodes.count else {
                throw .subackCountMismatch(expected: expected, actual: suback.returnCodes.count)
            }
            pending[slot].packetID = 0
            return .subscribed(suback)
        case .acknowledgement(.unsuback, let packetID):
            guard let slot = pendingSlot(packetID, isSubscribe: false) else {
                return .unknownAcknowledgement(.unsuback, packetID: packetID)
            }
            pending[slot].packetID = 0
            return .unsubscribed(packetID: packetID)
        case .pingresp:
            return nil
        default:
            throw .unexpectedPacket(packet.type)
        }
    }

    /// The index of the pending request with `packetID` (0 finds a free slot), of the given
    /// kind if `isSubscribe` is not `nil`. A plain loop: `Range` algorithms would pull array
    /// code into the `-no-allocations` build. Read through a `Span`: subscripting the
    /// `InlineArray` itself copied all four requests to the stack for every one read (1.2 KB
    /// of flash over the callers); `mutating` so that the span borrows the session where it
    /// is (non-mutating, the session was copied to the stack to lend it: 570 B of stack).
    private mutating func pendingSlot(_ packetID: UInt16, isSubscribe: Bool?) -> Int? {
        let requests = pending.span
        var i = 0
        while i < requests.count {
            let request = requests[i]
            if request.packetID == packetID && (isSubscribe == nil || request.isSubscribe == isSubscribe) { return i }
            i += 1
        }
        return nil
    }

    // MARK: Time

    /// When the session next needs `nextEvent(now:)` called even if no bytes arrive; `nil`
    /// when only input can change anything. `mutating` though it changes nothing: the session
    /// is then read where it is (non-mutating and out of line, a driver's stored session was
    /// copied to the stack for the call: 273 bytes).
    public var nextDeadline: DeviceInstant? {
        mutating get {
            let timers = timers()
            return earliest(timers.connection, timers.acknowledgement)
        }
    }

    /// The session's two timers, see `timers()`.
    private struct Timers {
        /// CONNACK's deadline while connecting; while connected PINGRESP's, or when the
        /// keep-alive ping is due if none is awaited.
        var connection: DeviceInstant?
        /// When the oldest publish sent on this connection times out, and its packet id.
        var acknowledgement: DeviceInstant?
        var packetID: UInt16 = 0
    }

    /// The timers that run in the current state. One function for `nextDeadline` and
    /// `checkTimers(now:)`, so that the rules are written and compiled once (they were two
    /// copies of the same 64-bit arithmetic); `mutating` for the reason `nextDeadline` is.
    @inline(never)
    private mutating func timers() -> Timers {
        switch state {
        case .disconnected, .closing:
            return Timers()
        case .connecting(let deadline):
            return Timers(connection: deadline)
        case .connected:
            var timers = Timers(connection: pingDeadline)
            if pingDeadline == nil, let interval = keepAliveInterval {
                timers.connection = lastSend + interval
            }
            if let timeout = configuration.acknowledgementTimeout, let oldest = outbox.oldestUnacknowledgedSend() {
                timers.acknowledgement = oldest.sentAt + timeout
                timers.packetID = oldest.packetID
            }
            return timers
        }
    }

    /// The keep-alive interval; `nil` when keep-alive is off.
    private var keepAliveInterval: DeviceDuration? {
        let seconds = configuration.connect.keepAlive
        return seconds == 0 ? nil : DeviceDuration(seconds: UInt32(seconds))
    }

    private mutating func checkTimers(now: DeviceInstant) throws(MQTTSessionError) {
        let timers = timers()
        if let deadline = timers.connection, now >= deadline {
            if case .connecting = state { throw .connackTimeout }
            if pingDeadline != nil { throw .pingTimeout }
            // The keep-alive ping is due. Output already waiting counts as activity once sent;
            // the ping can wait for room.
            if appendIfRoom(packetID: 0) { pingDeadline = now + configuration.pingTimeout }
        }
        if let deadline = timers.acknowledgement, now >= deadline {
            throw .acknowledgementTimeout(packetID: timers.packetID)
        }
    }

    // MARK: Introspection

    /// QoS 1 publishes waiting for PUBACK (queued, sent, or to be re-sent).
    public var unacknowledgedCount: Int { outbox.unacknowledgedCount }
}
