/// MQTT quality of service levels.
public enum QoS: UInt8, Sendable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2
}

/// The fourteen MQTT 3.1.1 control packet types, by their wire value.
public enum MQTTPacketType: UInt8, Sendable {
    case connect = 1
    case connack = 2
    case publish = 3
    case puback = 4
    case pubrec = 5
    case pubrel = 6
    case pubcomp = 7
    case subscribe = 8
    case suback = 9
    case unsubscribe = 10
    case unsuback = 11
    case pingreq = 12
    case pingresp = 13
    case disconnect = 14

    /// The standard's name, `CONNECT` … `DISCONNECT`, for messages (a firmware that never
    /// prints one does not link the texts).
    public var name: StaticString {
        switch self {
        case .connect: return "CONNECT"
        case .connack: return "CONNACK"
        case .publish: return "PUBLISH"
        case .puback: return "PUBACK"
        case .pubrec: return "PUBREC"
        case .pubrel: return "PUBREL"
        case .pubcomp: return "PUBCOMP"
        case .subscribe: return "SUBSCRIBE"
        case .suback: return "SUBACK"
        case .unsubscribe: return "UNSUBSCRIBE"
        case .unsuback: return "UNSUBACK"
        case .pingreq: return "PINGREQ"
        case .pingresp: return "PINGRESP"
        case .disconnect: return "DISCONNECT"
        }
    }

    /// The type for a wire value known to be in 1…14 (a hand-written switch in wire order,
    /// which the optimiser turns into a subtraction; `init(rawValue:)` stays a call).
    @inline(__always)
    init(wire value: UInt8) {
        switch value {
        case 1: self = .connect
        case 2: self = .connack
        case 3: self = .publish
        case 4: self = .puback
        case 5: self = .pubrec
        case 6: self = .pubrel
        case 7: self = .pubcomp
        case 8: self = .subscribe
        case 9: self = .suback
        case 10: self = .unsubscribe
        case 11: self = .unsuback
        case 12: self = .pingreq
        case 13: self = .pingresp
        default: self = .disconnect
        }
    }
}

/// The will message a server publishes when the client disappears without DISCONNECT.
public struct MQTTWill: Equatable {
    public var topic: ByteView
    public var payload: ByteView
    public var qos: QoS
    public var retain: Bool

    public init(topic: ByteView, payload: ByteView, qos: QoS = .atMostOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// CONNECT (§3.1).
public struct MQTTConnect: Equatable {
    public var clientID: ByteView
    public var cleanSession: Bool
    /// Seconds; 0 turns keep-alive off.
    public var keepAlive: UInt16
    public var userName: ByteView?
    /// Binary data; only allowed with a user name.
    public var password: ByteView?
    public var will: MQTTWill?

    public init(
        clientID: ByteView, cleanSession: Bool = true, keepAlive: UInt16 = 60,
        userName: ByteView? = nil, password: ByteView? = nil, will: MQTTWill? = nil
    ) {
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.keepAlive = keepAlive
        self.userName = userName
        self.password = password
        self.will = will
    }
}

/// CONNACK return codes (§3.2.2.3).
public enum MQTTConnectReturnCode: UInt8, Sendable {
    case accepted = 0
    case unacceptableProtocolVersion = 1
    case identifierRejected = 2
    case serverUnavailable = 3
    case badUserNameOrPassword = 4
    case notAuthorized = 5
}

/// CONNACK (§3.2).
public struct MQTTConnAck: Equatable, Sendable {
    public var sessionPresent: Bool
    public var returnCode: MQTTConnectReturnCode

    public init(sessionPresent: Bool, returnCode: MQTTConnectReturnCode) {
        self.sessionPresent = sessionPresent
        self.returnCode = returnCode
    }
}

/// PUBLISH (§3.3). `packetID` is meaningful only for QoS 1 and 2.
public struct MQTTPublish: Equatable {
    public var topic: ByteView
    public var payload: ByteView
    public var packetID: UInt16
    /// DUP, QoS and RETAIN as the low four bits of the first byte carry them (DUP 0x08, QoS
    /// 0x06, RETAIN 0x01): the decoder stores the wire's bits and the encoder writes them back,
    /// without taking them apart. QoS 3 never gets in (the fixed header's check refuses it).
    var flags: UInt8

    public var qos: QoS {
        get { QoS(rawValue: flags &>> 1 & 0x03).unsafelyUnwrapped }
        set { flags = flags & ~0x06 | newValue.rawValue &<< 1 }
    }

    public var retain: Bool {
        get { flags & 0x01 != 0 }
        set { flags = flags & ~0x01 | (newValue ? 0x01 : 0) }
    }

    public var dup: Bool {
        get { flags & 0x08 != 0 }
        set { flags = flags & ~0x08 | (newValue ? 0x08 : 0) }
    }

    public init(
        topic: ByteView, payload: ByteView, qos: QoS = .atMostOnce, packetID: UInt16 = 0,
        retain: Bool = false, dup: Bool = false
    ) {
        self.init(
            topic: topic, payload: payload, packetID: packetID,
            flags: (dup ? 0x08 : 0) | qos.rawValue &<< 1 | (retain ? 0x01 : 0))
    }

    /// A PUBLISH with the first byte's low bits `flags` (not QoS 3).
    @inline(__always)
    init(topic: ByteView, payload: ByteView, packetID: UInt16, flags: UInt8) {
        self.topic = topic
        self.payload = payload
        self.packetID = packetID
        self.flags = flags
    }
}

/// One topic filter of a SUBSCRIBE with the QoS asked for it.
public struct MQTTSubscription: Equatable {
    public var filter: ByteView
    public var qos: QoS

    public init(filter: ByteView, qos: QoS) {
        self.filter = filter
        self.qos = qos
    }
}

/// The topic filters of a SUBSCRIBE or UNSUBSCRIBE.
///
/// A decoded packet's list reads the validated wire bytes in place; a list built for encoding
/// points at the caller's array of subscriptions. Either way nothing is copied.
///
/// Deliberately not a `Sequence`: its generic defaults would compile array-building code into
/// the firmware, and the core is built with `-no-allocations`. Walk it with `forEach(_:)` or
/// `makeIterator()`.
public struct MQTTTopicFilterList {
    enum Storage {
        /// Wire form: length-prefixed filters, each followed by a QoS byte when `withQoS`.
        case wire(ByteView, withQoS: Bool)
        case subscriptions(UnsafeBufferPointer<MQTTSubscription>)
    }

    let storage: Storage

    init(wire: ByteView, withQoS: Bool) { storage = .wire(wire, withQoS: withQoS) }

    /// A list over the caller's subscriptions, which must outlive it.
    public init(_ subscriptions: UnsafeBufferPointer<MQTTSubscription>) {
        storage = .subscriptions(subscriptions)
    }

    public struct Iterator: IteratorProtocol {
        let storage: Storage
        var position = 0

        /// Not inlined: one copy serves every walk of a list (its size, its encoding, `count`).
        @inline(never)
        public mutating func next() -> MQTTSubscription? {
            switch storage {
            case .subscriptions(let list):
                guard position < list.count else { return nil }
                defer { position += 1 }
                return list[position]
            case .wire(let bytes, let withQoS):
                guard position + 2 <= bytes.count else { return nil }
                let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
                let filter = bytes.slice(from: position + 2, count: length)
                position += 2 + length
                var qos = QoS.atMostOnce
                if withQoS {
                    qos = QoS(rawValue: bytes[position] & 0x03) ?? .atMostOnce
                    position += 1
                }
                return MQTTSubscription(filter: filter, qos: qos)
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(storage: storage) }

    /// Calls `body` with each subscription in order.
    @inline(__always)
    public func forEach<E: Error>(_ body: (MQTTSubscription) throws(E) -> Void) throws(E) {
        var iterator = makeIterator()
        while let subscription = iterator.next() { try body(subscription) }
    }

    /// Number of filters (walks the list).
    public var count: Int {
        var n = 0
        forEach { _ in n += 1 }
        return n
    }
}

extension MQTTTopicFilterList: Equatable {
    /// Lists are equal when they hold the same filters and QoS in the same order.
    public static func == (lhs: MQTTTopicFilterList, rhs: MQTTTopicFilterList) -> Bool {
        var a = lhs.makeIterator()
        var b = rhs.makeIterator()
        while true {
            let x = a.next()
            let y = b.next()
            if x == nil && y == nil { return true }
            if x != y { return false }
        }
    }
}

/// SUBSCRIBE (§3.8).
public struct MQTTSubscribe: Equatable {
    public var packetID: UInt16
    public var subscriptions: MQTTTopicFilterList

    public init(packetID: UInt16, subscriptions: MQTTTopicFilterList) {
        self.packetID = packetID
        self.subscriptions = subscriptions
    }
}

/// UNSUBSCRIBE (§3.10). The QoS of each listed subscription is ignored, in the encoding and
/// in comparisons.
public struct MQTTUnsubscribe: Equatable {
    public var packetID: UInt16
    public var filters: MQTTTopicFilterList

    public init(packetID: UInt16, filters: MQTTTopicFilterList) {
        self.packetID = packetID
        self.filters = filters
    }

    /// Equal when the ids and the filters, in order, are; QoS is not part of an UNSUBSCRIBE.
    public static func == (lhs: MQTTUnsubscribe, rhs: MQTTUnsubscribe) -> Bool {
        guard lhs.packetID == rhs.packetID else { return false }
        var a = lhs.filters.makeIterator()
        var b = rhs.filters.makeIterator()
        while true {
            let x = a.next()
            let y = b.next()
            if x == nil && y == nil { return true }
            guard let x, let y, x.filter == y.filter else { return false }
        }
    }
}

/// One SUBACK return code: the QoS granted, or failure (0x80).
public enum MQTTSubscribeReturnCode: Equatable, Sendable {
    case granted(QoS)
    case failure

    /// Wire value: 0, 1, 2 or 0x80.
    public var rawValue: UInt8 {
        switch self {
        case .granted(let qos): return qos.rawValue
        case .failure: return 0x80
        }
    }

    /// The code for a wire value, or `nil` if the value is not one the standard allows.
    public init?(rawValue: UInt8) {
        switch rawValue {
        case 0x80: self = .failure
        case 0, 1, 2: self = .granted(QoS(rawValue: rawValue).unsafelyUnwrapped)
        default: return nil
        }
    }
}

/// SUBACK (§3.9). `returnCodes` holds one validated wire byte per filter, in order.
public struct MQTTSubAck: Equatable {
    public var packetID: UInt16
    public var returnCodes: ByteView

    public init(packetID: UInt16, returnCodes: ByteView) {
        self.packetID = packetID
        self.returnCodes = returnCodes
    }

    /// The return code for the `index`th filter of the SUBSCRIBE.
    public func returnCode(at index: Int) -> MQTTSubscribeReturnCode {
        MQTTSubscribeReturnCode(rawValue: returnCodes[index]) ?? .failure
    }
}

/// Any MQTT 3.1.1 control packet. Decoded packets point into the frame they came from.
public enum MQTTPacket: Equatable {
    case connect(MQTTConnect)
    case connack(MQTTConnAck)
    case publish(MQTTPublish)
    case puback(packetID: UInt16)
    case pubrec(packetID: UInt16)
    case pubrel(packetID: UInt16)
    case pubcomp(packetID: UInt16)
    case subscribe(MQTTSubscribe)
    case suback(MQTTSubAck)
    case unsubscribe(MQTTUnsubscribe)
    case unsuback(packetID: UInt16)
    case pingreq
    case pingresp
    case disconnect

    /// The packet's type.
    public var type: MQTTPacketType {
        switch self {
        case .connect: return .connect
        case .connack: return .connack
        case .publish: return .publish
        case .puback: return .puback
        case .pubrec: return .pubrec
        case .pubrel: return .pubrel
        case .pubcomp: return .pubcomp
        case .subscribe: return .subscribe
        case .suback: return .suback
        case .unsubscribe: return .unsubscribe
        case .unsuback: return .unsuback
        case .pingreq: return .pingreq
        case .pingresp: return .pingresp
        case .disconnect: return .disconnect
        }
    }
}
