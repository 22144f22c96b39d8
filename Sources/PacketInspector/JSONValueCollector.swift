import DeviceCore
import HostJSON

/// Collects the JSON objects of the packets, for callers that have the whole input in memory.
struct JSONValueCollector: DecodedPacketSink {
    private(set) var values: [JSONValue] = []
    private var publishHead: [JSONMember] = []
    private var payloadHex: [UInt8] = []

    mutating func packet(_ packet: MQTTPacket) {
        values.append(PacketInspector.json(for: packet))
    }

    mutating func publishStart(_ publish: MQTTPublish, payloadLength: Int) {
        publishHead = PacketInspector.publishMembers(publish, payloadLength: payloadLength)
        payloadHex = []
        payloadHex.reserveCapacity(payloadLength * 2)
    }

    mutating func publishPayload(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            payloadHex.append(Hex.digit(byte >> 4))
            payloadHex.append(Hex.digit(byte & 0x0F))
        }
    }

    mutating func publishEnd() {
        values.append(.object(publishHead + [JSONMember("payload_hex", .string(String(decoding: payloadHex, as: UTF8.self)))]))
        payloadHex = []
    }

    mutating func publishCutOff() {
        payloadHex = []
    }
}
