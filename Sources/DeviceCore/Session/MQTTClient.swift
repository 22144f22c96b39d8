/// The thin driver that pumps an `MQTTSession` over a board's transport and clock.
///
/// All protocol decisions stay in the session; the client only moves bytes, reads the clock
/// and waits. The same client runs on the Linux board and on a microcontroller.
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

    // connect, poll and flush stay out of line, for the stack and flash reasons given at DeviceFlow.
    /// Opens the transport, sends CONNECT and waits for CONNACK, handing every event (the
    /// `.connected` one included) to `handler`. Opening and the wait for CONNACK end by
    /// `deadline` (if given) as well as by the transport's and the session's own limits; a
    /// CONNACK still missing then is `.session(.connackTimeout)`.
    @inline(never)
    public mutating func connect(until deadline: DeviceInstant? = nil, _ handler: (MQTTSessionEvent, inout MQTTSession) -> Void) throws(Failure) {
        var openTimeout = DeviceDuration.forever
        if let deadline {
            openTimeout = deadline - clock.now()
            if openTimeout < .zero { openTimeout = .zero }
        }
        do throws(Transport.Failure) { try transport.open(timeout: openTimeout) } catch { throw .transport(error) }
        do throws(MQTTSessionError) { try session.connectionOpened(now: clock.now()) } catch { throw .session(error) }
        while session.state != .connected {
            if let deadline, clock.now() >= deadline {
                transport.close()
                session.connectionLost()
                throw .session(.connackTimeout)
            }
            try poll(until: deadline, handler)
        }
    }

    /// Sends pending output, then waits for input or the session's next deadline (or
    /// `deadline`, if earlier) and hands each event to `handler`, with the session so that it
    /// can answer (publish, subscribe). On an error the transport is closed and the session
    /// marked disconnected, ready for `connect` again.
    @inline(never)
    public mutating func poll(until deadline: DeviceInstant?, _ handler: (MQTTSessionEvent, inout MQTTSession) -> Void) throws(Failure) {
        do throws(Failure) {
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
            while true {
                do throws(MQTTSessionError) {
                    while let event = try session.nextEvent(now: clock.now()) { handler(event, &session) }
                } catch {
                    throw .session(error)
                }
                // Owed acknowledgements that did not fit hold input back: send, then go on.
                guard session.needsOutputSent else { break }
                try flush()
            }
            try flush()
        } catch {
            transport.close()
            session.connectionLost()
            throw error
        }
    }

    /// `connect` for handlers that only look at events.
    public mutating func connect(until deadline: DeviceInstant? = nil, _ handler: (MQTTSessionEvent) -> Void) throws(Failure) {
        try connect(until: deadline) { event, _ in handler(event) }
    }

    /// `poll` for handlers that only look at events.
    public mutating func poll(until deadline: DeviceInstant?, _ handler: (MQTTSessionEvent) -> Void) throws(Failure) {
        try poll(until: deadline) { event, _ in handler(event) }
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
        transport.close()
        session.connectionLost()
    }
}
