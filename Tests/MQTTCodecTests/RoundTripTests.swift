@testable import DeviceCore
import Foundation
import Testing

/// Random valid packets from a seeded generator: encode → decode gives the same packet, and
/// encoding the decoded packet gives the same bytes.
struct PacketGenerator {
    var rng: SeededSplitMix64
    let arena: Arena

    /// Safe topic characters: ASCII and multi-byte UTF-8 at the encoding-length boundaries,
    /// never `/`, `+`, `#` or U+0000.
    static let alphabet: [Unicode.Scalar] = Array("abcXYZ019-_.$ ~".unicodeScalars) + [
        "\u{01}", "\u{7F}", "\u{80}", "ä", "\u{7FF}", "\u{800}", "✓", "中", "\u{D7FF}", "\u{E000}", "\u{FEFF}",
        "\u{FFFF}", "\u{10000}", "😀", "\u{10FFFF}",
    ]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func bool() -> Bool { Bool.random(using: &rng) }
    mutating func qos() -> QoS { QoS(rawValue: UInt8(int(0...2)))! }
    mutating func packetID() -> UInt16 {
        // Favour the edges now and then.
        switch int(0...9) {
        case 0: return 1
        case 1: return 65_535
        default: return UInt16(int(1...65_535))
        }
    }

    mutating func level(maxLength: Int) -> String {
        var level = ""
        for _ in 0..<int(0...maxLength) { level.unicodeScalars.append(Self.alphabet[int(0...(Self.alphabet.count - 1))]) }
        return level
    }

    /// A non-empty topic name of 1…4 levels (levels may be empty: "a//b" is a valid name).
    mutating func topicName() -> [UInt8] {
        let levels = (0..<int(1...4)).map { _ in level(maxLength: 6) }
        let topic = levels.joined(separator: "/")
        return topic.isEmpty ? Array("t".utf8) : Array(topic.utf8)
    }

    /// A valid filter: levels that are text or `+`, optionally ending in a `#` level.
    mutating func topicFilter() -> [UInt8] {
        var levels = [String]()
        for _ in 0..<int(1...4) {
            levels.append(int(0...3) == 0 ? "+" : level(maxLength: 5))
        }
        if int(0...3) == 0 { levels.append("#") }
        if int(0...19) == 0 { levels = [["#", "+", "/"][int(0...2)]] }
        let filter = levels.joined(separator: "/")
        return filter.isEmpty ? Array("f".utf8) : Array(filter.utf8)
    }

    mutating func binary(maxLength: Int) -> [UInt8] {
        (0..<int(0...maxLength)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    mutating func payload() -> [UInt8] {
        switch int(0...199) {
        case 0..<10: return []
        case 10..<30: return binary(maxLength: 300)  // across the 127/128 boundary
        case 30: return (0..<int(16_380...16_500)).map { UInt8(truncatingIfNeeded: $0) }  // 3 length bytes
        default: return binary(maxLength: 40)
        }
    }

    mutating func string(maxLength: Int) -> [UInt8] {
        Array(level(maxLength: maxLength).utf8)
    }

    /// A random valid packet of `type`.
    mutating func packet(_ type: MQTTPacketType) -> MQTTPacket {
        switch type {
        case .connect:
            let clean = bool()
            var clientID = string(maxLength: 23)
            if clientID.isEmpty && !clean { clientID = Array("id".utf8) }  // MQTT-3.1.3-7
            let userName = bool() ? string(maxLength: 30) : nil
            let password = userName != nil && bool() ? binary(maxLength: 40) : nil
            var will: MQTTWill?
            if bool() {
                will = MQTTWill(topic: arena.view(topicName()), payload: arena.view(binary(maxLength: 50)), qos: qos(), retain: bool())
            }
            return .connect(MQTTConnect(
                clientID: arena.view(clientID), cleanSession: clean, keepAlive: UInt16(int(0...65_535)),
                userName: userName.map(arena.view), password: password.map(arena.view), will: will))
        case .connack:
            let code = MQTTConnectReturnCode(rawValue: UInt8(int(0...5)))!
            return .connack(MQTTConnAck(sessionPresent: code == .accepted && bool(), returnCode: code))
        case .publish:
            let q = qos()
            return .publish(MQTTPublish(
                topic: arena.view(topicName()), payload: arena.view(payload()), qos: q,
                packetID: q == .atMostOnce ? 0 : packetID(), retain: bool(), dup: q != .atMostOnce && bool()))
        case .puback: return .puback(packetID: packetID())
        case .pubrec: return .pubrec(packetID: packetID())
        case .pubrel: return .pubrel(packetID: packetID())
        case .pubcomp: return .pubcomp(packetID: packetID())
        case .unsuback: return .unsuback(packetID: packetID())
        case .subscribe:
            let subscriptions = (0..<int(1...5)).map { _ in MQTTSubscription(filter: arena.view(topicFilter()), qos: qos()) }
            return .subscribe(MQTTSubscribe(packetID: packetID(), subscriptions: arena.list(subscriptions)))
        case .unsubscribe:
            // Decoded UNSUBSCRIBE filters carry QoS 0, and the list compares QoS.
            let filters = (0..<int(1...5)).map { _ in MQTTSubscription(filter: arena.view(topicFilter()), qos: .atMostOnce) }
            return .unsubscribe(MQTTUnsubscribe(packetID: packetID(), filters: arena.list(filters)))
        case .suback:
            let codes = (0..<int(1...8)).map { _ in [0, 1, 2, 0x80][int(0...3)] as UInt8 }
            return .suback(MQTTSubAck(packetID: packetID(), returnCodes: arena.view(codes)))
        case .pingreq: return .pingreq
        case .pingresp: return .pingresp
        case .disconnect: return .disconnect
        }
    }
}

@Suite("Round trips")
struct RoundTripTests {
    static let allTypes: [MQTTPacketType] = [
        .connect, .connack, .publish, .puback, .pubrec, .pubrel, .pubcomp, .subscribe, .suback,
        .unsubscribe, .unsuback, .pingreq, .pingresp, .disconnect,
    ]

    /// 5,000 random packets of every type (publish-heavy): encode, decode, compare; re-encode, compare bytes.
    @Test func randomPacketsRoundTrip() throws {
        try withArena { arena in
            var generator = PacketGenerator(rng: SeededSplitMix64(seed: 0x5EED_0311), arena: arena)
            var perType = [MQTTPacketType: Int]()
            var lengthBytes = Set<Int>()
            var multiByteTopics = 0
            var failures = 0
            for index in 0..<5_000 {
                let type = index % 3 == 0 ? MQTTPacketType.publish : Self.allTypes[generator.int(0...(Self.allTypes.count - 1))]
                let packet = generator.packet(type)
                perType[type, default: 0] += 1
                let bytes = try encoded(packet)
                #expect(bytes[0] >> 4 == type.rawValue)
                let header = try parsedHeader(bytes)
                lengthBytes.insert(header.length - 1)
                if case .publish(let p) = packet, p.topic.array.contains(where: { $0 >= 0x80 }) { multiByteTopics += 1 }
                try withDecoded(bytes) { result in
                    guard case .success(let decoded) = result else {
                        Issue.record("packet \(index) (\(type)) \(hex(bytes.prefix(64))): \(result)")
                        failures += 1
                        return
                    }
                    if decoded != packet {
                        Issue.record("packet \(index) (\(type)) decodes differently: \(hex(bytes.prefix(64)))")
                        failures += 1
                    }
                    let again = try encoded(decoded)
                    if again != bytes {
                        Issue.record("packet \(index) (\(type)) re-encodes differently: \(hex(bytes.prefix(64))) → \(hex(again.prefix(64)))")
                        failures += 1
                    }
                }
                if failures > 10 { break }
            }
            #expect(failures == 0)
            #expect(Set(perType.keys) == Set(Self.allTypes), "every type generated")
            #expect(perType.values.reduce(0, +) == 5_000)
            #expect(perType.values.allSatisfy { $0 >= 100 })
            #expect(lengthBytes == [1, 2, 3], "remaining lengths of 1, 2 and 3 bytes")
            #expect(multiByteTopics > 100)
        }
    }

    /// The same kind of packets, one stream, through the frame reader in random chunks.
    @Test func randomPacketsThroughTheFrameReader() throws {
        try withArena { arena in
            var generator = PacketGenerator(rng: SeededSplitMix64(seed: 77), arena: arena)
            var packets = [[UInt8]]()
            for _ in 0..<1_500 {
                let type = Self.allTypes[generator.int(0...(Self.allTypes.count - 1))]
                packets.append(try encoded(generator.packet(type)))
            }
            let stream = packets.flatMap { $0 }
            var checker = FrameChecker(packets)
            let box = ReaderBox(capacity: packets.map(\.count).max()!)
            var offset = 0
            while offset < stream.count {
                let want = min(generator.int(1...600), stream.count - offset)
                let taken = stream[offset..<(offset + want)].withUnsafeBytes { box.reader.append($0) }
                offset += taken
                try checker.drain(&box.reader, received: offset)
            }
            #expect(checker.done)
        }
    }

    /// The generator only makes packets the codec's own validation accepts; check that its
    /// alphabet really reaches the UTF-8 boundaries it claims to.
    @Test func alphabetCoversUTF8Lengths() {
        let lengths = Set(PacketGenerator.alphabet.map { String($0).utf8.count })
        #expect(lengths == [1, 2, 3, 4])
        #expect(!PacketGenerator.alphabet.contains { $0 == "/" || $0 == "+" || $0 == "#" || $0 == "\u{0}" })
    }

    /// An UNSUBSCRIBE has no QoS on the wire, so equality ignores the QoS of its entries: one
    /// built with QoS 1 entries equals its own decoded bytes.
    @Test func unsubscribeQoSIgnoredByEquality() throws {
        try withArena { arena in
            let filters = arena.list([MQTTSubscription(filter: arena.view("a/b"), qos: .atLeastOnce)])
            let packet = MQTTPacket.unsubscribe(MQTTUnsubscribe(packetID: 3, filters: filters))
            let bytes = try encoded(packet)
            #expect(hex(bytes) == "a20700030003612f62", "QoS is not written")
            try withDecoded(bytes) { result in
                let decoded = try result.get()
                #expect(decoded == packet)
            }
        }
    }

    /// Hand-picked extremes of each field.
    @Test func extremes() throws {
        try withArena { arena in
            let longTopic = [UInt8](repeating: 0x61, count: 65_535)
            let cases: [MQTTPacket] = [
                .publish(MQTTPublish(topic: arena.view(longTopic), payload: arena.view([]), qos: .exactlyOnce, packetID: 65_535, retain: true, dup: true)),
                .connect(MQTTConnect(
                    clientID: arena.view(""), cleanSession: true, keepAlive: 65_535, userName: arena.view(""), password: arena.view([UInt8](repeating: 0xFF, count: 65_535)),
                    will: MQTTWill(topic: arena.view("/"), payload: arena.view([UInt8](repeating: 0, count: 65_535)), qos: .exactlyOnce, retain: true))),
                .subscribe(MQTTSubscribe(packetID: 1, subscriptions: arena.list([MQTTSubscription(filter: arena.view(longTopic), qos: .exactlyOnce)]))),
                .suback(MQTTSubAck(packetID: 65_535, returnCodes: arena.view([UInt8](repeating: 0x80, count: 1_000)))),
            ]
            let sizes = [1 + 3 + (2 + 65_535 + 2), 1 + 3 + (10 + 2 + (2 + 1) + (2 + 65_535) + 2 + (2 + 65_535)), 1 + 3 + (2 + 2 + 65_535 + 1), 1 + 2 + (2 + 1_000)]
            for (packet, size) in zip(cases, sizes) {
                let bytes = try encoded(packet)
                #expect(bytes.count == size)
                try withDecoded(bytes) { result in
                    let decoded = try result.get()
                    #expect(decoded == packet)
                    #expect(try encoded(decoded) == bytes)
                }
            }
        }
    }
}
