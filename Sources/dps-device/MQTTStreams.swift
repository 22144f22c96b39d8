#if canImport(Glibc)
import Glibc
#endif
import PacketInspector

/// Standard input and output of `mqtt decode` and `encode`, a piece at a time, without
/// Foundation: however large the input, what is held is one piece in and one buffer out.
enum MQTTStreams {
    /// A buffer that writes to standard output.
    static func standardOutput() -> OutputBuffer {
        OutputBuffer { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDOUT_FILENO, bytes.baseAddress.unsafelyUnwrapped + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }  // a closed pipe: nobody is reading
                offset += written
            }
        }
    }

    /// Calls `body` with each piece of standard input, in order, until its end.
    static func forEachStandardInputPiece(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let count = read(STDIN_FILENO, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw InspectorError("cannot read standard input: " + String(cString: strerror(errno)))
            }
            if count == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }
}
