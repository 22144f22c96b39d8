// Helpers for the firmware self-test: hex text compiled into flash, compared and decoded
// without copying it to RAM, and check reporting.

import CortexMBoard
import DeviceCore

/// Hex text ("1002abcd", no spaces) as bytes, read straight from flash.
struct Hex {
    let text: StaticString

    init(_ text: StaticString) {
        precondition(text.utf8CodeUnitCount % 2 == 0, "odd hex digit count")
        self.text = text
    }

    var count: Int { text.utf8CodeUnitCount / 2 }

    subscript(index: Int) -> UInt8 {
        let digits = text.utf8Start
        return Hex.digit(digits[2 * index]) << 4 | Hex.digit(digits[2 * index + 1])
    }

    static func digit(_ c: UInt8) -> UInt8 {
        switch c {
        case 48...57: return c &- 48
        case 97...102: return c &- 87
        case 65...70: return c &- 55
        default: fatalError("not a hex digit")
        }
    }

    /// `true` when `bytes` are exactly these bytes.
    func matches(_ bytes: ByteView) -> Bool {
        guard bytes.count == count else { return false }
        var i = 0
        while i < count {
            if bytes[i] != self[i] { return false }
            i += 1
        }
        return true
    }

    /// Decodes into `memory` (at least `count` bytes) and returns a view of the bytes.
    func bytes(in memory: UnsafeMutableRawBufferPointer) -> ByteView {
        precondition(memory.count >= count, "hex scratch buffer too small")
        var i = 0
        while i < count {
            memory[i] = self[i]
            i += 1
        }
        return ByteView(baseAddress: UnsafeRawPointer(memory.baseAddress), count: count)
    }
}

/// Counts passed and failed checks and prints the failures.
struct Checks {
    var passed = 0
    var failed = 0

    mutating func check(_ condition: Bool, _ what: StaticString) {
        if condition {
            passed += 1
        } else {
            failed += 1
            Console.write("  FAIL: ")
            Console.line(what)
        }
    }

    /// Fails with both byte strings printed when `actual` is not `expected`.
    mutating func bytes(_ actual: ByteView, _ expected: Hex, _ what: StaticString) {
        if expected.matches(actual) {
            passed += 1
            return
        }
        failed += 1
        Console.write("  FAIL: ")
        Console.line(what)
        Console.write("    expected ")
        Console.write(expected.text)
        Console.newline()
        Console.write("    got      ")
        Console.hex(actual)
        Console.newline()
    }
}
