// The firmware of board/firmware-example with the device twin, a direct method and IoT Plug
// and Play (the module DeviceTwinAndMethods): a thermostat whose target temperature is a
// writable property, acknowledged as Plug and Play asks, and which answers `reboot`. Built by
// `make firmware-example` (linked, not run) so that `make size` can say what the twin,
// methods and Plug and Play add to a firmware that uses them (docs/size.md).
import CortexMBoard
import DeviceCore
import DeviceTwinAndMethods

nonisolated(unsafe) var memory = InlineArray<4748, UInt8>(repeating: 0)  // 520 + IoTDevice.requiredBytes() + the twin's 590

/// The thermostat: `targetTemperature` (desired, whole degrees) acknowledged in the reported
/// properties; `reboot` answered with 200, any other method with 404.
struct Thermostat: TwinAndMethodsHandler {
    let reportBuffer: UnsafeMutableRawBufferPointer
    var target: Int64 = 20
    /// The desired `$version` whose target is still to be acknowledged.
    var unacknowledged: Int64?

    mutating func methodCalled(_ request: DirectMethodRequest, response: UnsafeMutableRawBufferPointer) -> (status: Int, payload: ByteView) {
        var json = JSONWriter(into: response)
        json.beginObject(); json.endObject()
        return (request.command == ByteView("reboot") ? 200 : 404, (try? json.finish()) ?? ByteView())
    }

    mutating func twinChanged(_ action: TwinAction) {
        switch action {
        case .twin(let document): read(document.desired, version: document.desiredVersion)
        case .desiredPatch(let body, let version): read(body, version: version)
        default: break
        }
    }

    /// The `targetTemperature` member of a desired document, if it has one.
    mutating func read(_ desired: ByteView, version: Int64) {
        var reader = JSONReader(desired)
        while case .some(let token) = try? reader.next() {
            guard case .key(let name) = token, reader.depth == 1, name.equals("targetTemperature") else { continue }
            if case .number(let number)? = try? reader.next(), let value = number.int64() {
                target = value
                unacknowledged = version
            }
            return
        }
    }

    mutating func nextReport() -> ByteView? {
        guard let version = unacknowledged else { return nil }
        unacknowledged = nil
        var json = JSONWriter(into: reportBuffer)
        json.beginObject()
        var value = InlineArray<20, UInt8>(repeating: 0)
        return withUnsafeMutableBytes(of: &value) { digits -> ByteView? in
            var text = TextWriter(into: digits)
            text.appendDecimal(target)
            PlugAndPlay.acknowledgement(ByteView("targetTemperature"), value: text.written, status: 200, version: version, into: &json)
            json.endObject()
            return try? json.finish()
        }
    }

    mutating func malformed(_ error: IoTHubProtocolError) {}
    mutating func reportRefused(_ error: TwinError) {}
}

@_cdecl("main")
func main() -> Int32 {
    withUnsafeMutableBytes(of: &memory) { memory in
        let clock = SysTickClock()
        let modem = ModemChannel(link: UARTModemLink(), clock: clock, frameBuffer: UnsafeMutableRawBufferPointer(rebasing: memory[..<520]))
        // The twin's buffers: topic, patch, method answer topic and payload, the thermostat's report, the DPS payload.
        var pieces = UnsafeMutableRawBufferPointer(rebasing: memory[(memory.count - 590)...])
        func take(_ count: Int) -> UnsafeMutableRawBufferPointer {
            defer { pieces = UnsafeMutableRawBufferPointer(rebasing: pieces[count...]) }
            return UnsafeMutableRawBufferPointer(rebasing: pieces[..<count])
        }
        let model = ByteView("dtmi:com:example:Thermostat;1")
        do throws(DeviceFlowFailure<ModemFailure>) {
            var device = try IoTDevice(
                idScope: ByteView("0ne00000A0A"), registrationID: ByteView("device1"),
                transport: ModemTransport(channel: modem), clock: clock,
                memory: UnsafeMutableRawBufferPointer(rebasing: memory[520..<(memory.count - 590)]))
            var payload = JSONWriter(into: take(64))
            PlugAndPlay.registrationPayload(modelID: model, into: &payload)
            device.registrationPayload = try? payload.finish()
            guard case .assigned(let assignment) = try device.provision() else { return 1 }
            guard let twin = try? DeviceTwin(topicBuffer: take(DeviceTwin.topicBufferSize), patchBuffer: take(128)) else { return 3 }
            var features = TwinAndMethods(
                twin: twin, handler: Thermostat(reportBuffer: take(128)),
                responseTopic: take(TwinAndMethods<Thermostat>.responseTopicBufferSize), responsePayload: take(64))
            let filters = TwinAndMethods<Thermostat>.subscriptions
            return withUnsafeTemporaryAllocation(of: MQTTSubscription.self, capacity: 3) { list -> Int32 in
                list[0] = filters.0; list[1] = filters.1; list[2] = filters.2
                do throws(DeviceFlowFailure<ModemFailure>) {
                    try device.sendTelemetry(
                        to: assignment, messages: 3, interval: .seconds(5), stayConnected: .seconds(60), modelID: model,
                        subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(list)), features: &features
                    ) { (index, body) throws(JSONWriteError) -> ByteView? in
                        var json = JSONWriter(into: body)
                        json.beginObject(); json.key("temperature"); json.integer(index + 20); json.endObject()
                        return try json.finish()
                    }
                    return 0
                } catch {
                    return 2
                }
            }
        } catch {
            return 2
        }
    }
}
