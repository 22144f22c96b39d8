/// The thin driver that pumps an `MQTTSession` over a board's transport and clock.
///
/// All protocol decisions stay in the session; the client only moves bytes, reads the clock
/// and waits, and hands out the session's events one at a time (`nextEvent(until:)`). The same
/// client runs on the Linux board and on a microcontroller.
public struct MQTTClient<Transport: DeviceTransport, Clock: DeviceClock> {
    /// Why the client stopped.
    public enum Failure: Error {
        case session(MQTTSessionError)
        case transport(Transport.Failure)
        /// The transport took no bytes within `ioTimeout`.
        case sendTimedOut
    }

    public var session: MQTTSession
    public var transport: Transport
    public let clock: Clock
    /// Longest single wait for the transport, so that deadlines are checked in time.
    public var ioTimeout: DeviceDuration = .seconds(1)

    public init(session: MQTTSession, transport: Transport, clock: Clock) {
        self.session = session
        self.transport = transport
        self.clock = clock
    }

    // connect, nextEvent and flush stay out of line, for the stack and flash reasons given at DeviceFlow.
    /// Opens the transport, sends CONNECT and waits for CONNACK; returns CONNACK's session-present
    /// flag. Opening and the wait for CONNACK end by `deadline` (if given) as well as by the
    /// transport's and the session's own limits; a CONNACK still missing then is
    /// `.session(.connackTimeout)`.
    @inline(never) @discardableResult
    public mutating func connect(until deadline: DeviceInstant? = nil) throws(Failure) -> Bool {
        var openTimeout = DeviceDuration.forever
        if let deadline {
            openTimeout = deadline - clock.now()
            if openTimeout < .zero { openTimeout = .zero }
        }
        do throws(Transport.Failure) { try transport.open(timeout: openTimeout) } catch { throw .transport(error) }
        do throws(MQTTSessionError) { try session.connectionOpened(now: clock.now()) } catch { throw .session(error) }
        while true {
            if let deadline, clock.now() >= deadline {
                drop()
                throw .session(.connackTimeout)
            }
            // Before CONNACK the session accepts nothing else: the first event is `.connected`.
            if case .connected(let sessionPresent)? = try nextEvent(until: deadline) { return sessionPresent }
        }
    }

    /// The next event on the connection. Sends what the session has queued, then returns an
    /// event already received or, if there is none, waits for input — until `deadline`, the
    /// session's own next deadline or `ioTimeout`, whichever comes first — and returns what it
    /// brought: an event, or `nil` when the wait brought none (check your timers, then call
    /// again). An event's views point into the receive buffer and are valid until the next call;
    /// a QoS 1 message is acknowledged on the next call. On an error the transport is closed and
    /// the session marked disconnected, ready for `connect` again.
    @inline(never)
    public mutating func nextEvent(until deadline: DeviceInstant?) throws(Failure) -> MQTTSessionEvent? {
        do throws(Failure) {
            try flush()
            if let event = try takeEvent() { return event }
            // Taking events may have queued an acknowledgement: it goes out before the wait.
            try flush()
            let now = clock.now()
            var wait = ioTimeout
            if let wake = earliest(deadline, session.nextDeadline) {
                let untilWake = wake - now
                if untilWake < wait { wait = untilWake < .zero ? .zero : untilWake }
            }
            let space = session.receiveSpace()
            let count: Int
            do throws(Transport.Failure) { count = try transport.receive(into: space, timeout: wait) } catch { throw .transport(error) }
            session.didReceive(count)
            return try takeEvent()
        } catch {
            drop()
            throw error
        }
    }

    /// The session's next event from what has been received, sending first when owed
    /// acknowledgements that did not fit hold input back.
    private mutating func takeEvent() throws(Failure) -> MQTTSessionEvent? {
        while true {
            do throws(MQTTSessionError) {
                if let event = try session.nextEvent(now: clock.now()) { return event }
            } catch {
                throw .session(error)
            }
            guard session.needsOutputSent else { return nil }
            try flush()
        }
    }

    /// Waits for input once (until `deadline` at most) and hands `handler` the events it
    /// brought and any that follow without waiting: for tools and tests that only watch events.
    public mutating func poll(until deadline: DeviceInstant, _ handler: (MQTTSessionEvent) -> Void) throws(Failure) {
        guard let first = try nextEvent(until: deadline) else { return }
        handler(first)
        while let event = try nextEvent(until: clock.now()) { handler(event) }
    }

    /// Writes everything the session has queued.
    @inline(never)
    public mutating func flush() throws(Failure) {
        while true {
            let chunk = session.pendingOutput()
            if chunk.isEmpty { return }
            let sent: Int
            do throws(Transport.Failure) { sent = try transport.send(chunk, timeout: ioTimeout) } catch { throw .transport(error) }
            if sent == 0 { throw .sendTimedOut }
            session.didSend(sent, now: clock.now())
        }
    }

    /// Sends DISCONNECT and closes the transport.
    public mutating func disconnect() {
        do throws(MQTTSessionError) { try session.disconnect() } catch { /* not connected: just close */ }
        do throws(Failure) { try flush() } catch { /* closing anyway */ }
        drop()
    }

    /// Closes the transport and marks the session disconnected. Out of line: one copy for
    /// `connect`, `nextEvent` and `disconnect`.
    @inline(never)
    private mutating func drop() {
        transport.close()
        session.connectionLost()
    }
}
