// ns per operation and mallocs per operation of DeviceCore's hot paths (ordo-one/benchmark).
//
// Every benchmark runs its operation 1,000 times per sample (`scalingFactor: .kilo`), so the
// figures the tool prints with a `*` are per operation. Inputs are built once, outside the
// measured closure; each operation writes into, or reads from, memory allocated up front, as a
// device would.
//
// "Payload" per packet kind (the part that grows):
// - PUBLISH: the application payload (QoS 1, 40-byte topic, packet id 1).
// - CONNECT: the password (an IoT Hub SAS token is ~150 B); the wire field holds at most 65,535
//   bytes, so "64 KB" is 65,535 there. Client id `device1`, a 56-byte IoT Hub user name.
// - SUBSCRIBE: the topic filter list (length prefixes, filters and QoS bytes) fills the size:
//   1 filter for 16 B, 4 for 256 B, 64 for 64 KB.

import Benchmark
import DeviceCore

/// Bytes and buffers the benchmarks share; made once, never freed (the process is short-lived).
final class Fixture: @unchecked Sendable {
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 70_000, alignment: 16)

    /// Keeps `bytes` alive for the program's life and returns a view of them.
    static func keep(_ bytes: [UInt8]) -> ByteView {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        storage.copyBytes(from: bytes)
        return ByteView(baseAddress: UnsafeRawPointer(storage.baseAddress!), count: bytes.count)
    }

    static func ascii(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(ascii: "a") + UInt8((($0 &* 7) &+ seed) % 26) }
    }

    /// A 40-byte IoT Hub style topic.
    static let topic40: ByteView = {
        let text = Array("devices/device1/messages/events/bench/a1".utf8)
        precondition(text.count == 40)
        return keep(text)
    }()

    /// The packet of `kind` with `size` bytes of payload; its views stay valid for ever.
    static func packet(_ kind: Kind, size: Int) -> MQTTPacket {
        switch kind {
        case .publish:
            return .publish(MQTTPublish(topic: topic40, payload: keep(ascii(size, seed: 1)), qos: .atLeastOnce, packetID: 1))
        case .connect:
            return .connect(MQTTConnect(
                clientID: ByteView("device1"), cleanSession: false, keepAlive: 240,
                userName: ByteView("contoso.azure-devices.net/device1/?api-version=2021-04-12"),
                password: keep(ascii(min(size, 65_535), seed: 2))))
        case .subscribe:
            let filters = size <= 16 ? 1 : size <= 256 ? 4 : 64
            // Each entry takes 2 (length) + filter + 1 (QoS) bytes.
            let filterLength = size / filters - 3
            let list = UnsafeMutableBufferPointer<MQTTSubscription>.allocate(capacity: filters)
            for index in 0..<filters {
                var text = Array("d/\(index)/".utf8)
                text += ascii(filterLength - text.count - 2, seed: index)
                text += Array("/#".utf8)
                list[index] = MQTTSubscription(filter: keep(text), qos: .atLeastOnce)
            }
            return .subscribe(MQTTSubscribe(packetID: 7, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(list))))
        }
    }

    /// The packet encoded once, for the decoders.
    static func wire(_ packet: MQTTPacket) -> ByteView {
        let size: Int
        do { size = try packet.encodedSize() } catch { fatalError("\(packet.type): \(error)") }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        let written = try! packet.encode(into: buffer)
        return ByteView(baseAddress: UnsafeRawPointer(buffer.baseAddress!), count: written)
    }
}

enum Kind: String, CaseIterable {
    case connect = "CONNECT"
    case subscribe = "SUBSCRIBE"
    case publish = "PUBLISH"
}

let sizes: [(Int, String)] = [(16, "16B"), (256, "256B"), (65_536, "64KB")]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        warmupIterations: 5,
        scalingFactor: .kilo,
        maxDuration: .milliseconds(600),
        maxIterations: 10_000
    )

    // MARK: Codec

    for kind in Kind.allCases {
        for (size, label) in sizes {
            let packet = Fixture.packet(kind, size: size)
            let wire = Fixture.wire(packet)
            let fixture = Fixture()

            Benchmark("encode \(kind.rawValue) \(label)") { benchmark in
                let output = fixture.output
                for _ in benchmark.scaledIterations {
                    blackHole(try! packet.encode(into: output))
                }
            }

            // PUBLISH's own entry points: without the enum, and to a topic validated once.
            if case .publish(let publish) = packet {
                Benchmark("encode \(kind.rawValue) \(label) (MQTTPublish.encode)") { benchmark in
                    let output = fixture.output
                    for _ in benchmark.scaledIterations {
                        blackHole(try! publish.encode(into: output))
                    }
                }
                let topic = try! MQTTTopicName(validating: publish.topic)
                Benchmark("encode \(kind.rawValue) \(label) (MQTTPublish.encode, MQTTTopicName)") { benchmark in
                    let output = fixture.output
                    for _ in benchmark.scaledIterations {
                        blackHole(try! MQTTPublish.encode(
                            topic: topic, payload: publish.payload, qos: .atLeastOnce, packetID: 1, into: output))
                    }
                }
            }

            Benchmark("decode \(kind.rawValue) \(label) (MQTTPacket.decode)") { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(try! MQTTPacket.decode(wire))
                }
            }

            // The transport reads straight into the reader's space (here the packet is already
            // there: `didWrite` only records it), then the session takes frames until `nil`.
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: wire.count, alignment: 16)
            storage.copyMemory(from: wire.buffer)
            Benchmark("decode \(kind.rawValue) \(label) (MQTTFrameReader)") { benchmark in
                var reader = MQTTFrameReader(storage: storage)
                for _ in benchmark.scaledIterations {
                    reader.didWrite(wire.count)
                    let frame = try! reader.nextFrame()!
                    blackHole(try! frame.decode())
                    precondition(try! reader.nextFrame() == nil)
                }
            }
        }
    }

    // MARK: JSON telemetry, DPS response

    let fixture = Fixture()
    Benchmark("JSON telemetry (WalkthroughTelemetry.write)") { benchmark in
        let output = fixture.output
        var index = 0
        for _ in benchmark.scaledIterations {
            index += 1
            let message = WalkthroughTelemetry(
                temperatureTenths: 246, humidityTenths: 673, index: index, count: 1000,
                timestampMicroseconds: 1_747_901_219_626_893 + Int64(index), deviceID: ByteView("device1"))
            blackHole(try! message.write(into: output))
        }
    }

    // The walkthrough's 200 response once the device is assigned (as in the transcript tests).
    let dpsBody = Fixture.keep(Array(#"{"operationId":"4.abc1234567890def.0a1b2c3d-4e5f-6789-abcd-ef0123456789","status":"assigned","registrationState":{"x509":{"enrollmentGroupId":"group1"},"registrationId":"device1","createdDateTimeUtc":"2025-05-22T08:06:58.2046875Z","assignedHub":"contoso.azure-devices.net","deviceId":"device1","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2025-05-22T08:06:58.5234375Z","etag":"IjAwMDAxMjM0LTAwMDAtMDAwMC0wMDAwLTY4MmVkYjAyMDAwMCI="}}"#.utf8))
    let arenaStorage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
    Benchmark("DPS response parse (DPSResponseBody.parse, \(dpsBody.count) B)") { benchmark in
        var arena = ByteArena(arenaStorage)
        for _ in benchmark.scaledIterations {
            arena.reset()
            blackHole(try! DPSResponseBody.parse(dpsBody, into: &arena))
        }
    }

    // MARK: Session

    // One QoS 1 publish (40 B topic, 256 B payload) through a connected session: encode into the
    // outbox, hand the bytes to the "transport", take the PUBACK in, get `.published`.
    let payload256 = Fixture.keep(Fixture.ascii(256, seed: 3))
    Benchmark("session publish + PUBACK (QoS 1, 256B)") { benchmark in
        let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        let transmit = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        let outbox = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 512, alignment: 16)
        let inflight = UnsafeMutableBufferPointer<MQTTInflightEntry>.allocate(capacity: 16)
        inflight.initialize(repeating: MQTTInflightEntry())
        var session = MQTTSession(
            configuration: MQTTSessionConfiguration(connect: MQTTConnect(clientID: ByteView("device1"))),
            memory: MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight))
        let now = DeviceInstant(milliseconds: 0)
        try! session.connectionOpened(now: now)
        session.didSend(session.pendingOutput().count, now: now)
        let connack: [UInt8] = [0x20, 0x02, 0x00, 0x00]
        _ = connack.withUnsafeBytes { session.receive($0) }
        guard case .connected? = try! session.nextEvent(now: now) else { fatalError("no CONNACK") }
        var puback: (UInt8, UInt8, UInt8, UInt8) = (0x40, 0x02, 0, 0)

        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let id = try! session.publish(topic: Fixture.topic40, payload: payload256)
            while true {
                let chunk = session.pendingOutput()
                if chunk.isEmpty { break }
                blackHole(chunk.count)
                session.didSend(chunk.count, now: now)
            }
            puback.2 = UInt8(truncatingIfNeeded: id >> 8)
            puback.3 = UInt8(truncatingIfNeeded: id)
            _ = withUnsafeBytes(of: &puback) { session.receive($0) }
            guard case .published(id)? = try! session.nextEvent(now: now) else { fatalError("no PUBACK event") }
            precondition(try! session.nextEvent(now: now) == nil)
        }
        benchmark.stopMeasurement()
        receive.deallocate()
        transmit.deallocate()
        outbox.deallocate()
        inflight.deallocate()
    }
}
