import DeviceCore
import Foundation
import LinuxBoard
import StandIn
import Testing

// What the DPS stand-in does with clients that break MQTT: anything before CONNECT
// (MQTT-3.1.0-1), a second CONNECT (MQTT-3.1.0-2), malformed packets. Each closes the
// connection without a byte of answer and with one log line, and the stand-in serves on.

@Suite("DPS stand-in: protocol violations", .serialized)
struct StandInProtocolTests {
    struct Violation: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var log: String
        var testDescription: String { name }
    }

    static let beforeConnect: [Violation] = [
        Violation(name: "PINGREQ", bytes: RawMQTT.pingreq, log: "protocol violation: PINGREQ before CONNECT (MQTT-3.1.0-1)"),
        Violation(name: "SUBSCRIBE", bytes: RawMQTT.subscribe, log: "protocol violation: SUBSCRIBE before CONNECT (MQTT-3.1.0-1)"),
        Violation(name: "PUBLISH", bytes: RawMQTT.register, log: "protocol violation: PUBLISH before CONNECT (MQTT-3.1.0-1)"),
        Violation(name: "DISCONNECT", bytes: RawMQTT.disconnect, log: "protocol violation: DISCONNECT before CONNECT (MQTT-3.1.0-1)"),
    ]

    /// The first packet is not CONNECT: closed, nothing answered.
    @Test(arguments: beforeConnect)
    func packetBeforeConnectIsNotAnswered(_ violation: Violation) throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki)
        defer { standIn.stop() }
        var client = try tlsClient(port: standIn.port, pki: pki)
        defer { client.close() }
        try sendAll(violation.bytes, on: &client)
        #expect(readUntilClosed(&client) == ServerEnding(bytes: [], failure: .closedByPeer(host: "127.0.0.1", port: standIn.port)))
        #expect(standIn.line(containing: "connection closed") == "127.0.0.1#1 - connection closed: \(violation.log)")
        #expect(!standIn.log.contains("SUBACK") && !standIn.log.contains("REGISTER"), "\(standIn.log)")
    }

    /// A second CONNECT on an accepted connection: closed, no second CONNACK.
    @Test func secondConnectIsNotAnswered() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki)
        defer { standIn.stop() }
        var client = try tlsClient(port: standIn.port, pki: pki, id: "twice")
        defer { client.close() }
        try sendAll(RawMQTT.connect("twice", keepAlive: 60), on: &client)
        #expect(try receive(RawMQTT.connackAccepted.count, from: client) == RawMQTT.connackAccepted)
        try sendAll(RawMQTT.connect("twice", keepAlive: 60), on: &client)
        #expect(readUntilClosed(&client) == ServerEnding(bytes: [], failure: .closedByPeer(host: "127.0.0.1", port: standIn.port)))
        #expect(standIn.line(containing: "connection closed") == "127.0.0.1#1 twice connection closed: protocol violation: a second CONNECT (MQTT-3.1.0-2)")
        #expect(standIn.connackCodes == [0])
    }

    static let malformed: [Violation] = [
        Violation(name: "reserved packet type 15", bytes: [0xF0, 0x00],
                  log: "malformed MQTT from the device: packet type 0 and 15 are reserved (MQTT 2.2.1)"),
        Violation(name: "remaining length of five bytes", bytes: [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
                  log: "malformed MQTT from the device: remaining length longer than 4 bytes or not in its shortest form (MQTT 2.2.3, Table 2.4)"),
        Violation(name: "packet larger than the stand-in takes", bytes: [0x30, 0xFF, 0xFF, 0xFF, 0x7F],
                  log: "malformed MQTT from the device: packet is larger than the configured maximum packet size"),
        Violation(name: "CONNECT of MQTT 3.1 (protocol level 3)", bytes: [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x03, 0x02, 0x00, 0x3C, 0x00, 0x00],
                  log: "malformed MQTT packet from the device: protocol level must be 4 for MQTT 3.1.1 (MQTT-3.1.2-2) at byte 8"),
        Violation(name: "CONNECT with a client id that is not UTF-8", bytes: [0x10, 0x0E, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x02, 0xC3, 0x28],
                  log: "malformed MQTT packet from the device: string is not well-formed UTF-8 (MQTT-1.5.3-1) at byte 15"),
        Violation(name: "SUBSCRIBE with reserved flags", bytes: [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00],
                  log: "malformed MQTT from the device: fixed header flags not allowed for this packet type (MQTT-2.2.2-1, MQTT-2.2.2-2)"),
    ]

    /// Malformed MQTT, first or after an accepted CONNECT: closed, nothing answered, and the
    /// stand-in still serves the next client.
    @Test(arguments: malformed)
    func malformedMQTTIsClosedWithALogLine(_ violation: Violation) throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki)
        defer { standIn.stop() }
        for (index, afterConnect) in [false, true].enumerated() {
            var client = try tlsClient(port: standIn.port, pki: pki, id: "garbage")
            defer { client.close() }
            if afterConnect {
                try sendAll(RawMQTT.connect("garbage", keepAlive: 60), on: &client)
                #expect(try receive(RawMQTT.connackAccepted.count, from: client) == RawMQTT.connackAccepted)
            }
            try sendAll(violation.bytes, on: &client)
            #expect(readUntilClosed(&client) == ServerEnding(bytes: [], failure: .closedByPeer(host: "127.0.0.1", port: standIn.port)))
            let who = afterConnect ? "garbage" : "-"
            #expect(standIn.line(containing: "#\(index + 1) \(who) connection closed") == "127.0.0.1#\(index + 1) \(who) connection closed: \(violation.log)")
        }
    }
}

/// Every client-to-server packet of the codec's Paho vectors (Tests/MQTTCodecTests/Fixtures),
/// sent after an accepted CONNECT: the stand-in answers it (the PINGREQ sent behind it gets its
/// PINGRESP) or, for a second CONNECT and DISCONNECT, closes with its line; it never traps.
@Suite("DPS stand-in: every client packet of the standard", .serialized)
struct StandInClientPacketTests {
    static func clientVectors() throws -> [(name: String, bytes: [UInt8])] {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MQTTCodecTests/Fixtures/mqtt311_paho.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        let vectors = root?["vectors"] as? [[String: Any]] ?? []
        return vectors.compactMap { vector in
            guard vector["direction"] as? String == "client->server", let hex = vector["hex"] as? String, let name = vector["name"] as? String else { return nil }
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                bytes.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return (name, bytes)
        }
    }

    @Test func answeredOrClosedWithALine() throws {
        let pki = try TestPKI.get()
        let standIn = try DPSStandIn(pki: pki)
        defer { standIn.stop() }
        let vectors = try Self.clientVectors()
        #expect(vectors.count == 52)
        var closed: [String] = []
        for (index, vector) in vectors.enumerated() {
            let peer = "127.0.0.1#\(index + 1)"
            var client = try tlsClient(port: standIn.port, pki: pki, id: "paho")
            defer { client.close() }
            try sendAll(RawMQTT.connect("paho", keepAlive: 60), on: &client)
            #expect(try receive(RawMQTT.connackAccepted.count, from: client) == RawMQTT.connackAccepted, "\(vector.name)")
            try sendAll(vector.bytes + RawMQTT.pingreq, on: &client)
            var answer: [UInt8] = []
            var ending: TLSFailure?
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
            defer { buffer.deallocate() }
            while answer.suffix(2) != RawMQTT.pingresp[...] && ending == nil {
                do throws(TLSFailure) {
                    let count = try client.receive(into: buffer, timeout: .seconds(5))
                    if count == 0 { break }
                    answer += buffer[0..<count]
                } catch {
                    ending = error
                }
            }
            if let ending {
                #expect(ending == .closedByPeer(host: "127.0.0.1", port: standIn.port), "\(vector.name)")
                closed.append(vector.name)
                let line = standIn.line(containing: "\(peer) paho connection closed: ")
                if vector.name.hasPrefix("connect_") {
                    #expect(answer == [] && line == "\(peer) paho connection closed: protocol violation: a second CONNECT (MQTT-3.1.0-2)", "\(vector.name)")
                } else {
                    #expect(line == "\(peer) paho connection closed: closed by the stand-in", "\(vector.name)")
                }
            } else {
                #expect(answer.suffix(2) == RawMQTT.pingresp[...], "\(vector.name): \(answer)")
            }
        }
        #expect(closed == vectors.map(\.name).filter { $0.hasPrefix("connect_") || $0 == "disconnect" })
        // Still serving.
        var last = try tlsClient(port: standIn.port, pki: pki, id: "paho")
        defer { last.close() }
        try sendAll(RawMQTT.connect("paho", keepAlive: 60), on: &last)
        #expect(try receive(RawMQTT.connackAccepted.count, from: last) == RawMQTT.connackAccepted)
    }
}
