// Checks shared by the frame-reader and decoder targets.

/// Scratch space for re-encoding; a packet is never larger than the fuzz input.
nonisolated(unsafe) let reencodeBuffer = FuzzBuffer(count: 1 << 20)

/// A packet that decoded from `wire` must encode back to exactly `wire`.
func checkReencodes(_ packet: MQTTPacket, _ wire: ByteView) {
    // Known, tolerated while hunting with FUZZ_KNOWN=noncanonical-length: a remaining length
    // written with more bytes than needed decodes, and re-encodes in the minimal form.
    if isKnown("noncanonical-length"), let header = try? MQTTFixedHeader.parse(wire), case .complete(let h) = header,
        MQTTFixedHeader.remainingLengthSize(h.remainingLength) != h.length - 1
    {
        return
    }
    let size: Int
    do throws(MQTTEncodeError) {
        size = try packet.encodedSize()
    } catch {
        // Not a finding: a CONNECT with a zero-byte client id and CleanSession 0 is well-formed
        // for the receiver (a server must answer it with CONNACK 2, MQTT-3.1.3-8), but a client
        // must never send one (MQTT-3.1.3-7), so the encoder refuses it. Pinned by
        // Tests/MQTTCodecTests/FuzzRegressionTests.swift.
        if case .invalid(.emptyClientIDWithoutCleanSession) = error, case .connect(let c) = packet,
            c.clientID.isEmpty, !c.cleanSession
        {
            return
        }
        finding("decoded packet \(packet.type) does not re-encode: \(error) [\(hexString(wire))]")
    }
    fuzzCheck(size == wire.count, "re-encoded \(packet.type) is \(size) bytes, wire had \(wire.count) [\(hexString(wire))]")
    let out = UnsafeMutableRawBufferPointer(rebasing: reencodeBuffer.raw[0..<size])
    let written: Int
    do throws(MQTTEncodeError) { written = try packet.encode(into: out) } catch {
        finding("encode failed after encodedSize succeeded: \(error) [\(hexString(wire))]")
    }
    let again = ByteView(baseAddress: UnsafeRawPointer(out.baseAddress), count: written)
    fuzzCheck(again == wire, "re-encoding differs: wire \(hexString(wire)) re-encoded \(hexString(again))")
    // The re-encoded bytes decode to the same packet.
    do throws(MQTTDecodeError) {
        let second = try MQTTPacket.decode(again)
        fuzzCheck(second == packet, "re-encoded \(packet.type) decodes to a different packet [\(hexString(wire))]")
    } catch {
        finding("re-encoded packet does not decode: \(error) [\(hexString(again))]")
    }
    // A buffer one byte short is refused without writing past it.
    if size > 0 {
        let short = FuzzBuffer(count: size - 1)
        do throws(MQTTEncodeError) {
            _ = try packet.encode(into: short.raw)
            finding("encode into a buffer one byte short succeeded [\(hexString(wire))]")
        } catch {
            guard case .bufferTooSmall(let tooSmall) = error, tooSmall == BufferTooSmall(needed: size, capacity: size - 1) else {
                finding("encode into a short buffer: wrong error \(error)")
            }
        }
    }
}

/// Touches every byte a decoded packet points at, so ASan checks the views.
func touchViews(_ packet: MQTTPacket) -> Int {
    var sum = 0
    func touch(_ v: ByteView?) {
        guard let v else { return }
        var i = 0
        while i < v.count { sum &+= Int(v[i]); i += 1 }
    }
    switch packet {
    case .connect(let c):
        touch(c.clientID); touch(c.userName); touch(c.password); touch(c.will?.topic); touch(c.will?.payload)
    case .publish(let p):
        touch(p.topic); touch(p.payload)
    case .subscribe(let s):
        s.subscriptions.forEach { touch($0.filter) }
    case .unsubscribe(let u):
        u.filters.forEach { touch($0.filter) }
    case .suback(let s):
        touch(s.returnCodes)
        var i = 0
        while i < s.returnCodes.count { _ = s.returnCode(at: i); i += 1 }
    default: break
    }
    return sum
}
