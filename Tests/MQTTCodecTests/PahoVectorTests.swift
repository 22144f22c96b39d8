@testable import DeviceCore
import Foundation
import Testing

// MARK: - Memory for packets built in tests

/// Owns the bytes that the `ByteView`s of packets built in a test point at. Keep it alive
/// (`withArena`) for as long as the packets are used.
final class Arena {
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    private var lists: [UnsafeMutableBufferPointer<MQTTSubscription>] = []

    deinit {
        for block in blocks { block.deallocate() }
        for list in lists { list.deallocate() }
    }

    /// A view of a copy of `bytes`.
    func view(_ bytes: [UInt8]) -> ByteView {
        let block = allocate(bytes.count)
        bytes.withUnsafeBytes { source in
            if source.count > 0 { block.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count) }
        }
        return ByteView(baseAddress: UnsafeRawPointer(block.baseAddress), count: bytes.count)
    }

    /// A view of a copy of `string`'s UTF-8 bytes.
    func view(_ string: String) -> ByteView { view(Array(string.utf8)) }

    /// `count` bytes following the vectors' payload pattern byte[i] = i % 256.
    func pattern(count: Int) -> ByteView {
        precondition(count <= patternBytes.count)
        let block = allocate(count)
        patternBytes.withUnsafeBytes { block.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) }
        return ByteView(baseAddress: UnsafeRawPointer(block.baseAddress), count: count)
    }

    /// `count` bytes of uninitialised memory, for views whose bytes are never read (sizing only).
    func unread(count: Int) -> ByteView {
        ByteView(baseAddress: UnsafeRawPointer(allocate(count).baseAddress), count: count)
    }

    /// A topic filter list over a copy of `subscriptions`.
    func list(_ subscriptions: [MQTTSubscription]) -> MQTTTopicFilterList {
        let storage = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: max(subscriptions.count, 1))
        _ = storage.initialize(from: subscriptions)
        lists.append(storage)
        return MQTTTopicFilterList(UnsafeBufferPointer(rebasing: storage[0..<subscriptions.count]))
    }

    private func allocate(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        blocks.append(block)
        return block
    }
}

/// byte[i] = i % 256, long enough for every vector's payload.
let patternBytes: [UInt8] = {
    var bytes = [UInt8](repeating: 0, count: 2_097_152 + 256)
    bytes.withUnsafeMutableBufferPointer { buffer in
        var i = 0
        while i < buffer.count {
            buffer[i] = UInt8(truncatingIfNeeded: i)
            i += 1
        }
    }
    return bytes
}()

/// `true` when `view` holds byte[i] = i % 256.
func matchesPattern(_ view: ByteView) -> Bool {
    guard view.count <= patternBytes.count else { return false }
    if view.isEmpty { return true }
    return patternBytes.withUnsafeBytes { memcmp($0.baseAddress!, view.baseAddress!, view.count) == 0 }
}

/// Runs `body` with an arena that lives until `body` returns.
func withArena<R>(_ body: (Arena) throws -> R) rethrows -> R {
    let arena = Arena()
    return try withExtendedLifetime(arena) { try body(arena) }
}

extension MQTTTopicFilterList {
    /// Filters and requested QoS, copied out (tests only).
    var entries: [FilterEntry] {
        var out = [FilterEntry]()
        forEach { out.append(FilterEntry(filter: $0.filter.array, qos: $0.qos.rawValue)) }
        return out
    }
}

/// One topic filter with its QoS, as plain values.
struct FilterEntry: Equatable, Sendable, CustomStringConvertible {
    var filter: [UInt8]
    var qos: UInt8
    var description: String { "\(String(decoding: filter, as: UTF8.self))@\(qos)" }
}

// MARK: - SHA-256 (FIPS 180-4), for the vectors over 2 MiB

struct SHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
    private var state: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    private var pending: [UInt8] = []
    private var totalLength: UInt64 = 0

    mutating func update(_ data: UnsafeRawBufferPointer) {
        totalLength &+= UInt64(data.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, data.count)
            pending.append(contentsOf: data[0..<take])
            offset = take
            if pending.count == 64 {
                pending.withUnsafeBytes { block in compress(block.baseAddress!, blocks: 1) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        let whole = (data.count - offset) / 64
        if whole > 0 {
            compress(data.baseAddress! + offset, blocks: whole)
            offset += whole * 64
        }
        if offset < data.count { pending.append(contentsOf: data[offset...]) }
    }

    mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    mutating func finish() -> [UInt8] {
        let bitLength = totalLength &* 8
        var tail: [UInt8] = [0x80]
        while (pending.count + tail.count) % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        let length = totalLength
        update(tail)
        totalLength = length
        precondition(pending.isEmpty)
        return state.flatMap { word in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> UInt32($0)) } }
    }

    /// Runs the compression function over `blocks` consecutive 64-byte blocks.
    private mutating func compress(_ data: UnsafeRawPointer, blocks: Int) {
        let w = UnsafeMutablePointer<UInt32>.allocate(capacity: 64)
        defer { w.deallocate() }
        SHA256.k.withUnsafeBufferPointer { kBuffer in
            state.withUnsafeMutableBufferPointer { hBuffer in
                let k = kBuffer.baseAddress!, h = hBuffer.baseAddress!
                var block = data
                for _ in 0..<blocks {  // few iterations of work each; the inner loops are `while` for debug speed
                    var t = 0
                    while t < 16 {
                        w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
                        t += 1
                    }
                    while t < 64 {
                        let x = w[t - 15], y = w[t - 2]
                        let s0 = (x &>> 7 | x &<< 25) ^ (x &>> 18 | x &<< 14) ^ (x &>> 3)
                        let s1 = (y &>> 17 | y &<< 15) ^ (y &>> 19 | y &<< 13) ^ (y &>> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                        t += 1
                    }
                    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
                    t = 0
                    while t < 64 {
                        let s1 = (e &>> 6 | e &<< 26) ^ (e &>> 11 | e &<< 21) ^ (e &>> 25 | e &<< 7)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                        let s0 = (a &>> 2 | a &<< 30) ^ (a &>> 13 | a &<< 19) ^ (a &>> 22 | a &<< 10)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        hh = g; g = f; f = e; e = d &+ t1
                        d = c; c = b; b = a; a = t1 &+ t2
                        t += 1
                    }
                    h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d
                    h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
                    block += 64
                }
            }
        }
    }

    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return MQTTCodecTests.hex(hasher.finish())
    }

    static func hex(_ buffer: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(buffer)
        return MQTTCodecTests.hex(hasher.finish())
    }
}

// MARK: - The vectors, as plain values

struct PahoVector: Sendable, CustomTestStringConvertible {
    struct Will: Sendable, Equatable {
        var topic: [UInt8]
        var payload: [UInt8]
        var qos: UInt8
        var retain: Bool
    }

    struct Connect: Sendable {
        var clientID: [UInt8]
        var cleanSession: Bool
        var keepAlive: UInt16
        var userName: [UInt8]?
        var password: [UInt8]?
        var will: Will?
    }

    enum Payload: Sendable {
        case bytes([UInt8])
        /// byte[i] = i % 256
        case pattern(count: Int)

        var count: Int {
            switch self {
            case .bytes(let b): return b.count
            case .pattern(let n): return n
            }
        }
    }

    struct Publish: Sendable {
        var topic: [UInt8]
        var qos: UInt8
        var retain: Bool
        var dup: Bool
        var packetID: UInt16?
        var payload: Payload
        var payloadLength: Int
    }

    enum Content: Sendable {
        case remainingLength(Int)
        case connect(Connect)
        case subscribe(packetID: UInt16, filters: [FilterEntry])
        case unsubscribe(packetID: UInt16, filters: [[UInt8]])
        case publish(Publish)
        case puback(packetID: UInt16)
        case pingreq
        case disconnect

        var kind: String {
            switch self {
            case .remainingLength: return "remaining_length"
            case .connect: return "connect"
            case .subscribe: return "subscribe"
            case .unsubscribe: return "unsubscribe"
            case .publish: return "publish"
            case .puback: return "puback"
            case .pingreq: return "pingreq"
            case .disconnect: return "disconnect"
            }
        }
    }

    /// What the vectors over 2 MiB carry instead of `hex`.
    struct Big: Sendable {
        var length: Int
        var sha256: String
        var headHex: String
        var payloadLength: Int
    }

    var name: String
    var content: Content
    var hex: String?
    var big: Big?
    var remainingLength: Int?
    var remainingLengthBytes: Int?

    var testDescription: String { name }

    // MARK: Loading

    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    private struct RawFile: Decodable {
        var vectors: [RawVector]
    }

    private struct RawVector: Decodable {
        var name: String
        var direction: String
        var fields: RawFields
        var hex: String?
        var length: Int?
        var sha256: String?
        var head_hex: String?
        var remaining_length: Int?
        var remaining_length_bytes: Int?
        var payload: RawPayloadInfo?
    }

    private struct RawPayloadInfo: Decodable {
        var length: Int
        var pattern: String
        var sha256: String
    }

    private struct RawWill: Decodable {
        var topic: String
        var payload: String?
        var qos: Int
        var retain: Bool
    }

    private enum RawTopic: Decodable {
        case filter(String)
        case pair(String, Int)

        init(from decoder: any Decoder) throws {
            if let filter = try? decoder.singleValueContainer().decode(String.self) {
                self = .filter(filter)
                return
            }
            var pair = try decoder.unkeyedContainer()
            let filter = try pair.decode(String.self)
            let qos = try pair.decode(Int.self)
            guard pair.isAtEnd else { throw LoadError(description: "topic pair with more than 2 entries") }
            self = .pair(filter, qos)
        }
    }

    private struct RawFields: Decodable {
        var value: Int?
        var client_id: String?
        var clean_session: Bool?
        var keepalive: Int?
        var username: String?
        var password: String?
        var will: RawWill?
        var packet_id: Int?
        var topics: [RawTopic]?
        var topic: String?
        var qos: Int?
        var retain: Bool?
        var dup: Bool?
        var payload_len: Int?
        var payload_hex: String?
    }

    /// Field keys each kind of vector may carry; anything else would be silently ignored, so it
    /// fails the load instead.
    private static let allowedKeys: [String: Set<String>] = [
        "remaining_length": ["value"],
        "connect": ["client_id", "clean_session", "keepalive", "username", "password", "will"],
        "subscribe": ["packet_id", "topics"],
        "unsubscribe": ["packet_id", "topics"],
        "publish": ["topic", "qos", "retain", "dup", "payload_len", "packet_id", "payload_hex"],
        "puback": ["packet_id"],
        "pingreq": [],
        "disconnect": [],
    ]

    private static let loaded: Result<[PahoVector], LoadError> = Result { () throws(LoadError) -> [PahoVector] in
        do { return try load() } catch let error as LoadError { throw error } catch { throw LoadError(description: "\(error)") }
    }

    /// Every vector of `mqtt311_paho.json`.
    static func all() throws -> [PahoVector] { try loaded.get() }
    /// The packet vectors (not `remaining_length_*`) that carry `hex`.
    static func packetsWithHex() throws -> [PahoVector] {
        try all().filter { $0.hex != nil && !$0.isRemainingLength }
    }
    static func remainingLengths() throws -> [PahoVector] { try all().filter { $0.isRemainingLength } }
    static func bigOnes() throws -> [PahoVector] { try all().filter { $0.big != nil } }

    var isRemainingLength: Bool {
        if case .remainingLength = content { return true }
        return false
    }

    private static func load() throws -> [PahoVector] {
        let data = try Fixtures.data("mqtt311_paho.json")
        let raw = try JSONDecoder().decode(RawFile.self, from: data)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let untyped = object["vectors"] as! [[String: Any]]
        guard untyped.count == raw.vectors.count else { throw LoadError(description: "vector count") }
        return try zip(raw.vectors, untyped).map { rawVector, dictionary in
            let vector = try convert(rawVector)
            let keys = Set((dictionary["fields"] as! [String: Any]).keys)
            let allowed = allowedKeys[vector.content.kind]!
            guard keys.isSubset(of: allowed) else {
                throw LoadError(description: "\(vector.name): unknown field keys \(keys.subtracting(allowed))")
            }
            return vector
        }
    }

    private static func id(_ value: Int?, _ name: String) throws -> UInt16 {
        guard let value, let id = UInt16(exactly: value) else { throw LoadError(description: "\(name): bad packet_id") }
        return id
    }

    private static func convert(_ raw: RawVector) throws -> PahoVector {
        let f = raw.fields
        let name = raw.name
        let content: Content
        func fail(_ what: String) -> LoadError { LoadError(description: "\(name): \(what)") }
        if name.hasPrefix("remaining_length_") {
            guard let value = f.value else { throw fail("no value") }
            content = .remainingLength(value)
        } else if name.hasPrefix("connect_") {
            guard let clientID = f.client_id, let clean = f.clean_session, let keepAlive = f.keepalive.flatMap(UInt16.init(exactly:))
            else { throw fail("connect fields") }
            var will: Will?
            if let w = f.will {
                guard let qos = UInt8(exactly: w.qos), qos <= 2 else { throw fail("will qos") }
                will = Will(topic: Array(w.topic.utf8), payload: Array((w.payload ?? "").utf8), qos: qos, retain: w.retain)
            }
            content = .connect(Connect(
                clientID: Array(clientID.utf8), cleanSession: clean, keepAlive: keepAlive,
                userName: f.username.map { Array($0.utf8) }, password: f.password.map { Array($0.utf8) }, will: will))
        } else if name.hasPrefix("subscribe_") {
            guard let topics = f.topics else { throw fail("no topics") }
            let filters = try topics.map { topic -> FilterEntry in
                guard case .pair(let filter, let qos) = topic, let q = UInt8(exactly: qos), q <= 2 else { throw fail("subscribe topic") }
                return FilterEntry(filter: Array(filter.utf8), qos: q)
            }
            content = .subscribe(packetID: try id(f.packet_id, name), filters: filters)
        } else if name.hasPrefix("unsubscribe_") {
            guard let topics = f.topics else { throw fail("no topics") }
            let filters = try topics.map { topic -> [UInt8] in
                guard case .filter(let filter) = topic else { throw fail("unsubscribe topic") }
                return Array(filter.utf8)
            }
            content = .unsubscribe(packetID: try id(f.packet_id, name), filters: filters)
        } else if name.hasPrefix("publish_") {
            guard let topic = f.topic, let qosValue = f.qos, let qos = UInt8(exactly: qosValue), qos <= 2,
                  let retain = f.retain, let dup = f.dup, let payloadLength = f.payload_len
            else { throw fail("publish fields") }
            let payload: Payload = f.payload_hex.map { .bytes(bytes(hex: $0)) } ?? .pattern(count: payloadLength)
            content = .publish(Publish(
                topic: Array(topic.utf8), qos: qos, retain: retain, dup: dup,
                packetID: try f.packet_id.map { try id($0, name) }, payload: payload, payloadLength: payloadLength))
        } else if name.hasPrefix("puback_") {
            content = .puback(packetID: try id(f.packet_id, name))
        } else if name == "pingreq" {
            content = .pingreq
        } else if name == "disconnect" {
            content = .disconnect
        } else {
            throw fail("unknown vector kind")
        }
        var big: Big?
        if raw.hex == nil {
            guard let length = raw.length, let sha = raw.sha256, let head = raw.head_hex, let payload = raw.payload,
                  payload.pattern == "byte[i] = i % 256"
            else { throw fail("vector without hex lacks length/sha256/head_hex/payload") }
            big = Big(length: length, sha256: sha, headHex: head, payloadLength: payload.length)
        }
        return PahoVector(
            name: name, content: content, hex: raw.hex, big: big,
            remainingLength: raw.remaining_length, remainingLengthBytes: raw.remaining_length_bytes)
    }

    // MARK: Building

    /// The packet the vector's fields describe; `nil` for `remaining_length_*`.
    func packet(in arena: Arena) -> MQTTPacket? {
        switch content {
        case .remainingLength:
            return nil
        case .connect(let c):
            let will = c.will.map {
                MQTTWill(topic: arena.view($0.topic), payload: arena.view($0.payload), qos: QoS(rawValue: $0.qos)!, retain: $0.retain)
            }
            return .connect(MQTTConnect(
                clientID: arena.view(c.clientID), cleanSession: c.cleanSession, keepAlive: c.keepAlive,
                userName: c.userName.map(arena.view), password: c.password.map(arena.view), will: will))
        case .subscribe(let id, let filters):
            let subscriptions = filters.map { MQTTSubscription(filter: arena.view($0.filter), qos: QoS(rawValue: $0.qos)!) }
            return .subscribe(MQTTSubscribe(packetID: id, subscriptions: arena.list(subscriptions)))
        case .unsubscribe(let id, let filters):
            let subscriptions = filters.map { MQTTSubscription(filter: arena.view($0), qos: .atMostOnce) }
            return .unsubscribe(MQTTUnsubscribe(packetID: id, filters: arena.list(subscriptions)))
        case .publish(let p):
            let payload: ByteView
            switch p.payload {
            case .bytes(let b): payload = arena.view(b)
            case .pattern(let n): payload = arena.pattern(count: n)
            }
            return .publish(MQTTPublish(
                topic: arena.view(p.topic), payload: payload, qos: QoS(rawValue: p.qos)!, packetID: p.packetID ?? 0,
                retain: p.retain, dup: p.dup))
        case .puback(let id):
            return .puback(packetID: id)
        case .pingreq:
            return .pingreq
        case .disconnect:
            return .disconnect
        }
    }

    /// Checks, field by field, that `packet` carries exactly the vector's fields.
    func expectFields(of packet: MQTTPacket, sourceLocation: SourceLocation = #_sourceLocation) {
        switch (content, packet) {
        case (.connect(let c), .connect(let d)):
            #expect(d.clientID.array == c.clientID, "client_id", sourceLocation: sourceLocation)
            #expect(d.cleanSession == c.cleanSession, "clean_session", sourceLocation: sourceLocation)
            #expect(d.keepAlive == c.keepAlive, "keepalive", sourceLocation: sourceLocation)
            #expect(d.userName?.array == c.userName, "username", sourceLocation: sourceLocation)
            #expect(d.password?.array == c.password, "password", sourceLocation: sourceLocation)
            #expect(d.will?.topic.array == c.will?.topic, "will.topic", sourceLocation: sourceLocation)
            #expect(d.will?.payload.array == c.will?.payload, "will.payload", sourceLocation: sourceLocation)
            #expect(d.will?.qos.rawValue == c.will?.qos, "will.qos", sourceLocation: sourceLocation)
            #expect(d.will?.retain == c.will?.retain, "will.retain", sourceLocation: sourceLocation)
        case (.subscribe(let id, let filters), .subscribe(let d)):
            #expect(d.packetID == id, "packet_id", sourceLocation: sourceLocation)
            #expect(d.subscriptions.entries == filters, "topics", sourceLocation: sourceLocation)
            #expect(d.subscriptions.count == filters.count, "topic count", sourceLocation: sourceLocation)
        case (.unsubscribe(let id, let filters), .unsubscribe(let d)):
            #expect(d.packetID == id, "packet_id", sourceLocation: sourceLocation)
            #expect(d.filters.entries.map(\.filter) == filters, "topics", sourceLocation: sourceLocation)
        case (.publish(let p), .publish(let d)):
            #expect(d.topic.array == p.topic, "topic", sourceLocation: sourceLocation)
            #expect(d.qos.rawValue == p.qos, "qos", sourceLocation: sourceLocation)
            #expect(d.retain == p.retain, "retain", sourceLocation: sourceLocation)
            #expect(d.dup == p.dup, "dup", sourceLocation: sourceLocation)
            #expect(d.packetID == (p.packetID ?? 0), "packet_id", sourceLocation: sourceLocation)
            #expect(d.payload.count == p.payloadLength, "payload_len", sourceLocation: sourceLocation)
            switch p.payload {
            case .bytes(let b):
                #expect(d.payload.array == b, "payload_hex", sourceLocation: sourceLocation)
            case .pattern(let n):
                #expect(d.payload.count == n && matchesPattern(d.payload), "payload byte[i] = i % 256", sourceLocation: sourceLocation)
            }
        case (.puback(let id), .puback(let d)):
            #expect(d == id, "packet_id", sourceLocation: sourceLocation)
        case (.pingreq, .pingreq), (.disconnect, .disconnect):
            break
        default:
            Issue.record("\(name): decoded a \(packet.type), expected \(content.kind)", sourceLocation: sourceLocation)
        }
    }
}

// MARK: - Tests

@Suite("paho-mqtt 1.6.1 vectors")
struct PahoVectorTests {
    @Test func inventory() throws {
        let vectors = try PahoVector.all()
        #expect(vectors.count == 65)
        #expect(Set(vectors.map(\.name)).count == 65, "names are unique")
        var kinds = [String: Int]()
        for vector in vectors { kinds[vector.content.kind, default: 0] += 1 }
        #expect(kinds == [
            "remaining_length": 9, "connect": 14, "subscribe": 4, "unsubscribe": 2, "publish": 31,
            "puback": 3, "pingreq": 1, "disconnect": 1,
        ])
        #expect(vectors.filter { $0.big != nil }.map(\.name) == [
            "publish_q0_payload_2097152", "publish_q1_payload_2097152",
            "publish_q0_rl_exact_2097151", "publish_q0_rl_exact_2097152",
        ])
        #expect(vectors.filter { $0.hex == nil && $0.big == nil }.isEmpty)
    }

    /// Encoding the fields gives paho's bytes exactly.
    @Test(arguments: try PahoVector.packetsWithHex())
    func encodingFieldsGivesHex(_ vector: PahoVector) throws {
        let expected = bytes(hex: vector.hex!)
        try withArena { arena in
            let packet = try #require(vector.packet(in: arena))
            #expect(try packet.encodedSize() == expected.count)
            #expect(hex(try encoded(packet)) == vector.hex!)

            // Into a larger buffer: same bytes, the rest untouched.
            var out = [UInt8](repeating: 0xA5, count: expected.count + 7)
            let written = try out.withUnsafeMutableBytes { raw in
                Result { () throws(MQTTEncodeError) -> Int in try packet.encode(into: raw) }
            }.get()
            #expect(written == expected.count)
            #expect(Array(out[..<expected.count]) == expected)
            #expect(Array(out[expected.count...]) == [UInt8](repeating: 0xA5, count: 7))
        }
    }

    /// Decoding paho's bytes gives the fields back, and the header the vector's remaining length.
    @Test(arguments: try PahoVector.packetsWithHex())
    func decodingHexGivesFields(_ vector: PahoVector) throws {
        let input = bytes(hex: vector.hex!)
        try withDecoded(input) { result in
            let packet = try result.get()
            vector.expectFields(of: packet)
            // And back again.
            #expect(hex(try encoded(packet)) == vector.hex!)
        }
        let header = try parsedHeader(input)
        #expect(header.remainingLength == vector.remainingLength)
        #expect(header.length == 1 + (vector.remainingLengthBytes ?? -1))
        #expect(header.packetLength == input.count)
        #expect(header.type.rawValue == input[0] >> 4)
        #expect(header.flags == input[0] & 0x0F)
    }

    /// The packet built from the fields equals the packet decoded from the hex.
    @Test(arguments: try PahoVector.packetsWithHex())
    func builtEqualsDecoded(_ vector: PahoVector) throws {
        try withArena { arena in
            let built = try #require(vector.packet(in: arena))
            try withDecoded(bytes(hex: vector.hex!)) { result in
                let decoded = try result.get()
                #expect(decoded == built)
            }
        }
    }

    /// The nine remaining-length encodings, through the encoder's writer, the header parser and
    /// (where a packet of that size is cheap) a whole packet.
    @Test(arguments: try PahoVector.remainingLengths())
    func remainingLength(_ vector: PahoVector) throws {
        guard case .remainingLength(let value) = vector.content else { Issue.record("not a remaining length"); return }
        let expected = bytes(hex: vector.hex!)

        // The encoder's own varint writer.
        var scratch = [UInt8](repeating: 0xEE, count: 8)
        let written = scratch.withUnsafeMutableBytes { raw in
            var writer = UncheckedWriter(base: raw.baseAddress!)
            writer.remainingLength(value)
            return writer.position
        }
        #expect(Array(scratch[..<written]) == expected)
        #expect(scratch[written...].allSatisfy { $0 == 0xEE })
        #expect(MQTTFixedHeader.remainingLengthSize(value) == expected.count)

        // The header parser, on a PUBLISH header and on a SUBACK header carrying it.
        for first: UInt8 in [0x30, 0x90] {
            let header = try parsedHeader([first] + expected)
            #expect(header.remainingLength == value)
            #expect(header.length == 1 + expected.count)
            #expect(header.packetLength == 1 + expected.count + value)
            // One length byte short: not yet known.
            let short = [first] + expected.dropLast()
            let parse = try short.withUnsafeBytes { raw in
                Result { () throws(MQTTDecodeError) -> MQTTFixedHeader.Parse in try MQTTFixedHeader.parse(ByteView(raw)) }
            }.get()
            guard case .incomplete = parse else { Issue.record("\(hex(short)) parsed complete"); continue }
        }

        // A whole packet with that remaining length.
        try withArena { arena in
            switch value {
            case 0:
                #expect(try encoded(.pingreq) == [0xC0] + expected)
            case 1:
                // No MQTT 3.1.1 packet has a remaining length of 1; a PUBACK claiming it is refused.
                #expect(bytesDecodeError([0x40] + expected + [0x00]) == MQTTDecodeError(.remainingLengthMismatch(expected: 2), at: 1))
            case 2:
                #expect(try encoded(.puback(packetID: 0x1234)) == [0x40] + expected + [0x12, 0x34])
            case 3...2_097_152:
                let packet = MQTTPacket.publish(MQTTPublish(topic: arena.view("t"), payload: arena.pattern(count: value - 3)))
                let out = try encoded(packet)
                #expect(out.count == 1 + expected.count + value)
                #expect(Array(out.prefix(1 + expected.count + 3)) == [0x30] + expected + [0x00, 0x01, 0x74])
            default:
                // Too big to write out here; the size must still come out right, and one more byte is too many.
                let packet = MQTTPacket.publish(MQTTPublish(topic: arena.view("t"), payload: arena.unread(count: value - 3)))
                #expect(try packet.encodedSize() == 1 + expected.count + value)
                let over = MQTTPacket.publish(MQTTPublish(topic: arena.view("t"), payload: arena.unread(count: value - 2)))
                #expect(throws: MQTTEncodeError.packetTooLarge(remainingLength: value + 1)) { try over.encodedSize() }
            }
        }
    }

    /// The four packets over 2 MiB: length, head bytes and SHA-256 of the whole packet; decoded
    /// whole and streamed through the frame reader in chunks.
    @Test(arguments: try PahoVector.bigOnes())
    func bigPacket(_ vector: PahoVector) throws {
        let big = try #require(vector.big)
        try withArena { arena in
            let packet = try #require(vector.packet(in: arena))
            guard case .publish(let publish) = packet else { Issue.record("not a PUBLISH"); return }
            #expect(publish.payload.count == big.payloadLength)

            #expect(try packet.encodedSize() == big.length)
            let out = try encoded(packet)
            #expect(out.count == big.length)
            #expect(hex(out.prefix(big.headHex.count / 2)) == big.headHex)
            #expect(SHA256.hex(out) == big.sha256)

            let header = try parsedHeader(out)
            #expect(header.remainingLength == vector.remainingLength)
            #expect(header.length == 1 + (vector.remainingLengthBytes ?? -1))

            try withDecoded(out) { result in
                let decoded = try result.get()
                vector.expectFields(of: decoded)
                #expect(decoded == packet)
            }

            // Streamed: storage exactly one packet big, chunks of varying size, both ways of writing.
            let reader = ReaderBox(capacity: big.length)
            var offset = 0
            var chunk = 1
            var frames = 0
            var useAppend = false
            while offset < out.count {
                let n = min(chunk, out.count - offset)
                if useAppend {
                    let taken = out[offset..<(offset + n)].withUnsafeBytes { reader.reader.append($0) }
                    #expect(taken == n)
                } else {
                    let space = reader.reader.writableSpace()
                    #expect(space.count >= n)
                    out[offset..<(offset + n)].withUnsafeBytes { space.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
                    reader.reader.didWrite(n)
                }
                offset += n
                useAppend.toggle()
                chunk = chunk < 4 ? chunk + 1 : chunk * 3 + 1001
                if let frame = try reader.reader.nextFrame() {
                    frames += 1
                    #expect(offset == out.count, "frame complete only with the last byte")
                    #expect(frame.header == header)
                    #expect(frame.bytes.count == big.length)
                    let decoded = try frame.decode()
                    vector.expectFields(of: decoded)
                    #expect(decoded == packet)
                }
            }
            #expect(frames == 1)
            #expect(try reader.reader.nextFrame() == nil)
            #expect(reader.reader.bufferedCount == 0)
        }
    }

    /// The capture the fixture's generator cross-checked against a real TCP connection.
    @Test func socketCrosscheck() throws {
        let object = try JSONSerialization.jsonObject(with: Fixtures.data("mqtt311_paho.json")) as! [String: Any]
        let crosscheck = try #require(object["socket_crosscheck"] as? [String: Any])
        let captured = try #require(crosscheck["hex"] as? String)
        #expect(captured == "102200044d51545404c0003c000764657669636531000575736572310006736563726574")
        try withDecoded(bytes(hex: captured)) { result in
            guard case .connect(let connect) = try result.get() else { Issue.record("not a CONNECT"); return }
            #expect(connect.clientID.string == "device1")
            #expect(connect.cleanSession == false)
            #expect(connect.keepAlive == 60)
            #expect(connect.userName?.string == "user1")
            #expect(connect.password?.string == "secret")
            #expect(connect.will == nil)
            #expect(hex(try encoded(.connect(connect))) == captured)
        }
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let long = Array(("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
            + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8)
        #expect(SHA256.hex(long) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        // Fed in uneven pieces: the same digest.
        var hasher = SHA256()
        var index = 0
        for size in [1, 2, 60, 3, 1000] where index < long.count {
            let end = min(index + size, long.count)
            hasher.update(long[index..<end])
            index = end
        }
        #expect(hex(hasher.finish()) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        // 55, 56 and 64 bytes: the padding boundaries.
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 55)) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 56)) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 64)) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }
}

// MARK: - Helpers shared by the codec tests

/// The fixed header at the start of `packet`, which must be complete and valid.
func parsedHeader(_ packet: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> MQTTFixedHeader {
    let parse = try packet.withUnsafeBytes { raw in
        Result { () throws(MQTTDecodeError) -> MQTTFixedHeader.Parse in try MQTTFixedHeader.parse(ByteView(raw)) }
    }.get()
    guard case .complete(let header) = parse else {
        Issue.record("header of \(hex(packet.prefix(8))) incomplete", sourceLocation: sourceLocation)
        throw MQTTDecodeError(.truncatedField, at: packet.count)
    }
    return header
}

/// The error decoding `packet` gives, or `nil` if it decodes.
func bytesDecodeError(_ packet: [UInt8]) -> MQTTDecodeError? {
    withDecoded(packet) { result in
        if case .failure(let error) = result { return error }
        return nil
    }
}

/// A frame reader over storage it owns.
final class ReaderBox {
    let storage: UnsafeMutableRawBufferPointer
    var reader: MQTTFrameReader

    init(capacity: Int, maximumPacketSize: Int? = nil) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        reader = MQTTFrameReader(storage: storage, maximumPacketSize: maximumPacketSize)
    }

    deinit { storage.deallocate() }
}

