// The Swift side of the Cortex-M boards (mps2-an386, microbit): the core's `DeviceClock` over
// SysTick, and a console that writes over the board's UART without building Strings.
//
// The C side (board/common/cortexm.c, board/<board>/board.c) owns the registers; this module
// only calls it. Built by board/qemu.mk with Embedded Swift and `-no-allocations`.

import DeviceCore

@_extern(c, "board_millis") func board_millis() -> Int64
@_extern(c, "board_wait_for_interrupt") func board_wait_for_interrupt()
@_extern(c, "board_stack_used") func board_stack_used() -> UInt32
@_extern(c, "board_stack_repaint") func board_stack_repaint()
@_extern(c, "board_stack_size") func board_stack_size() -> UInt32
@_extern(c, "board_get_name") func board_get_name() -> UnsafePointer<CChar>
@_extern(c, "putchar") func board_putchar(_ c: Int32) -> Int32

/// Milliseconds since reset from the SysTick interrupt (1 kHz), their low 32 bits as
/// `DeviceInstant` takes them; sleeping is WFI until the deadline, woken by each tick.
public struct SysTickClock: DeviceClock {
    public init() {}

    public func now() -> DeviceInstant { DeviceInstant(truncating: board_millis()) }

    public func sleep(until deadline: DeviceInstant) {
        while now() < deadline { board_wait_for_interrupt() }
    }
}

/// Output on the board's UART: text, decimal numbers and hex bytes, without `String`.
public enum Console {
    public static func write(_ text: StaticString) {
        let p = text.utf8Start
        var i = 0
        while i < text.utf8CodeUnitCount {
            _ = board_putchar(Int32(p[i]))
            i += 1
        }
    }

    public static func write(_ bytes: ByteView) {
        var i = 0
        while i < bytes.count {
            _ = board_putchar(Int32(bytes[i]))
            i += 1
        }
    }

    public static func line(_ text: StaticString) {
        write(text)
        newline()
    }

    public static func newline() { _ = board_putchar(10) }

    public static func decimal(_ value: Int) {
        if value < 0 { _ = board_putchar(45) }
        var digits = InlineArray<20, UInt8>(repeating: 0)
        var rest = value.magnitude
        var n = 0
        repeat {
            digits[n] = UInt8(truncatingIfNeeded: rest % 10) &+ 48
            rest /= 10
            n += 1
        } while rest > 0
        while n > 0 {
            n -= 1
            _ = board_putchar(Int32(digits[n]))
        }
    }

    public static func hex(_ bytes: ByteView) {
        var i = 0
        while i < bytes.count {
            hexByte(bytes[i])
            i += 1
        }
    }

    public static func hexByte(_ byte: UInt8) {
        let digits: StaticString = "0123456789abcdef"
        _ = board_putchar(Int32(digits.utf8Start[Int(byte >> 4)]))
        _ = board_putchar(Int32(digits.utf8Start[Int(byte & 0xF)]))
    }

    /// The board's name ("mps2-an386", "microbit").
    public static func boardName() {
        var p = board_get_name()
        while p.pointee != 0 {
            _ = board_putchar(Int32(p.pointee))
            p += 1
        }
    }
}

extension Console {
    /// One line: "<prefix>memory pool U of S bytes; stack high-water H of A bytes".
    public static func memoryReport(_ prefix: StaticString, poolUsed: Int, poolSize: Int) {
        write(prefix)
        write("memory pool ")
        decimal(poolUsed)
        write(" of ")
        decimal(poolSize)
        write(" bytes; stack high-water ")
        decimal(StackUsage.used)
        write(" of ")
        decimal(StackUsage.available)
        line(" bytes")
    }
}

/// The stack's high-water mark (the start-up code paints the stack), and its size.
public enum StackUsage {
    public static var used: Int { Int(board_stack_used()) }
    /// Starts the high-water mark over below the caller's frame, to measure one part alone.
    public static func restart() { board_stack_repaint() }
    public static var available: Int { Int(board_stack_size()) }
}
