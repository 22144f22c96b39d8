import DeviceCore

/// Where `PacketStreamDecoder` hands the packets it decodes, in input order: whole packets,
/// and each PUBLISH too large to hold in pieces, as its bytes arrive.
protocol DecodedPacketSink {
    /// A packet held and decoded whole; its views are valid during the call only.
    mutating func packet(_ packet: MQTTPacket)
    /// The head of a streamed PUBLISH, checked by the codec: `publish` has an empty payload
    /// and the real one, `payloadLength` bytes, follows in `publishPayload` calls.
    mutating func publishStart(_ publish: MQTTPublish, payloadLength: Int)
    mutating func publishPayload(_ bytes: UnsafeRawBufferPointer)
    /// The streamed PUBLISH's last payload byte has been handed out.
    mutating func publishEnd()
    /// The input ended inside the streamed PUBLISH's payload; an error follows.
    mutating func publishCutOff()
}
