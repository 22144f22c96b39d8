#if canImport(Glibc)
import Glibc
#endif
import HostJSON
import LinuxBoard

/// Where DPS put this device, kept in a file (`--state`) so that the next start connects
/// straight to its hub: DPS is rate-limited, and Azure's guidance is to register again only
/// when the hub turns the device away.
///
/// The identity the assignment belongs to (ID scope, registration id, DPS endpoint) is part of
/// the record: a file written for another certificate, scope or DPS is never used for this one.
///
///     {"format":1,"idScope":"0ne00000DEMO","registrationId":"device1","provisioningHost":"127.0.0.1:8883",
///      "assignedHub":"127.0.0.2","deviceId":"device1","savedAt":"2026-12-02T16:05:09.123Z"}
public struct AssignmentState: Equatable, Sendable {
    public var idScope: String
    public var registrationID: String
    /// DPS's `host:port` as the device reached it.
    public var provisioningHost: String
    public var assignedHub: String
    public var deviceID: String
    /// When the registration that made it finished (RFC 3339 UTC), for people reading the file.
    public var savedAt: String

    public init(idScope: String, registrationID: String, provisioningHost: String, assignedHub: String, deviceID: String, savedAt: String) {
        self.idScope = idScope
        self.registrationID = registrationID
        self.provisioningHost = provisioningHost
        self.assignedHub = assignedHub
        self.deviceID = deviceID
        self.savedAt = savedAt
    }

    /// The file's format version; a file of another version is not read.
    public static let format = 1
    /// A state file is a few hundred bytes; anything bigger is not one.
    public static let maximumFileSize = 16 * 1024

    /// Whether this assignment was made for that identity (registration ids are
    /// case-insensitive at DPS; the scope and endpoint are compared as given).
    public func belongs(toScope scope: String, registrationID id: String, provisioningHost host: String) -> Bool {
        idScope == scope && registrationID.lowercased() == id.lowercased() && provisioningHost == host
    }

    // MARK: Text

    /// One line of JSON and a newline.
    public var fileText: String {
        JSONValue.object([
            JSONMember("format", .int(Self.format)),
            JSONMember("idScope", .string(idScope)),
            JSONMember("registrationId", .string(registrationID)),
            JSONMember("provisioningHost", .string(provisioningHost)),
            JSONMember("assignedHub", .string(assignedHub)),
            JSONMember("deviceId", .string(deviceID)),
            JSONMember("savedAt", .string(savedAt)),
        ]).compactText + "\n"
    }

    /// Reads `fileText`; the error says what is wrong with it.
    public init(fileText source: String) throws(AssignmentStateError) {
        let value: JSONValue
        do throws(JSONSyntaxError) { value = try JSONParser.parse(source) } catch {
            throw .corrupt("it is not JSON (\(error.message) at byte \(error.offset))")
        }
        guard case .object = value else { throw .corrupt("it holds \(value.kindName), not an object") }
        guard let format = value["format"]?.intValue else { throw .corrupt("it has no \"format\" number") }
        guard format == Self.format else { throw .corrupt("it is format \(format); this version reads format \(Self.format)") }
        func text(_ key: String) throws(AssignmentStateError) -> String {
            guard case .string(let string)? = value[key], !string.isEmpty else {
                throw .corrupt("\"\(key)\" is missing or not a non-empty string")
            }
            return string
        }
        self.init(
            idScope: try text("idScope"), registrationID: try text("registrationId"),
            provisioningHost: try text("provisioningHost"), assignedHub: try text("assignedHub"),
            deviceID: try text("deviceId"), savedAt: try text("savedAt"))
    }

    // MARK: Files

    /// The state in `path`; `nil` when there is no such file (a first start).
    public static func load(from path: String) throws(AssignmentStateError) -> AssignmentState? {
        let bytes: [UInt8]
        do throws(RegularFile.Failure) {
            bytes = try RegularFile.read(path, limit: maximumFileSize)
        } catch {
            switch error {
            case .missing: return nil
            case .notRegular: throw .unreadable("it is not a regular file")
            case .tooLarge(let size, let limit): throw .corrupt("it is \(size) bytes; a state file is at most \(limit)")
            case .unreadable(let reason): throw .unreadable(reason)
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .corrupt("it is not UTF-8 text") }
        return try AssignmentState(fileText: text)
    }

    /// Writes the state to `path` atomically: a temporary file beside it, written and
    /// `fsync`ed, renamed over `path`, then the directory `fsync`ed, so that a power cut leaves
    /// either the old file or the new one, never a torn one.
    public func save(to path: String) throws(AssignmentStateError) {
        let temporary = path + ".tmp.\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .unwritable(String(cString: strerror(errno))) }
        var bytes = Array(fileText.utf8)
        var offset = 0
        var failure: Int32 = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { failure = count < 0 ? errno : EIO; break }
            offset += count
        }
        if failure == 0 && fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            throw .unwritable(String(cString: strerror(failure)))
        }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}

/// Why a state file could not be used; the device then registers with DPS as on a first start.
public enum AssignmentStateError: Error, Equatable, Sendable {
    /// The file exists but cannot be read (permissions, a directory, a FIFO).
    case unreadable(String)
    /// The file was read but does not hold a state record.
    case corrupt(String)
    /// The new state could not be written.
    case unwritable(String)

    /// Words for the user, after the file's name.
    public var summary: String {
        switch self {
        case .unreadable(let why): return "cannot be read: \(why)"
        case .corrupt(let why): return "is not a state file: \(why)"
        case .unwritable(let why): return "cannot be written: \(why)"
        }
    }
}
