// A bump allocator over a static buffer: how the firmwares carve their buffers out of .bss
// without a heap.

/// Carves a static memory pool into buffers (no heap; nothing is ever freed).
public struct MemoryPool {
    let base: UnsafeMutableRawPointer
    public let capacity: Int
    public private(set) var used = 0

    public init(_ memory: UnsafeMutableRawBufferPointer) {
        base = memory.baseAddress.unsafelyUnwrapped
        capacity = memory.count
    }

    /// `count` bytes, 8-byte aligned; traps when the pool is exhausted (a sizing bug).
    public mutating func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
        used = (used + 7) & ~7
        precondition(used + count <= capacity, "memory pool exhausted")
        let buffer = UnsafeMutableRawBufferPointer(start: base + used, count: count)
        used += count
        return buffer
    }

    public mutating func array<T>(of type: T.Type, count: Int, repeating value: T) -> UnsafeMutableBufferPointer<T> {
        let raw = bytes(MemoryLayout<T>.stride * count)
        let typed = raw.bindMemory(to: T.self)
        typed.initialize(repeating: value)
        return typed
    }
}

extension Int64 {
    /// `Int64(x)` from `Int` fails `-no-allocations` on 32-bit Arm (see docs/size.md).
    public init(word value: Int) { self.init(_truncatingBits: UInt(bitPattern: value)) }
}
