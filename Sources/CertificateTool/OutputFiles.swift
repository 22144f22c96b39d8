#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS

/// Writes the tool's files: private keys created with mode 0600 (never wider, never chmod-ed
/// afterwards), certificates with 0644 (both less the umask), and nothing overwritten unless
/// `force` is set. All the paths are checked before anything is written, so a refused run
/// leaves the directory as it was.
public struct OutputFiles: Sendable {
    /// One file to write.
    public struct Item: Sendable {
        public var path: String
        public var contents: String
        public var isSecret: Bool

        public init(path: String, contents: String, isSecret: Bool) {
            self.path = path
            self.contents = contents
            self.isSecret = isSecret
        }
    }

    public var directory: String
    public var force: Bool

    public init(directory: String, force: Bool) {
        self.directory = directory
        self.force = force
    }

    /// `directory/name`.
    public func path(_ name: String) -> String {
        if directory.isEmpty || directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Fails with `.wouldOverwrite` if any of `paths` exists (a file, a link, anything) and
    /// `force` is not set.
    public func checkFree(_ paths: [String]) throws(CertificateToolError) {
        guard !force else { return }
        let taken = paths.filter { path in
            var info = stat()
            return lstat(path, &info) == 0
        }
        if !taken.isEmpty { throw .wouldOverwrite(paths: taken) }
    }

    /// Creates the directory (and its parents) if missing, mode 0755 less the umask.
    public func makeDirectory() throws(CertificateToolError) {
        guard !directory.isEmpty else { return }
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            prefix += component
            var info = stat()
            if stat(prefix, &info) != 0 {
                if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                    throw .cannotWrite(path: prefix, reason: CertificateToolError.errnoText(errno))
                }
            } else if info.st_mode & S_IFMT != S_IFDIR {
                throw .cannotWrite(path: prefix, reason: "it exists and is not a directory")
            }
            prefix += "/"
        }
    }

    /// Writes every item (after `checkFree` and `makeDirectory`). If one fails, the files this
    /// call created are removed again.
    public func write(_ items: [Item]) throws(CertificateToolError) {
        try checkFree(items.map(\.path))
        try makeDirectory()
        var created: [String] = []
        do throws(CertificateToolError) {
            for item in items {
                try writeOne(item)
                created.append(item.path)
            }
        } catch {
            for path in created { unlink(path) }
            throw error
        }
    }

    private func writeOne(_ item: Item) throws(CertificateToolError) {
        if force {
            // Replace, not rewrite: a new file gets the new mode, whatever the old one had.
            if unlink(item.path) != 0 && errno != ENOENT {
                throw .cannotWrite(path: item.path, reason: CertificateToolError.errnoText(errno))
            }
        }
        let mode: mode_t = item.isSecret ? 0o600 : 0o644
        let fd = open(item.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        if fd < 0 {
            let code = errno
            if code == EEXIST { throw .wouldOverwrite(paths: [item.path]) }
            throw .cannotWrite(path: item.path, reason: CertificateToolError.errnoText(code))
        }
        var bytes = Array(item.contents.utf8)
        defer { if item.isSecret { wipe(&bytes) } }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                _ = close(fd)
                unlink(item.path)
                throw .cannotWrite(path: item.path, reason: CertificateToolError.errnoText(code))
            }
            offset += count
        }
        let synced = fsync(fd) == 0
        var code = errno
        let closed = close(fd) == 0
        if !closed { code = errno }
        if !synced || !closed {
            unlink(item.path)
            throw .cannotWrite(path: item.path, reason: CertificateToolError.errnoText(code))
        }
    }
}
