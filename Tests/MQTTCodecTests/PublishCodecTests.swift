@testable import DeviceCore
import Testing

// PUBLISH's encoder and decoder and the topic-name checks, held to references written here from
// the standard (bytes, rules and offsets), on the paho vectors, on exact packets and on random
// cases; and the session's publish with a validated topic.

// MARK: - References

/// The PUBLISH bytes, straight from §3.3 (no validation).
private func referencePublish(topic: [UInt8], payload: [UInt8], qos: UInt8, packetID: UInt16, retain: Bool, dup: Bool) -> [UInt8] {
    var body = [UInt8(topic.count >> 8), UInt8(topic.count & 0xFF)] + topic
    if qos != 0 { body += [UInt8(packetID >> 8), UInt8(packetID & 0xFF)] }
    body += payload
    var out: [UInt8] = [0x30 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 0x01 : 0)]
    var rest = body.count
    repeat {
        var digit = UInt8(rest & 0x7F)
        rest >>= 7
        if rest > 0 { digit |= 0x80 }
        out.append(digit)
    } while rest > 0
    return out + body
}

/// The first rule a topic name breaks and its offset, byte by byte from §1.5.3 / §4.7: U+0000,
/// ill-formed UTF-8 (surrogates reported at their lead byte), then wildcards.
private func referenceTopicCheck(_ topic: [UInt8]) -> (rule: MQTTRule, index: Int)? {
    if topic.isEmpty { return (.emptyTopic, 0) }
    var i = 0
    while i < topic.count {
        let lead = topic[i]
        if lead == 0 { return (.nullCharacterInString, i) }
        if lead < 0x80 { i += 1; continue }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return (.invalidUTF8, i)
        }
        for k in 1..<length {
            guard i + k < topic.count else { return (.invalidUTF8, i) }
            let byte = topic[i + k]
            let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            if byte < lo || byte > hi {
                if lead == 0xED && k == 1 && byte >= 0xA0 && byte <= 0xBF { return (.surrogateInString, i) }
                return (.invalidUTF8, i + k)
            }
        }
        i += length
    }
    if let wildcard = topic.firstIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
        return (.wildcardInTopicName, wildcard)
    }
    return nil
}

/// What encoding the PUBLISH must give: its bytes, or the first error in the encoder's order.
private func referenceEncode(
    topic: [UInt8], payload: [UInt8], qos: UInt8, packetID: UInt16, retain: Bool, dup: Bool, capacity: Int
) -> Result<[UInt8], MQTTEncodeError> {
    if qos == 0 && dup { return .failure(.invalid(.dupWithQoS0)) }
    if qos != 0 && packetID == 0 { return .failure(.invalid(.zeroPacketIdentifier)) }
    if topic.count > 65_535 { return .failure(.invalid(.stringTooLong(length: topic.count))) }
    if let failure = referenceTopicCheck(topic) { return .failure(.invalid(failure.rule)) }
    let bytes = referencePublish(topic: topic, payload: payload, qos: qos, packetID: packetID, retain: retain, dup: dup)
    if bytes.count > capacity { return .failure(.bufferTooSmall(BufferTooSmall(needed: bytes.count, capacity: capacity))) }
    return .success(bytes)
}

/// Runs `encode` on a buffer of `capacity` bytes; the bytes written or the error.
private func encodeResult(
    capacity: Int, _ encode: (UnsafeMutableRawBufferPointer) throws(MQTTEncodeError) -> Int
) -> Result<[UInt8], MQTTEncodeError> {
    var out = [UInt8](repeating: 0xA5, count: capacity)
    let result = out.withUnsafeMutableBytes { raw in
        Result { () throws(MQTTEncodeError) -> Int in try encode(raw) }
    }
    switch result {
    case .success(let written): return .success(Array(out[..<written]))
    case .failure(let error):
        #expect(out.allSatisfy { $0 == 0xA5 }, "nothing written on \(error)")
        return .failure(error)
    }
}

/// Random bytes for topics, weighted to the values the word-at-a-time test must tell apart:
/// the bytes it rejects (0x00, `+`, `#`, 0x80 and up) and their neighbours (borrows, bit 3).
private func randomTopicByte(_ rng: inout SplitMix64) -> UInt8 {
    let tricky: [UInt8] = [0x00, 0x01, 0x03, 0x0B, 0x22, 0x23, 0x24, 0x2A, 0x2B, 0x2C, 0x2F, 0x7F, 0x80, 0xBF, 0xC2, 0xED, 0xA0, 0xF0, 0xFF]
    switch rng.next() % 16 {
    case 0: return tricky[Int(rng.next() % UInt64(tricky.count))]
    case 1: return UInt8(truncatingIfNeeded: rng.next())
    default: return UInt8(ascii: "a") + UInt8(rng.next() % 26)
    }
}

private func randomPlainTopic(_ rng: inout SplitMix64, count: Int) -> [UInt8] {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789/-_.$%=&".utf8)
    return (0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
}

/// Random topics: plain ones with a few bytes changed, valid multi-byte UTF-8, and noise.
private func randomTopic(_ rng: inout SplitMix64) -> [UInt8] {
    let count = Int(rng.next() % 80)
    var topic = randomPlainTopic(&rng, count: count)
    switch rng.next() % 4 {
    case 0:
        break
    case 1:
        if count > 0 {
            for _ in 0..<(1 + Int(rng.next() % 2)) { topic[Int(rng.next() % UInt64(count))] = randomTopicByte(&rng) }
        }
    case 2:
        let characters = ["é", "€", "𝄞", "日本", "ü/ß"].map { Array($0.utf8) }
        topic.insert(contentsOf: characters[Int(rng.next() % 5)], at: count == 0 ? 0 : Int(rng.next() % UInt64(count)))
    default:
        topic = (0..<count).map { _ in randomTopicByte(&rng) }
    }
    return topic
}

// MARK: - Tests

@Suite("PUBLISH codec")
struct PublishCodecTests {
    /// The paho vectors' PUBLISH packets, through each PUBLISH entry point: paho's bytes exactly, and back.
    @Test(arguments: try PahoVector.packetsWithHex().filter { $0.content.kind == "publish" })
    func pahoVectors(_ vector: PahoVector) throws {
        let expected = bytes(hex: vector.hex!)
        try withArena { arena throws in
            guard case .publish(let publish) = try #require(vector.packet(in: arena)) else { Issue.record("not a PUBLISH"); return }
            #expect(try publish.encodedSize() == expected.count)
            #expect(try encodeResult(capacity: expected.count) { buffer throws(MQTTEncodeError) in try publish.encode(into: buffer) }.get() == expected)
            let topic = try MQTTTopicName(validating: publish.topic)
            #expect(topic.bytes == publish.topic)
            let viaName = encodeResult(capacity: expected.count + 3) { buffer throws(MQTTEncodeError) in
                try MQTTPublish.encode(
                    topic: topic, payload: publish.payload, qos: publish.qos, packetID: publish.packetID,
                    retain: publish.retain, dup: publish.dup, into: buffer)
            }
            #expect(try viaName.get() == expected)
            // One byte short: nothing written, and the size it needed.
            #expect(throws: MQTTEncodeError.bufferTooSmall(BufferTooSmall(needed: expected.count, capacity: expected.count - 1))) {
                _ = try encodeResult(capacity: expected.count - 1) { buffer throws(MQTTEncodeError) in try publish.encode(into: buffer) }.get()
            }

            try expected.withUnsafeBytes { raw throws in
                let wire = ByteView(raw)
                #expect(try MQTTPacket.decode(wire) == .publish(publish))
            }
        }
    }

    /// A QoS 1 PUBLISH like the benchmark's (40-byte topic, 256-byte payload), byte for byte.
    @Test func referencePacket() throws {
        try withArena { arena throws in
            let topicText = Array("devices/device1/messages/events/bench/a1".utf8)
            let payloadBytes = (0..<256).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            let publish = MQTTPublish(topic: arena.view(topicText), payload: arena.view(payloadBytes), qos: .atLeastOnce, packetID: 0x1234)
            let expected = [0x32, 0xAC, 0x02, 0x00, 0x28] + topicText + [0x12, 0x34] + payloadBytes
            #expect(expected.count == 303)
            #expect(try encodeResult(capacity: 512) { buffer throws(MQTTEncodeError) in try publish.encode(into: buffer) }.get() == expected)
            #expect(try encoded(.publish(publish)) == expected)
        }
    }

    /// `MQTTTopicName` refuses what a PUBLISH encoder refuses, with the same rule.
    @Test func topicNameValidation() throws {
        try withArena { arena throws in
            let cases: [([UInt8], MQTTRule?)] = [
                (Array("a".utf8), nil),
                (Array("devices/d1/messages/events/".utf8), nil),
                (Array("ü/日本/𝄞".utf8), nil),
                // Valid bytes the word test leaves to the byte-wise check (bits within 0x2B's).
                (Array("room 1/(a)*!\"x\"".utf8), nil),
                ([0x61, 0x01, 0x0B, 0x20, 0x2A, 0x61, 0x61, 0x61, 0x61], nil),
                ([], .emptyTopic),
                (Array("devices/d1/messages/events/+".utf8), .wildcardInTopicName),
                (Array("#".utf8), .wildcardInTopicName),
                (Array("devices/d1/messages/\u{0}events".utf8), .nullCharacterInString),
                (Array("devices/d1/messages/events/".utf8) + [0xC0, 0xAF], .invalidUTF8),
                (Array("devices/d1/messages/events/".utf8) + [0xED, 0xA0, 0x80], .surrogateInString),
                ([UInt8](repeating: 0x61, count: 65_536), .stringTooLong(length: 65_536)),
            ]
            for (topic, rule) in cases {
                let view = arena.view(topic)
                let result = Result { () throws(MQTTEncodeError) -> MQTTTopicName in try MQTTTopicName(validating: view) }
                switch (result, rule) {
                case (.success(let name), nil): #expect(name.bytes == view)
                case (.failure(let error), let rule?): #expect(error == .invalid(rule), "\(hex(topic.prefix(40)))")
                default: Issue.record("\(hex(topic.prefix(40))): \(result), expected \(String(describing: rule))")
                }
            }
            #expect(try MQTTTopicName(validating: arena.view([UInt8](repeating: 0x61, count: 65_535))).bytes.count == 65_535)
        }
    }

    /// The topic check gives the reference's rule and offset, and the word-at-a-time test says
    /// "look closer", at every length around the word sizes, with every rejected byte at every position.
    @Test func topicCheckEveryPosition() {
        for count in 1...70 {
            let plain = [UInt8](repeating: UInt8(ascii: "a"), count: count)
            for bad: UInt8 in [0x00, 0x23, 0x2B, 0x80, 0xFF, 0xC2] {
                for position in 0..<count {
                    var topic = plain
                    topic[position] = bad
                    topic.withUnsafeBytes { raw in
                        let view = ByteView(raw)
                        #expect(!MQTTValidation.isPlain(view, wildcardsAllowed: false), "\(count) \(position) \(bad)")
                        let fast = MQTTValidation.checkTopicName(view)
                        let bytewise = MQTTValidation.checkTopicNameBytewise(view)
                        let reference = referenceTopicCheck(topic)
                        #expect(fast?.rule == reference?.rule && fast?.index == reference?.index, "\(count) \(position) \(bad)")
                        #expect(bytewise?.rule == reference?.rule && bytewise?.index == reference?.index)
                    }
                }
            }
            plain.withUnsafeBytes { raw in
                #expect(MQTTValidation.isPlain(ByteView(raw), wildcardsAllowed: false))
                #expect(MQTTValidation.checkTopicName(ByteView(raw)) == nil)
            }
        }
    }

    /// Random topics (weighted to the bytes the word test must tell apart): the check gives
    /// the reference's rule and offset.
    @Test func topicCheckRandom() {
        var rng = SplitMix64(seed: 0x7075_626C_6973_6801)
        for _ in 0..<20_000 {
            let topic = randomTopic(&rng)
            topic.withUnsafeBytes { raw in
                let view = ByteView(raw)
                let fast = MQTTValidation.checkTopicName(view)
                let reference = referenceTopicCheck(topic)
                #expect(fast?.rule == reference?.rule && fast?.index == reference?.index, "\(hex(topic))")
                if MQTTValidation.isPlain(view, wildcardsAllowed: false) { #expect(reference == nil, "\(hex(topic))") }
            }
        }
    }

    /// Random PUBLISH packets (valid and not) through every encoder entry point: the reference's
    /// bytes or error, and no byte written on an error.
    @Test func encodeRandom() {
        var rng = SplitMix64(seed: 0x656E_636F_6465_0001)
        let payloadSizes = [0, 1, 2, 60, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 256, 16_300, 16_380, 16_383, 16_384]
        for _ in 0..<3_000 {
            let topic = rng.next() % 3 == 0 ? randomTopic(&rng) : randomPlainTopic(&rng, count: 1 + Int(rng.next() % 70))
            let payloadCount = rng.next() % 2 == 0 ? payloadSizes[Int(rng.next() % UInt64(payloadSizes.count))] : Int(rng.next() % 300)
            let payload = (0..<payloadCount).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let qos = UInt8(rng.next() % 3)
            let packetID: UInt16 = rng.next() % 10 == 0 ? 0 : UInt16(truncatingIfNeeded: rng.next())
            let retain = rng.next() % 2 == 0
            let dup = rng.next() % 5 == 0
            let full = topic.count + payloadCount + 9
            let capacity = rng.next() % 8 == 0 ? max(0, full - 1 - Int(rng.next() % 8)) : full
            withArena { arena in
                let publish = MQTTPublish(
                    topic: arena.view(topic), payload: arena.view(payload), qos: QoS(rawValue: qos)!, packetID: packetID,
                    retain: retain, dup: dup)
                let expected = referenceEncode(
                    topic: topic, payload: payload, qos: qos, packetID: packetID, retain: retain, dup: dup, capacity: capacity)
                let viaPublish = encodeResult(capacity: capacity) { buffer throws(MQTTEncodeError) in try publish.encode(into: buffer) }
                #expect(viaPublish == expected, "\(hex(topic)) qos \(qos) id \(packetID) dup \(dup) payload \(payloadCount) capacity \(capacity)")
                let size = Result { () throws(MQTTEncodeError) -> Int in try publish.encodedSize() }
                switch expected {
                case .success(let bytes): #expect(size == .success(bytes.count))
                case .failure(.bufferTooSmall(let tooSmall)): #expect(size == .success(tooSmall.needed))
                case .failure(let error): #expect(size == .failure(error))
                }
                // With the topic validated beforehand: the same, for the topics that validate.
                if let name = try? MQTTTopicName(validating: publish.topic) {
                    let viaName = encodeResult(capacity: capacity) { buffer throws(MQTTEncodeError) in
                        try MQTTPublish.encode(
                            topic: name, payload: publish.payload, qos: publish.qos, packetID: packetID, retain: retain, dup: dup, into: buffer)
                    }
                    #expect(viaName == expected)
                }
            }
        }
    }

    /// The session's publish with a validated topic queues the same bytes as with a plain view,
    /// at QoS 1 (outbox) and QoS 0 (transmit buffer), and refuses the same way.
    @Test func sessionPublishWithTopicName() throws {
        try withArena { arena throws in
            let topicText = Array("devices/device1/messages/events/".utf8)
            let topicView = arena.view(topicText)
            let payload = arena.view(Array("{\"t\":21.5}".utf8))
            let name = try MQTTTopicName(validating: topicView)

            let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
            let transmit = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
            let outbox = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
            let inflight = UnsafeMutableBufferPointer<MQTTInflightEntry>.allocate(capacity: 4)
            inflight.initialize(repeating: MQTTInflightEntry())
            defer {
                receive.deallocate()
                transmit.deallocate()
                outbox.deallocate()
                inflight.deallocate()
            }
            var session = MQTTSession(
                configuration: MQTTSessionConfiguration(connect: MQTTConnect(clientID: ByteView("device1"))),
                memory: MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight))
            let now = DeviceInstant(milliseconds: 0)

            // QoS 0 needs a connection, with either kind of topic.
            #expect(throws: MQTTSessionError.notConnected) { try session.publish(topic: name, payload: payload, qos: .atMostOnce) }
            #expect(throws: MQTTSessionError.notConnected) { try session.publish(topic: topicView, payload: payload, qos: .atMostOnce) }
            #expect(throws: MQTTSessionError.encoding(.invalid(.invalidQoS))) { try session.publish(topic: name, payload: payload, qos: .exactlyOnce) }
            // A bad topic is refused before anything else at QoS 1, using up no packet id.
            #expect(throws: MQTTSessionError.encoding(.invalid(.wildcardInTopicName))) {
                try session.publish(topic: arena.view(Array("a/+".utf8)), payload: payload)
            }

            try session.connectionOpened(now: now)
            session.didSend(session.pendingOutput().count, now: now)
            let connack: [UInt8] = [0x20, 0x02, 0x00, 0x00]
            _ = connack.withUnsafeBytes { session.receive($0) }
            guard case .connected? = try session.nextEvent(now: now) else { Issue.record("no CONNACK"); return }

            func drain() -> [UInt8] {
                var out = [UInt8]()
                while true {
                    let chunk = session.pendingOutput()
                    if chunk.isEmpty { return out }
                    out += chunk.array
                    session.didSend(chunk.count, now: now)
                }
            }
            let body = [UInt8(0), UInt8(topicText.count)] + topicText
            let payloadBytes = Array("{\"t\":21.5}".utf8)

            #expect(try session.publish(topic: name, payload: payload) == 1)
            #expect(try session.publish(topic: topicView, payload: payload, retain: true) == 2)
            #expect(drain()
                == [0x32, UInt8(body.count + 2 + payloadBytes.count)] + body + [0x00, 0x01] + payloadBytes
                + [0x33, UInt8(body.count + 2 + payloadBytes.count)] + body + [0x00, 0x02] + payloadBytes)

            #expect(try session.publish(topic: name, payload: payload, qos: .atMostOnce) == 0)
            #expect(try session.publish(topic: topicView, payload: payload, qos: .atMostOnce) == 0)
            let qos0 = [0x30, UInt8(body.count + payloadBytes.count)] + body + payloadBytes
            #expect(drain() == qos0 + qos0)

            // QoS 0 that does not fit the transmit buffer: refused, as before.
            let big = arena.view([UInt8](repeating: 0x61, count: 300))
            #expect(throws: MQTTSessionError.bufferTooSmall(BufferTooSmall(needed: 1 + 2 + body.count + 300, capacity: 256))) {
                try session.publish(topic: name, payload: big, qos: .atMostOnce)
            }
        }
    }

    /// `isPlain` says `true` exactly for non-empty views of ASCII other than U+0000 (and, for
    /// topic names, `+`, `#` and the bytes whose bits are a subset of 0x2B's), at every length up to 40 (a word is 8 bytes here, 4 on
    /// Cortex-M: both the one-word and the looping cases); its `true` implies a valid topic name.
    @Test func plainTopicNameEveryLength() {
        var rng = SplitMix64(seed: 0x706C_6169_6E00_0001)
        for count in 0...80 {
            for round in 0..<400 {
                var topic = randomPlainTopic(&rng, count: count)
                if round % 2 == 1 && count > 0 {
                    topic[Int(rng.next() % UInt64(count))] = randomTopicByte(&rng)
                }
                let plainText = count > 0 && topic.allSatisfy { $0 != 0 && $0 < 0x80 }
                let plain = plainText && topic.allSatisfy { $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "#") }
                topic.withUnsafeBytes { raw in
                    let view = ByteView(raw)
                    // Exactly: no byte >= 0x80, none whose bits are a subset of 0x2B's (`+`, `#`,
                    // U+0000 and a few valid ones the byte-wise check then vouches for).
                    let vouched = plainText && topic.allSatisfy { $0 & 0xD4 != 0 }
                    #expect(MQTTValidation.isPlain(view, wildcardsAllowed: false) == vouched, "\(hex(topic))")
                    #expect(MQTTValidation.isPlain(view, wildcardsAllowed: true) == plainText, "\(hex(topic))")
                    if plain { #expect(referenceTopicCheck(topic) == nil) }
                    let checked = MQTTValidation.checkTopicName(view)
                    let reference = referenceTopicCheck(topic)
                    #expect(checked?.rule == reference?.rule && checked?.index == reference?.index, "\(hex(topic))")
                }
            }
        }
    }
}
