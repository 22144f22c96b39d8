// A loop of one codec operation, for valgrind (callgrind counts instructions: repeatable on a
// busy machine) and perf. scripts/bench.sh runs it twice per operation (N and 2N iterations)
// under callgrind and reports the difference / N as instructions per operation.
//
//   codec-profile encode-publish|decode-publish|frame-publish|encode-connect [iterations]
//   (also encode-publish-packet: through MQTTPacket's dispatch, and encode-publish-topicname:
//   the topic validated once, as the session's QoS 1 publish)
//
// encode-publish is `MQTTPublish.encode(into:)`, the function the session's publish calls (the
// topic checked on every call); frame-publish is what the session does with received bytes
// (`MQTTFrameReader.nextFrame()`, `MQTTFrame.decodeFromServer()`); decode-publish is the general
// decoder of whole packets (`MQTTPacket.decode`). The codec is the same code on hosts and on
// Cortex-M.
//
// The PUBLISH is the reference packet: QoS 1, 40-byte topic, 256-byte payload. The
// CONNECT is the one of the CONNECT benchmark in Benchmarks/DeviceCoreBenchmarks: client id
// `device1`, the 57-byte IoT Hub user name, a 256-byte password, CleanSession 0, keep-alive 240.
#if canImport(Glibc)
import Glibc
#endif
import DeviceCore

@inline(never)
func consume<T>(_ value: T) { withExtendedLifetime(value) {} }

@main
enum CodecProfile {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            print("usage: codec-profile encode-publish|decode-publish|frame-publish|encode-connect [iterations]")
            exit(2)
        }
        let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 100_000 : 100_000

        let topicText = Array("devices/device1/messages/events/bench/a1".utf8)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 40 + 256, alignment: 16)
        storage.copyBytes(from: topicText)
        for index in 0..<256 { storage[40 + index] = UInt8(ascii: "a") + UInt8(index % 26) }
        let topic = ByteView(baseAddress: UnsafeRawPointer(storage.baseAddress!), count: 40)
        let payload = ByteView(baseAddress: UnsafeRawPointer(storage.baseAddress! + 40), count: 256)
        let packet = MQTTPacket.publish(MQTTPublish(topic: topic, payload: payload, qos: .atLeastOnce, packetID: 1))
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
        let size = try! packet.encode(into: output)
        let wire = ByteView(baseAddress: UnsafeRawPointer(output.baseAddress!), count: size)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)

        let passwordStorage = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 16)
        for index in 0..<256 { passwordStorage[index] = UInt8(ascii: "a") + UInt8((index &* 7 &+ 2) % 26) }
        let connect = MQTTConnect(
            clientID: ByteView("device1"), cleanSession: false, keepAlive: 240,
            userName: ByteView("contoso.azure-devices.net/device1/?api-version=2021-04-12"),
            password: ByteView(baseAddress: UnsafeRawPointer(passwordStorage.baseAddress!), count: 256))

        switch arguments[1] {
        case "encode-publish":
            guard case .publish(let publish) = packet else { exit(2) }
            for _ in 0..<iterations { consume(try! publish.encode(into: scratch)) }
        case "encode-publish-packet":  // through MQTTPacket.encode(into:)
            for _ in 0..<iterations { consume(try! packet.encode(into: scratch)) }
        case "encode-publish-topicname":  // topic validated once (MQTTTopicName)
            let name = try! MQTTTopicName(validating: topic)
            for _ in 0..<iterations {
                consume(try! MQTTPublish.encode(topic: name, payload: payload, qos: .atLeastOnce, packetID: 1, into: scratch))
            }
        case "decode-publish":
            for _ in 0..<iterations { consume(try! MQTTPacket.decode(wire)) }
        case "frame-publish":  // as MQTTSession receives: the frame reader, then MQTTServerPacket
            scratch.copyMemory(from: wire.buffer)
            var reader = MQTTFrameReader(storage: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]))
            for _ in 0..<iterations {
                reader.didWrite(size)
                consume(try! reader.nextFrame()!.decodeFromServer())
                precondition(try! reader.nextFrame() == nil)
            }
        case "encode-connect":  // MQTTConnect.encode(into:), as the session's connectionOpened
            for _ in 0..<iterations { consume(try! connect.encode(into: scratch)) }
        default:
            print("codec-profile: unknown operation \(arguments[1])")
            exit(2)
        }
    }
}
