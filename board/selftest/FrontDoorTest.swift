// Part (c) of the self-test: the same job through the front door, `IoTDevice` (docs/firmware.md),
// with one scripted transport that the device points at DPS and then at the assigned hub, and
// one memory region of its own. The peer checks every packet byte for byte as in part (b).

import CortexMBoard
import DeviceCore

/// The front door's region (sized by `limits` below) and the peer's frame buffer.
nonisolated(unsafe) var frontDoorMemory = InlineArray<3328, UInt8>(repeating: 0)

typealias FrontDoor = IoTDevice<ScriptedTransport, SysTickClock, FlowObserver>

/// Part (b)'s buffer sizes, so that the same script fits.
var frontDoorLimits: DeviceLimits {
    var limits = DeviceLimits()
    limits.receive = 512
    limits.transmit = 128
    limits.outbox = 512
    limits.connectText = 96
    limits.request = 192
    limits.topic = 96
    limits.body = 192
    return limits
}

/// Registers then sends three messages through `IoTDevice`; every check goes into `checks`.
///
/// Part (c) measures the device's stack (`make size`), so this frame holds only what a
/// firmware's would: the device, the values handed to its initialiser, DPS's outcome. The
/// checks, which copy the transport and the limits, run in the `@inline(never)` helpers below.
func runFrontDoor(_ checks: inout Checks) {
    Console.line("front door: IoTDevice, DPS then 3 messages, one transport, one region")
    withUnsafeMutableBytes(of: &frontDoorMemory) { memory in
        let clock = SysTickClock()
        let peerFrames = UnsafeMutableRawBufferPointer(rebasing: memory[..<256])
        let region = UnsafeMutableRawBufferPointer(rebasing: memory[256...])
        checkRegion(region, &checks)
        do throws(FrontDoor.Failure) {
            var device = try FrontDoor(
                idScope: ByteView("0ne00000A0A"), registrationID: ByteView("device1"),
                transport: ScriptedTransport(script: .dps, clock: clock, frameStorage: peerFrames), clock: clock,
                memory: region, limits: frontDoorLimits, observer: FlowObserver())
            guard case .assigned(let assignment) = try device.provision() else {
                checks.check(false, "front door: assigned")
                return
            }
            checkAssignment(assignment, &checks)
            device.flow.observer = FlowObserver()
            try device.sendTelemetry(to: assignment, messages: 3, interval: .milliseconds(500)) { (index, buffer) throws(JSONWriteError) -> ByteView? in
                let i = Int64(word: index)
                return try WalkthroughTelemetry(
                    temperatureTenths: 240 &+ i, humidityTenths: 600 &+ 5 &* i, index: index, count: 3,
                    timestampMicroseconds: 1_747_901_219_626_893 &+ (i &- 1) &* 1_000_000, deviceID: assignment.deviceID
                ).write(into: buffer)
            }
            checkFinished(device, &checks)
        } catch {
            describe(error)
            checks.check(false, "front door: the job completes")
        }
    }
}

@inline(never)
private func checkRegion(_ region: UnsafeMutableRawBufferPointer, _ checks: inout Checks) {
    checks.check(FrontDoor.requiredBytes(frontDoorLimits) <= region.count, "front door: the region holds requiredBytes")
}

@inline(never)
private func checkAssignment(_ assignment: DPSAssignment, _ checks: inout Checks) {
    checks.check(assignment.assignedHub == ByteView("contoso.azure-devices.net") && assignment.deviceID == ByteView("device1"),
                 "front door: assigned hub and device id")
}

@inline(never)
private func checkFinished(_ device: borrowing FrontDoor, _ checks: inout Checks) {
    checks.check(device.transport.script == .hub && device.transport.completed,
                 "front door: the hub's script played whole, byte for byte, then closed")
    checks.check(device.flow.observer.sent == 3 && device.flow.observer.acknowledged == 3 && device.flow.observer.inOrder,
                 "front door: 3 sent, 3 acknowledged, in order")
}
