// The modem line of boards with a second UART (mps2-an386: UART1), as the core's `ModemLink`:
// bytes out are written to the UART, bytes in come from the ring buffer its receive interrupt
// fills (board/mps2-an386/board.c). Waiting is WFI, woken by that interrupt or the SysTick.

import DeviceCore

@_extern(c, "board_modem_init") func board_modem_init()
@_extern(c, "board_modem_write") func board_modem_write(_ bytes: UnsafeRawPointer?, _ count: UInt32)
@_extern(c, "board_modem_read") func board_modem_read(_ buffer: UnsafeMutableRawPointer?, _ capacity: UInt32) -> UInt32
@_extern(c, "board_modem_overruns") func board_modem_overruns() -> UInt32

public struct UARTModemLink: ModemLink {
    /// Turns the UART and its receive interrupt on.
    public init() {
        board_modem_init()
    }

    /// Bytes the UART received while the ring buffer was full (lost).
    public var overruns: Int { Int(board_modem_overruns()) }

    public mutating func write(_ bytes: ByteView) {
        board_modem_write(bytes.baseAddress, UInt32(truncatingIfNeeded: bytes.count))
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: DeviceInstant) -> Int {
        let capacity = UInt32(truncatingIfNeeded: buffer.count)
        while true {
            let count = board_modem_read(buffer.baseAddress, capacity)
            if count > 0 { return Int(count) }
            if SysTickClock().now() >= deadline { return 0 }
            board_wait_for_interrupt()
        }
    }
}
