#if canImport(Glibc)
import Glibc
#endif

/// The standard streams, without Foundation: each line is one `write(2)` (so lines from a
/// service reach journald whole and in order, and a bench can time-stamp them).
public enum Output {
    /// `text` and a newline on standard output.
    public static func line(_ text: String) {
        write(text + "\n", to: STDOUT_FILENO)
    }

    /// `error: text` on standard error.
    public static func error(_ text: String) {
        write("error: " + text + "\n", to: STDERR_FILENO)
    }

    /// `warning: text` on standard error.
    public static func warning(_ text: String) {
        write("warning: " + text + "\n", to: STDERR_FILENO)
    }

    /// `text` as it is on standard error (notes for people, not results).
    public static func note(_ text: String) {
        write(text, to: STDERR_FILENO)
    }

    /// `text` as it is on standard output.
    public static func raw(_ text: String) {
        write(text, to: STDOUT_FILENO)
    }

    static func write(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }  // a closed pipe: nobody is reading
                offset += written
            }
        }
    }

    /// All of standard input as bytes.
    public static func readStandardInput() -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return bytes }
            bytes += chunk[..<count]
        }
    }
}
