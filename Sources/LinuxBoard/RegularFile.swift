#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file the user named (a certificate, a key, a state file) only when it is a
/// regular file of bounded size: a FIFO would block the open, `/dev/zero` would never end, and
/// a directory or a huge file is a mistake to name, not to wait on.
public enum RegularFile {
    /// Why the file was not read.
    public enum Failure: Error, Equatable, Sendable {
        case missing
        /// It is not a regular file; `kind` is what it is, e.g. `a directory`, `a FIFO (named pipe)`.
        case notRegular(kind: String)
        /// It is `size` bytes, more than the caller's limit.
        case tooLarge(size: Int, limit: Int)
        /// `open`, `fstat` or `read` failed with this `strerror` text.
        case unreadable(String)
    }

    /// The file's bytes, at most `limit`.
    public static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            let code = errno
            if code == ENOENT { throw .missing }
            throw .unreadable(String(cString: strerror(code)))
        }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(String(cString: strerror(errno))) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw .notRegular(kind: "a directory")
        case S_IFIFO: throw .notRegular(kind: "a FIFO (named pipe)")
        case S_IFCHR, S_IFBLK: throw .notRegular(kind: "a device")
        case S_IFSOCK: throw .notRegular(kind: "a socket")
        default: throw .notRegular(kind: "not a regular file")
        }
        guard info.st_size <= limit else { throw .tooLarge(size: Int(info.st_size), limit: limit) }
        // One byte of room past the size: a file that grew while being read is seen to.
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw .unreadable(String(cString: strerror(errno))) }
            if count == 0 { break }
            filled += count
        }
        guard filled <= limit else { throw .tooLarge(size: filled, limit: limit) }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }
}

extension RegularFile.Failure: CustomStringConvertible {
    /// What is wrong with the file, in words (after "the file X …: ").
    public var description: String {
        switch self {
        case .missing: return "it does not exist"
        case .notRegular(let kind): return "it is \(kind), not a regular file"
        case .tooLarge(let size, let limit): return "it is \(size) bytes, more than the \(limit) allowed"
        case .unreadable(let reason): return reason
        }
    }
}
