// Part (a) of the self-test: MQTT 3.1.1 byte vectors, both ways. Each packet is built from
// values and encoded (the bytes must equal the vector), and the vector is decoded (the packet
// must equal the one built). Then malformed inputs must fail with their exact MQTTDecodeError
// (rule and byte offset), and the encoder must refuse what it must not write.
//
// The hex was computed independently of DeviceCore (by hand and with a few lines of Python
// from MQTT 3.1.1 §3); the malformed inputs come from Tests/MQTTCodecTests/MalformedPacketTests.

import CortexMBoard
import DeviceCore

struct CodecVector {
    let name: StaticString
    let hex: Hex
    let packet: MQTTPacket
}

/// The vectors, by index (a switch rather than an array: an array literal needs the heap).
/// `subscriptions` holds room for the SUBSCRIBE's filter list, `scratch` for SUBACK codes.
func codecVector(_ index: Int, subscriptions: UnsafeMutableBufferPointer<MQTTSubscription>, scratch: UnsafeMutableRawBufferPointer) -> CodecVector? {
    switch index {
    case 0:
        // Clean session, keep-alive 60, will "w/t"/"bye" QoS 1 retained, user name, binary password.
        return CodecVector(
            name: "CONNECT with user name, password and will",
            hex: Hex("102700044d51545404ee003c0004646576310003772f74000362796500047573657200057061007373"),
            packet: .connect(MQTTConnect(
                clientID: ByteView("dev1"), cleanSession: true, keepAlive: 60, userName: ByteView("user"),
                password: ByteView("pa\0ss"),
                will: MQTTWill(topic: ByteView("w/t"), payload: ByteView("bye"), qos: .atLeastOnce, retain: true))))
    case 1:
        return CodecVector(
            name: "CONNECT (DPS: user name, no password)",
            hex: Hex("104d00044d5154540482003c0007646576696365310038306e6530303030304130412f726567697374726174696f6e732f646576696365312f6170692d76657273696f6e3d323031392d30332d3331"),
            packet: .connect(MQTTConnect(
                clientID: ByteView("device1"), cleanSession: true, keepAlive: 60,
                userName: ByteView("0ne00000A0A/registrations/device1/api-version=2019-03-31"))))
    case 2:
        subscriptions[0] = MQTTSubscription(filter: ByteView("a/+"), qos: .atMostOnce)
        subscriptions[1] = MQTTSubscription(filter: ByteView("b/#"), qos: .atLeastOnce)
        subscriptions[2] = MQTTSubscription(filter: ByteView("$dps/registrations/res/#"), qos: .atLeastOnce)
        return CodecVector(
            name: "SUBSCRIBE, three filters",
            hex: Hex("8229000a0003612f2b000003622f23010018246470732f726567697374726174696f6e732f7265732f2301"),
            packet: .subscribe(MQTTSubscribe(
                packetID: 10, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(rebasing: subscriptions[0..<3])))))
    case 3:
        return CodecVector(
            name: "PUBLISH QoS 0, retain",
            hex: Hex("31070003742f616869"),
            packet: .publish(MQTTPublish(topic: ByteView("t/a"), payload: ByteView("hi"), qos: .atMostOnce, retain: true)))
    case 4:
        return CodecVector(
            name: "PUBLISH QoS 1, DUP and retain",
            hex: Hex("3b0e0003742f6212347b2278223a317d"),
            packet: .publish(MQTTPublish(
                topic: ByteView("t/b"), payload: ByteView("{\"x\":1}"), qos: .atLeastOnce, packetID: 0x1234, retain: true, dup: true)))
    case 5:
        return CodecVector(
            name: "PUBLISH QoS 1, empty payload",
            hex: Hex("32070003742f630007"),
            packet: .publish(MQTTPublish(topic: ByteView("t/c"), payload: ByteView(), qos: .atLeastOnce, packetID: 7)))
    case 6:
        return CodecVector(name: "PUBACK", hex: Hex("40020007"), packet: .puback(packetID: 7))
    case 7:
        return CodecVector(name: "PINGREQ", hex: Hex("c000"), packet: .pingreq)
    case 8:
        return CodecVector(name: "PINGRESP", hex: Hex("d000"), packet: .pingresp)
    case 9:
        return CodecVector(name: "DISCONNECT", hex: Hex("e000"), packet: .disconnect)
    case 10:
        return CodecVector(
            name: "CONNACK accepted, session present", hex: Hex("20020100"),
            packet: .connack(MQTTConnAck(sessionPresent: true, returnCode: .accepted)))
    case 11:
        return CodecVector(
            name: "CONNACK refused: not authorized", hex: Hex("20020005"),
            packet: .connack(MQTTConnAck(sessionPresent: false, returnCode: .notAuthorized)))
    case 12:
        let codes = Hex("000180").bytes(in: scratch)
        return CodecVector(
            name: "SUBACK granted 0, granted 1, failure", hex: Hex("9005000a000180"),
            packet: .suback(MQTTSubAck(packetID: 10, returnCodes: codes)))
    case 13:
        subscriptions[0] = MQTTSubscription(filter: ByteView("a/+"), qos: .atMostOnce)
        return CodecVector(
            name: "UNSUBSCRIBE", hex: Hex("a20700050003612f2b"),
            packet: .unsubscribe(MQTTUnsubscribe(
                packetID: 5, filters: MQTTTopicFilterList(UnsafeBufferPointer(rebasing: subscriptions[0..<1])))))
    default:
        return nil
    }
}

struct MalformedVector {
    let name: StaticString
    let hex: Hex
    let error: MQTTDecodeError
}

func malformedVector(_ index: Int) -> MalformedVector? {
    switch index {
    case 0: return MalformedVector(name: "PUBLISH QoS 3", hex: Hex("36050001740001"), error: MQTTDecodeError(.invalidQoS, at: 0))
    case 1: return MalformedVector(name: "PUBLISH DUP with QoS 0", hex: Hex("3803000174"), error: MQTTDecodeError(.dupWithQoS0, at: 0))
    case 2: return MalformedVector(name: "5-byte remaining length", hex: Hex("30ffffffff01"), error: MQTTDecodeError(.malformedRemainingLength, at: 4))
    case 3: return MalformedVector(name: "PUBACK remaining length 3", hex: Hex("4003000100"), error: MQTTDecodeError(.remainingLengthMismatch(expected: 2), at: 1))
    case 4: return MalformedVector(name: "UTF-8 continuation byte as lead", hex: Hex("30050003618062"), error: MQTTDecodeError(.invalidUTF8, at: 5))
    case 5: return MalformedVector(name: "# in topic name", hex: Hex("3003000123"), error: MQTTDecodeError(.wildcardInTopicName, at: 4))
    case 6: return MalformedVector(name: "protocol level 3", hex: Hex("100d00044d5154540302003c000161"), error: MQTTDecodeError(.unsupportedProtocolLevel(3), at: 8))
    case 7: return MalformedVector(name: "SUBACK return code 3", hex: Hex("9003000103"), error: MQTTDecodeError(.invalidSubackReturnCode(3), at: 4))
    case 8: return MalformedVector(name: "PUBLISH QoS 1 packet id 0", hex: Hex("32050001740000"), error: MQTTDecodeError(.zeroPacketIdentifier, at: 5))
    case 9: return MalformedVector(name: "CONNACK session present with refusal", hex: Hex("20020105"), error: MQTTDecodeError(.sessionPresentWithRefusal, at: 2))
    case 10: return MalformedVector(name: "SUBSCRIBE requested QoS 3", hex: Hex("8206000100016103"), error: MQTTDecodeError(.subscribeReservedBitsSet(3), at: 7))
    case 11: return MalformedVector(name: "DISCONNECT flags 0100", hex: Hex("e400"), error: MQTTDecodeError(.invalidFixedHeaderFlags(type: 14, flags: 4), at: 0))
    case 12: return MalformedVector(name: "CONNECT password without user name", hex: Hex("101000044d5154540442003c000161000170"), error: MQTTDecodeError(.passwordWithoutUserName, at: 9))
    case 13: return MalformedVector(name: "surrogate U+D800 in topic", hex: Hex("30050003eda080"), error: MQTTDecodeError(.surrogateInString, at: 4))
    default: return nil
    }
}

/// Runs every vector both ways and every malformed input. `scratch` holds decoded hex.
func runCodecVectors(_ checks: inout Checks, pool: inout MemoryPool) {
    let subscriptions = pool.array(of: MQTTSubscription.self, count: 3, repeating: MQTTSubscription(filter: ByteView(), qos: .atMostOnce))
    let scratch = pool.bytes(96)
    let codes = pool.bytes(8)
    let output = pool.bytes(96)

    var index = 0
    while let vector = codecVector(index, subscriptions: subscriptions, scratch: codes) {
        index += 1
        Console.write("codec: ")
        Console.write(vector.name)
        let before = checks.failed
        // Values -> bytes.
        do throws(MQTTEncodeError) {
            let size = try vector.packet.encodedSize()
            let written = try vector.packet.encode(into: output)
            checks.check(size == written, "encodedSize() == bytes written")
            checks.bytes(ByteView(UnsafeRawBufferPointer(rebasing: output[0..<written])), vector.hex, "encoded bytes")
        } catch {
            checks.check(false, "encode threw")
        }
        // Bytes -> values, whole and through the frame reader one byte at a time.
        let wire = vector.hex.bytes(in: scratch)
        do throws(MQTTDecodeError) {
            let decoded = try MQTTPacket.decode(wire)
            checks.check(decoded == vector.packet, "decoded packet == built packet")
            var reader = MQTTFrameReader(storage: output)
            var fed = 0
            var frames = 0
            while fed < wire.count {
                _ = reader.append(wire.slice(from: fed, count: 1).buffer)
                fed += 1
                if let frame = try reader.nextFrame() {
                    frames += 1
                    checks.check(fed == wire.count, "frame complete only at its last byte")
                    checks.check(try frame.decode() == vector.packet, "frame decodes to the built packet")
                }
            }
            checks.check(frames == 1, "one frame from the byte-by-byte feed")
        } catch {
            checks.check(false, "decode threw")
        }
        Console.line(checks.failed == before ? ": ok" : ": FAILED")
    }

    var malformed = 0
    var malformedFailed = 0
    index = 0
    while let vector = malformedVector(index) {
        index += 1
        malformed += 1
        let wire = vector.hex.bytes(in: scratch)
        var thrown: MQTTDecodeError?
        do throws(MQTTDecodeError) { _ = try MQTTPacket.decode(wire) } catch { thrown = error }
        if thrown == vector.error {
            checks.passed += 1
        } else {
            checks.failed += 1
            malformedFailed += 1
            Console.write("  FAIL: malformed ")
            Console.write(vector.name)
            Console.write(": wrong or no error; offset ")
            Console.decimal(thrown?.offset ?? -1)
            Console.write(" expected ")
            Console.decimal(vector.error.offset)
            Console.newline()
        }
    }
    Console.write("codec: ")
    Console.decimal(malformed)
    Console.write(" malformed inputs, each with its exact MQTTDecodeError")
    Console.line(malformedFailed == 0 ? ": ok" : ": FAILED")

    // The encoder refuses what breaks the standard, and what does not fit, writing nothing.
    var refusals = 0
    do throws(MQTTEncodeError) {
        _ = try MQTTPacket.publish(MQTTPublish(topic: ByteView("a/#"), payload: ByteView())).encode(into: output)
    } catch {
        if error == .invalid(.wildcardInTopicName) { refusals += 1 }
    }
    do throws(MQTTEncodeError) {
        _ = try MQTTPacket.publish(MQTTPublish(topic: ByteView("t"), payload: ByteView("x"), qos: .atLeastOnce, packetID: 0)).encode(into: output)
    } catch {
        if error == .invalid(.zeroPacketIdentifier) { refusals += 1 }
    }
    do throws(MQTTEncodeError) {
        _ = try MQTTPacket.publish(MQTTPublish(topic: ByteView("t/a"), payload: ByteView("hi"))).encode(into: UnsafeMutableRawBufferPointer(rebasing: output[0..<8]))
    } catch {
        if error == .bufferTooSmall(BufferTooSmall(needed: 9, capacity: 8)) { refusals += 1 }
    }
    checks.check(refusals == 3, "encoder refusals (wildcard topic, packet id 0, buffer too small)")
    Console.line(refusals == 3 ? "codec: 3 encoder refusals: ok" : "codec: encoder refusals: FAILED")
}
