#if canImport(Glibc)
import Glibc
#endif

/// The process's arguments and environment as the bytes the kernel passed. Swift's
/// `CommandLine.arguments` and `String(cString:)` replace bytes that are not UTF-8 with U+FFFD,
/// which would turn a mistyped value into a different one without a word; these checks find
/// such bytes first so that the value can be refused by name.
enum ArgumentBytes {
    /// Why argument `index` (1 = the first after the program's name) is not UTF-8, or `nil`
    /// when every argument is.
    static func firstInvalidArgument() -> String? {
        for index in 1..<Int(CommandLine.argc) {
            guard let pointer = CommandLine.unsafeArgv[index] else { continue }
            if let problem = problem(in: pointer) {
                let previous = index > 1 ? CommandLine.unsafeArgv[index - 1].flatMap { String(validatingCString: $0) } : nil
                let after = previous.map { $0.hasPrefix("-") ? " (the value of \($0))" : "" } ?? ""
                return "argument \(index)\(after) is not UTF-8 text: \(problem). Give paths and values in UTF-8."
            }
        }
        return nil
    }

    /// The variable's value when it is set and non-empty; `.failure` with the words when it is
    /// not UTF-8.
    static func environment(_ name: String) -> Result<String, UsageError>? {
        guard let pointer = getenv(name), pointer.pointee != 0 else { return nil }
        if let problem = problem(in: pointer) {
            return .failure(UsageError("the environment variable \(name) is not UTF-8 text: \(problem)"))
        }
        return .success(String(cString: pointer))
    }

    /// "byte 0xFF at offset 6" for the first byte that breaks UTF-8, or `nil`.
    static func problem(in text: UnsafePointer<CChar>) -> String? {
        let count = strlen(text)
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: count)
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
            case .emptyInput:
                return nil
            case .error:
                let byte = bytes[min(offset, count - 1)]
                return "byte 0x\(byte < 16 ? "0" : "")\(String(byte, radix: 16, uppercase: true)) at offset \(offset)"
            }
        }
    }
}
