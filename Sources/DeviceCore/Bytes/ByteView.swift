/// A read-only window onto bytes owned by someone else: a receive buffer, a static string,
/// a caller's array.
///
/// Decoded packets hand out `ByteView`s into the frame they were decoded from, so decoding
/// never copies or allocates. A view is valid only while the memory it points at is: for a
/// decoded packet, until the frame reader is next asked for a frame.
public struct ByteView {
    /// Start of the bytes, never null (an empty view holds `ByteView.nowhere`, or the address it
    /// was made with, never read), so that null is free to mark an absent view and a
    /// `ByteView?` takes no more room than a `ByteView`
    /// (8 bytes on 32-bit, not 9; the core's outcomes and bodies hold many of them). The core
    /// reads through it where it has just checked `count`: `baseAddress` costs a compare.
    let start: UnsafeRawPointer
    /// Number of bytes in the view.
    public let count: Int

    /// Where every empty view points; never read.
    @inline(__always)
    private static var nowhere: UnsafeRawPointer { UnsafeRawPointer(bitPattern: 1).unsafelyUnwrapped }

    /// Start of the bytes; `nil` only when `count` is 0.
    @inline(__always)
    public var baseAddress: UnsafeRawPointer? { count == 0 ? nil : start }

    /// An empty view.
    public init() {
        start = Self.nowhere
        count = 0
    }

    /// A view of `count` bytes at `baseAddress`. (An empty view keeps a non-null address it is
    /// given, unread: a caller's known pointer then costs no test.)
    public init(baseAddress: UnsafeRawPointer?, count: Int) {
        start = baseAddress ?? Self.nowhere
        self.count = count
    }

    /// A view of a raw buffer's bytes.
    public init(_ buffer: UnsafeRawBufferPointer) {
        self.init(baseAddress: buffer.baseAddress, count: buffer.count)
    }

    /// A view of a string literal's UTF-8 bytes; valid for the program's whole life.
    public init(_ string: StaticString) {
        self.init(baseAddress: UnsafeRawPointer(string.utf8Start), count: string.utf8CodeUnitCount)
    }

    /// `true` when the view has no bytes.
    @inline(__always)
    public var isEmpty: Bool { count == 0 }

    /// The raw buffer this view covers.
    @inline(__always)
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: count) }

    /// The byte at `index`; `index` must be in `0..<count`.
    @inline(__always)
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "ByteView index out of range")
        return start.load(fromByteOffset: index, as: UInt8.self)
    }

    /// The byte at `index`, which must be in `0..<count`, unchecked: for a loop that has just
    /// compared `index` with `count` (the subscript's check and trap, again, at every read).
    @inline(__always)
    func byte(at index: Int) -> UInt8 {
        start.load(fromByteOffset: index, as: UInt8.self)
    }

    /// The `length` bytes starting at `offset`; the range must lie inside the view.
    @inline(__always)
    public func slice(from offset: Int, count length: Int) -> ByteView {
        precondition(offset >= 0 && length >= 0 && offset <= count - length, "ByteView slice out of range")
        if length == 0 { return ByteView() }
        return ByteView(baseAddress: start + offset, count: length)
    }

    /// `true` when both views hold the same bytes. Out of line: one copy for every comparison
    /// of names and topics (flash).
    @inline(never)
    public func elementsEqual(_ other: ByteView) -> Bool {
        guard count == other.count else { return false }
        if count == 0 { return true }
        return memoryEqual(start, other.start, count)
    }

    /// `true` when the view starts with `prefix`.
    public func hasPrefix(_ prefix: ByteView) -> Bool {
        guard prefix.count <= count else { return false }
        return slice(from: 0, count: prefix.count).elementsEqual(prefix)
    }

    /// Drops `prefix` from the front of the view when the view starts with it; `false`, and the
    /// view unchanged, when it does not. Out of line: one copy for every topic matched piece by piece.
    @inline(never)
    mutating func removePrefix(_ prefix: ByteView) -> Bool {
        guard hasPrefix(prefix) else { return false }
        self = ByteView(baseAddress: baseAddress.map { $0 + prefix.count }, count: count - prefix.count)
        return true
    }

    /// The offset just past the first occurrence of `needle`, or `nil` if it does not occur.
    func end(ofFirst needle: ByteView) -> Int? {
        guard needle.count <= count else { return nil }
        var offset = 0
        while offset <= count - needle.count {
            if slice(from: offset, count: needle.count).elementsEqual(needle) { return offset + needle.count }
            offset += 1
        }
        return nil
    }

    /// Copies the bytes into `destination`, which must hold at least `count` bytes.
    @inline(__always)
    public func copyBytes(to destination: UnsafeMutableRawPointer) {
        if count > 0 { destination.copyMemory(from: start, byteCount: count) }
    }
}

extension ByteView: Equatable {
    /// Views are equal when their bytes are, wherever they live.
    public static func == (lhs: ByteView, rhs: ByteView) -> Bool { lhs.elementsEqual(rhs) }
}


@inline(__always)
func memoryEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var index = 0
    while index < count {
        if a.load(fromByteOffset: index, as: UInt8.self) != b.load(fromByteOffset: index, as: UInt8.self) {
            return false
        }
        index += 1
    }
    return true
}
