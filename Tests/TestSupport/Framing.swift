/// The length of the complete MQTT packet at the start of `bytes` (fixed header included), or
/// nil while it is incomplete. Written here on its own, not with the codec under test, for the
/// test clients and the fault proxy that cut byte streams into packets.
public func mqttPacketLength(_ bytes: [UInt8]) -> Int? {
    var remaining = 0
    var multiplier = 1
    var index = 1
    while true {
        guard index < bytes.count, index <= 4 else { return nil }
        let byte = bytes[index]
        remaining += Int(byte & 0x7F) * multiplier
        multiplier *= 128
        index += 1
        if byte & 0x80 == 0 { break }
    }
    let total = index + remaining
    return bytes.count >= total ? total : nil
}
