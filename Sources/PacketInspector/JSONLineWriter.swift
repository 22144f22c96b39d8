import DeviceCore
import HostJSON

/// Writes each decoded packet as its compact JSON object on one line; a streamed PUBLISH's
/// line is written as its payload arrives, the same text as `PacketInspector.json(for:)` gives.
struct JSONLineWriter: DecodedPacketSink {
    let output: OutputBuffer

    func packet(_ packet: MQTTPacket) {
        output.append(PacketInspector.json(for: packet).compactText + "\n")
    }

    func publishStart(_ publish: MQTTPublish, payloadLength: Int) {
        // The object up to `payload_hex`'s value, which is the last member.
        let head = JSONValue.object(PacketInspector.publishMembers(publish, payloadLength: payloadLength)).compactText
        output.append(String(head.dropLast()) + #","payload_hex":""#)
    }

    func publishPayload(_ bytes: UnsafeRawBufferPointer) {
        output.appendHex(bytes)
    }

    func publishEnd() {
        output.append("\"}\n")
    }

    /// The line stays unfinished (not valid JSON), but ends, so that the error after it is
    /// read on a line of its own.
    func publishCutOff() {
        output.append("\n")
    }
}
