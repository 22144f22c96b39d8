// Publishes N QoS 1 messages over TLS with MQTTClient + TLSTransport and waits for every
// PUBACK: our row of the `make bench` throughput table (scripts/bench.sh runs it beside
// mosquitto_pub and paho-mqtt, against the same mosquitto listener, with the same payload).
//
//   tls-publish --port P --ca root.pem --cert device.pem --key device.key
//               [--host localhost] [--count 10000] [--window 20] [--payload-size 256]
//               [--topic devices/device1/messages/events/bench/a1]
//
// Prints one line: messages, seconds from CONNECT to the last PUBACK, messages/s, TLS suite.
#if canImport(Glibc)
import Glibc
#endif
import DeviceCore
import LinuxBoard

func fail(_ message: String) -> Never {
    var line = "tls-publish: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

func format3(_ value: Double) -> String {
    let thousandths = Int((value * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

@main
enum TLSPublish {
    static func main() {
        var options: [String: String] = [:]
        var arguments = CommandLine.arguments.dropFirst()
        while let name = arguments.popFirst() {
            guard name.hasPrefix("--"), let value = arguments.popFirst() else { fail("usage: see the header of TLSPublish.swift") }
            options[String(name.dropFirst(2))] = value
        }
        let option = { (name: String, fallback: String?) -> String in
            guard let value = options[name] ?? fallback else { fail("--\(name) is required") }
            return value
        }
        guard let port = UInt16(option("port", nil)) else { fail("--port: not a port") }
        let count = Int(option("count", "10000")) ?? 10_000
        let window = Int(option("window", "20")) ?? 20
        let payloadSize = Int(option("payload-size", "256")) ?? 256
        let topicText = Array(option("topic", "devices/device1/messages/events/bench/a1").utf8)

        // Memory for the session's life, as on a device. The outbox holds the whole window.
        let packetSize = 5 + 2 + topicText.count + 2 + payloadSize
        let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        let transmit = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        let outbox = UnsafeMutableRawBufferPointer.allocate(byteCount: window * packetSize, alignment: 16)
        let inflight = UnsafeMutableBufferPointer<MQTTInflightEntry>.allocate(capacity: window)
        inflight.initialize(repeating: MQTTInflightEntry())
        let topicStorage = UnsafeMutableRawBufferPointer.allocate(byteCount: topicText.count, alignment: 1)
        topicStorage.copyBytes(from: topicText)
        let topic = ByteView(UnsafeRawBufferPointer(topicStorage))
        // The same payload as the peers get: printable ASCII, one line of `payloadSize` bytes.
        let payloadStorage = UnsafeMutableRawBufferPointer.allocate(byteCount: payloadSize, alignment: 16)
        for index in 0..<payloadSize { payloadStorage[index] = UInt8(ascii: "a") + UInt8(index % 26) }
        let payload = ByteView(UnsafeRawBufferPointer(payloadStorage))

        let identity: TLSIdentity
        do {
            identity = try TLSIdentity(caFile: option("ca", nil), certificateFile: option("cert", nil), keyFile: option("key", nil))
        } catch {
            fail("identity: \(error)")
        }
        let transport = TLSTransport(host: option("host", "localhost"), port: port, identity: identity)
        let clock = MonotonicClock()
        var client = MQTTClient(
            session: MQTTSession(
                configuration: MQTTSessionConfiguration(
                    connect: MQTTConnect(clientID: ByteView("bench-swift"), cleanSession: true, keepAlive: 60)),
                memory: MQTTSessionMemory(receive: receive, transmit: transmit, outbox: outbox, inflight: inflight)),
            transport: transport, clock: clock)


        var acknowledged = 0
        let handler: (MQTTSessionEvent) -> Void = { event in
            if case .published = event { acknowledged += 1 }
        }

        var suite = "?"
        let started = monotonicSeconds()
        do throws(MQTTClient<TLSTransport, MonotonicClock>.Failure) {
            try client.connect()
            suite = client.transport.cipherSuite ?? "?"
            var queued = 0
            while acknowledged < count {
                // Queue until the window (or outbox) is full, then send and wait for PUBACKs.
                var full = false
                while queued < count && !full {
                    do throws(MQTTSessionError) {
                        _ = try client.session.publish(topic: topic, payload: payload, qos: .atLeastOnce)
                        queued += 1
                    } catch .backPressure {
                        full = true
                    } catch {
                        fail("publish: \(error)")
                    }
                }
                try client.poll(until: clock.now() + .seconds(5), handler)
            }
            client.disconnect()
        } catch {
            fail("\(error)")
        }
        let elapsed = monotonicSeconds() - started
        print("tls-publish: \(count) messages acknowledged in \(format3(elapsed)) s (CONNECT to last PUBACK), \(Int((Double(count) / elapsed).rounded())) msg/s, window \(window), \(suite)")
    }
}
