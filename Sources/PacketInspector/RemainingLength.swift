import DeviceCore

/// The remaining-length field of the fixed header (MQTT 2.2.3), for the places where the
/// inspector handles a packet's head apart from its payload. The codec checks the field; these
/// only do its arithmetic.
enum RemainingLength {
    /// The field's bytes for `value` (at most `MQTTFixedHeader.maximumRemainingLength`).
    static func encoded(_ value: Int) -> [UInt8] {
        precondition(value >= 0 && value <= MQTTFixedHeader.maximumRemainingLength)
        var out: [UInt8] = []
        var rest = value
        repeat {
            let byte = UInt8(rest & 0x7F)
            rest >>= 7
            out.append(rest > 0 ? byte | 0x80 : byte)
        } while rest > 0
        return out
    }

    /// The fixed header's length and the whole packet's, read from the packet's first bytes;
    /// `nil` while the field is cut off.
    static func lengths<C: Collection>(of packet: C) -> (header: Int, packet: Int)? where C.Element == UInt8, C.Index == Int {
        var value = 0
        var shift = 0
        var index = packet.startIndex + 1
        while index < packet.endIndex && index < packet.startIndex + 5 {
            let byte = packet[index]
            value |= Int(byte & 0x7F) << shift
            index += 1
            if byte & 0x80 == 0 {
                let header = index - packet.startIndex
                return (header, header + value)
            }
            shift += 7
        }
        return nil
    }
}
