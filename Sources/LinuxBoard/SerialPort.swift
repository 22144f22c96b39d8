#if canImport(Glibc)
import Glibc
#endif

/// A serial line on Linux: a tty device (set to raw mode) or a Unix socket (what QEMU offers
/// for an emulated UART with `-serial unix:PATH,server`).
public struct SerialPort {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case cannotOpen(path: String, errno: Int32)
        case notASerialLine(path: String)
        case io(errno: Int32)

        public var description: String {
            switch self {
            case .cannotOpen(let path, let code):
                return "cannot open the serial line \(path): \(String(cString: strerror(code))). Check the path (a tty such as /dev/ttyUSB0, or the Unix socket QEMU listens on) and its permissions."
            case .notASerialLine(let path):
                return "\(path) is neither a terminal device nor a Unix socket."
            case .io(let code):
                return "the serial line failed: \(String(cString: strerror(code)))"
            }
        }
    }

    public private(set) var fileDescriptor: Int32

    /// Opens `path`: a Unix socket is connected to; a tty is opened in raw mode at `baud`.
    public init(path: String, baud: Int = 115_200) throws(Failure) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .cannotOpen(path: path, errno: errno) }
        if info.st_mode & S_IFMT == S_IFSOCK {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                Glibc.close(fd)
                throw .cannotOpen(path: path, errno: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else {
                let code = errno
                Glibc.close(fd)
                throw .cannotOpen(path: path, errno: code)
            }
            fileDescriptor = fd
        } else if info.st_mode & S_IFMT == S_IFCHR {
            let fd = Glibc.open(path, O_RDWR | O_NOCTTY)
            guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
            guard isatty(fd) == 1 else {
                Glibc.close(fd)
                throw .notASerialLine(path: path)
            }
            var settings = termios()
            tcgetattr(fd, &settings)
            cfmakeraw(&settings)
            let speed = SerialPort.speed(baud)
            cfsetispeed(&settings, speed)
            cfsetospeed(&settings, speed)
            tcsetattr(fd, TCSANOW, &settings)
            fileDescriptor = fd
        } else {
            throw .notASerialLine(path: path)
        }
    }

    /// An already open descriptor (a socketpair in tests).
    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    static func speed(_ baud: Int) -> speed_t {
        switch baud {
        case 9600: return speed_t(B9600)
        case 19200: return speed_t(B19200)
        case 38400: return speed_t(B38400)
        case 57600: return speed_t(B57600)
        case 230_400: return speed_t(B230400)
        case 460_800: return speed_t(B460800)
        case 921_600: return speed_t(B921600)
        default: return speed_t(B115200)
        }
    }

    /// Reads what is available, waiting at most `timeoutMilliseconds`; 0 when nothing came,
    /// nil when the other end closed the line.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int32) throws(Failure) -> Int? {
        var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return 0 }
            throw .io(errno: errno)
        }
        if ready == 0 { return 0 }
        let count = Glibc.read(fileDescriptor, buffer.baseAddress, buffer.count)
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return 0 }
            if errno == ECONNRESET { return nil }
            throw .io(errno: errno)
        }
        return count == 0 ? nil : count
    }

    /// Writes all of `bytes`. On a socket whose other end has closed this fails with EPIPE
    /// (`send` with MSG_NOSIGNAL), rather than killing the process with SIGPIPE.
    public func write(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        var isSocket = true
        while offset < bytes.count {
            var written = bytes[offset...].withUnsafeBytes { raw in
                isSocket ? Glibc.send(fileDescriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) : Glibc.write(fileDescriptor, raw.baseAddress, raw.count)
            }
            if written < 0 && isSocket && errno == ENOTSOCK {  // a tty
                isSocket = false
                written = bytes[offset...].withUnsafeBytes { Glibc.write(fileDescriptor, $0.baseAddress, $0.count) }
            }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .io(errno: errno)
            }
            offset += written
        }
    }

    public mutating func close() {
        if fileDescriptor >= 0 { Glibc.close(fileDescriptor) }
        fileDescriptor = -1
    }
}
