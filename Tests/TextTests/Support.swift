import DeviceCore
import Testing

// Test memory is allocated and never freed: views into it stay valid for the whole run, with no
// lifetime games, and the amounts are tiny.

/// A view of a copy of `bytes`.
func view(_ bytes: [UInt8]) -> ByteView {
    let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
    memory.copyBytes(from: bytes)
    return ByteView(baseAddress: memory.baseAddress, count: bytes.count)
}

/// A view of a copy of the UTF-8 of `text`.
func view(_ text: String) -> ByteView { view(Array(text.utf8)) }

/// A fresh buffer of `count` bytes, filled with 0xEE so stray writes show.
func buffer(_ count: Int) -> UnsafeMutableRawBufferPointer {
    let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
    memory.initializeMemory(as: UInt8.self, repeating: 0xEE)
    return UnsafeMutableRawBufferPointer(rebasing: memory[0..<count])
}

/// The bytes of a view.
func bytes(_ view: ByteView) -> [UInt8] { Array(view.buffer) }

/// The bytes of a view as text (tests only produce UTF-8).
func text(_ view: ByteView) -> String { String(decoding: view.buffer, as: UTF8.self) }

/// What a `TextWriter` of `capacity` bytes makes of `body`.
func written(capacity: Int = 512, _ body: (inout TextWriter) -> Void) -> Result<String, BufferTooSmall> {
    var writer = TextWriter(into: buffer(capacity))
    body(&writer)
    do throws(BufferTooSmall) {
        return .success(text(try writer.finish()))
    } catch {
        return .failure(error)
    }
}

/// What a `JSONWriter` of `capacity` bytes makes of `body`.
func json(capacity: Int = 512, _ body: (inout JSONWriter) -> Void) -> Result<String, JSONWriteError> {
    var writer = JSONWriter(into: buffer(capacity))
    body(&writer)
    do throws(JSONWriteError) {
        return .success(text(try writer.finish()))
    } catch {
        return .failure(error)
    }
}

/// A token as short text: `{ } [ ]`, `k:raw`, `s:raw`, `n:raw`, `true`, `false`, `null`.
func describe(_ token: JSONToken) -> String {
    switch token {
    case .beginObject: return "{"
    case .endObject: return "}"
    case .beginArray: return "["
    case .endArray: return "]"
    case .key(let s): return "k:" + text(s.raw)
    case .string(let s): return "s:" + text(s.raw)
    case .number(let n): return "n:" + text(n.raw)
    case .bool(let b): return b ? "true" : "false"
    case .null: return "null"
    }
}

/// All tokens of a document, or its first error.
func tokens(_ document: ByteView, maximumDepth: Int = 16) -> Result<[String], JSONError> {
    var reader = JSONReader(document, maximumDepth: maximumDepth)
    var out: [String] = []
    do throws(JSONError) {
        while let token = try reader.next() { out.append(describe(token)) }
        return .success(out)
    } catch {
        return .failure(error)
    }
}

func tokens(_ document: String, maximumDepth: Int = 16) -> Result<[String], JSONError> {
    tokens(view(document), maximumDepth: maximumDepth)
}

extension Result {
    /// The failure, or `nil`.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    /// The success value, or `nil`.
    var value: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}
