import CortexMBoard
import DeviceCore

nonisolated(unsafe) var memory = InlineArray<4008, UInt8>(repeating: 0)  // 520 + IoTDevice.requiredBytes() (3,487)

@_cdecl("main")
func main() -> Int32 {
    withUnsafeMutableBytes(of: &memory) { memory in
        let clock = SysTickClock()
        let modem = ModemChannel(link: UARTModemLink(), clock: clock, frameBuffer: UnsafeMutableRawBufferPointer(rebasing: memory[..<520]))
        do throws(DeviceFlowFailure<ModemFailure>) {
            var device = try IoTDevice(
                idScope: ByteView("0ne00000A0A"), registrationID: ByteView("device1"),
                transport: ModemTransport(channel: modem), clock: clock,
                memory: UnsafeMutableRawBufferPointer(rebasing: memory[520...]))
            let outcome = try device.run(messages: 3, interval: .seconds(5)) { (index, body) throws(JSONWriteError) -> ByteView? in
                var json = JSONWriter(into: body)
                json.beginObject(); json.key("n"); json.integer(index); json.endObject()
                return try json.finish()
            }
            if case .assigned = outcome { return 0 } else { return 1 }
        } catch {
            return 2
        }
    }
}
