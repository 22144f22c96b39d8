// Firmware self-test for the Cortex-M boards (`make qemu-test`): MQTT codec vectors both ways,
// then DPS registration and three telemetry messages through DeviceFlow against an in-firmware
// scripted peer, then the same through the front door IoTDevice. Progress goes to the UART; the return value becomes QEMU's exit status
// (semihosting): 0 only if every check passed.
//
// Built with Embedded Swift and `-no-allocations`: no heap. All buffers come from one static
// pool (in .bss), sized for the micro:bit's 16 KB of RAM.

import CortexMBoard
import DeviceCore

/// Every buffer the test uses: session buffers, DPS/hub text buffers, the peer's frame buffer,
/// codec scratch.
nonisolated(unsafe) var memoryPool = InlineArray<2816, UInt8>(repeating: 0)

@_cdecl("main")
func firmwareMain() -> Int32 {
    Console.write("qemu-test: ")
    Console.boardName()
    Console.line(": DeviceCore firmware self-test")
    var checks = Checks()
    var used = 0
    withUnsafeMutableBytes(of: &memoryPool) { memory in
        var pool = MemoryPool(memory)
        runCodecVectors(&checks, pool: &pool)
        let codecStack = StackUsage.used
        runDeviceFlow(&checks, pool: &pool)
        used = pool.used
        Console.write("qemu-test: stack high-water after the codec vectors ")
        Console.decimal(codecStack)
        Console.write(" bytes, after the device flow ")
        Console.decimal(StackUsage.used)
        Console.line(" bytes")
    }
    let flowStack = StackUsage.used
    // Part (c) measured alone: the high-water mark starts over below this frame.
    StackUsage.restart()
    runFrontDoor(&checks)
    let frontDoorStack = StackUsage.used
    Console.write("qemu-test: stack high-water of the front door (IoTDevice) ")
    Console.decimal(frontDoorStack)
    Console.line(" bytes")
    Console.memoryReport("qemu-test: ", poolUsed: used, poolSize: MemoryLayout<InlineArray<2816, UInt8>>.size)
    // What the big values on the stack weigh (the flow keeps clients, registration and events there).
    Console.write("qemu-test: sizes: MQTTClient ")
    Console.decimal(MemoryLayout<MQTTClient<ScriptedTransport, SysTickClock>>.size)
    Console.write(" (MQTTSession ")
    Console.decimal(MemoryLayout<MQTTSession>.size)
    Console.write(", peer ")
    Console.decimal(MemoryLayout<ScriptedTransport>.size)
    Console.write("), DPSRegistration ")
    Console.decimal(MemoryLayout<DPSRegistration>.size)
    Console.write(", DPSOutcome ")
    Console.decimal(MemoryLayout<DPSOutcome>.size)
    Console.write(", MQTTPacket ")
    Console.decimal(MemoryLayout<MQTTPacket>.size)
    Console.write(", MQTTSessionEvent ")
    Console.decimal(MemoryLayout<MQTTSessionEvent>.size)
    Console.write(", DeviceFlow ")
    Console.decimal(MemoryLayout<Flow>.size)
    Console.write(" bytes; IoTDevice.requiredBytes() ")
    Console.decimal(IoTDevice<ScriptedTransport, SysTickClock, FlowObserver>.requiredBytes())
    Console.write(" bytes, with the modem transport ")
    Console.decimal(IoTDevice<ModemTransport<UARTModemLink, SysTickClock>, SysTickClock, SilentObserver<ModemFailure>>.requiredBytes())
    Console.line(" bytes")
    // The stack is painted down to the end of .bss: a high-water mark at the limit means it overflowed.
    checks.check(max(flowStack, frontDoorStack) + 512 <= StackUsage.available, "stack stays 512 bytes clear of .bss")
    Console.write("qemu-test: ")
    Console.boardName()
    Console.write(": ")
    Console.decimal(checks.passed)
    Console.write(" checks passed, ")
    Console.decimal(checks.failed)
    Console.write(" failed: ")
    Console.line(checks.failed == 0 ? "ok" : "FAIL")
    return checks.failed == 0 ? 0 : 1
}
