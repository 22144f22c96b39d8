/// What the session sends in CONNECT and how long it waits for the server.
public struct MQTTSessionConfiguration {
    /// CONNECT as sent on every (re)connection: client id, credentials, will, keep-alive,
    /// clean session. Its views must outlive the session.
    public var connect: MQTTConnect
    /// Subscribed after every CONNACK that reports no session (the first connection, a clean
    /// session, a server that lost the session), before any publish is re-sent. Its views must
    /// outlive the session.
    public var subscriptions: MQTTTopicFilterList?
    /// How long to wait for CONNACK after CONNECT.
    public var connackTimeout: DeviceDuration
    /// How long to wait for PINGRESP (or any packet) after PINGREQ.
    public var pingTimeout: DeviceDuration
    /// How long a sent QoS 1 publish may wait for its PUBACK before the connection is
    /// declared dead (and the publish re-sent on the next one); `nil` waits forever.
    public var acknowledgementTimeout: DeviceDuration?

    public init(
        connect: MQTTConnect,
        subscriptions: MQTTTopicFilterList? = nil,
        connackTimeout: DeviceDuration = .seconds(30),
        pingTimeout: DeviceDuration = .seconds(10),
        acknowledgementTimeout: DeviceDuration? = .seconds(60)
    ) {
        self.connect = connect
        self.subscriptions = subscriptions
        self.connackTimeout = connackTimeout
        self.pingTimeout = pingTimeout
        self.acknowledgementTimeout = acknowledgementTimeout
    }
}

/// The memory a session works in, all provided by the caller and used for the session's life;
/// the session allocates nothing.
public struct MQTTSessionMemory {
    /// Receive buffer: bounds the largest packet the session accepts.
    public var receive: UnsafeMutableRawBufferPointer
    /// Control packets (CONNECT, SUBSCRIBE, PUBACK, PINGREQ…) and QoS 0 publishes on their way out.
    public var transmit: UnsafeMutableRawBufferPointer
    /// Encoded QoS 1 publishes, kept until their PUBACK so they can be re-sent.
    public var outbox: UnsafeMutableRawBufferPointer
    /// One entry per QoS 1 publish that may be in flight at once: the window.
    public var inflight: UnsafeMutableBufferPointer<MQTTInflightEntry>

    public init(
        receive: UnsafeMutableRawBufferPointer, transmit: UnsafeMutableRawBufferPointer,
        outbox: UnsafeMutableRawBufferPointer, inflight: UnsafeMutableBufferPointer<MQTTInflightEntry>
    ) {
        self.receive = receive
        self.transmit = transmit
        self.outbox = outbox
        self.inflight = inflight
    }
}

/// Something the application should know about. Views in `message` point into the receive
/// buffer and stay valid until the next call to `nextEvent(now:)`.
public enum MQTTSessionEvent: Equatable {
    /// CONNACK accepted the connection.
    case connected(sessionPresent: Bool)
    /// SUBACK for a SUBSCRIBE; one return code per filter, in order.
    case subscribed(MQTTSubAck)
    /// UNSUBACK for an UNSUBSCRIBE.
    case unsubscribed(packetID: UInt16)
    /// PUBACK for one of our QoS 1 publishes: the server has it.
    case published(packetID: UInt16)
    /// An acknowledgement for a packet id we have nothing outstanding for; ignored.
    case unknownAcknowledgement(MQTTPacketType, packetID: UInt16)
    /// An inbound PUBLISH. A QoS 1 message is acknowledged when the application comes back for
    /// the next event, i.e. after it has taken the message. `dup` marks a possible redelivery.
    case message(MQTTPublish)
}

/// Why the session cannot go on, or why a call was refused.
public enum MQTTSessionError: Error, Equatable {
    /// The server sent a packet that breaks MQTT 3.1.1. The connection must be closed.
    case malformedPacket(MQTTDecodeError)
    /// CONNACK refused the connection with this code.
    case connectionRefused(MQTTConnectReturnCode)
    /// No CONNACK within the configured timeout.
    case connackTimeout
    /// No PINGRESP, nor any other packet, within the ping timeout: the connection is dead.
    case pingTimeout
    /// No PUBACK for this publish within the acknowledgement timeout.
    case acknowledgementTimeout(packetID: UInt16)
    /// The server sent a packet a client never receives (or CONNACK twice, or anything before CONNACK).
    case unexpectedPacket(MQTTPacketType)
    /// The server sent a QoS 2 PUBLISH, which this client never subscribes for.
    case unsolicitedQoS2Publish(packetID: UInt16)
    /// SUBACK carries a different number of return codes than the SUBSCRIBE had filters.
    case subackCountMismatch(expected: Int, actual: Int)
    /// The call needs a connected session.
    case notConnected
    /// The transmit buffer lacks room for a control packet or QoS 0 publish (`capacity` is the
    /// room it had: send pending output first), or a QoS 1 publish is larger than the whole
    /// outbox (`capacity`: the outbox; it can never be sent).
    case bufferTooSmall(BufferTooSmall)
    /// The publish could not be queued now (window or outbox full).
    case backPressure(MQTTBackPressure)
    /// The packet could not be encoded.
    case encoding(MQTTEncodeError)
    /// More SUBSCRIBE/UNSUBSCRIBE requests outstanding than the session tracks.
    case tooManyPendingRequests

    /// Whether reconnecting can help. Refusals for bad credentials, identity or protocol are
    /// not retried blindly: the configuration must change first.
    public var isRetriable: Bool {
        switch self {
        case .connectionRefused(let code): return code == .serverUnavailable
        case .encoding, .notConnected, .backPressure, .bufferTooSmall, .tooManyPendingRequests: return false
        default: return true
        }
    }
}
