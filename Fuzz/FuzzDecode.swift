// Target `decode`: MQTTPacket.decode of the whole input as one packet, then the re-encode check.

func fuzzPacketDecode(_ data: ByteView) {
    let copy = FuzzBuffer(copying: data)
    do throws(MQTTDecodeError) {
        let packet = try MQTTPacket.decode(copy.view)
        _ = touchViews(packet)
        checkReencodes(packet, copy.view)
    } catch {
        fuzzCheck(error.offset >= 0 && error.offset <= data.count, "error offset \(error.offset) outside the \(data.count)-byte packet")
    }
}
