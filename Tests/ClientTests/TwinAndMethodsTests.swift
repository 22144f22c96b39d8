import DeviceCore
import DeviceTwinAndMethods
import Testing

/// `TwinAndMethods` as `DeviceFlow` drives it: what it asks to publish, exactly, and what it
/// tells its handler.
@Suite("IoT Hub: twin and methods on the flow's connection")
final class TwinAndMethodsTests {
    final class Recorder: TwinAndMethodsHandler {
        var seen: [String] = []
        var reports: [String] = []
        let held = HeldText()

        func methodCalled(_ request: DirectMethodRequest, response: UnsafeMutableRawBufferPointer) -> (status: Int, payload: ByteView) {
            seen.append("method \(text(request.name)) \(text(request.payload))")
            let answer = Array(#"{"ok":true}"#.utf8)
            response.copyBytes(from: answer)
            return (request.name == ByteView("reboot") ? 200 : 404, ByteView(baseAddress: response.baseAddress, count: answer.count))
        }

        func twinChanged(_ action: TwinAction) {
            switch action {
            case .twin(let document): seen.append("twin v\(document.desiredVersion)")
            case .desiredPatch(_, let version): seen.append("patch v\(version)")
            case .reportedAccepted(let version): seen.append("accepted v\(version ?? -1)")
            default: seen.append("other")
            }
        }

        func malformed(_ error: IoTHubProtocolError) { seen.append("malformed \(error)") }
        func nextReport() -> ByteView? { reports.isEmpty ? nil : held.view(reports.removeFirst()) }
        func reportRefused(_ error: TwinError) { seen.append("refused") }
    }

    let held = HeldText()
    let buffers = (0..<4).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 128, alignment: 8) }
    var features: TwinAndMethods<Recorder>
    let now = DeviceInstant(milliseconds: 0)

    init() throws {
        let twin = try DeviceTwin(topicBuffer: buffers[0], patchBuffer: buffers[1])
        features = TwinAndMethods(twin: twin, handler: Recorder(), responseTopic: buffers[2], responsePayload: buffers[3])
    }

    deinit { buffers.forEach { $0.deallocate() } }

    func next() -> String {
        guard let message = features.nextPublish(now: now) else { return "-" }
        return "\(text(message.topic)) \(text(message.payload))"
    }

    @Test func connectGetReportAnswerMethods() throws {
        features.handler.reports = [#"{"fw":"1.0"}"#]
        features.connected(now: now)
        #expect(next() == "$iothub/twin/GET/?$rid=1 ")
        // The report goes out beside the GET (each has its own $rid).
        #expect(next() == #"$iothub/twin/PATCH/properties/reported/?$rid=2 {"fw":"1.0"}"#)
        #expect(next() == "-")
        features.received(held.publish("$iothub/twin/res/200/?$rid=1", #"{"desired":{"$version":3}}"#), now: now)
        features.received(held.publish("$iothub/twin/res/204/?$rid=2&$version=4"), now: now)
        features.received(held.publish("$iothub/methods/POST/reboot/?$rid=a1", #"{"delay":1}"#), now: now)
        #expect(next() == #"$iothub/methods/res/200/?$rid=a1 {"ok":true}"#)
        features.received(held.publish("$iothub/methods/POST/thermostat1*getReport/?$rid=a2", "null"), now: now)
        #expect(next() == #"$iothub/methods/res/404/?$rid=a2 {"ok":true}"#)
        features.received(held.publish("$iothub/methods/POST//?$rid=a3"), now: now)
        features.received(held.publish("$iothub/twin/PATCH/properties/desired/?$version=5", #"{"$version":5}"#), now: now)
        #expect(next() == "-")
        #expect(features.handler.seen == [
            "twin v3", "accepted v4", #"method reboot {"delay":1}"#, "method thermostat1*getReport null", "malformed malformedTopic(offset: 21)", "patch v5",
        ])
        // A method call cut off by the connection's loss is not answered on the next one.
        features.received(held.publish("$iothub/methods/POST/reboot/?$rid=a4"), now: now)
        features.connectionLost()
        features.connected(now: now)
        #expect(next() == "$iothub/twin/GET/?$rid=3 ")
        #expect(next() == "-")
    }

    @Test func aRequestIDTooLongToAnswerIsReported() throws {
        let rid = String(repeating: "7", count: 100)
        features.received(held.publish("$iothub/methods/POST/reboot/?$rid=\(rid)"), now: now)
        #expect(next() == "-")
        #expect(features.handler.seen.last == "malformed requestIDTooLong(100)")
    }
}
