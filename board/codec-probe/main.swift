// codec-probe: a bare-metal smoke test of the DeviceCore MQTT codec.
//
// Encodes a QoS 1 PUBLISH into a static buffer, feeds the bytes through `MQTTFrameReader` in
// uneven chunks, decodes the frame and checks that topic, payload, QoS and packet id survive
// the round trip; then checks that a corrupted first byte is rejected. Prints
// "codec-probe: ok" and returns 0 on success; on failure prints what failed and returns a
// non-zero status, which the board code (picolibc + semihosting) turns into QEMU's exit status.
//
// Built by board/arm.mk with Embedded Swift and `-no-allocations`: no heap, no Foundation.

import DeviceCore

// Static buffers (in .bss): the encoder's output and the frame reader's storage.
nonisolated(unsafe) var transmitBuffer = InlineArray<64, UInt8>(repeating: 0)
nonisolated(unsafe) var receiveBuffer = InlineArray<96, UInt8>(repeating: 0)

/// Runs every check; returns 0 or the number of the check that failed.
func runProbe(transmit: UnsafeMutableRawBufferPointer, receive: UnsafeMutableRawBufferPointer) -> Int32 {
    let topic = ByteView("devices/probe-01/messages/events/")
    let payload = ByteView("{\"temperature\":21.5}")
    let packetID: UInt16 = 0x1234
    let sent = MQTTPacket.publish(MQTTPublish(topic: topic, payload: payload, qos: .atLeastOnce, packetID: packetID))

    // 1. Encode into the static buffer.
    let length: Int
    do throws(MQTTEncodeError) {
        length = try sent.encode(into: transmit)
    } catch {
        return fail(1, "encode threw")
    }
    let expectedLength = 2 + (2 + topic.count) + 2 + payload.count  // short remaining length
    if length != expectedLength { return fail(2, "encoded length is wrong") }
    if transmit[0] != 0x32 { return fail(3, "first byte is not PUBLISH QoS 1 (0x32)") }
    if transmit[1] != UInt8(expectedLength - 2) { return fail(4, "remaining length is wrong") }
    let wire = ByteView(UnsafeRawBufferPointer(rebasing: transmit[0..<length]))

    // 2. Feed the bytes through the frame reader: 1 byte, then 3, then the rest.
    var reader = MQTTFrameReader(storage: receive)
    var offset = 0
    var step = 0
    while offset < length {
        let chunk = step == 0 ? 1 : step == 1 ? 3 : length - offset  // no array literal: no heap
        step += 1
        if reader.append(wire.slice(from: offset, count: chunk).buffer) != chunk {
            return fail(5, "frame reader refused bytes")
        }
        offset += chunk
        let frame: MQTTFrame?
        do throws(MQTTDecodeError) {
            frame = try reader.nextFrame()
        } catch {
            return fail(6, "frame reader threw")
        }
        if offset < length {
            if frame != nil { return fail(7, "frame reader returned a partial frame") }
            continue
        }
        guard let frame else { return fail(8, "frame reader did not return the complete frame") }
        if frame.bytes != wire { return fail(9, "frame bytes differ from the encoded bytes") }

        // 3. Decode the frame and compare field by field.
        let received: MQTTPacket
        do throws(MQTTDecodeError) {
            received = try frame.decode()
        } catch {
            return fail(10, "decode threw")
        }
        guard case .publish(let publish) = received else { return fail(11, "decoded packet is not a PUBLISH") }
        if publish.topic != topic { return fail(12, "topic mismatch") }
        if publish.payload != payload { return fail(13, "payload mismatch") }
        if publish.packetID != packetID { return fail(14, "packet id mismatch") }
        if publish.qos != .atLeastOnce || publish.retain || publish.dup { return fail(15, "flags mismatch") }
        if received != sent { return fail(16, "decoded packet != sent packet") }
    }
    if reader.bufferedCount != 0 { return fail(17, "frame reader kept bytes") }

    // 4. A PUBLISH with QoS 3 must be rejected by the reader as soon as it sees the first byte.
    transmit[0] = 0x36
    _ = reader.append(UnsafeRawBufferPointer(rebasing: transmit[0..<1]))
    do throws(MQTTDecodeError) {
        _ = try reader.nextFrame()
        return fail(18, "QoS 3 PUBLISH was accepted")
    } catch {}

    return 0
}

func fail(_ check: Int32, _ message: StaticString) -> Int32 {
    print("codec-probe: FAIL: ", terminator: "")
    print(message)
    return check
}

@_cdecl("main")
func probeMain() -> Int32 {
    let status = withUnsafeMutableBytes(of: &transmitBuffer) { transmit in
        withUnsafeMutableBytes(of: &receiveBuffer) { receive in
            runProbe(transmit: transmit, receive: receive)
        }
    }
    if status == 0 { print("codec-probe: ok") }
    return status
}
