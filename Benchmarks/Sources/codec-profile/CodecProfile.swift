// A loop of one codec operation, for valgrind (callgrind counts instructions: repeatable on a
// busy machine) and perf. scripts/bench.sh runs it twice per operation (N and 2N iterations)
// under callgrind and reports the difference / N as instructions per operation.
//
//   codec-profile encode-publish|decode-publish|frame-publish [iterations]
//   (also encode-publish-direct and encode-publish-topicname: MQTTPublish's own entry points)
//
// The PUBLISH is the reference packet: QoS 1, 40-byte topic, 256-byte payload.
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
            print("usage: codec-profile encode-publish|decode-publish|frame-publish [iterations]")
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

        switch arguments[1] {
        case "encode-publish":
            for _ in 0..<iterations { consume(try! packet.encode(into: scratch)) }
        case "encode-publish-direct":  // MQTTPublish.encode(into:), no MQTTPacket enum
            guard case .publish(let publish) = packet else { exit(2) }
            for _ in 0..<iterations { consume(try! publish.encode(into: scratch)) }
        case "encode-publish-topicname":  // topic validated once (MQTTTopicName)
            let name = try! MQTTTopicName(validating: topic)
            for _ in 0..<iterations {
                consume(try! MQTTPublish.encode(topic: name, payload: payload, qos: .atLeastOnce, packetID: 1, into: scratch))
            }
        case "decode-publish":
            for _ in 0..<iterations { consume(try! MQTTPacket.decode(wire)) }
        case "frame-publish":
            scratch.copyMemory(from: wire.buffer)
            var reader = MQTTFrameReader(storage: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]))
            for _ in 0..<iterations {
                reader.didWrite(size)
                consume(try! reader.nextFrame()!.decode())
                precondition(try! reader.nextFrame() == nil)
            }
        default:
            print("codec-profile: unknown operation \(arguments[1])")
            exit(2)
        }
    }
}
